"""Orders, account, trade-update events and request statistics of the local Alpaca venue.

Every public method takes the state's lock, so the HTTP handlers (event-loop thread) and in-process callers
(``set_quote`` from a test or a harness thread) see one consistent venue. Matching is done by
:class:`execlab._sim.quote_venue.QuoteVenue`, the quote-driven front of execlab's matching kernel.
"""

from __future__ import annotations

import math
import random
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from execlab._config import VenueConfig
from execlab._core.codes import TIF, TYPE, VenueReason
from execlab._core.models import OrderType, TimeInForce
from execlab._sim.quote_venue import CANCELLED, EXPIRED, FILLED, REJECTED, EngineEvent, EngineFill, QuoteVenue
from execlab.venues.alpaca._faults import FaultInjector
from execlab.venues.alpaca._mapping import (
    NEW_YORK,
    OrderRecord,
    asset_json,
    clock_json,
    error_body,
    num,
    order_json,
    position_json,
    session_close,
    ts,
)

__all__ = ["AlpacaError", "AlpacaState", "TradeUpdateListener"]

TradeUpdateListener = Callable[[dict[str, Any]], None]

_TYPES: Final = tuple(t.value for t in OrderType)
_TIFS: Final = tuple(t.value for t in TimeInForce)
_SYMBOL: Final = re.compile(r"^[A-Z0-9][A-Z0-9./-]{0,31}$")
_CODE_INVALID: Final = 40010001
_CODE_FORBIDDEN: Final = 40310000
_CODE_NOT_FOUND: Final = 40410000


