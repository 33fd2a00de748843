"""The local OANDA venue's v20 layer over the broker kit's account: orders as v20 knows them, the transaction log,
and the account's v20 figures.

Matching, money per currency and fees are :class:`~execlab.venues._base.account.VenueAccount`'s (a margin account:
each pair is a position instrument, its quote currency moves). This layer keeps what only v20 has: order ids that
are transaction ids, the transaction log (``1`` creates the account, ``2`` funds it) read by ``/transactions/sinceid``
and the transaction stream, client-id reuse once an order is no longer pending, cancel reasons, and the realised
P&L of each fill in the home currency. Methods take the account's lock, so routes and the harness may call at once;
listeners are called under it (hand off, do not block).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from execlab._config import MarginConfig, VenueConfig
from execlab.venues._base.account import VenueAccount, VenueEvent, VenueOrderRequest, VenueReject
from execlab.venues._base.faults import FaultInjector
from execlab.venues.oanda._instruments import DEFAULT_INSTRUMENTS, V20Instrument, amount_text, test_cfd
from execlab.venues.oanda._mapping import (
    OrderRecord,
    account_figures,
    order_json,
    position_json,
    price_json,
    v20_time,
)
from execlab.venues.oanda._pl import PositionBook
from execlab.venues.oanda._rules import OrderRequest, Rejection, cancel_reason, parse_order_request

__all__ = ["DEFAULT_ACCOUNT_ID", "OandaState", "V20Error"]

#: The practice account the venue serves when none is named (OANDA's ``101-<division>-<user>-<n>`` shape).
DEFAULT_ACCOUNT_ID: Final = "101-001-0000001-001"
_USER_ID: Final = 1


class V20Error(Exception):
    """A v20 error answer: HTTP status and JSON body."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"errorMessage": message, **extra}


TransactionListener = Callable[[dict[str, Any]], None]
PriceListener = Callable[[dict[str, Any]], None]


