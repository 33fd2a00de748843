"""``VenueAccount``: one spot account of a local venue: balances per currency (free and locked), orders, executions
with fees, quotes to match against, and listeners for order events.

A buy spends the quote currency and receives the base currency; a sell the reverse. The fee is charged in the
currency received (Binance's and OKX's default for spot), at the taker rate when the order trades on arrival and the
maker rate when a resting limit order is reached by a later quote. A market order trades at the ask (buy) or the bid
(sell); a limit order trades at once when the touch reaches its price (at the touch), else rests, locking what it may
spend, until a quote reaches it (at its price).
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "EventKind",
    "Execution",
    "OrderStatus",
    "VenueAccount",
    "VenueEvent",
    "VenueInstrument",
    "VenueOrder",
    "VenueOrderRequest",
    "VenueReject",
]

OrderStatus = Literal["new", "partially_filled", "filled", "canceled", "rejected", "expired"]
EventKind = Literal["new", "partial_fill", "fill", "canceled", "expired", "rejected"]
RejectReason = Literal["insufficient_funds", "unknown_symbol", "duplicate_client_id", "filter", "invalid"]
_EPS: Final = 1e-12


def _clean(x: float) -> float:
    """Round away binary noise (1e-12 relative) so sums of steps stay on the step grid."""
    return 0.0 if abs(x) < _EPS else float(f"{x:.12g}")


@dataclass(frozen=True, slots=True)
class VenueInstrument:
    """A spot market: ``symbol`` (``BTC/USDT``), its base and quote currency, step (quantity increment), tick (price
    increment), minimum and maximum quantity, minimum notional (price × quantity, in the quote currency)."""

    symbol: str
    base: str
    quote: str
    step: float = 1e-8
    tick: float = 0.01
    min_qty: float = 0.0
    max_qty: float = 9_000_000.0
    min_notional: float = 0.0
    asset_class: str = "crypto"


@dataclass(frozen=True, slots=True)
class VenueOrderRequest:
    """What a client asked for, in neutral terms (the venue's wire layer has already parsed and checked it)."""

    symbol: str
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"]
    quantity: float
    price: float | None = None
    client_id: str = ""
    time_in_force: Literal["gtc", "ioc", "fok"] = "gtc"


@dataclass(slots=True)
class VenueOrder:
    """An order at the venue. ``quote_filled`` is the sum of price × quantity over its executions."""

    order_id: int
    client_id: str
    symbol: str
    side: Literal["buy", "sell"]
    type: Literal["market", "limit"]
    quantity: float
    price: float | None
    time_in_force: str
    created_ms: int
    updated_ms: int
    status: OrderStatus = "new"
    filled: float = 0.0
    quote_filled: float = 0.0
    locked: float = 0.0
    """What the order still holds of its spending currency."""

    @property
    def remaining(self) -> float:
        """Quantity not yet filled."""
        return _clean(self.quantity - self.filled)

    @property
    def avg_price(self) -> float | None:
        """Average fill price (None before the first fill)."""
        return self.quote_filled / self.filled if self.filled > 0 else None

    @property
    def is_open(self) -> bool:
        """Whether it is still working."""
        return self.status in ("new", "partially_filled")


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill: ids increase monotonically across the venue."""

    execution_id: int
    order_id: int
    client_id: str
    symbol: str
    side: Literal["buy", "sell"]
    quantity: float
    price: float
    fee: float
    fee_currency: str
    liquidity: Literal["maker", "taker"]
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class VenueEvent:
    """What a listener receives: the order after the change (a copy) and the execution, for fills."""

    kind: EventKind
    order: VenueOrder
    execution: Execution | None = None


class VenueReject(Exception):  # noqa: N818 - the spec's name
    """The venue refuses an order; ``reason`` is neutral, the wire layer picks the broker's code."""

    def __init__(self, reason: RejectReason, message: str):
        super().__init__(message)
        self.reason: RejectReason = reason
        self.message = message


@dataclass(slots=True)
class _Quote:
    bid: float
    ask: float


@dataclass(slots=True)
class _Stats:
    placements: dict[str, int] = field(default_factory=dict)
    orders_accepted: int = 0


Listener = Callable[[VenueEvent], None]


class VenueAccount:
    """One spot account over a set of instruments, thread safe (the server thread and the test thread share it).

    Args:
        instruments: the markets, by symbol.
        balances: starting free balance per currency.
        taker_fee: fee rate on orders that trade on arrival.
        maker_fee: fee rate on resting orders reached later.
        clock_ms: the venue's time in epoch milliseconds.
    """

    def __init__(self, instruments: Iterable[VenueInstrument], balances: Mapping[str, float], *,
                 taker_fee: float = 0.001, maker_fee: float = 0.001,
                 clock_ms: Callable[[], int] | None = None) -> None:
        self.instruments = {i.symbol: i for i in instruments}
        self.lock = threading.RLock()
        self.taker_fee = taker_fee
        self.maker_fee = maker_fee
        self.clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._free: dict[str, float] = {c: float(v) for c, v in balances.items()}
        self._locked: dict[str, float] = {c: 0.0 for c in balances}
        self._quotes: dict[str, _Quote] = {}
        self._orders: dict[int, VenueOrder] = {}
        self._by_client: dict[str, int] = {}
        self._executions: list[Execution] = []
        self._order_ids = itertools.count(1)
        self._execution_ids = itertools.count(1)
        self._listeners: list[Listener] = []
        self._stats = _Stats()
        self.partial_fill_ratio = 1.0
        """Share of the quantity an order trades on arrival (the rest waits for the next quote): a fault knob."""

    # -- listeners -----------------------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(event)`` on every order event (under the account lock: hand off, do not block)."""
        with self.lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        """Stop calling ``listener``."""
        with self.lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _emit(self, kind: EventKind, order: VenueOrder, execution: Execution | None = None) -> None:
        event = VenueEvent(kind, _copy(order), execution)
        for listener in list(self._listeners):
            listener(event)

    # -- quotes --------------------------------------------------------------------------------------------
    def set_quote(self, symbol: str, bid: float, ask: float) -> None:
        """Set a market's touch and fill every resting order it reaches."""
        if symbol not in self.instruments:
            raise KeyError(f"unknown symbol {symbol!r}")
        if not (math.isfinite(bid) and math.isfinite(ask) and 0 < bid <= ask):
            raise ValueError(f"{symbol}: need 0 < bid <= ask, got {bid!r} / {ask!r}")
        with self.lock:
            self._quotes[symbol] = _Quote(bid, ask)
            for order in [o for o in self._orders.values() if o.symbol == symbol and o.is_open]:
                self._match(order, arriving=False)

    def quote(self, symbol: str) -> tuple[float, float] | None:
        """``(bid, ask)`` of a market, or None before the first quote."""
        with self.lock:
            q = self._quotes.get(symbol)
            return None if q is None else (q.bid, q.ask)

    # -- orders --------------------------------------------------------------------------------------------
    def place(self, request: VenueOrderRequest) -> VenueOrder:
        """Accept an order (and trade what the touch allows), or raise :class:`VenueReject`."""
        with self.lock:
            if request.client_id:
                self._stats.placements[request.client_id] = self._stats.placements.get(request.client_id, 0) + 1
            inst = self.instruments.get(request.symbol)
            if inst is None:
                raise VenueReject("unknown_symbol", f"unknown symbol {request.symbol!r}")
            if request.client_id and request.client_id in self._by_client:
                raise VenueReject("duplicate_client_id", f"client order id {request.client_id!r} already used")
            if not (math.isfinite(request.quantity) and request.quantity > 0):
                raise VenueReject("invalid", "quantity must be positive")
            quote = self._quotes.get(request.symbol)
            if request.type == "market" and quote is None:
                raise VenueReject("invalid", f"no market for {request.symbol} yet")
            if request.type == "limit" and not (request.price is not None and request.price > 0):
                raise VenueReject("invalid", "a limit order needs a positive price")
            spend_currency, need = self._spend(inst, request, quote)
            if self._free.get(spend_currency, 0.0) + _EPS < need:
                raise VenueReject("insufficient_funds", f"insufficient {spend_currency}: need {need:.8g}, "
                                                        f"free {self._free.get(spend_currency, 0.0):.8g}")
            now = self.clock_ms()
            order = VenueOrder(next(self._order_ids), request.client_id, request.symbol, request.side, request.type,
                               request.quantity, request.price, request.time_in_force, now, now, locked=need)
            self._move(spend_currency, -need, +need)
            self._orders[order.order_id] = order
            if request.client_id:
                self._by_client[request.client_id] = order.order_id
            self._stats.orders_accepted += 1
            self._emit("new", order)
            self._match(order, arriving=True)
            if order.is_open and order.time_in_force in ("ioc", "fok"):
                self._finish(order, "expired")
            return _copy(order)

    def cancel(self, order_id: int) -> VenueOrder:
        """Cancel a working order (KeyError: unknown; ValueError: no longer working)."""
        with self.lock:
            order = self._orders[order_id]
            if not order.is_open:
                raise ValueError(f"order {order_id} is {order.status}")
            self._finish(order, "canceled")
            return _copy(order)

    def order(self, order_id: int) -> VenueOrder | None:
        """An order by the venue's id."""
        with self.lock:
            o = self._orders.get(order_id)
            return None if o is None else _copy(o)

    def order_by_client_id(self, client_id: str) -> VenueOrder | None:
        """An order by its client order id."""
        with self.lock:
            oid = self._by_client.get(client_id)
            return None if oid is None else _copy(self._orders[oid])

    def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """Working orders, oldest first."""
        with self.lock:
            return [_copy(o) for o in self._orders.values() if o.is_open and symbol in (None, o.symbol)]

    def orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """Every order, oldest first."""
        with self.lock:
            return [_copy(o) for o in self._orders.values() if symbol in (None, o.symbol)]

    def executions(self, symbol: str | None = None, since_id: int | None = None) -> list[Execution]:
        """Fills, oldest first; ``since_id`` keeps those with a larger id."""
        with self.lock:
            return [e for e in self._executions
                    if symbol in (None, e.symbol) and (since_id is None or e.execution_id > since_id)]

    def balances(self) -> dict[str, tuple[float, float]]:
        """``{currency: (free, locked)}``."""
        with self.lock:
            currencies = sorted(set(self._free) | set(self._locked))
            return {c: (_clean(self._free.get(c, 0.0)), _clean(self._locked.get(c, 0.0))) for c in currencies}

    def stats(self) -> dict[str, object]:
        """Placements per client id (a duplicate attempt counts too) and orders accepted."""
        with self.lock:
            return {"placements": dict(self._stats.placements), "orders_accepted": self._stats.orders_accepted}

    # -- internals -----------------------------------------------------------------------------------------
    def _spend(self, inst: VenueInstrument, request: VenueOrderRequest, quote: _Quote | None) -> tuple[str, float]:
        if request.side == "sell":
            return inst.base, request.quantity
        price = request.price if request.type == "limit" and request.price is not None else None
        if price is None:
            assert quote is not None
            price = quote.ask
        return inst.quote, _clean(request.quantity * price)

    def _move(self, currency: str, free: float, locked: float) -> None:
        self._free[currency] = _clean(self._free.get(currency, 0.0) + free)
        self._locked[currency] = _clean(self._locked.get(currency, 0.0) + locked)

    def _match(self, order: VenueOrder, *, arriving: bool) -> None:
        quote = self._quotes.get(order.symbol)
        if quote is None:
            return
        touch = quote.ask if order.side == "buy" else quote.bid
        if order.type == "limit":
            assert order.price is not None
            reached = touch <= order.price if order.side == "buy" else touch >= order.price
            if not reached:
                return
            price = touch if arriving else order.price
        else:
            price = touch
        qty = order.remaining
        if arriving and self.partial_fill_ratio < 1.0:
            inst = self.instruments[order.symbol]
            qty = _clean(math.floor(qty * self.partial_fill_ratio / inst.step + 1e-9) * inst.step)
            if qty <= 0:
                return
        self._fill(order, qty, price, "taker" if arriving else "maker")

    def _fill(self, order: VenueOrder, qty: float, price: float, liquidity: Literal["maker", "taker"]) -> None:
        inst = self.instruments[order.symbol]
        rate = self.taker_fee if liquidity == "taker" else self.maker_fee
        notional = _clean(qty * price)
        if order.side == "buy":
            release = min(order.locked, notional if order.type == "market" or order.price is None
                          else _clean(qty * order.price))
            if order.type == "market" and _clean(order.remaining - qty) <= 0:
                release = order.locked
            self._move(inst.quote, release - notional, -release)
            order.locked = _clean(order.locked - release)
            fee, fee_ccy = _clean(qty * rate), inst.base
            self._move(inst.base, qty - fee, 0.0)
        else:
            self._move(inst.base, 0.0, -qty)
            order.locked = _clean(order.locked - qty)
            fee, fee_ccy = _clean(notional * rate), inst.quote
            self._move(inst.quote, notional - fee, 0.0)
        order.filled = _clean(order.filled + qty)
        order.quote_filled = _clean(order.quote_filled + notional)
        order.updated_ms = self.clock_ms()
        done = order.remaining <= 0
        order.status = "filled" if done else "partially_filled"
        execution = Execution(next(self._execution_ids), order.order_id, order.client_id, order.symbol, order.side,
                              qty, price, fee, fee_ccy, liquidity, order.updated_ms)
        self._executions.append(execution)
        if done and order.locked:
            self._release(order)
        self._emit("fill" if done else "partial_fill", order, execution)

    def _release(self, order: VenueOrder) -> None:
        inst = self.instruments[order.symbol]
        currency = inst.quote if order.side == "buy" else inst.base
        self._move(currency, order.locked, -order.locked)
        order.locked = 0.0

    def _finish(self, order: VenueOrder, status: Literal["canceled", "expired"]) -> None:
        self._release(order)
        order.status = status
        order.updated_ms = self.clock_ms()
        self._emit(status, order)


def _copy(order: VenueOrder) -> VenueOrder:
    return VenueOrder(order.order_id, order.client_id, order.symbol, order.side, order.type, order.quantity,
                      order.price, order.time_in_force, order.created_ms, order.updated_ms, order.status,
                      order.filled, order.quote_filled, order.locked)