class AlpacaError(Exception):
    """An API error: HTTP status plus Alpaca's ``{"code", "message", ...}`` body."""

    def __init__(self, status: int, code: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON error object."""
        return error_body(self.code, self.message, **self.extra)


def _invalid(message: str) -> AlpacaError:
    return AlpacaError(422, _CODE_INVALID, message)


def _number(body: Mapping[str, Any], key: str) -> float | None:
    """A positive finite decimal sent as a JSON number or a string; None when absent."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _invalid(f"{key} must be a number, got {value!r}")
    try:
        x = float(value)
    except ValueError:
        raise _invalid(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise _invalid(f"{key} must be > 0, got {value!r}")
    return x


def _choice(body: Mapping[str, Any], key: str, allowed: Iterable[str]) -> str:
    value = body.get(key)
    options = tuple(allowed)
    if value is None or value == "":
        raise _invalid(f"{key} is required")
    if not isinstance(value, str) or value.lower() not in options:
        raise _invalid(f"{key} must be one of {', '.join(options)}, got {value!r}")
    return value.lower()


def _check_increment(key: str, price: float | None, crypto: bool) -> None:
    if price is None or crypto:
        return
    tick = 0.01 if price >= 1.0 else 0.0001
    if abs(price / tick - round(price / tick)) > 1e-6:
        raise _invalid(f"invalid {key} {num(price)}. sub-penny increment does not fulfill minimum pricing criteria")


def _flag(value: Any, key: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise _invalid(f"{key} must be true or false, got {value!r}")


def _parse_time(value: str, key: str) -> datetime:
    text = value.strip().replace(" ", "+")  # an unescaped '+' in a query string arrives as a space
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(f"{key} must be an RFC 3339 timestamp, got {value!r}") from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


class AlpacaState:
    """The venue behind the REST endpoints: validation, order records, account, matching, events, statistics."""

    def __init__(self, *, initial_cash: float = 100_000.0, venue_config: VenueConfig | None = None,
                 allow_short: bool = False, symbols: Iterable[str] | None = None,
                 clock: Callable[[], datetime] | None = None, injector: FaultInjector | None = None,
                 seed: int = 0, always_open: bool = True) -> None:
        self.lock = threading.RLock()
        self.engine = QuoteVenue(venue_config, initial_cash, allow_short)
        self.allow_short = allow_short
        self.symbols = None if symbols is None else frozenset(symbols)
        self.always_open = always_open
        self.injector = injector or FaultInjector()
        self._clock = clock or (lambda: datetime.now(UTC))
        self._frozen: datetime | None = None
        self._rng = random.Random(seed)
        self.account_id = self._uuid()
        self.account_number = "PA" + "".join(str(self._rng.randrange(10)) for _ in range(10))
        self.created_at = self.now()
        self.orders: list[OrderRecord] = []
        self._by_id: dict[str, OrderRecord] = {}
        self._by_client: dict[str, OrderRecord] = {}
        self._by_oid: dict[int, OrderRecord] = {}
        self._open: dict[int, OrderRecord] = {}
        self.events: list[dict[str, Any]] = []
        self.listeners: list[TradeUpdateListener] = []
        self._day = self._session(self.created_at)
        self._last_equity = float(initial_cash)
        self._lastday: dict[str, float] = {}
        # statistics
        self.requests = 0
        self.statuses: Counter[int] = Counter()
        self.rate_limited = 0
        self.attempts: Counter[str] = Counter()
        self.attempts_without_id = 0
        self.stream_counts: Counter[str] = Counter()
        """``trade_updates`` websocket counts, kept by the stream hub: connections, open, authorized,
        auth_failures, drops, messages (trade updates sent)."""

    # -- time ----------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The venue's time: the frozen replay time, else the clock (always timezone-aware)."""
        dt = self._frozen or self._clock()
        return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)

    def set_time(self, when: datetime | None) -> None:
        """Freeze the venue clock at ``when`` (a bar replay does this), or go back to the clock with None."""
        with self.lock:
            self._frozen = when if when is None or when.tzinfo is not None else when.replace(tzinfo=UTC)
            self._roll()

    @staticmethod
    def _session(now: datetime) -> int:
        return now.astimezone(NEW_YORK).date().toordinal()

    def _roll(self) -> None:
        """On a new New York date: remember yesterday's equity and prices, expire DAY orders."""
        day = self._session(self.now())
        if day == self._day:
            return
        self._day = day
        self._last_equity = self.engine.equity()
        self._lastday = {s: self.engine.mark(s) for s in self.engine.symbols}
        self._match()

    def sync(self) -> None:
        """Bring time-driven state up to date (called before every API request)."""
        with self.lock:
            self._roll()

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # -- quotes --------------------------------------------------------------------------------------------
    def set_quotes(self, quotes: Iterable[tuple[str, float, float, float | None, float | None]]) -> None:
        """Replace quotes ``(symbol, bid, ask, last, volume)`` as one step and match every working order."""
        batch: list[tuple[str, float, float, float, float]] = []
        for symbol, bid, ask, last, volume in quotes:
            self._check_symbol(symbol)
            for name, value in (("bid", bid), ("ask", ask), ("last", last)):
                if value is not None and not (math.isnan(value) or (math.isfinite(value) and value > 0)):
                    raise ValueError(f"quote for {symbol}: {name} must be a positive price or NaN, got {value!r}")
            if not (math.isnan(bid) or math.isnan(ask)) and bid > ask:
                raise ValueError(f"quote for {symbol}: bid {bid} is above ask {ask}")
            if volume is not None and not volume >= 0:
                raise ValueError(f"quote for {symbol}: volume must be >= 0, got {volume!r}")
            if last is None or math.isnan(last):
                both = not (math.isnan(bid) or math.isnan(ask))
                last = 0.5 * (bid + ask) if both else (bid if math.isnan(ask) else ask)
            batch.append((symbol, bid, ask, last, math.inf if volume is None else volume))
        with self.lock:
            self._roll()
            self.engine.set_quotes(batch)
            for symbol, *_ in batch:
                self._lastday.setdefault(symbol, self.engine.mark(symbol))
            self._match()

    def _check_symbol(self, symbol: str) -> None:
        if not isinstance(symbol, str) or not _SYMBOL.match(symbol):
            raise ValueError(f"symbol must be upper-case letters, digits, '.', '/' or '-', got {symbol!r}")

    # -- matching ------------------------------------------------------------------------------------------
    def _match(self) -> None:
        fills, events = self.engine.match(self._session(self.now()))
        self._apply(fills, events)

    def _apply(self, fills: list[EngineFill], events: list[EngineEvent]) -> None:
        now = self.now()
        ended = {e.oid for e in events if e.status != FILLED}
        for f in fills:
            o = self._by_oid[f.oid]
            q = abs(f.qty)
            o.filled_qty += q
            o.filled_notional += q * f.price
            o.fees += f.fee
            o.updated_at = now
            done = not self.engine.is_working(f.oid) and f.oid not in ended
            o.status = "filled" if done else "partially_filled"
            if done:
                o.filled_at = now
            self._publish("fill" if done else "partial_fill", o, price=f.price, qty=q,
                          position_qty=self.engine.holding(o.symbol))
        for e in events:
            if e.status == FILLED:
                continue
            o = self._by_oid[e.oid]
            o.updated_at = now
            if e.status == EXPIRED:
                o.status, o.expired_at, name = "expired", now, "expired"
            elif e.status == REJECTED or (e.status == CANCELLED and e.reason in (VenueReason.INSUFFICIENT_CASH,
                                                                                  VenueReason.NO_SHORTING)
                                          and o.filled_qty == 0):
                o.status, o.failed_at, name = "rejected", now, "rejected"
            else:
                o.status, o.canceled_at, name = "canceled", now, "canceled"
            self._publish(name, o)
        for oid in list(self._open):
            o = self._open[oid]
            if not o.is_open:
                del self._open[oid]
            elif o.type == "trailing_stop":
                hwm = self.engine.extreme(o.oid)
                o.hwm = None if math.isnan(hwm) else hwm

    def _publish(self, event: str, o: OrderRecord, *, price: float | None = None, qty: float | None = None,
                 position_qty: float | None = None) -> None:
        update: dict[str, Any] = {"event": event, "order": order_json(o), "timestamp": ts(self.now())}
        if price is not None:
            update.update(execution_id=self._uuid(), price=num(price), qty=num(qty), position_qty=num(position_qty))
        self.events.append(update)
        for listener in list(self.listeners):
            listener(update)

    # -- orders --------------------------------------------------------------------------------------------
    def submit(self, body: Any) -> dict[str, Any]:
        """``POST /v2/orders``: validate, accept, then match; returns the order as accepted (status ``new``)."""
        with self.lock:
            self._roll()
            o = self._new_order(body)
            snapshot = order_json(o)
            if self.injector.take_reject():
                o.status, o.failed_at, o.updated_at = "rejected", o.created_at, o.created_at
                self._open.pop(o.oid, None)
                self._publish("rejected", o)
                return snapshot
            tif = TIF[TimeInForce(o.time_in_force)]
            sign = 1.0 if o.side == "buy" else -1.0
            trail_pct = o.trail_percent or 0.0
            self.engine.submit(
                o.oid, o.symbol, sign * (o.qty or 0.0), TYPE[OrderType(o.type)], tif, day=self._day,
                limit=o.limit_price if o.limit_price is not None else math.nan,
                stop=o.stop_price if o.stop_price is not None else math.nan,
                trail_amount=o.trail_price or 0.0, trail_percent=trail_pct,
                notional=None if o.notional is None else sign * o.notional,
                partial_ratio=self.injector.partial_fill_ratio,
            )
            self._match()
            return snapshot

    def _new_order(self, body: Any) -> OrderRecord:
        if not isinstance(body, dict):
            raise AlpacaError(400, 40010000, "request body format is invalid")
        symbol = body.get("symbol")
        if not symbol:
            raise _invalid("symbol is required")
        if not isinstance(symbol, str) or not _SYMBOL.match(symbol.upper()):
            raise _invalid(f"symbol {symbol!r} is not a valid symbol")
        symbol = symbol.upper()
        if self.symbols is not None and symbol not in self.symbols:
            raise _invalid(f'asset "{symbol}" not found')
        crypto = "/" in symbol
        side = _choice(body, "side", ("buy", "sell"))
        kind = _choice(body, "type", _TYPES)
        tif = _choice(body, "time_in_force", _TIFS)
        qty, notional = _number(body, "qty"), _number(body, "notional")
        limit, stop = _number(body, "limit_price"), _number(body, "stop_price")
        trail_price, trail_percent = _number(body, "trail_price"), _number(body, "trail_percent")
        extended = _flag(body.get("extended_hours"), "extended_hours")
        order_class = body.get("order_class") or "simple"
        if order_class != "simple":
            raise _invalid(f"order_class {order_class!r} is not supported by this venue (only simple orders)")
        if qty is None and notional is None:
            raise _invalid("qty or notional is required")
        if qty is not None and notional is not None:
            raise _invalid("only one of qty or notional may be given")
        if kind in ("limit", "stop_limit") and limit is None:
            raise _invalid(f"limit_price is required for {kind} orders")
        if kind in ("stop", "stop_limit") and stop is None:
            raise _invalid(f"stop_price is required for {kind} orders")
        if kind not in ("limit", "stop_limit") and limit is not None:
            raise _invalid(f"limit_price is not accepted for {kind} orders")
        if kind not in ("stop", "stop_limit") and stop is not None:
            raise _invalid(f"stop_price is not accepted for {kind} orders")
        if kind == "trailing_stop":
            if (trail_price is None) == (trail_percent is None):
                raise _invalid("exactly one of trail_price or trail_percent is required for trailing_stop orders")
            if tif not in ("day", "gtc"):
                raise _invalid(f"time_in_force {tif} is not accepted for trailing_stop orders (day or gtc)")
        elif trail_price is not None or trail_percent is not None:
            raise _invalid(f"trail_price and trail_percent are not accepted for {kind} orders")
        if notional is not None and kind != "market" and not crypto:
            raise _invalid("notional is only accepted for market orders")
        fractional = notional is not None or (qty is not None and not float(qty).is_integer())
        if fractional and not crypto:
            if tif != "day":
                raise _invalid(f"fractional orders must be DAY orders (time_in_force {tif})")
            if kind not in ("market", "limit"):
                raise _invalid(f"fractional orders must be market or limit orders (type {kind})")
        if tif in ("opg", "cls") and kind not in ("market", "limit"):
            raise _invalid(f"time_in_force {tif} is only accepted for market or limit orders")
        if extended and not (kind == "limit" and tif == "day"):
            raise _invalid("extended_hours orders must be DAY limit orders")
        _check_increment("limit_price", limit, crypto)
        _check_increment("stop_price", stop, crypto)
        coid = body.get("client_order_id")
        if coid is not None and not isinstance(coid, str):
            raise _invalid(f"client_order_id must be a string, got {coid!r}")
        if coid and len(coid) > 128:
            raise _invalid("client_order_id must be no more than 128 characters")
        if coid and coid in self._by_client:
            raise _invalid("client_order_id must be unique")
        self._check_funds(symbol, side, kind, qty, notional, limit, stop)
        held = self.engine.holding(symbol)
        if side == "buy":
            intent = "buy_to_close" if held < 0 else "buy_to_open"
        else:
            intent = "sell_to_close" if held > 0 else "sell_to_open"
        now = self.now()
        o = OrderRecord(
            oid=len(self.orders) + 1, id=self._uuid(), client_order_id=coid or self._uuid(), symbol=symbol,
            side=side, type=kind, time_in_force=tif, qty=qty, notional=notional, limit_price=limit,
            stop_price=stop, trail_price=trail_price, trail_percent=trail_percent, extended_hours=extended,
            position_intent=intent, created_at=now,
            expires_at=session_close(now) if tif == "day" else None,
        )
        self.orders.append(o)
        self._by_id[o.id] = o
        self._by_client[o.client_order_id] = o
        self._by_oid[o.oid] = o
        self._open[o.oid] = o
        self._publish("new", o)
        return o

    # -- funds ---------------------------------------------------------------------------------------------
    def _estimate(self, symbol: str, buy: bool, kind: str, limit: float | None, stop: float | None) -> float:
        if kind in ("limit", "stop_limit") and limit is not None:
            return limit
        touch = self.engine.touch(symbol, buy)
        if kind == "stop" and stop is not None:
            return max(stop, touch) if buy and not math.isnan(touch) else stop
        return touch

    def _open_qty(self, o: OrderRecord) -> float:
        left = self.engine.remaining(o.oid) if self.engine.is_working(o.oid) else 0.0
        if left == 0.0 and o.notional is not None and o.filled_qty == 0.0 and o.is_open:
            px = self.engine.touch(o.symbol, o.side == "buy")
            left = o.notional / px if px > 0 else 0.0
        return left

    def reserved(self) -> float:
        """Buying power held by open buy orders (remaining quantity at the limit, stop or current ask)."""
        total = 0.0
        for o in self._open.values():
            if o.is_open and o.side == "buy":
                if o.notional is not None and o.filled_qty == 0.0:
                    total += o.notional
                    continue
                px = self._estimate(o.symbol, True, o.type, o.limit_price, o.stop_price)
                total += self._open_qty(o) * (px if px > 0 else 0.0)
        return total

    def held_for_orders(self, symbol: str) -> float:
        """Quantity of ``symbol`` that open sell orders hold."""
        return sum(self._open_qty(o) for o in self._open.values()
                   if o.is_open and o.side == "sell" and o.symbol == symbol)

    def buying_power(self) -> float:
        """``multiplier × equity − gross exposure − open buy orders``, never below zero."""
        e = self.engine
        return max(e.leverage() * e.equity() - e.gross() - self.reserved(), 0.0)

    def _check_funds(self, symbol: str, side: str, kind: str, qty: float | None, notional: float | None,
                     limit: float | None, stop: float | None) -> None:
        buy = side == "buy"
        px = self._estimate(symbol, buy, kind, limit, stop)
        if qty is None and notional is not None:
            qty = notional / px if px > 0 else 0.0
        assert qty is not None
        if buy:
            cost = notional if notional is not None else qty * (px if px > 0 else 0.0)
        else:
            held = self.engine.holding(symbol)
            for_orders = self.held_for_orders(symbol)
            available = max(held, 0.0) - for_orders
            short = qty - max(available, 0.0)
            if short > 1e-9 and not self.allow_short:
                raise AlpacaError(
                    403, _CODE_FORBIDDEN,
                    f"insufficient qty available for order (requested: {num(qty)}, available: "
                    f"{num(max(available, 0.0))})",
                    available=num(max(available, 0.0)), existing_qty=num(held), held_for_orders=num(for_orders),
                    symbol=symbol,
                )
            cost = max(short, 0.0) * (px if px > 0 else 0.0)
        if cost <= 0.0:
            return
        bp = self.buying_power()
        if cost > bp + 1e-9:
            raise AlpacaError(403, _CODE_FORBIDDEN, "insufficient buying power", buying_power=num(bp),
                              cost_basis=num(cost))

    # -- order queries and cancels ------------------------------------------------------------------------
    def order(self, order_id: str) -> dict[str, Any]:
        """``GET /v2/orders/{order_id}``."""
        with self.lock:
            return order_json(self._find(order_id))

    def order_by_client_id(self, client_order_id: str | None) -> dict[str, Any]:
        """``GET /v2/orders:by_client_order_id``."""
        with self.lock:
            if not client_order_id:
                raise _invalid("client_order_id is required")
            o = self._by_client.get(client_order_id)
            if o is None:
                raise AlpacaError(404, _CODE_NOT_FOUND, "order not found")
            return order_json(o)

    def _find(self, order_id: str) -> OrderRecord:
        o = self._by_id.get(order_id)
        if o is None:
            raise AlpacaError(404, _CODE_NOT_FOUND, "order not found")
        return o

    def list_orders(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """``GET /v2/orders`` with ``status``, ``limit``, ``after``, ``until``, ``direction``, ``side``,
        ``symbols``."""
        status = params.get("status", "open").lower()
        if status not in ("open", "closed", "all"):
            raise _invalid(f"status must be one of open, closed, all, got {status!r}")
        try:
            limit = int(params.get("limit", "50"))
        except ValueError:
            raise _invalid(f"limit must be an integer, got {params.get('limit')!r}") from None
        if not 1 <= limit <= 500:
            raise _invalid(f"limit must be between 1 and 500, got {limit}")
        direction = params.get("direction", "desc").lower()
        if direction not in ("asc", "desc"):
            raise _invalid(f"direction must be asc or desc, got {direction!r}")
        side = params.get("side")
        if side is not None and side.lower() not in ("buy", "sell"):
            raise _invalid(f"side must be buy or sell, got {side!r}")
        after = _parse_time(params["after"], "after") if params.get("after") else None
        until = _parse_time(params["until"], "until") if params.get("until") else None
        symbols = {s.strip().upper() for s in params["symbols"].split(",") if s.strip()} \
            if params.get("symbols") else None
        with self.lock:
            chosen = [
                o for o in self.orders
                if (status == "all" or (status == "open") == o.is_open)
                and (after is None or o.created_at > after)
                and (until is None or o.created_at < until)
                and (symbols is None or o.symbol in symbols)
                and (side is None or o.side == side.lower())
            ]
            chosen.sort(key=lambda o: (o.created_at, o.oid), reverse=direction == "desc")
            return [order_json(o) for o in chosen[:limit]]

    def cancel(self, order_id: str) -> None:
        """``DELETE /v2/orders/{order_id}``: 422 when the order is no longer open."""
        with self.lock:
            self._cancel(self._find(order_id))

    def _cancel(self, o: OrderRecord) -> None:
        if not o.is_open:
            raise AlpacaError(422, 42210000, f'order is already in "{o.status}" state')
        self.engine.cancel(o.oid)
        now = self.now()
        o.status, o.canceled_at, o.updated_at = "canceled", now, now
        self._open.pop(o.oid, None)
        self._publish("canceled", o)

    def cancel_all(self) -> list[dict[str, Any]]:
        """``DELETE /v2/orders``: one ``{"id", "status", "body"}`` per open order (HTTP 207)."""
        with self.lock:
            out = []
            for o in [o for o in self._open.values() if o.is_open]:
                self._cancel(o)
                out.append({"id": o.id, "status": 200, "body": order_json(o)})
            return out

    # -- positions -----------------------------------------------------------------------------------------
    def _position(self, symbol: str) -> dict[str, Any]:
        e = self.engine
        qty = e.holding(symbol)
        s = e.symbol_index(symbol)
        price = e.mark(symbol)
        avg = float(e.avg_price[s])
        price = avg if math.isnan(price) else price
        lastday = self._lastday.get(symbol, price)
        available = qty - self.held_for_orders(symbol) if qty > 0 else qty
        return position_json(symbol, qty, avg, price, lastday, available)

    def positions(self) -> list[dict[str, Any]]:
        """``GET /v2/positions``, sorted by symbol."""
        with self.lock:
            return [self._position(s) for s in sorted(self.engine.symbols) if self.engine.holding(s) != 0.0]

    def position(self, symbol: str) -> dict[str, Any]:
        """``GET /v2/positions/{symbol}``: 404 when flat."""
        with self.lock:
            symbol = symbol.upper()
            if self.engine.holding(symbol) == 0.0:
                raise AlpacaError(404, _CODE_NOT_FOUND, "position does not exist")
            return self._position(symbol)

    def close_position(self, symbol: str, params: Mapping[str, str]) -> dict[str, Any]:
        """``DELETE /v2/positions/{symbol}`` (optionally ``qty`` or ``percentage``): a market order the other way."""
        with self.lock:
            symbol = symbol.upper()
            held = self.engine.holding(symbol)
            if held == 0.0:
                raise AlpacaError(404, _CODE_NOT_FOUND, "position does not exist")
            qty = abs(held)
            if params.get("qty") and params.get("percentage"):
                raise _invalid("only one of qty or percentage may be given")
            if params.get("qty"):
                qty = _number(params, "qty") or 0.0
                if qty > abs(held) + 1e-9:
                    raise _invalid(f"qty {num(qty)} is more than the position {num(abs(held))}")
            elif params.get("percentage"):
                pct = _number(params, "percentage") or 0.0
                if pct > 100:
                    raise _invalid(f"percentage must be between 0 and 100, got {num(pct)}")
                qty = math.floor(abs(held) * pct / 100 * 1e9) / 1e9
            return self.submit({"symbol": symbol, "qty": qty, "side": "sell" if held > 0 else "buy",
                                "type": "market", "time_in_force": "gtc" if "/" in symbol else "day"})

    def close_all(self, cancel_orders: bool) -> list[dict[str, Any]]:
        """``DELETE /v2/positions``: one ``{"symbol", "status", "body"}`` per position (HTTP 207)."""
        with self.lock:
            if cancel_orders:
                self.cancel_all()
            out: list[dict[str, Any]] = []
            for symbol in sorted(self.engine.symbols):
                if self.engine.holding(symbol) == 0.0:
                    continue
                try:
                    out.append({"symbol": symbol, "status": 200, "body": self.close_position(symbol, {})})
                except AlpacaError as exc:
                    out.append({"symbol": symbol, "status": exc.status, "body": {**exc.body(), "symbol": symbol}})
            return out

    # -- account, clock, assets ----------------------------------------------------------------------------
    def account(self) -> dict[str, Any]:
        """``GET /v2/account``."""
        with self.lock:
            e = self.engine
            marks = {s: e.mark(s) for s in e.symbols}
            long_mv = sum(q * marks[s] for s in e.symbols if (q := e.holding(s)) > 0 and not math.isnan(marks[s]))
            short_mv = sum(q * marks[s] for s in e.symbols if (q := e.holding(s)) < 0 and not math.isnan(marks[s]))
            equity = e.equity()
            bp = self.buying_power()
            fees = sum(o.fees for o in self.orders)
            gross = long_mv - short_mv
            margin = gross / 2.0 if e.leverage() > 1 else gross
            return {
                "id": self.account_id,
                "account_number": self.account_number,
                "status": "ACTIVE",
                "crypto_status": "ACTIVE",
                "currency": "USD",
                "buying_power": num(bp),
                "regt_buying_power": num(bp),
                "daytrading_buying_power": num(bp if e.leverage() >= 4 else 0.0),
                "effective_buying_power": num(bp),
                "non_marginable_buying_power": num(max(e.cash - self.reserved(), 0.0)),
                "options_buying_power": num(max(e.cash - self.reserved(), 0.0)),
                "bod_dtbp": "0",
                "cash": num(e.cash),
                "accrued_fees": num(fees),
                "pending_transfer_in": "0",
                "pending_transfer_out": "0",
                "portfolio_value": num(equity),
                "pattern_day_trader": False,
                "trading_blocked": False,
                "transfers_blocked": False,
                "account_blocked": False,
                "created_at": ts(self.created_at),
                "trade_suspended_by_user": False,
                "multiplier": num(e.leverage()),
                "shorting_enabled": self.allow_short,
                "equity": num(equity),
                "last_equity": num(self._last_equity),
                "long_market_value": num(long_mv),
                "short_market_value": num(short_mv),
                "position_market_value": num(gross),
                "initial_margin": num(margin),
                "maintenance_margin": num(0.3 * gross),
                "last_maintenance_margin": "0",
                "sma": "0",
                "daytrade_count": 0,
                "balance_asof": self.now().astimezone(NEW_YORK).date().isoformat(),
                "options_approved_level": 0,
                "options_trading_level": 0,
                "intraday_adjustments": "0",
                "pending_reg_taf_fees": "0",
            }

    def clock(self) -> dict[str, Any]:
        """``GET /v2/clock``."""
        return clock_json(self.now(), self.always_open)

    def assets(self, status: str | None = None) -> list[dict[str, Any]]:
        """``GET /v2/assets``: the venue's symbol list when it has one, else every symbol it has quoted or traded
        (all active and tradable)."""
        if status not in (None, "active"):
            return []
        with self.lock:
            listed = sorted(self.symbols) if self.symbols is not None else list(self.engine.symbols)
        return [asset_json(s, self.allow_short) for s in listed]

    def asset(self, symbol: str) -> dict[str, Any]:
        """``GET /v2/assets/{symbol}``: 404 for a symbol outside the venue's list (when it has one)."""
        symbol = symbol.upper()
        if not _SYMBOL.match(symbol) or (self.symbols is not None and symbol not in self.symbols):
            raise AlpacaError(404, _CODE_NOT_FOUND, f"asset not found for {symbol}")
        return asset_json(symbol, self.allow_short)

    # -- statistics ----------------------------------------------------------------------------------------
    def count_attempt(self, client_order_id: str | None) -> None:
        """Count one ``POST /v2/orders`` attempt, whatever its fate (refused, faulted, rate-limited, accepted)."""
        with self.lock:
            if client_order_id:
                self.attempts[client_order_id] += 1
            else:
                self.attempts_without_id += 1

    def stats(self) -> dict[str, Any]:
        """``GET /_stats``: request totals, answers by status, 429s, order attempts per client order id, and the
        ``trade_updates`` websocket counts under ``streams``."""
        with self.lock:
            return {
                "requests": self.requests,
                "responses": {str(k): v for k, v in sorted(self.statuses.items())},
                "rate_limited": self.rate_limited,
                "order_attempts": dict(self.attempts),
                "order_attempts_without_client_order_id": self.attempts_without_id,
                "orders": len(self.orders),
                "open_orders": sum(o.is_open for o in self._open.values()),
                "trade_updates": len(self.events),
                "faults_injected": dict(self.injector.counts),
                "streams": dict(self.stream_counts),
            }