class OandaState:
    """One v20 practice account in ``home`` currency over a :class:`VenueAccount`, trading ``instruments``."""

    def __init__(self, *, account_id: str = DEFAULT_ACCOUNT_ID, home: str = "USD", balance: float = 100_000.0,
                 instruments: Mapping[str, V20Instrument] | None = None, venue_config: VenueConfig | None = None,
                 injector: FaultInjector | None = None, clock: Callable[[], datetime] | None = None,
                 alias: str = "execlab-practice", seed: int = 0, open_instruments: bool = False) -> None:
        self.account_id = account_id
        self.alias = alias
        self.open_instruments = open_instruments
        """List an unknown name at its first quote as a CFD in the home currency (for broker-neutral tests)."""
        self.home = home
        self.instruments: dict[str, V20Instrument] = dict(instruments or DEFAULT_INSTRUMENTS)
        leverage = min(1.0 / float(min(i.margin_rate for i in self.instruments.values())), 100.0)
        config = venue_config or VenueConfig(margin=MarginConfig(enabled=True, max_leverage=leverage))
        self.account = VenueAccount({home: balance}, currency=home, venue_config=config, allow_short=True,
                                    instruments=[i.venue_instrument() for i in self.instruments.values()],
                                    symbols_closed=True, clock=clock, seed=seed)
        self.lock = self.account.lock
        self.injector = injector or FaultInjector()
        self.halted: set[str] = set()
        self.liquidity: dict[str, float] = {n: i.liquidity for n, i in self.instruments.items()}
        self.book = PositionBook()
        self.balance = float(balance)
        """v20's balance: deposits plus realised P&L less commission (NAV adds the unrealised P&L)."""
        self.commission = 0.0
        self.financing = 0.0
        """Financing paid (negative) or received since the account opened, in the account currency."""
        self.transactions: list[dict[str, Any]] = []
        self.orders: dict[str, OrderRecord] = {}
        self.by_client_id: dict[str, str] = {}
        self.by_venue_id: dict[str, str] = {}
        self.open_trade: dict[str, str] = {}
        self.transaction_listeners: list[TransactionListener] = []
        self.price_listeners: list[PriceListener] = []
        self.placements: Counter[str] = Counter()
        self.fill_transactions: dict[str, str] = {}
        """The ``ORDER_FILL`` transaction id (what a client sees as the execution id) of each kit execution id."""
        self._batch: str | None = None
        self._cancelling: str | None = None
        self._answer: dict[str, dict[str, Any]] = {}
        self.created_time = self.now()
        self._append({"type": "CREATE", "divisionID": 1, "siteID": 101, "accountUserID": _USER_ID,
                      "accountNumber": 1, "homeCurrency": home}, self._next_id())
        self._append({"type": "TRANSFER_FUNDS", "amount": amount_text(balance), "fundingReason": "CLIENT_FUNDING",
                      "accountBalance": amount_text(balance)}, self._next_id())
        self.account.subscribe(self._on_event)

    # -- log -----------------------------------------------------------------------------------------------
    def now(self) -> str:
        """The venue clock as a v20 time string."""
        return v20_time(self.account.now())

    def _next_id(self) -> str:
        return str(len(self.transactions) + 1)

    @property
    def last_transaction_id(self) -> str:
        """The id of the newest transaction."""
        return str(len(self.transactions))

    def _append(self, fields: dict[str, Any], batch: str) -> dict[str, Any]:
        txn = {"id": self._next_id(), "accountID": self.account_id, "userID": _USER_ID, "batchID": batch,
               "time": self.now(), **fields}
        self.transactions.append(txn)
        for listener in list(self.transaction_listeners):
            listener(txn)
        return txn

    def transactions_since(self, since: str | None) -> list[dict[str, Any]]:
        """Transactions after id ``since`` (all with None)."""
        with self.lock:
            return list(self.transactions[_transaction_index(since):])

    # -- quotes and conversion -----------------------------------------------------------------------------
    def quote(self, instrument: str) -> tuple[float, float] | None:
        """The instrument's (bid, ask), or None when it has none."""
        quoted = self.account.engine.quote(instrument)
        if quoted is None or not (quoted[0] > 0 and quoted[1] > 0):
            return None
        return float(quoted[0]), float(quoted[1])

    def rate(self, currency: str) -> float:
        """Home-currency value of one unit of ``currency`` at the current marks (NaN when nothing links them)."""
        return self.account.rate(currency)

    def set_quotes(self, quotes: Iterable[tuple[str, float, float]]) -> None:
        """Set (bid, ask) per instrument, publish the prices, then fill the pending limit orders they reach."""
        batch = []
        for name, bid, ask in quotes:
            self.check_instrument(name)
            if not (math.isfinite(bid) and math.isfinite(ask) and 0 < bid <= ask):
                raise ValueError(f"{name}: need 0 < bid <= ask, got {bid!r}, {ask!r}")
            batch.append((name, float(bid), float(ask), None, None))
        with self.lock:
            self.account.set_quotes(batch)
            for name, *_ in batch:
                self._publish_price(name)

    def check_instrument(self, name: str) -> None:
        """Raise ValueError for an instrument this venue does not list (an open venue lists it now)."""
        if name in self.instruments:
            return
        if not self.open_instruments:
            raise ValueError(f"unknown instrument {name!r}; listed: {sorted(self.instruments)}")
        with self.lock:
            spec = test_cfd(name, self.home)
            self.instruments[name] = spec
            self.liquidity[name] = spec.liquidity
            self.account.instruments[name] = spec.venue_instrument()

    def _publish_price(self, name: str) -> None:
        message = self.price(name)
        if message is not None:
            for listener in list(self.price_listeners):
                listener(message)

    def set_halted(self, instrument: str, halted: bool = True) -> None:
        """Halt (or reopen) an instrument: market orders are cancelled MARKET_HALTED, limits wait."""
        with self.lock:
            if instrument not in self.instruments:
                raise ValueError(f"unknown instrument {instrument!r}")
            (self.halted.add if halted else self.halted.discard)(instrument)
            self._publish_price(instrument)

    def set_liquidity(self, instrument: str, units: float) -> None:
        """Units available at the top of the book (a FOK order for more is cancelled INSUFFICIENT_LIQUIDITY)."""
        with self.lock:
            if instrument not in self.instruments:
                raise ValueError(f"unknown instrument {instrument!r}")
            if not (math.isfinite(units) and units >= 0):
                raise ValueError(f"liquidity must be a finite number of units >= 0, got {units!r}")
            self.liquidity[instrument] = float(units)

    def price(self, instrument: str) -> dict[str, Any] | None:
        """The ``ClientPrice`` of one instrument (None before its first quote)."""
        quoted = self.quote(instrument)
        if quoted is None:
            return None
        spec = self.instruments[instrument]
        out = price_json(spec, quoted[0], quoted[1], self.now(), instrument not in self.halted,
                         self.rate(spec.quote))
        out["bids"][0]["liquidity"] = out["asks"][0]["liquidity"] = int(self.liquidity[instrument])
        return out

    def pricing(self, instruments: str | None) -> dict[str, Any]:
        """``GET /pricing?instruments=A,B``."""
        with self.lock:
            names = [n for n in (instruments or "").split(",") if n]
            unknown = [n for n in names if n not in self.instruments]
            if not names or unknown:
                raise V20Error(400, "Invalid value specified for 'instruments'" + (f": {','.join(unknown)}"
                                                                                   if unknown else ""))
            prices = [p for p in (self.price(n) for n in names) if p is not None]
            return {"time": self.now(), "prices": prices}

    # -- orders --------------------------------------------------------------------------------------------
    def count_attempt(self, client_id: str | None) -> None:
        """Count one order-create request (before any fault or limit), by its client id."""
        self.account.count_attempt(client_id)

    def create_order(self, body: Any) -> tuple[int, dict[str, Any]]:
        """``POST /orders``: 201 with the create transaction and its fill or cancel, or 400 with the reject."""
        with self.lock:
            self.account.sync()
            parsed = parse_order_request(body, self.instruments)
            if isinstance(parsed, OrderRequest) and parsed.client_id is not None:
                existing = self.orders.get(self.by_client_id.get(parsed.client_id, ""))
                if existing is not None and existing.state == "PENDING":
                    parsed = Rejection("CLIENT_ORDER_ID_ALREADY_EXISTS",
                                       "The client Order ID specified is already assigned to another pending Order",
                                       parsed.kind, tuple(parsed.order_fields().items()))
            if isinstance(parsed, Rejection):
                return 400, self._reject(parsed)
            batch = self._next_id()
            created = self._append({"type": f"{parsed.kind}_ORDER", "reason": "CLIENT_ORDER",
                                    **parsed.order_fields()}, batch)
            order = OrderRecord(created["id"], parsed, created["time"])
            self.orders[order.id] = order
            if parsed.client_id is not None:
                self.by_client_id[parsed.client_id] = order.id
                self.placements[parsed.client_id] += 1
            self._batch, self._answer = batch, {}
            try:
                self._place(order, batch)
            finally:
                self._batch = None
            answer: dict[str, Any] = {"orderCreateTransaction": created, **self._answer}
            answer["relatedTransactionIDs"] = [t["id"] for t in self.transactions if t["batchID"] == batch]
            answer["lastTransactionID"] = self.last_transaction_id
            return 201, answer

    def _reject(self, rejection: Rejection) -> dict[str, Any]:
        if rejection.kind is None:
            return {"errorMessage": rejection.message}
        txn = self._append({"type": f"{rejection.kind}_ORDER_REJECT", "reason": "CLIENT_ORDER",
                            **dict(rejection.fields), "rejectReason": rejection.reason}, self._next_id())
        return {"orderRejectTransaction": txn, "relatedTransactionIDs": [txn["id"]],
                "lastTransactionID": txn["id"], "errorCode": rejection.reason, "errorMessage": rejection.message}

    def _place(self, order: OrderRecord, batch: str) -> None:
        """Hand a new order to the account, unless v20 cancels it first (halted, liquidity, bounds, a fault)."""
        req = order.request
        quoted = self.quote(req.instrument)
        market_like = req.kind == "MARKET" or req.time_in_force in ("FOK", "IOC")
        reason: str | None = None
        if req.instrument in self.halted or quoted is None:
            reason = "MARKET_HALTED" if market_like else None
        else:
            reason = cancel_reason(req, *quoted, liquidity=self.liquidity[req.instrument]) if market_like else None
        if reason is not None:
            self._cancel_txn(order, reason, batch)
            return
        self._submit(order, reject=self.injector.take_reject())  # the knob's reject: created, then cancelled

    def _submit(self, order: OrderRecord, reject: bool = False) -> None:
        req = order.request
        units = float(abs(order.remaining))
        ratio = self.injector.partial_fill_ratio
        liquidity = self.liquidity[req.instrument]
        if req.time_in_force == "IOC" and units > liquidity:
            ratio = min(ratio or 1.0, liquidity / units) if liquidity > 0 else None
        tif = {"FOK": "fok", "IOC": "ioc", "GFD": "day"}.get(req.time_in_force, "gtc")
        cid = req.client_id if req.client_id and self.account.order_by_client_id(req.client_id) is None else None
        request = VenueOrderRequest(symbol=req.instrument, side="buy" if req.units > 0 else "sell",
                                    type="market" if req.kind == "MARKET" else "limit", tif=tif, qty=units,
                                    limit=None if req.price is None else float(req.price), client_id=cid,
                                    extra={"v20_id": order.id})
        try:
            placed = self.account.place(request, reject=reject, partial_ratio=ratio)
        except VenueReject as exc:
            reason = "INSUFFICIENT_MARGIN" if exc.reason == "insufficient_funds" else "BOUNDS_VIOLATION"
            self._cancel_txn(order, reason, self._batch or self._next_id())
            return
        order.venue_id = placed.id
        self.by_venue_id[placed.id] = order.id

    def _on_event(self, event: VenueEvent) -> None:
        """Turn the account's fills and ends of v20 orders into transactions (under the account's lock)."""
        v20_id = event.order.extra.get("v20_id")
        order = self.orders.get(str(v20_id)) if v20_id is not None else None
        if order is None or event.kind == "new":
            return
        batch = self._batch or self._next_id()
        if event.execution is not None:
            txn = self._fill_txn(order, event, batch)
            if self._batch is not None:
                self._answer["orderFillTransaction"] = txn
        if event.kind in ("canceled", "expired", "rejected"):
            if self._cancelling == order.id:
                reason = "CLIENT_REQUEST"
            elif event.kind == "expired":
                reason = "TIME_IN_FORCE_EXPIRED"
            elif event.order.reason in ("insufficient_cash", "no_shorting", "rejected"):
                reason = "INSUFFICIENT_MARGIN"
            else:
                reason = "INSUFFICIENT_LIQUIDITY"
            self._cancel_txn(order, reason, batch)

    def _fill_txn(self, order: OrderRecord, event: VenueEvent, batch: str) -> dict[str, Any]:
        execution = event.execution
        assert execution is not None
        req = order.request
        spec = self.instruments[req.instrument]
        units = execution.qty if execution.side == "buy" else -execution.qty
        price = execution.price
        quoted = self.quote(req.instrument) or (price, price)
        bid, ask = quoted
        quote_rate, base_rate = self.rate(spec.quote), self.rate(spec.base)
        effect = self.book.fill(req.instrument, units, price)
        pl = effect.quote_pl * quote_rate
        commission = execution.fee * self.rate(execution.fee_currency)
        self.balance += pl - commission
        self.commission += commission
        legs = self.book.positions[req.instrument]
        legs.realized_pl += pl
        half_spread = abs(units) * (ask - bid) / 2 * quote_rate
        order.filled_units += Decimal(spec.units_text(units))
        fields: dict[str, Any] = {
            "type": "ORDER_FILL", "orderID": order.id, "instrument": req.instrument,
            "units": spec.units_text(units), "price": spec.price_text(price), "fullVWAP": spec.price_text(price),
            "fullPrice": {"type": "PRICE", "bids": [{"price": spec.price_text(bid), "liquidity": "10000000"}],
                          "asks": [{"price": spec.price_text(ask), "liquidity": "10000000"}],
                          "closeoutBid": spec.price_text(bid), "closeoutAsk": spec.price_text(ask),
                          "timestamp": self.now()},
            "reason": "MARKET_ORDER" if req.kind == "MARKET" else "LIMIT_ORDER",
            "pl": amount_text(pl), "quotePL": f"{effect.quote_pl:.5f}",
            "financing": "0.0000", "baseFinancing": "0.00000000000000", "commission": amount_text(commission),
            "guaranteedExecutionFee": "0.0000", "quoteGuaranteedExecutionFee": "0",
            "accountBalance": amount_text(self.balance), "halfSpreadCost": amount_text(half_spread),
            "homeConversionFactors": {"gainQuoteHome": {"factor": f"{quote_rate:.8f}"},
                                      "lossQuoteHome": {"factor": f"{quote_rate:.8f}"}},
        }
        if req.client_id is not None:
            fields["clientOrderID"] = req.client_id
        txn_id = self._next_id()
        self.fill_transactions[execution.id] = txn_id
        if effect.closed:
            reduced = {"tradeID": self.open_trade.get(req.instrument, txn_id),
                       "units": spec.units_text(-effect.closed), "price": spec.price_text(price),
                       "realizedPL": amount_text(pl), "financing": "0.0000",
                       "halfSpreadCost": amount_text(half_spread)}
            if abs(effect.closed) < abs(effect.held_before):
                fields["tradeReduced"] = reduced
            else:
                fields["tradesClosed"] = [reduced]
        if effect.opened:
            fields["tradeOpened"] = {"tradeID": txn_id, "units": spec.units_text(effect.opened),
                                     "price": spec.price_text(price), "guaranteedExecutionFee": "0.0000",
                                     "halfSpreadCost": amount_text(half_spread),
                                     "initialMarginRequired": amount_text(
                                         abs(effect.opened) * base_rate * float(spec.margin_rate))}
            self.open_trade[req.instrument] = txn_id
        txn = self._append(fields, batch)
        if order.remaining == 0:
            order.state = "FILLED"
        order.events.update({"fillingTransactionID": txn["id"], "filledTime": txn["time"]})
        if effect.opened:
            order.events["tradeOpenedID"] = txn["id"]
        return txn

    def _cancel_txn(self, order: OrderRecord, reason: str, batch: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"type": "ORDER_CANCEL", "orderID": order.id, "reason": reason}
        if order.request.client_id is not None:
            fields["clientOrderID"] = order.request.client_id
        txn = self._append(fields, batch)
        order.state = "CANCELLED"
        order.events.update({"cancellingTransactionID": txn["id"], "cancelledTime": txn["time"]})
        if self._batch is not None:
            self._answer["orderCancelTransaction"] = txn
        return txn

    def _find(self, specifier: str) -> OrderRecord:
        order_id = self.by_client_id.get(specifier[1:], "") if specifier.startswith("@") else specifier
        order = self.orders.get(order_id)
        if order is None:
            raise V20Error(404, "The Order specified does not exist", errorCode="NO_SUCH_ORDER")
        return order

    def order(self, specifier: str) -> dict[str, Any]:
        """``GET /orders/{id or @clientExtensions.id}``."""
        with self.lock:
            return {"order": order_json(self._find(specifier)), "lastTransactionID": self.last_transaction_id}

    def list_orders(self, query: Mapping[str, str]) -> dict[str, Any]:
        """``GET /orders`` (``state`` PENDING by default, or FILLED, CANCELLED, ALL; ``instrument``; ``count``;
        ``ids``), newest first."""
        with self.lock:
            state = query.get("state", "PENDING")
            if state not in ("PENDING", "FILLED", "TRIGGERED", "CANCELLED", "ALL"):
                raise V20Error(400, "Invalid value specified for 'state'")
            try:
                count = int(query.get("count", "50"))
            except ValueError:
                raise V20Error(400, "Invalid value specified for 'count'") from None
            if not 1 <= count <= 500:
                raise V20Error(400, "Invalid value specified for 'count'")
            ids = set(filter(None, query.get("ids", "").split(",")))
            chosen = [o for o in reversed(self.orders.values())
                      if (state == "ALL" or o.state == state)
                      and (not query.get("instrument") or o.request.instrument == query["instrument"])
                      and (not ids or o.id in ids)]
            return {"orders": [order_json(o) for o in chosen[:count]], "lastTransactionID": self.last_transaction_id}

    def pending_orders(self) -> dict[str, Any]:
        """``GET /pendingOrders``."""
        return self.list_orders({"state": "PENDING", "count": "500"})

    def cancel(self, specifier: str) -> dict[str, Any]:
        """``PUT /orders/{spec}/cancel``: 200 with the cancel transaction; 404 when it is not pending."""
        with self.lock:
            order = self._find(specifier)
            if order.state != "PENDING":
                raise V20Error(404, f"The Order specified is not pending (it is {order.state})",
                               errorCode="ORDER_DOESNT_EXIST")
            before = len(self.transactions)
            self._cancelling = order.id
            try:
                if order.venue_id is not None and self.account.order(order.venue_id) is not None:
                    self.account.cancel(order.venue_id)
                if order.state == "PENDING":  # never reached the account (or it had already let go)
                    self._cancel_txn(order, "CLIENT_REQUEST", self._next_id())
            finally:
                self._cancelling = None
            txn = next(t for t in self.transactions[before:] if t["type"] == "ORDER_CANCEL")
            return {"orderCancelTransaction": txn, "relatedTransactionIDs": [txn["id"]],
                    "lastTransactionID": self.last_transaction_id}

    # -- financing -------------------------------------------------------------------------------------------
    def daily_financing(self, days: float = 1.0) -> dict[str, Any] | None:
        """Book a rollover (v20's daily 5 pm New York one): one ``DAILY_FINANCING`` transaction with a
        ``positionFinancings`` entry per open position, ``units × mid × rate / 365 × days`` in the quote currency
        (``longRate`` or ``shortRate``), converted to the account currency at the current rate and taken from the
        balance. None when no position is open."""
        with self.lock:
            entries: list[dict[str, Any]] = []
            total = 0.0
            for name, legs in sorted(self.book.positions.items()):
                if not legs.units:
                    continue
                spec = self.instruments[name]
                mark = self.account.engine.mark(name)
                rate = self.rate(spec.quote)
                if math.isnan(mark) or math.isnan(rate):
                    continue
                annual = spec.long_rate if legs.units > 0 else spec.short_rate
                quote_financing = abs(legs.units) * mark * annual / 365.0 * days
                financing = round(quote_financing * rate, 4)
                total += financing
                factor = {"factor": f"{rate:.8f}"}
                entries.append({
                    "instrument": name, "financing": amount_text(financing),
                    "baseFinancing": f"{quote_financing / mark:.14f}", "quoteFinancing": f"{quote_financing:.8f}",
                    "homeConversionFactors": {"gainQuoteHome": factor, "lossQuoteHome": factor},
                    "openTradeFinancings": [{"tradeID": self.open_trade.get(name, ""),
                                             "financing": amount_text(financing), "financingRate": f"{annual:.4f}"}],
                    "accountFinancingMode": "DAILY"})
            if not entries:
                return None
            self.balance += total
            self.financing += total
            self.account.deposit(self.home, total)
            return self._append({"type": "DAILY_FINANCING", "financing": amount_text(total),
                                 "accountBalance": amount_text(self.balance), "accountFinancingMode": "DAILY",
                                 "positionFinancings": entries}, self._next_id())

    # -- positions and account -----------------------------------------------------------------------------
    def unrealized_pl(self, instrument: str) -> float:
        """Home-currency P&L of the open units of ``instrument`` at the account's mark."""
        legs = self.book.get(instrument)
        if not legs.units:
            return 0.0
        mark = self.account.engine.mark(instrument)
        rate = self.rate(self.instruments[instrument].quote)
        if math.isnan(mark) or math.isnan(rate):
            return 0.0
        return legs.units * (mark - legs.average_price) * rate

    def positions(self, open_only: bool) -> dict[str, Any]:
        """``GET /positions`` (every instrument traded) or ``/openPositions``."""
        with self.lock:
            out = [position_json(self.instruments[n], legs, self.unrealized_pl(n))
                   for n, legs in sorted(self.book.positions.items()) if legs.units or not open_only]
            return {"positions": out, "lastTransactionID": self.last_transaction_id}

    def position(self, instrument: str) -> dict[str, Any]:
        """``GET /positions/{instrument}``."""
        with self.lock:
            if instrument not in self.instruments:
                raise V20Error(404, f"The instrument {instrument} does not exist", errorCode="NO_SUCH_POSITION")
            return {"position": position_json(self.instruments[instrument], self.book.get(instrument),
                                              self.unrealized_pl(instrument)),
                    "lastTransactionID": self.last_transaction_id}

    def figures(self) -> dict[str, str]:
        """Balance, NAV (the account's equity: every currency at the current marks), margin, position value."""
        used = value = 0.0
        for name, legs in self.book.positions.items():
            if legs.units:
                spec = self.instruments[name]
                worth = abs(legs.units) * self.rate(spec.base)
                if not math.isnan(worth):
                    value += worth
                    used += worth * float(spec.margin_rate)
        return account_figures(self.balance, self.account.equity(), used, value, self.financing, self.commission)

    def _summary(self) -> dict[str, Any]:
        open_positions = [n for n, p in self.book.positions.items() if p.units]
        realized = sum(p.realized_pl for p in self.book.positions.values())
        return {"id": self.account_id, "alias": self.alias, "currency": self.home,
                "createdByUserID": _USER_ID, "createdTime": self.created_time,
                "guaranteedStopLossOrderMode": "DISABLED", "hedgingEnabled": False,
                "marginRate": str(min(i.margin_rate for i in self.instruments.values())),
                "pl": amount_text(realized), "resettablePL": amount_text(realized),
                "openTradeCount": len(open_positions), "openPositionCount": len(open_positions),
                "pendingOrderCount": sum(o.state == "PENDING" for o in self.orders.values()),
                **self.figures(), "lastTransactionID": self.last_transaction_id}

    def summary(self) -> dict[str, Any]:
        """``GET /accounts/{id}/summary``."""
        with self.lock:
            self.account.sync()
            return {"account": self._summary(), "lastTransactionID": self.last_transaction_id}

    def _trades(self) -> list[dict[str, Any]]:
        out = []
        for name, legs in sorted(self.book.positions.items()):
            if legs.units:
                spec = self.instruments[name]
                out.append({"id": self.open_trade.get(name, "0"), "instrument": name, "state": "OPEN",
                            "price": spec.price_text(legs.average_price), "initialUnits": spec.units_text(legs.units),
                            "currentUnits": spec.units_text(legs.units), "realizedPL": "0.0000",
                            "unrealizedPL": amount_text(self.unrealized_pl(name)), "financing": "0.0000"})
        return out

    def details(self) -> dict[str, Any]:
        """``GET /accounts/{id}``: the summary with pending orders, open trades and every position."""
        with self.lock:
            account = self._summary()
            account["orders"] = [order_json(o) for o in self.orders.values() if o.state == "PENDING"]
            account["trades"] = self._trades()
            account["positions"] = self.positions(open_only=False)["positions"]
            return {"account": account, "lastTransactionID": self.last_transaction_id}

    def changes(self, since: str | None) -> dict[str, Any]:
        """``GET /changes?sinceTransactionID=N``: what the transactions after N changed, and the current figures."""
        with self.lock:
            if since is None:
                raise V20Error(400, "Invalid value specified for 'sinceTransactionID'")
            txns = self.transactions[_transaction_index(since):]
            touched = {t.get("orderID", t["id"]) for t in txns}
            orders = [self.orders[i] for i in sorted(touched, key=int) if i in self.orders]
            created = {t["id"] for t in txns if t["type"].endswith("_ORDER")}
            instruments = {t["instrument"] for t in txns if t["type"] == "ORDER_FILL"}
            changes = {
                "ordersCreated": [order_json(o) for o in orders if o.id in created],
                "ordersCancelled": [order_json(o) for o in orders if o.state == "CANCELLED"],
                "ordersFilled": [order_json(o) for o in orders if o.state == "FILLED"],
                "ordersTriggered": [], "tradesOpened": [], "tradesReduced": [], "tradesClosed": [],
                "positions": [position_json(self.instruments[n], self.book.get(n), self.unrealized_pl(n))
                              for n in sorted(instruments)],
                "transactions": txns,
            }
            figures = {k: v for k, v in self.figures().items() if k != "balance"}
            state = {**figures, "orders": [], "trades": [], "positions": []}
            return {"changes": changes, "state": state, "lastTransactionID": self.last_transaction_id}

    def instrument_list(self, names: str | None) -> dict[str, Any]:
        """``GET /accounts/{id}/instruments`` (optionally ``instruments=A,B``)."""
        with self.lock:
            wanted = [n for n in (names or "").split(",") if n]
            chosen = [self.instruments[n] for n in wanted if n in self.instruments] if wanted else \
                list(self.instruments.values())
            return {"instruments": [i.to_json() for i in chosen], "lastTransactionID": self.last_transaction_id}

    def stats(self) -> dict[str, Any]:
        """The account's counters (requests, answers, 429s, ``order_attempts`` per client id, streams) and the
        v20 orders created per client id (``placements``)."""
        with self.lock:
            return {**self.account.stats(), "faults_injected": dict(self.injector.counts),
                    "placements": dict(self.placements),
                    "last_transaction_id": self.last_transaction_id}


def _transaction_index(since: str | None) -> int:
    if since is None:
        return 0
    try:
        value = int(since)
    except ValueError:
        raise V20Error(400, f"Invalid value specified for transaction id: {since!r}") from None
    if value < 0:
        raise V20Error(400, f"Invalid value specified for transaction id: {since!r}")
    return value
