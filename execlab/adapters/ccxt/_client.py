"""``CcxtClient``: one ccxt exchange behind paced calls whose failures carry the kit's error kinds.

What the adapter needs and nothing else: instruments from ``load_markets`` (one request), placing an order with
execlab's client order id in the exchange's form, finding an order by that id, cancelling, open orders, balances
per currency and executions with fees. Every call waits for the weight pacer, reports the exchange's used weight
back to it, turns ccxt's exceptions into :class:`CcxtCallError` with an :class:`ErrorKind`, and, when the exchange
says the request's timestamp is outside its window (-1021 / 50102), measures the clock difference once and sends
the request again (it was not processed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, Final, TypeVar

import ccxt

from execlab._core.instruments import Instrument
from execlab._core.models import Balance
from execlab.adapters.ccxt._errors import ErrorKind, error_kind, retry_after
from execlab.adapters.ccxt._exchange import make_exchange
from execlab.adapters.ccxt._mapping import CLIENT_ID_STYLES, balances, instrument
from execlab.adapters.ccxt._pacing import WeightPacer, weight_state_path

__all__ = ["CcxtCallError", "CcxtClient"]

T = TypeVar("T")

#: Binance spot request weights of the calls the client makes (docs, 2025) and the weight allowed per minute.
_BINANCE_WEIGHTS: Final = {"markets": 20, "create": 1, "order": 4, "cancel": 1, "open": 6, "open_all": 80,
                           "balance": 20, "trades": 20, "time": 1, "prices": 4}
_BINANCE_ORDERS_PER_10S: Final = 100
"""New orders Binance spot allows per 10 seconds (until ``exchangeInfo`` states its own)."""
#: OKX: requests per 2 seconds per endpoint (each call is one request on its own endpoint's budget).
_OKX_LIMITS: Final = {"markets": 20, "create": 60, "order": 60, "cancel": 60, "open": 60, "open_all": 60,
                      "balance": 10, "trades": 10, "time": 10, "prices": 20}


class CcxtCallError(Exception):
    """A ccxt call failed: its :class:`ErrorKind`, and the seconds the exchange asked to wait (rate limits)."""

    def __init__(self, kind: ErrorKind, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.kind = kind
        self.retry_after = retry_after


class CcxtClient:
    """A ccxt exchange (``binance`` or ``okx``) for execlab, symbols being ccxt's unified ones (``BTC/USDT``).

    Args:
        exchange_id: ``binance`` or ``okx``.
        api_key, secret, password: credentials (OKX needs the passphrase as ``password``).
        base_url: where the exchange is (a local venue's ``http://127.0.0.1:PORT``); None: the exchange itself.
        timeout: seconds per request.
        weight_limit: Binance request weight per minute to pace to (default 6000, Binance's); for OKX a scale on
            its per-endpoint limits is not needed (they are fixed per endpoint).
        weight_window: the window of ``weight_limit`` in seconds (60: Binance's minute).
        follow_stated_limit: pace to the request-weight limit Binance states in ``exchangeInfo`` (else to
            ``weight_limit`` alone).
    """

    def __init__(self, exchange_id: str, *, api_key: str, secret: str, password: str | None = None,
                 base_url: str | None = None, timeout: float = 10.0, weight_limit: int = 6000,
                 weight_window: float = 60.0, follow_stated_limit: bool = True) -> None:
        self.exchange_id = exchange_id
        self.follow_stated_limit = follow_stated_limit
        self.exchange = make_exchange(exchange_id, api_key=api_key, secret=secret, password=password,
                                      base_url=base_url, timeout_ms=int(timeout * 1000))
        self.client_ids = CLIENT_ID_STYLES[exchange_id]
        self._lock = threading.RLock()
        self._markets: dict[str, Any] | None = None
        def state(budget: str) -> str | None:
            """Shared with other processes on the key (a local venue's, when pacing to the stated limit)."""
            if not base_url or not follow_stated_limit:
                return None
            return str(weight_state_path(exchange_id, base_url, api_key, budget))

        self._order_pacer: WeightPacer | None = None
        """Binance's new orders per 10 s (``ORDERS``), paced beside the request weight."""
        if exchange_id == "binance":
            shared = WeightPacer(weight_limit, weight_window, state_path=state("weight"))
            self._pacers = {op: (shared, w) for op, w in _BINANCE_WEIGHTS.items()}
            self._order_pacer = WeightPacer(_BINANCE_ORDERS_PER_10S, 10.0, state_path=state("orders"))
        else:
            self._pacers = {op: (WeightPacer(limit, 2.0, state_path=state(op)), 1) for op, limit in _OKX_LIMITS.items()}
        self.clock_resyncs = 0

    # -- the call path -------------------------------------------------------------------------------------
    def _used_weight(self) -> int | None:
        headers = self.exchange.last_response_headers or {}
        for key, value in headers.items():
            if key.upper().startswith("X-MBX-USED-WEIGHT-"):
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    def call(self, op: str, fn: Callable[[], T]) -> T:
        """Run one ccxt call ``fn`` under the pacer of ``op`` (a key of the weight table). Markets load first, on
        their own request (ccxt would load them inside the first call, unpaced, and its stated limits unread)."""
        if op != "markets" and self._markets is None:
            self.markets()
        pacer, weight = self._pacers[op]
        orders = self._order_pacer if op == "create" and self._order_pacer is not None else None
        resynced = False
        while True:
            with self._lock, orders.request(1) if orders is not None else nullcontext(), \
                    pacer.request(weight) as report:
                self.exchange.last_response_headers = None
                try:
                    result = fn()
                except ccxt.BaseError as exc:
                    report(self._used_weight())
                    kind = error_kind(exc) or ErrorKind.REJECTED
                    wait = retry_after(self.exchange.last_response_headers)
                    if kind is ErrorKind.RATE_LIMITED:
                        pacer.hold(wait if wait is not None else 1.0)
                    if kind is ErrorKind.CLOCK and not resynced:
                        resynced = True
                        self._resync_clock()
                        continue
                    raise CcxtCallError(kind, f"{self.exchange_id}: {exc}", wait) from exc
                report(self._used_weight())
                return result

    def _resync_clock(self) -> None:
        """Measure the exchange's clock; ccxt then signs with the difference (``options['timeDifference']``)."""
        self.clock_resyncs += 1
        try:
            self.exchange.load_time_difference()
        except ccxt.BaseError as exc:
            raise CcxtCallError(error_kind(exc) or ErrorKind.UNAVAILABLE, f"{self.exchange_id}: {exc}") from exc

    # -- markets -------------------------------------------------------------------------------------------
    def markets(self) -> dict[str, Any]:
        """ccxt's markets (loaded once: one request)."""
        if self._markets is None:
            self._markets = self.call("markets", self.exchange.load_markets)
            self._follow_declared_limit(self.exchange.last_json_response)
        return self._markets

    def _follow_declared_limit(self, info: Any) -> None:
        """Pace to the request-weight limit and the per-second new-order limit Binance states in ``exchangeInfo``
        (``rateLimits``)."""
        if self.exchange_id != "binance" or not self.follow_stated_limit or not isinstance(info, dict):
            return
        seconds = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86_400}
        weight_set = False
        for rule in info.get("rateLimits") or []:
            if rule.get("interval") not in seconds:
                continue
            window = seconds[rule["interval"]] * int(rule.get("intervalNum", 1))
            if rule.get("rateLimitType") == "REQUEST_WEIGHT" and not weight_set:
                weight_set = True
                self._pacers["markets"][0].set_limit(int(rule["limit"]), float(window))
            elif rule.get("rateLimitType") == "ORDERS" and rule["interval"] == "SECOND" and self._order_pacer:
                self._order_pacer.set_limit(int(rule["limit"]), float(window))

    def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        """Trading rules of those of ``symbols`` the exchange lists."""
        markets = self.markets()
        return {s: instrument(s, markets[s], self.exchange.precisionMode) for s in symbols if s in markets}

    # -- orders --------------------------------------------------------------------------------------------
    def place(self, client_order_id: str, symbol: str, side: str, quantity: float, order_type: str = "market",
              price: float | None = None) -> dict[str, Any]:
        """Send one order with execlab's client order id in the exchange's form; the order as the exchange has it
        (OKX answers a placement with ids only, so the order is fetched)."""
        wire = self.client_ids.render(client_order_id)
        self.markets()
        amount = float(self.exchange.amount_to_precision(symbol, quantity))
        order: dict[str, Any] = self.call("create", lambda: self.exchange.create_order(
            symbol, order_type, side, amount, price, {"clientOrderId": wire}))
        if order.get("status") is None:
            found = self.order_by_client_id(client_order_id, symbol)
            if found is not None:
                return found
        return order

    def order_by_client_id(self, client_order_id: str, symbol: str) -> dict[str, Any] | None:
        """The order with this client order id on ``symbol``, or None when the exchange has none."""
        wire = self.client_ids.render(client_order_id)
        try:
            found: dict[str, Any] = self.call("order", lambda: self.exchange.fetch_order(
                None, symbol, {"clientOrderId": wire}))
        except CcxtCallError as exc:
            if exc.kind is ErrorKind.NOT_FOUND:
                return None
            raise
        return found

    def cancel(self, order_id: str, symbol: str) -> None:
        """Ask to cancel an order."""
        self.call("cancel", lambda: self.exchange.cancel_order(order_id, symbol))

    def can_list_all_open(self) -> bool:
        """Whether one all-symbols open-orders request fits the weight limit (Binance charges 80 for it)."""
        pacer, weight = self._pacers["open_all"]
        return weight <= pacer.limit // 2

    def order_by_id(self, order_id: str, symbol: str) -> dict[str, Any]:
        """An order by the exchange's id."""
        found: dict[str, Any] = self.call("order", lambda: self.exchange.fetch_order(order_id, symbol))
        return found

    def open_orders(self, symbols: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Working orders on ``symbols`` (None: every symbol, one request; Binance charges 80 for it)."""
        if symbols is None:
            everything: list[dict[str, Any]] = self.call("open_all", lambda: self.exchange.fetch_open_orders())
            return everything
        out: list[dict[str, Any]] = []
        for symbol in symbols:
            out.extend(self.call("open", lambda s=symbol: self.exchange.fetch_open_orders(s)))  # type: ignore[misc]
        return out

    def balances(self) -> tuple[Balance, ...]:
        """Balances per currency (free, locked)."""
        return balances(self.call("balance", self.exchange.fetch_balance))

    def trades(self, symbols: Sequence[str], since_ms: int | None = None) -> list[dict[str, Any]]:
        """Our trades (ccxt's structures) on ``symbols`` since ``since_ms`` (epoch ms)."""
        out: list[dict[str, Any]] = []
        for symbol in symbols:
            out.extend(self.call("trades", lambda s=symbol: self.exchange.fetch_my_trades(s, since_ms)))  # type: ignore[misc]
        return out

    def lists_all_trades(self) -> bool:
        """Whether the exchange lists our trades without a symbol (OKX: ``fills-history`` without ``instId``)."""
        return self.exchange_id == "okx"

    def all_trades(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        """Our trades on every symbol since ``since_ms`` (epoch ms; None: those of the day before the latest),
        paged back by OKX's ``billId`` (100 a page)."""
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {}
        floor = since_ms
        while True:
            page: list[dict[str, Any]] = self.call("trades", lambda p=dict(params): self.exchange.fetch_my_trades(  # type: ignore[misc]
                None, since_ms, None, p))
            out.extend(page)
            if not page:
                return out
            if floor is None:
                floor = max(int(t["timestamp"]) for t in page) - 86_400_000
            oldest = min(page, key=lambda t: int(t["info"].get("billId") or 0))
            if len(page) < 100 or int(oldest["timestamp"]) < floor:
                return out
            params = {"after": oldest["info"]["billId"]}

    def mids(self, symbols: Sequence[str]) -> dict[str, float]:
        """Mid prices of ``symbols`` (from the book ticker)."""
        out: dict[str, float] = {}
        if not symbols:
            return out
        if self.exchange_id == "binance":
            tickers = self.call("prices", lambda: self.exchange.fetch_bids_asks(list(symbols)))
        else:  # OKX: every spot ticker, one request
            tickers = self.call("prices", lambda: self.exchange.fetch_tickers(list(symbols)))
        for symbol, t in tickers.items():
            bid, ask = t.get("bid"), t.get("ask")
            if bid and ask:
                out[symbol] = (float(bid) + float(ask)) / 2
        return out

    def close(self) -> None:
        """Release the HTTP session."""
        session = getattr(self.exchange, "session", None)
        if session is not None:
            session.close()
