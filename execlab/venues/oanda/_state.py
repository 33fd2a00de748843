"""The local OANDA venue's state behind the v20 routes: one account, its orders, its transaction log and the quotes.

Every state change appends v20 transactions with monotonically increasing string ids (``1`` creates the account,
``2`` funds it); the transaction stream and ``/transactions/sinceid`` read that log. All methods take the venue
lock, so the routes (event-loop thread) and the harness (a test's thread) may call them at once. Listeners are
called under the lock with each new transaction or price: hand off, do not block.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

from execlab.venues.oanda._account import FxMarginAccount, PositionLegs
from execlab.venues.oanda._instruments import DEFAULT_INSTRUMENTS, V20Instrument, amount_text
from execlab.venues.oanda._mapping import (
    OrderRecord,
    account_figures,
    order_json,
    position_json,
    price_json,
    v20_time,
)
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
    """One v20 practice account in ``home`` currency, trading ``instruments`` at the quotes it is given."""

    def __init__(self, *, account_id: str = DEFAULT_ACCOUNT_ID, home: str = "USD", balance: float = 100_000.0,
                 instruments: Mapping[str, V20Instrument] | None = None, commission_per_million: float = 0.0,
                 clock: Callable[[], datetime] | None = None, alias: str = "execlab-practice") -> None:
        self.lock = threading.RLock()
        self.account_id = account_id
        self.alias = alias
        self.instruments: dict[str, V20Instrument] = dict(instruments or DEFAULT_INSTRUMENTS)
        self.quotes: dict[str, tuple[float, float]] = {}
        self.halted: set[str] = set()
        self.liquidity: dict[str, float] = {n: i.liquidity for n, i in self.instruments.items()}
        self.partial_fill_ratio: float | None = None
        self.commission_per_million = float(commission_per_million)
        self._clock = clock or (lambda: datetime.now(UTC))
        self.account = FxMarginAccount(home, balance, self.instruments, self.quotes.get)
        self.transactions: list[dict[str, Any]] = []
        self.orders: dict[str, OrderRecord] = {}
        self.by_client_id: dict[str, str] = {}
        self.open_trade: dict[str, str] = {}
        self.transaction_listeners: list[TransactionListener] = []
        self.price_listeners: list[PriceListener] = []
        self.requests = 0
        self.rate_limited = 0
        self.statuses: Counter[int] = Counter()
        self.attempts: Counter[str] = Counter()
        self.placements: Counter[str] = Counter()
        self.created_time = self.now()
        batch = self._next_id()
        self._append({"type": "CREATE", "divisionID": 1, "siteID": 101, "accountUserID": _USER_ID,
                      "accountNumber": 1, "homeCurrency": home}, batch)
        self._append({"type": "TRANSFER_FUNDS", "amount": amount_text(balance), "fundingReason": "CLIENT_FUNDING",
                      "accountBalance": amount_text(balance)}, self._next_id())

    # -- log -----------------------------------------------------------------------------------------------
    def now(self) -> str:
        """The venue clock as a v20 time string."""
        return v20_time(self._clock())

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
            start = _transaction_index(since)
            return list(self.transactions[start:])

    # -- quotes --------------------------------------------------------------------------------------------
    def set_quotes(self, quotes: Iterable[tuple[str, float, float]]) -> None:
        """Set (bid, ask) per instrument, publish the prices, then fill the pending limit orders they reach."""
        with self.lock:
            touched = []
            for name, bid, ask in quotes:
                if name not in self.instruments:
                    raise ValueError(f"unknown instrument {name!r}; listed: {sorted(self.instruments)}")
                if not (math.isfinite(bid) and math.isfinite(ask) and 0 < bid <= ask):
                    raise ValueError(f"{name}: need 0 < bid <= ask, got {bid!r}, {ask!r}")
                self.quotes[name] = (float(bid), float(ask))
                touched.append(name)
            for name in touched:
                message = self.price(name)
                for listener in list(self.price_listeners):
                    listener(message)
            self._match_pending(set(touched))

    def set_halted(self, instrument: str, halted: bool = True) -> None:
        """Halt (or reopen) an instrument: market orders are cancelled MARKET_HALTED, limits wait."""
        with self.lock:
            if instrument not in self.instruments:
                raise ValueError(f"unknown instrument {instrument!r}")
            (self.halted.add if halted else self.halted.discard)(instrument)
            if instrument in self.quotes:
                message = self.price(instrument)
                for listener in list(self.price_listeners):
                    listener(message)

    def set_liquidity(self, instrument: str, units: float) -> None:
        """Units available at the top of the book (a FOK order for more is cancelled INSUFFICIENT_LIQUIDITY)."""
        with self.lock:
            if instrument not in self.instruments:
                raise ValueError(f"unknown instrument {instrument!r}")
            if not (math.isfinite(units) and units >= 0):
                raise ValueError(f"liquidity must be a finite number of units >= 0, got {units!r}")
            self.liquidity[instrument] = float(units)

    def price(self, instrument: str) -> dict[str, Any]:
        """The ``ClientPrice`` of one priced instrument."""
        spec = self.instruments[instrument]
        bid, ask = self.quotes[instrument]
        try:
            rate = self.account.rate(spec.quote)
        except ValueError:
            rate = math.nan
        out = price_json(spec, bid, ask, self.now(), instrument not in self.halted, rate)
        out["bids"][0]["liquidity"] = out["asks"][0]["liquidity"] = int(self.liquidity[instrument])
        return out

    def pricing(self, instruments: str | None) -> dict[str, Any]:
        """``GET /pricing?instruments=A,B``."""
        with self.lock:
            names = [n for n in (instruments or "").split(",") if n]
            if not names:
                raise V20Error(400, "Invalid value specified for 'instruments'")
            unknown = [n for n in names if n not in self.instruments]
            if unknown:
                raise V20Error(400, f"Invalid value specified for 'instruments': {','.join(unknown)}")
            return {"time": self.now(), "prices": [self.price(n) for n in names if n in self.quotes]}

    # -- orders --------------------------------------------------------------------------------------------
    def count_attempt(self, client_id: str | None) -> None:
        """Count one order-create request that named ``client_id`` (before any fault or limit)."""
        if client_id:
            with self.lock:
                self.attempts[client_id] += 1

    def create_order(self, body: Any) -> tuple[int, dict[str, Any]]:
        """``POST /orders``: 201 with the create transaction and its fill or cancel, or 400 with the reject."""
        with self.lock:
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
            answer: dict[str, Any] = {"orderCreateTransaction": created}
            answer.update(self._execute(order, batch))
            answer["relatedTransactionIDs"] = [t["id"] for t in self.transactions if t["batchID"] == batch]
            answer["lastTransactionID"] = self.last_transaction_id
            return 201, answer

    def _reject(self, rejection: Rejection) -> dict[str, Any]:
        if rejection.kind is None:
            return {"errorMessage": rejection.message}
        batch = self._next_id()
        txn = self._append({"type": f"{rejection.kind}_ORDER_REJECT", "reason": "CLIENT_ORDER",
                            **dict(rejection.fields), "rejectReason": rejection.reason}, batch)
        return {"orderRejectTransaction": txn, "relatedTransactionIDs": [txn["id"]],
                "lastTransactionID": txn["id"], "errorCode": rejection.reason, "errorMessage": rejection.message}

    def _execute(self, order: OrderRecord, batch: str) -> dict[str, Any]:
        """Fill, cancel or leave pending; returns the fill and cancel transactions by their response keys."""
        req = order.request
        quote = self.quotes.get(req.instrument)
        out: dict[str, Any] = {}
        market = req.kind == "MARKET"
        if quote is None:
            if market:
                out["orderCancelTransaction"] = self._cancel(order, "MARKET_HALTED", batch)
            return out
        bid, ask = quote
        buy = req.units > 0
        touch = ask if buy else bid
        if not market and req.price is not None and (touch > float(req.price) if buy else touch < float(req.price)):
            if req.time_in_force in ("FOK", "IOC"):
                out["orderCancelTransaction"] = self._cancel(order, "TIME_IN_FORCE_EXPIRED", batch)
            return out  # a limit that is not reached rests
        if not market and req.instrument in self.halted:
            return out
        units = order.remaining
        ratio = self.partial_fill_ratio
        if req.time_in_force == "IOC" or (not market and ratio is not None):
            cap = self.liquidity[req.instrument]
            if ratio is not None:
                cap = min(cap, float(abs(units)) * ratio)
            step = Decimal(1).scaleb(-self.instruments[req.instrument].trade_units_precision)
            fill = min(abs(units), (Decimal(str(cap)) // step) * step)
            units = fill if buy else -fill
        current = self.account.positions.get(req.instrument)
        held = current.units if current is not None else 0.0
        reason = cancel_reason(req, bid, ask, halted=req.instrument in self.halted,
                               liquidity=self.liquidity[req.instrument],
                               margin_before=self.account.margin_used(),
                               margin_after=self.account.margin_used({req.instrument: float(units)}),
                               nav=self.account.nav())
        if reason is None and units == 0:
            reason = "INSUFFICIENT_LIQUIDITY"
        if reason is not None and not market and reason != "INSUFFICIENT_MARGIN":
            return out  # a resting limit waits for a tradeable market
        if reason is not None:
            out["orderCancelTransaction"] = self._cancel(order, reason, batch)
            return out
        out["orderFillTransaction"] = self._fill(order, units, touch, bid, ask, batch, held)
        if order.remaining != 0 and (market or req.time_in_force in ("FOK", "IOC")):
            out["orderCancelTransaction"] = self._cancel(order, "INSUFFICIENT_LIQUIDITY", batch)
        return out

    def _fill(self, order: OrderRecord, units: Decimal, price: float, bid: float, ask: float, batch: str,
              held_before: float) -> dict[str, Any]:
        req = order.request
        spec = self.instruments[req.instrument]
        effect = self.account.fill(req.instrument, float(units), price, bid, ask)
        commission = abs(float(units)) / 1e6 * self.commission_per_million
        if commission:
            self.account.balance -= commission
            self.account.commission += commission
        order.filled_units += units
        fields: dict[str, Any] = {
            "type": "ORDER_FILL", "orderID": order.id, "instrument": req.instrument,
            "units": spec.units_text(units), "price": spec.price_text(price), "fullVWAP": spec.price_text(price),
            "fullPrice": {"type": "PRICE", "bids": [{"price": spec.price_text(bid), "liquidity": "10000000"}],
                          "asks": [{"price": spec.price_text(ask), "liquidity": "10000000"}],
                          "closeoutBid": spec.price_text(bid), "closeoutAsk": spec.price_text(ask),
                          "timestamp": self.now()},
            "reason": "MARKET_ORDER" if req.kind == "MARKET" else "LIMIT_ORDER",
            "pl": amount_text(effect.pl), "quotePL": amount_text(effect.pl / self.account.rate(spec.quote)),
            "financing": "0.0000", "baseFinancing": "0.00000000000000", "commission": amount_text(commission),
            "guaranteedExecutionFee": "0.0000", "quoteGuaranteedExecutionFee": "0",
            "accountBalance": amount_text(self.account.balance), "halfSpreadCost": amount_text(effect.half_spread_cost),
            "homeConversionFactors": {
                "gainQuoteHome": {"factor": f"{self.account.rate(spec.quote):.8f}"},
                "lossQuoteHome": {"factor": f"{self.account.rate(spec.quote):.8f}"}},
        }
        if req.client_id is not None:
            fields["clientOrderID"] = req.client_id
        txn_id = self._next_id()
        if effect.closed:
            reduced = {"tradeID": self.open_trade.get(req.instrument, txn_id), "units": spec.units_text(-effect.closed),
                       "price": spec.price_text(price), "realizedPL": amount_text(effect.pl), "financing": "0.0000",
                       "halfSpreadCost": amount_text(effect.half_spread_cost)}
            if abs(effect.closed) < abs(held_before):
                fields["tradeReduced"] = reduced
            else:
                fields["tradesClosed"] = [reduced]
        if effect.opened:
            fields["tradeOpened"] = {"tradeID": txn_id, "units": spec.units_text(effect.opened),
                                     "price": spec.price_text(price), "guaranteedExecutionFee": "0.0000",
                                     "halfSpreadCost": amount_text(effect.half_spread_cost),
                                     "initialMarginRequired": amount_text(
                                         abs(effect.opened) * self.account.rate(spec.base) * float(spec.margin_rate))}
            self.open_trade[req.instrument] = txn_id
        txn = self._append(fields, batch)
        if order.remaining == 0:
            order.state = "FILLED"
        order.events.update({"fillingTransactionID": txn["id"], "filledTime": txn["time"]})
        if effect.opened:
            order.events["tradeOpenedID"] = txn["id"]
        return txn

    def _cancel(self, order: OrderRecord, reason: str, batch: str) -> dict[str, Any]:
        fields: dict[str, Any] = {"type": "ORDER_CANCEL", "orderID": order.id, "reason": reason}
        if order.request.client_id is not None:
            fields["clientOrderID"] = order.request.client_id
        txn = self._append(fields, batch)
        order.state = "CANCELLED"
        order.events.update({"cancellingTransactionID": txn["id"], "cancelledTime": txn["time"]})
        return txn

    def _match_pending(self, instruments: set[str]) -> None:
        for order in list(self.orders.values()):
            if order.state == "PENDING" and order.request.instrument in instruments:
                self._execute(order, self._next_id())

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
            txn = self._cancel(order, "CLIENT_REQUEST", self._next_id())
            return {"orderCancelTransaction": txn, "relatedTransactionIDs": [txn["id"]],
                    "lastTransactionID": txn["id"]}

    # -- positions and account -----------------------------------------------------------------------------
    def positions(self, open_only: bool) -> dict[str, Any]:
        """``GET /positions`` (every instrument traded) or ``/openPositions``."""
        with self.lock:
            out = [position_json(self.instruments[n], legs, self.account.unrealized_pl(n))
                   for n, legs in sorted(self.account.positions.items()) if legs.units or not open_only]
            return {"positions": out, "lastTransactionID": self.last_transaction_id}

    def position(self, instrument: str) -> dict[str, Any]:
        """``GET /positions/{instrument}``."""
        with self.lock:
            if instrument not in self.instruments:
                raise V20Error(404, f"The instrument {instrument} does not exist", errorCode="NO_SUCH_POSITION")
            legs = self.account.positions.get(instrument, PositionLegs())
            return {"position": position_json(self.instruments[instrument], legs,
                                              self.account.unrealized_pl(instrument)),
                    "lastTransactionID": self.last_transaction_id}

    def _summary(self) -> dict[str, Any]:
        open_positions = [n for n, p in self.account.positions.items() if p.units]
        return {"id": self.account_id, "alias": self.alias, "currency": self.account.home,
                "createdByUserID": _USER_ID, "createdTime": self.created_time,
                "guaranteedStopLossOrderMode": "DISABLED", "hedgingEnabled": False,
                "marginRate": "0.02", "pl": amount_text(sum(p.realized_pl for p in self.account.positions.values())),
                "resettablePL": amount_text(sum(p.realized_pl for p in self.account.positions.values())),
                "openTradeCount": len(open_positions), "openPositionCount": len(open_positions),
                "pendingOrderCount": sum(o.state == "PENDING" for o in self.orders.values()),
                **account_figures(self.account), "lastTransactionID": self.last_transaction_id}

    def summary(self) -> dict[str, Any]:
        """``GET /accounts/{id}/summary``."""
        with self.lock:
            return {"account": self._summary(), "lastTransactionID": self.last_transaction_id}

    def _trades(self) -> list[dict[str, Any]]:
        out = []
        for name, legs in sorted(self.account.positions.items()):
            if legs.units:
                spec = self.instruments[name]
                out.append({"id": self.open_trade.get(name, "0"), "instrument": name, "state": "OPEN",
                            "price": spec.price_text(legs.average_price), "initialUnits": spec.units_text(legs.units),
                            "currentUnits": spec.units_text(legs.units), "realizedPL": "0.0000",
                            "unrealizedPL": amount_text(self.account.unrealized_pl(name)), "financing": "0.0000"})
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
                "positions": [position_json(self.instruments[n], self.account.positions.get(n, PositionLegs()),
                                           self.account.unrealized_pl(n)) for n in sorted(instruments)],
                "transactions": txns,
            }
            figures = {k: v for k, v in account_figures(self.account).items() if k not in ("balance",)}
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
        """Requests, answers by status, 429s, order-create attempts and placements per client id."""
        with self.lock:
            return {"requests": self.requests, "rate_limited": self.rate_limited,
                    "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                    "attempts": dict(self.attempts), "placements": dict(self.placements),
                    "orders": len(self.orders), "last_transaction_id": self.last_transaction_id}


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
