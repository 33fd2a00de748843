"""Binance's request-weight limit as the venue enforces it: per-route weights, the ``X-MBX-USED-WEIGHT-1M`` and
``X-MBX-ORDER-COUNT-*`` headers, 429 with ``Retry-After`` when the weight is used up, and a 418 IP ban (2 minutes,
doubling per repeat, at most 3 days) for an IP that keeps sending after a 429 before its ``Retry-After``: Binance
bans for *repeated* violations, so an early request is answered 429 again (another client on the IP that did not see
the first 429 learns of it) and the ``ban_after``-th early request is banned."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from execlab.venues._base import RateLimiter

__all__ = ["ROUTE_WEIGHTS", "BinanceLimits", "LimitAnswer", "route_weight"]

#: Request weight per (method, path), from Binance's spot API documentation.
ROUTE_WEIGHTS: Final = {
    ("GET", "/api/v3/ping"): 1,
    ("GET", "/api/v3/time"): 1,
    ("GET", "/api/v3/exchangeInfo"): 20,
    ("POST", "/api/v3/order"): 1,
    ("GET", "/api/v3/order"): 4,
    ("DELETE", "/api/v3/order"): 1,
    ("GET", "/api/v3/openOrders"): 6,
    ("GET", "/api/v3/allOrders"): 20,
    ("GET", "/api/v3/account"): 20,
    ("GET", "/api/v3/myTrades"): 20,
    ("GET", "/api/v3/ticker/bookTicker"): 2,
}
_OPEN_ORDERS_ALL: Final = 80
_BOOK_TICKERS: Final = 4
"""``bookTicker`` without one ``symbol`` (every symbol, or a ``symbols`` list, as ccxt's ``fetch_bids_asks``)."""
_FIRST_BAN: Final = 120.0
_LONGEST_BAN: Final = 3 * 24 * 3600.0


def route_weight(method: str, path: str, has_symbol: bool) -> int:
    """The weight of one request."""
    if path == "/api/v3/openOrders" and not has_symbol:
        return _OPEN_ORDERS_ALL
    if path == "/api/v3/ticker/bookTicker" and not has_symbol:
        return _BOOK_TICKERS
    return ROUTE_WEIGHTS.get((method, path), 1)


@dataclass(frozen=True, slots=True)
class LimitAnswer:
    """What the limit says about one request: status 200 (go on), 429 or 418, the used weight, Retry-After."""

    status: int
    used: int
    retry_after: int = 0
    banned_until_ms: int = 0


@dataclass
class _Offender:
    told_until: float = 0.0
    banned_until: float = 0.0
    bans: int = 0
    early: int = 0
    """Requests sent before the ``Retry-After`` last given."""


class BinanceLimits:
    """Weight per IP over a rolling minute (``limit``; Binance spot: 6000), order counts per 10 s and per day, and
    the 429 → 418 escalation (the ``ban_after``-th request sent before a ``Retry-After`` is banned; the earlier ones
    are answered 429). ``window`` scales the minute down (tests, benchmarks)."""

    def __init__(self, limit: int = 6000, orders_per_10s: int = 100, orders_per_day: int = 200_000, *,
                 window: float = 60.0, ban_after: int = 2, clock: Callable[[], float] = time.monotonic) -> None:
        if ban_after < 1:
            raise ValueError("ban_after must be >= 1")
        self.ban_after = ban_after
        self.weights = RateLimiter(limit, window)
        self.orders_10s = RateLimiter(orders_per_10s, 10.0)
        self.orders_day = RateLimiter(orders_per_day, 86_400.0)
        self._clock = clock
        self._offenders: dict[str, _Offender] = {}
        self._lock = threading.Lock()
        self.answered_429 = 0
        self.answered_418 = 0

    @property
    def limit(self) -> int:
        """Weight allowed per window."""
        return self.weights.limit

    @property
    def interval(self) -> tuple[str, int]:
        """The window as Binance states it: (``SECOND``/``MINUTE``/``HOUR``, count)."""
        seconds = self.weights.window
        if seconds >= 3600 and seconds % 3600 == 0:
            return "HOUR", int(seconds // 3600)
        if seconds >= 60 and seconds % 60 == 0:
            return "MINUTE", int(seconds // 60)
        return "SECOND", max(1, round(seconds))

    @property
    def weight_header(self) -> str:
        """``X-MBX-USED-WEIGHT-<n><S|M|H>`` (``-1M`` for Binance's minute)."""
        unit, count = self.interval
        return f"X-MBX-USED-WEIGHT-{count}{unit[0]}"

    def check(self, ip: str, weight: int) -> LimitAnswer:
        """Count a request and say whether it is served."""
        now = self._clock()
        with self._lock:
            who = self._offenders.setdefault(ip, _Offender())
            if now < who.banned_until:
                self.answered_418 += 1
                return self._ban_answer(who, now)
            if now < who.told_until:  # sent again before the Retry-After it was given
                who.early += 1
                if who.early < self.ban_after:  # told again (the weight is still used up)
                    self.answered_429 += 1
                    return LimitAnswer(429, self.weights.limit, max(1, math.ceil(who.told_until - now)))
                who.bans += 1
                who.banned_until = now + min(_FIRST_BAN * 2 ** (who.bans - 1), _LONGEST_BAN)
                who.told_until, who.early = 0.0, 0
                self.answered_418 += 1
                return self._ban_answer(who, now)
        decision = self.weights.hit(ip, weight=weight)
        if decision.allowed:
            return LimitAnswer(200, decision.used)
        retry = max(1, math.ceil(decision.retry_after))
        with self._lock:
            who.told_until, who.early = now + retry, 0
            self.answered_429 += 1
        return LimitAnswer(429, decision.used + weight, retry)

    def _ban_answer(self, who: _Offender, now: float) -> LimitAnswer:
        left = who.banned_until - now
        return LimitAnswer(418, 0, max(1, math.ceil(left)), int(time.time() * 1000 + left * 1000))

    def count_order(self, key: str) -> tuple[int, int, bool]:
        """Count an order: (orders in 10 s, orders today, within the order limits)."""
        ten = self.orders_10s.hit(key)
        day = self.orders_day.hit(key)
        return ten.used, day.used, ten.allowed and day.allowed
