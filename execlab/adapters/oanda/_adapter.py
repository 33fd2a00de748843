"""``OandaAdapter``: OANDA's v20 REST API through the unmodified oandapyV20.

Orders go out as v20 market (FOK, or IOC) and limit orders with signed units and prices as strings at the
instrument's precision, execlab's client id in ``clientExtensions.id``. OANDA refuses a second order with the same
client id only while the first is *pending*, so a filled market order is no guard against a resend: before any
resend the executor asks :meth:`_order`, which looks the id up (``GET /orders/@<id>``) and then in the transaction
log. Fills come from ``ORDER_FILL`` transactions (commission as the fee, financing and the home-currency P&L kept
raw), pushed by the transaction stream, which reconnects after heartbeat silence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

import requests
from oandapyV20 import API
from oandapyV20.endpoints import accounts, orders, positions, transactions
from oandapyV20.exceptions import V20Error
from oandapyV20.oandapyV20 import TRADING_ENVIRONMENTS

from execlab._brokers.contract import (
    BrokerAdapter,
    BrokerCharge,
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerRejectedError,
    Capability,
)
from execlab._brokers.errors import translate_errors
from execlab._brokers.symbols import PairMap
from execlab._core.endpoints import Mode, check_endpoint
from execlab._core.instruments import Instrument
from execlab._core.models import AccountSnapshot, Order
from execlab.adapters.oanda._book import TransactionBook
from execlab.adapters.oanda._client import OANDA_ENVIRONMENTS, environment_for, make_api
from execlab.adapters.oanda._mapping import (
    InstrumentSpec,
    broker_charges,
    broker_fill,
    broker_order,
    order_request,
    to_error,
)
from execlab.adapters.oanda._stream import OandaTransactionStream

__all__ = ["OandaAdapter"]

_SDK_ERRORS = (V20Error, requests.RequestException, ValueError)
_TRANSLATE = translate_errors([(_SDK_ERRORS, to_error)])
_OANDA_API_URLS = {TRADING_ENVIRONMENTS[e]["api"]: e for e in OANDA_ENVIRONMENTS}


class OandaAdapter(BrokerAdapter):
    """One v20 account through oandapyV20; ``base_url`` points at a local venue (else ``environment``'s hosts).

    Args:
        token: the personal access token (``Authorization: Bearer``).
        account_id: the account to trade; default: the first the token lists.
        base_url: the REST root (``http://127.0.0.1:PORT`` for a local venue); None: OANDA's ``environment``.
        stream_url: the streaming root; default ``base_url``.
        environment: ``practice`` or ``live`` when ``base_url`` is None.
        timeout: seconds for each REST request.
        silence_timeout: seconds without a byte (heartbeats every 5 s) after which the stream reconnects.
    """

    name = "oanda"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.ORDER_STREAM, Capability.FILL_STREAM, Capability.FILLS, Capability.INSTRUMENTS,
        Capability.TRADABLE, Capability.BULK_REFRESH, Capability.CHARGES})
    symbol_map = PairMap("/", "_")
    """``EUR/GBP`` (execlab, as OANDA's data names it) ↔ ``EUR_GBP`` (v20)."""

    def __init__(self, token: str, account_id: str | None = None, base_url: str | None = None,
                 stream_url: str | None = None, *, environment: str = "practice", timeout: float = 10.0,
                 silence_timeout: float = 20.0) -> None:
        if not token:
            raise BrokerError("an OANDA access token is required")
        if base_url is None:
            if environment not in OANDA_ENVIRONMENTS:
                raise ValueError(f"environment must be one of {OANDA_ENVIRONMENTS} without a base_url")
            self.environment = environment
        elif stream_url is None and base_url.rstrip("/") in _OANDA_API_URLS:  # OANDA's own: its stream host too
            self.environment = _OANDA_API_URLS[base_url.rstrip("/")]
        else:
            mode: Mode = "live" if environment == "live" else "paper"
            for key, url in (("base_url", base_url), ("stream_url", stream_url)):
                if url is not None:
                    check_endpoint(self.name, url, mode, key=key)
            self.environment = environment_for(base_url, stream_url)
        self._token = token
        self.silence_timeout = silence_timeout
        self.api: API = make_api(token, self.environment, timeout)
        self.api.client.hooks["response"].append(self._count)
        self.requests = 0
        """Requests this adapter sent (REST; not the stream)."""
        self._account_id = account_id
        self._specs: dict[str, InstrumentSpec] | None = None
        self._home: str | None = None
        self.book = TransactionBook()
        self._book_started = False
        self._financing_read = False
        self._stream_handle: OandaTransactionStream | None = None
        self._on_fill: Callable[[BrokerFill], None] | None = None

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.requests += 1

    # -- plumbing ------------------------------------------------------------------------------------------
    def _request(self, endpoint: Any) -> dict[str, Any]:
        """One REST request, paced on its own: a hook may send several (the book's summary, the instrument list,
        a lookup's fallback to the transaction log), each takes a slot of the executor's pacer."""
        with _TRANSLATE, self._each_request():
            answer = self.api.request(endpoint)
        assert isinstance(answer, dict)
        return answer

    @property
    def account_id(self) -> str:
        """The account traded (the token's first, unless given)."""
        if self._account_id is None:
            listed = self._request(accounts.AccountList()).get("accounts") or []
            if not listed:
                raise BrokerError("the OANDA token lists no account")
            self._account_id = str(listed[0]["id"])
        return self._account_id

    @property
    def api_url(self) -> str:
        """The REST root requests go to."""
        return str(TRADING_ENVIRONMENTS[self.environment]["api"])

    def specs(self) -> dict[str, InstrumentSpec]:
        """The account's instruments by v20 name (read once)."""
        if self._specs is None:
            listed = self._request(accounts.AccountInstruments(self.account_id)).get("instruments") or []
            self._specs = {s.name: s for s in (InstrumentSpec.from_json(i) for i in listed)}
        return self._specs

    def _spec(self, symbol: str) -> InstrumentSpec:
        name = self.symbol_map.to_broker(symbol)
        if name not in self.specs():
            self._specs = None  # listed since the last read?
        spec = self.specs().get(name)
        if spec is None:
            raise BrokerRejectedError(f"{symbol} ({name}) is not tradeable in OANDA account {self.account_id}")
        return spec

    def _start_book(self) -> None:
        if not self._book_started:
            summary = self._request(accounts.AccountSummary(self.account_id))
            self.book.advance(str(summary.get("lastTransactionID", "0")))
            self._home = str(summary["account"]["currency"])
            self._book_started = True

    def sync(self, since: str | None = None) -> list[Mapping[str, Any]]:
        """Read the transaction log after ``since`` (default: the newest seen) into the book; returns what was
        new."""
        self._start_book()
        after = since if since is not None else self.book.last_id
        answer = self._request(transactions.TransactionsSinceID(self.account_id, params={"id": after}))
        new = self.book.ingest(answer.get("transactions") or [])
        self.book.advance(str(answer.get("lastTransactionID", "")))
        return new

    def _to_broker(self, order: Mapping[str, Any]) -> BrokerOrder | None:
        cid = (order.get("clientExtensions") or {}).get("id")
        canonical = self.client_ids.parse(cid) if isinstance(cid, str) else None
        if canonical is None:
            return None
        if self.book.fill_ids_missing(order):
            self.sync(since=self._read_from([order]))
        return broker_order(self.book.view(order), self.symbol_map.to_execlab(str(order["instrument"])), canonical)

    def _read_from(self, orders_missing_fills: Sequence[Mapping[str, Any]]) -> str:
        """Where the transaction log must be read from to hold every fill of these orders: before the oldest one's
        creation (a v20 order id is its create transaction's id; a partly filled order's earlier fills come before
        its ``fillingTransactionID``), and never after what the book has read (fills during a stream gap)."""
        first = min(int(o["id"]) for o in orders_missing_fills) - 1
        last = int(self.book.last_id) if self.book.last_id.isdigit() else first
        return str(max(0, min(first, last)))

    # -- hooks ---------------------------------------------------------------------------------------------
    def _submit(self, order: Order) -> BrokerOrder:
        self._start_book()
        body = order_request(order, self._spec(order.symbol), self.client_ids.render(order.client_order_id))
        answer = self._request(orders.OrderCreate(self.account_id, data=body))
        self.book.ingest_response(answer)
        created = answer["orderCreateTransaction"]
        fill = answer.get("orderFillTransaction")
        if fill is not None and self._on_fill is not None:
            self._on_fill(broker_fill(fill, order.symbol, order.client_order_id, self._home or "USD"))
        return broker_order(self.book.view(created), order.symbol, order.client_order_id)

    def _cancel(self, broker_order_id: str) -> None:
        answer = self._request(orders.OrderCancel(self.account_id, broker_order_id))
        self.book.ingest_response(answer)

    def _order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client id: ``GET /orders/@<id>``, then the transaction log (created or rejected)."""
        wire = self.client_ids.render(client_order_id)
        try:
            found: dict[str, Any] | None = self._request(orders.OrderDetails(self.account_id, f"@{wire}"))
        except BrokerRejectedError as exc:
            if not isinstance(exc.__cause__, V20Error) or int(exc.__cause__.code) != 404:
                raise
            found = None
        if found is None:
            self.sync()
            order_id = self.book.by_client.get(wire)
            if order_id is None:
                reject = self.book.rejects.get(wire)
                if reject is None:
                    return None
                return broker_order(self.book.view({**reject, "id": reject["id"], "state": "CANCELLED"}),
                                    self.symbol_map.to_execlab(str(reject["instrument"])), client_order_id)
            found = self._request(orders.OrderDetails(self.account_id, order_id))
        return self._to_broker(found["order"])

    def _open_orders(self) -> list[BrokerOrder]:
        listed = self._request(orders.OrdersPending(self.account_id)).get("orders") or []
        return [b for b in (self._to_broker(o) for o in listed) if b is not None]

    def _recent_orders(self) -> list[BrokerOrder]:
        listed = self._request(orders.OrderList(self.account_id, params={"state": "ALL", "count": 500}))
        items = listed.get("orders") or []
        missing = [o for o in items if self.book.fill_ids_missing(o)]
        if missing:
            self.sync(since=self._read_from(missing))
        return [b for b in (self._to_broker(o) for o in items) if b is not None]

    def _positions(self) -> dict[str, float]:
        held = self._request(positions.OpenPositions(self.account_id)).get("positions") or []
        out: dict[str, float] = {}
        for p in held:
            units = float(p["long"]["units"]) + float(p["short"]["units"])
            if units:
                out[self.symbol_map.to_execlab(str(p["instrument"]))] = units
        return out

    def _account(self) -> AccountSnapshot:
        answer = self._request(accounts.AccountSummary(self.account_id))
        acct = answer["account"]
        self._home = str(acct["currency"])
        if not self._book_started:  # the transaction log is read from here on (no request of its own)
            self.book.advance(str(answer.get("lastTransactionID", "0")))
            self._book_started = True
        rate = float(acct.get("marginRate") or 0) or 1.0
        return AccountSnapshot(cash=float(acct["balance"]), equity=float(acct["NAV"]),
                               buying_power=float(acct["marginAvailable"]) / rate, currency=self._home)

    def _tradable(self, symbols: Sequence[str]) -> set[str] | None:
        names = self.specs()
        out = set()
        for s in symbols:
            try:
                if self.symbol_map.to_broker(s) in names:
                    out.add(s)
            except ValueError:
                continue
        return out

    def _instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        """Lot (one unit step), tick (one display step), minimum trade size and quote currency per symbol."""
        out = {}
        for s in symbols:
            spec = self.specs().get(self.symbol_map.to_broker(s))
            if spec is not None:
                out[s] = spec.instrument(s)
        return out

    def _fills(self, since: datetime | None) -> list[BrokerFill]:
        """Every execlab fill in the transaction log since the adapter started (and those seen before), after
        ``since``."""
        self.sync()
        out = []
        for txn in self.book.all_fills():
            cid = txn.get("clientOrderID")
            canonical = self.client_ids.parse(cid) if isinstance(cid, str) else None
            if canonical is None:
                continue
            fill = broker_fill(txn, self.symbol_map.to_execlab(str(txn["instrument"])), canonical,
                               self._home or "USD")
            if since is None or (fill.timestamp is not None and fill.timestamp > since):
                out.append(fill)
        return out

    def _charges(self, since: datetime | None) -> list[BrokerCharge]:
        """The daily financing booked on the account's positions after ``since`` (v20 ``DAILY_FINANCING``
        transactions), one charge per position and day. The first call reads the whole transaction log (the
        financing booked before the adapter started), later ones what is new."""
        if not self._financing_read:
            self._start_book()
            answer = self._request(transactions.TransactionsSinceID(self.account_id, params={"id": "0"}))
            self.book.ingest(t for t in answer.get("transactions") or [] if t.get("type") == "DAILY_FINANCING")
            self._financing_read = True
        self.sync()
        home = self._home or "USD"
        charges = [c for txn in self.book.all_financing()
                   for c in broker_charges(txn, self.symbol_map.to_execlab, home)]
        return [c for c in charges if since is None or c.timestamp is None or c.timestamp > since]

    def _stream(self, on_order: Callable[[BrokerOrder], None], on_fill: Callable[[BrokerFill], None],
                on_gap: Callable[[], None], timeout: float = 10.0) -> OandaTransactionStream:
        """Order updates (and fills) from the transaction stream, live on return."""
        self._start_book()
        self._on_fill = on_fill

        def on_transaction(txn: dict[str, Any]) -> None:
            for new in self.book.ingest([txn]):
                order_id = str(new.get("orderID", new.get("id")))
                created = self.book.creates.get(order_id)
                if created is None:
                    continue
                cid = (created.get("clientExtensions") or {}).get("id")
                canonical = self.client_ids.parse(cid) if isinstance(cid, str) else None
                if canonical is None:
                    continue
                symbol = self.symbol_map.to_execlab(str(created["instrument"]))
                if new.get("type") == "ORDER_FILL":
                    on_fill(broker_fill(new, symbol, canonical, self._home or "USD"))
                on_order(broker_order(self.book.view(created), symbol, canonical))

        stream = OandaTransactionStream(self._token, self.environment, self.account_id, on_transaction, on_gap,
                                        silence_timeout=self.silence_timeout)
        self._stream_handle = stream.start(timeout)
        return stream

    def close(self) -> None:
        """Stop the stream and close the HTTP session."""
        if self._stream_handle is not None:
            self._stream_handle.stop()
            self._stream_handle = None
        self.api.close()
