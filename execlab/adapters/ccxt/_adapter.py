"""``CcxtAdapter``: a spot crypto exchange through the unmodified ccxt (REST) and ccxt.pro (websocket).

execlab's symbols are ccxt's unified ones (``BTC/USDT``); a position is the balance of a pair's base currency and
cash the balance of the quote currency (``quote_currency``, USDT by default). Client order ids go out in the
exchange's form (Binance: ``xl-<hex>``; OKX: the 32 hex digits) and come back canonical. Every call is paced by
request weight (following Binance's ``X-MBX-USED-WEIGHT-1M``), and its failures become the kit's errors through one
table: a timeout is a :class:`BrokerTimeoutError`, so the executor looks the order up by its client id before any
resend.

ccxt needs a symbol to find an order: the adapter looks on the symbol the order was sent for (its own, or the
journal's after a restart: :meth:`~CcxtAdapter._note_symbol`); an order of unknown symbol is searched for in the
symbols it has been asked about (instruments, tradable, orders sent), then in the pairs of the currencies held.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import ccxt

from execlab._brokers.client_ids import ALPHANUMERIC_32, ClientIdStyle
from execlab._brokers.contract import (
    BrokerAdapter,
    BrokerFill,
    BrokerOrder,
    Capability,
    OrderStream,
)
from execlab._brokers.errors import (
    BrokerAuthError,
    BrokerError,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    DuplicateClientOrderIdError,
    translate_errors,
)
from execlab._core.instruments import Instrument
from execlab._core.models import AccountSnapshot, Order, OrderStatus, OrderType
from execlab.adapters.ccxt._client import CcxtCallError, CcxtClient
from execlab.adapters.ccxt._errors import ErrorKind, error_kind
from execlab.adapters.ccxt._mapping import QuotedSymbols, broker_order, fill, instrument, wire_client_id
from execlab.adapters.ccxt._stream import CcxtStream

__all__ = ["BinanceAdapter", "CcxtAdapter", "OkxAdapter", "adapter_for"]

_ENDED = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.REJECTED})
_KIT_ERRORS: dict[ErrorKind, Callable[[str, float | None], BrokerError]] = {
    ErrorKind.RATE_LIMITED: lambda m, r: BrokerRateLimitedError(m, r),
    ErrorKind.TIMEOUT: lambda m, r: BrokerTimeoutError(m),
    ErrorKind.UNAVAILABLE: lambda m, r: BrokerUnavailableError(m),
    ErrorKind.CLOCK: lambda m, r: BrokerUnavailableError(m),
    ErrorKind.AUTH: lambda m, r: BrokerAuthError(m),
    ErrorKind.DUPLICATE: lambda m, r: DuplicateClientOrderIdError(m),
    ErrorKind.NOT_FOUND: lambda m, r: BrokerRejectedError(m),
    ErrorKind.REJECTED: lambda m, r: BrokerRejectedError(m),
}


def _from_call(exc: CcxtCallError) -> BrokerError:
    return _KIT_ERRORS[exc.kind](str(exc), exc.retry_after)


def _from_ccxt(exc: ccxt.BaseError) -> BrokerError:
    return _KIT_ERRORS[error_kind(exc) or ErrorKind.REJECTED](f"ccxt: {exc}", None)


#: ccxt's failures as the kit's errors (the client's calls already carry their kind).
ERRORS = translate_errors([(CcxtCallError, _from_call), (ccxt.BaseError, _from_ccxt)])


class CcxtAdapter(BrokerAdapter):
    """A ccxt spot exchange as a broker (use :func:`adapter_for` or the exchange's subclass).

    Args:
        api_key, secret, password: credentials (OKX: ``password`` is the passphrase).
        base_url: a local venue's ``http://127.0.0.1:PORT``; None: the exchange's own URLs.
        quote_currency: the account's cash currency and the quote of its pairs.
        timeout: seconds per request.
        weight_limit, weight_window: Binance's request weight per window (6000 per 60 s).
        stream: order updates and fills from ccxt.pro (else the executor polls).
        bare_symbols: execlab names a pair by its base currency alone (``BTC`` is ``BTC/USDT``).
        follow_stated_limit: pace to the weight limit the exchange states (Binance's ``exchangeInfo``), not only to
            ``weight_limit``.
    """

    exchange_id: ClassVar[str] = ""
    name = "ccxt"
    capabilities = frozenset({Capability.ORDER_STREAM, Capability.FILL_STREAM, Capability.FILLS,
                              Capability.INSTRUMENTS, Capability.TRADABLE})

    def __init__(self, api_key: str, secret: str, *, password: str | None = None, base_url: str | None = None,
                 quote_currency: str = "USDT", timeout: float = 10.0, weight_limit: int = 6000,
                 weight_window: float = 60.0, stream: bool = True, bare_symbols: bool = False,
                 follow_stated_limit: bool = True) -> None:
        self.name = f"ccxt:{self.exchange_id}"
        self.symbol_map = QuotedSymbols(quote_currency, bare=bare_symbols)
        self._credentials: dict[str, Any] = {"api_key": api_key, "secret": secret, "password": password}
        self.base_url = base_url
        self.quote_currency = quote_currency
        self.client = CcxtClient(self.exchange_id, base_url=base_url, timeout=timeout, weight_limit=weight_limit,
                                 weight_window=weight_window, follow_stated_limit=follow_stated_limit,
                                 **self._credentials)
        self._use_stream = stream
        self._lock = threading.Lock()
        self._symbols: list[str] = []
        self._symbol_of: dict[str, str] = {}  # canonical client id → symbol
        self._client_of: dict[str, str] = {}  # exchange order id → client id
        self._final: dict[str, bool] = {}  # exchange order id → ended (filled, cancelled, ...)
        self._settled: set[str] = set()  # symbols whose orders had all ended when their trades were last listed
        self._streams: list[CcxtStream] = []

    # -- what the adapter knows about ------------------------------------------------------------------------
    def _remember(self, symbols: Sequence[str]) -> None:
        with self._lock:
            for s in symbols:
                if s not in self._symbols:
                    self._symbols.append(s)

    def _known(self, raw: dict[str, Any]) -> BrokerOrder:
        symbol = str(raw["symbol"])
        order = broker_order(raw, self.client_ids, self.symbol_map.to_execlab(symbol))
        with self._lock:
            self._client_of[order.broker_order_id] = order.client_order_id
            self._symbol_of[order.client_order_id] = symbol
            self._final[order.broker_order_id] = order.status in _ENDED
            if order.status not in _ENDED:
                self._settled.discard(symbol)
        return order

    def _search_symbols(self) -> list[str]:
        """Symbols to look an order up in: those asked about, then pairs of the currencies held."""
        markets = self.client.markets()
        held = [f"{b.currency}/{self.quote_currency}" for b in self.client.balances()
                if b.currency != self.quote_currency]
        with self._lock:
            known = list(self._symbols)
        return [s for s in dict.fromkeys(known + held) if s in markets]

    # -- orders ----------------------------------------------------------------------------------------------
    @ERRORS
    def _submit(self, order: Order) -> BrokerOrder:
        if order.order_type not in (OrderType.MARKET, OrderType.LIMIT):
            raise BrokerRejectedError(f"{self.name}: {order.order_type.value} orders are not supported (market, "
                                      "limit)")
        symbol = self.symbol_map.to_broker(order.symbol)
        self._remember([symbol])
        with self._lock:
            self._symbol_of[order.client_order_id] = symbol
        raw = self.client.place(order.client_order_id, symbol, order.side.value, order.quantity,
                                order.order_type.value, order.limit_price)
        return self._known(raw)

    @ERRORS
    def _cancel(self, broker_order_id: str) -> None:
        with self._lock:
            client_id = self._client_of.get(broker_order_id)
            symbol = self._symbol_of.get(client_id or "")
        if symbol is None:
            for candidate in self._search_symbols():
                try:
                    self.client.order_by_id(broker_order_id, candidate)
                except CcxtCallError as exc:
                    if exc.kind is ErrorKind.NOT_FOUND:
                        continue
                    raise
                symbol = candidate
                break
        if symbol is None:
            raise BrokerRejectedError(f"{self.name}: order {broker_order_id} is not on any known symbol")
        self.client.cancel(broker_order_id, symbol)

    def _note_symbol(self, client_order_id: str, symbol: str) -> None:
        with self._lock:
            self._symbol_of.setdefault(client_order_id, self.symbol_map.to_broker(symbol))

    @ERRORS
    def _order(self, client_order_id: str) -> BrokerOrder | None:
        """The order on the symbol it was sent for when that is known (one request), else searched for."""
        with self._lock:
            sent_on = self._symbol_of.get(client_order_id)
        for symbol in [sent_on] if sent_on else self._search_symbols():
            raw = self.client.order_by_client_id(client_order_id, symbol)
            if raw is not None:
                return self._known(raw)
        return None

    @ERRORS
    def _open_orders(self) -> list[BrokerOrder]:
        self.client.markets()  # the exchange's stated weight limit decides how to list
        symbols = None if self.client.can_list_all_open() else self._search_symbols()
        return [self._known(raw) for raw in self.client.open_orders(symbols)]

    # -- account ---------------------------------------------------------------------------------------------
    @ERRORS
    def _positions(self) -> dict[str, float]:
        markets = self.client.markets()
        out = {}
        for b in self.client.balances():
            symbol = f"{b.currency}/{self.quote_currency}"
            if b.currency != self.quote_currency and symbol in markets and b.total:
                out[self.symbol_map.to_execlab(symbol)] = b.total
        return out

    @ERRORS
    def _account(self) -> AccountSnapshot:
        balances = self.client.balances()
        markets = self.client.markets()
        cash = next((b for b in balances if b.currency == self.quote_currency), None)
        held = {f"{b.currency}/{self.quote_currency}": b.total for b in balances
                if b.currency != self.quote_currency and f"{b.currency}/{self.quote_currency}" in markets}
        mids = self.client.mids([s for s, q in held.items() if q])
        cash_total = cash.total if cash is not None else 0.0
        equity = cash_total + sum(q * mids.get(s, 0.0) for s, q in held.items())
        return AccountSnapshot(timestamp=datetime.now(UTC), cash=cash_total, equity=equity,
                               buying_power=cash.free if cash is not None else 0.0,
                               currency=self.quote_currency, balances=balances)

    @ERRORS
    def _fills(self, since: datetime | None) -> list[BrokerFill]:
        """Trades on every symbol where the exchange lists them so (OKX: one request a page); else on the symbols
        of the orders this adapter has seen (Binance lists trades per symbol only), where a symbol whose orders had
        all ended when its trades were last listed is not asked again."""
        since_ms = int(since.timestamp() * 1000) if since is not None else None
        if self.client.lists_all_trades():
            out = [fill(t, self.symbol_map.to_execlab(str(t["symbol"])), self._client_id_of(t, fetch=False))
                   for t in self.client.all_trades(since_ms)]
            out.sort(key=lambda f: (f.timestamp or datetime.min.replace(tzinfo=UTC), f.execution_id))
            return out
        with self._lock:
            traded = [s for s in dict.fromkeys(self._symbol_of.values()) if s not in self._settled]
            order_of = {cid: oid for oid, cid in self._client_of.items()}
            ended = {s for s in traded if all(self._final.get(order_of.get(cid, ""), False)
                                              for cid, sym in self._symbol_of.items() if sym == s)}
        out = []
        for trade in self.client.trades(traded, since_ms):
            out.append(fill(trade, self.symbol_map.to_execlab(str(trade["symbol"])), self._client_id_of(trade)))
        with self._lock:
            self._settled |= ended
        out.sort(key=lambda f: (f.timestamp or datetime.min.replace(tzinfo=UTC), f.execution_id))
        return out

    def _client_id_of(self, trade: dict[str, Any], fetch: bool = True) -> str:
        """The canonical client id of a trade's order (Binance's trades do not carry it: its order is fetched
        once, unless ``fetch`` is False: then an order this adapter has not seen has no client id, "")."""
        wire = wire_client_id(trade)
        if wire:
            return self.client_ids.parse(wire) or wire
        order_id = str(trade["order"])
        with self._lock:
            known = self._client_of.get(order_id)
        if known is None and not fetch:
            return ""
        if known is None:
            known = self._known(self.client.order_by_id(order_id, str(trade["symbol"]))).client_order_id
        return known

    # -- instruments -----------------------------------------------------------------------------------------
    @ERRORS
    def _instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        pairs = {s: self.symbol_map.to_broker(s) for s in symbols}
        self._remember(list(pairs.values()))
        markets = self.client.markets()
        mode = self.client.exchange.precisionMode
        return {s: instrument(s, markets[p], mode) for s, p in pairs.items() if p in markets}

    @ERRORS
    def _tradable(self, symbols: Sequence[str]) -> set[str] | None:
        pairs = {s: self.symbol_map.to_broker(s) for s in symbols}
        self._remember(list(pairs.values()))
        markets = self.client.markets()
        return {s for s, p in pairs.items() if p in markets and markets[p].get("active", True) is not False}

    # -- stream ----------------------------------------------------------------------------------------------
    @ERRORS
    def _stream(self, on_order: Callable[[BrokerOrder], None], on_fill: Callable[[BrokerFill], None],
                on_gap: Callable[[], None], timeout: float = 10.0) -> OrderStream | None:
        if not self._use_stream:
            return None
        import ccxt.pro  # noqa: F401 - loading ccxt.pro takes seconds: not inside the stream's deadline
        try:
            self.client.markets()  # paced, and shared with the stream (its own load would not be)
        except CcxtCallError as exc:
            if exc.kind is ErrorKind.RATE_LIMITED:  # the executor polls instead
                raise BrokerUnavailableError(f"{self.name}: no stream before the markets load: {exc}") from exc
            raise
        stream = CcxtStream(self.exchange_id, self._credentials, self.base_url, self.client_ids, on_order, on_fill,
                            on_gap=on_gap, symbols=self.symbol_map, markets_from=self.client.exchange)
        stream.start_until_live(timeout)
        self._streams.append(stream)
        return stream

    def close(self) -> None:
        """Stop the streams and release the HTTP session; safe twice."""
        for stream in self._streams:
            stream.stop()
        self._streams.clear()
        self.client.close()


class BinanceAdapter(CcxtAdapter):
    """Binance spot through ccxt (client ids as execlab writes them)."""

    exchange_id = "binance"
    client_ids: ClassVar[ClientIdStyle] = ClientIdStyle()


class OkxAdapter(CcxtAdapter):
    """OKX spot through ccxt (client ids: the 32 hex digits, as ``clOrdId`` takes 1–32 alphanumerics)."""

    exchange_id = "okx"
    client_ids: ClassVar[ClientIdStyle] = ALPHANUMERIC_32


def adapter_for(exchange_id: str) -> type[CcxtAdapter]:
    """The adapter class of a ccxt exchange id."""
    classes: dict[str, type[CcxtAdapter]] = {"binance": BinanceAdapter, "okx": OkxAdapter}
    if exchange_id not in classes:
        raise ValueError(f"ccxt exchange {exchange_id!r} is not supported (supported: {', '.join(classes)})")
    return classes[exchange_id]
