"""Broker adapters and the executor that routes through them with a journal.

An adapter implements only the private hooks (``_submit``, ``_cancel``, ``_order``, ``_open_orders``,
``_positions``, ``_account``); :class:`BrokerExecutor` journals every request and response before acting on it,
retries what is safe to retry, and looks an order up by its client order id before it ever sends it again.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from execlab._batches import FillBatch, OrderBatch, OrderEvents, concat_events, concat_fills
from execlab._codes import STATUS, TIF_NAMES, TYPE_NAMES
from execlab._executor import OrderExecutor
from execlab._journal import Journal, JournalFill
from execlab._schema import AccountSnapshot, Order, OrderStatus, OrderType, Side, TimeInForce

__all__ = [
    "BrokerAdapter",
    "BrokerError",
    "BrokerExecutor",
    "BrokerOrder",
    "BrokerRejectedError",
    "BrokerUnavailableError",
    "DuplicateClientOrderIdError",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
T = TypeVar("T")


class BrokerError(Exception):
    """A broker call failed."""


class BrokerUnavailableError(BrokerError):
    """Timeout, 5xx or rate limit: the request may or may not have reached the broker."""


class BrokerRejectedError(BrokerError):
    """The broker refused the request (insufficient buying power, bad symbol ...): final."""


class DuplicateClientOrderIdError(BrokerError):
    """The broker already has an order with this client order id."""


@dataclass(frozen=True, slots=True)
class BrokerOrder:
    """An order as the broker sees it, in neutral terms."""

    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    quantity: float
    filled_quantity: float
    avg_fill_price: float | None
    status: OrderStatus
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


class BrokerAdapter(ABC):
    """One broker's API behind neutral calls. Subclasses implement only the private hooks."""

    name: str = "broker"

    @abstractmethod
    def _submit(self, order: Order) -> BrokerOrder:
        """Send one order. Raise BrokerUnavailableError, BrokerRejectedError or DuplicateClientOrderIdError."""

    @abstractmethod
    def _cancel(self, broker_order_id: str) -> None:
        """Ask to cancel one order."""

    @abstractmethod
    def _order(self, client_order_id: str) -> BrokerOrder | None:
        """The order with this client order id, or None if the broker has none."""

    @abstractmethod
    def _open_orders(self) -> list[BrokerOrder]:
        """Every order still working at the broker."""

    @abstractmethod
    def _positions(self) -> dict[str, float]:
        """Signed quantity per symbol."""

    @abstractmethod
    def _account(self) -> AccountSnapshot:
        """Cash, equity and buying power."""


_ACTIVE = (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING)


class BrokerExecutor(OrderExecutor):
    """:class:`OrderExecutor` over a :class:`BrokerAdapter`, journaling before acting, never sending twice."""

    def __init__(
        self,
        adapter: BrokerAdapter,
        journal: Journal,
        run_id: str,
        symbols: Sequence[str],
        attempts: int = 4,
        backoff_seconds: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str, str], None] | None = None,
    ):
        self._progress = progress
        self.adapter = adapter
        self.journal = journal
        self.run_id = run_id
        self._symbols = tuple(symbols)
        self._index = {s: i for i, s in enumerate(self._symbols)}
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._by_coid: dict[str, int] = {}
        self._known: dict[str, BrokerOrder] = {}
        self._pending_fills: list[FillBatch] = []
        self._pending_events: list[OrderEvents] = []
        self.dead_letters: list[tuple[str, str]] = []
        """Orders that need a person: (client order id, why)."""

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def set_universe(self, symbols: Sequence[str]) -> None:
        """The symbols that batch indices and position arrays refer to from now on."""
        self._symbols = tuple(symbols)
        self._index = {s: i for i, s in enumerate(self._symbols)}

    def known_orders(self) -> dict[str, BrokerOrder]:
        """The broker's last known view of every order this executor has seen."""
        return dict(self._known)

    # -- calls with retry ----------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff, max=5.0),
            retry=retry_if_exception_type(BrokerUnavailableError),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(fn)

    # -- orders --------------------------------------------------------------------------------------------
    def submit(self, orders: OrderBatch) -> None:
        if orders.client_order_ids is None:
            raise ValueError("BrokerExecutor needs client order ids on the batch (an OrderBook with a journal)")
        for k in range(len(orders)):
            order = _neutral_order(orders, k, self._symbols, self.run_id)
            self._by_coid[order.client_order_id] = int(orders.oid[k])
            self.place(order)

    def place(self, order: Order) -> BrokerOrder | None:
        """Send ``order`` unless the broker already has it; returns the broker's view (None if it refused)."""
        coid = order.client_order_id
        existing = self._lookup(coid)
        if existing is not None:
            self.journal.record(self.run_id, "response", coid, None, {"found_existing": existing.raw})
            self._observe(existing)
            return existing
        self.journal.record(self.run_id, "request", coid, None,
                            {"op": "submit", "order": order.model_dump(mode="json")})
        if self._progress is not None:
            self._progress("sending", coid)
        for attempt in range(self._attempts):
            try:
                placed = self.adapter._submit(order)
            except DuplicateClientOrderIdError:
                placed_or_none = self._lookup(coid)
                if placed_or_none is None:
                    raise
                placed = placed_or_none
            except BrokerRejectedError as exc:
                self.journal.record(self.run_id, "response", coid, None, {"rejected": str(exc)})
                self._event(coid, OrderStatus.REJECTED)
                return None
            except BrokerUnavailableError as exc:
                self.journal.record(self.run_id, "response", coid, None, {"unavailable": str(exc), "try": attempt})
                # It may have arrived: look before sending again.
                found = self._lookup(coid)
                if found is None:
                    self._sleep(self._backoff * (2**attempt))
                    continue
                placed = found
            self.journal.record(self.run_id, "response", coid, None, {"order": placed.raw})
            self._observe(placed)
            return placed
        self.dead_letters.append((coid, "broker unavailable after retries"))
        self.journal.record(self.run_id, "alert", coid, None, {"dead_letter": "broker unavailable after retries"})
        return None

    def _lookup(self, coid: str) -> BrokerOrder | None:
        return self._call("lookup", lambda: self.adapter._order(coid))

    def cancel(self, oids: IntArray) -> None:
        wanted = {int(o) for o in oids}
        for coid, oid in list(self._by_coid.items()):
            if oid in wanted and coid in self._known:
                known = self._known[coid]
                self.journal.record(self.run_id, "request", coid, None, {"op": "cancel"})
                try:
                    self._call("cancel", _bind(self.adapter._cancel, known.broker_order_id))
                except BrokerRejectedError as exc:
                    self.journal.record(self.run_id, "response", coid, None, {"cancel_refused": str(exc)})

    def refresh(self) -> None:
        """Ask the broker about every order still working and turn changes into fills and events."""
        for coid, known in list(self._known.items()):
            if known.status in _ACTIVE:
                now = self._lookup(coid)
                if now is not None:
                    self._observe(now)

    def wait(self, timeout: float = 30.0, interval: float = 0.1) -> bool:
        """Refresh until no order is working or ``timeout`` passes; True when all are done."""
        deadline = time.monotonic() + timeout
        while True:
            self.refresh()
            if not any(k.status in _ACTIVE for k in self._known.values()):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(interval)

    def adopt(self, order: BrokerOrder, oid: int | None = None) -> None:
        """Track an order that exists at the broker (after a restart, or external)."""
        if oid is not None:
            self._by_coid[order.client_order_id] = oid
        self._observe(order)

    def _observe(self, now: BrokerOrder) -> None:
        coid = now.client_order_id
        before = self._known.get(coid)
        self._known[coid] = now
        filled_before = before.filled_quantity if before else 0.0
        prior = self.journal.fills_total(coid)
        filled_before = max(filled_before, prior)
        if now.filled_quantity > filled_before + 1e-12:
            qty = now.filled_quantity - filled_before
            value_now = now.filled_quantity * (now.avg_fill_price or 0.0)
            value_before = self.journal.fills_value(coid)
            price = (value_now - value_before) / qty if qty else (now.avg_fill_price or 0.0)
            fill = JournalFill(f"{now.broker_order_id}:{now.filled_quantity:.10g}", coid, now.symbol,
                               now.side.value, qty, price)
            if self.journal.record_fills(self.run_id, [fill])[0] and coid in self._by_coid:
                sign = 1.0 if now.side is Side.BUY else -1.0
                self._pending_fills.append(FillBatch(
                    np.array([self._by_coid[coid]]), np.array([0]), np.array([sign * qty]), np.array([price]),
                    np.array([price]), np.array([0.0]), np.array([False])))
        if before is None or before.status != now.status or now.filled_quantity != filled_before:
            self._event(coid, now.status, now.raw)

    def _event(self, coid: str, status: OrderStatus, raw: dict[str, Any] | None = None) -> None:
        # The OMS journals the state change when it applies this event.
        oid = self._by_coid.get(coid)
        if oid is not None:
            self._pending_events.append(OrderEvents(np.array([oid]), np.array([STATUS[status]], np.int8),
                                                    np.array([0], np.int8)))

    def order_status(self, oids: IntArray) -> OrderEvents:
        by_oid = {v: k for k, v in self._by_coid.items()}
        codes = [STATUS[self._known[by_oid[int(o)]].status] if int(o) in by_oid and by_oid[int(o)] in self._known
                 else -1 for o in oids]
        return OrderEvents(np.asarray(oids, np.int64), np.array(codes, np.int8), np.zeros(len(oids), np.int8))

    def poll(self) -> tuple[FillBatch, OrderEvents]:
        self.refresh()
        fills, events = concat_fills(self._pending_fills), concat_events(self._pending_events)
        self._pending_fills, self._pending_events = [], []
        return fills, events

    # -- account -------------------------------------------------------------------------------------------
    def positions(self) -> FloatArray:
        held = self._call("positions", self.adapter._positions)
        out = np.zeros(len(self._symbols))
        for sym, qty in held.items():
            if sym in self._index:
                out[self._index[sym]] = qty
        return out

    def positions_by_symbol(self) -> dict[str, float]:
        """Every position the broker reports, including symbols outside the universe."""
        return self._call("positions", self.adapter._positions)

    def account(self) -> AccountSnapshot:
        return self._call("account", self.adapter._account)

    def open_orders(self) -> list[BrokerOrder]:
        """Orders still working at the broker."""
        return self._call("open orders", self.adapter._open_orders)

    def cash_floor(self) -> float | None:
        return 0.0


def _bind(fn: Callable[[str], T], arg: str) -> Callable[[], T]:
    return lambda: fn(arg)


def _neutral_order(batch: OrderBatch, k: int, symbols: tuple[str, ...], run_id: str) -> Order:
    assert batch.client_order_ids is not None
    qty = float(batch.quantity[k])
    otype = OrderType(TYPE_NAMES[batch.order_type[k]])
    limit = float(batch.limit_price[k]) if otype in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    stop = float(batch.stop_price[k]) if otype in (OrderType.STOP, OrderType.STOP_LIMIT) else None
    trail_amount = float(batch.trail_amount[k]) if otype is OrderType.TRAILING_STOP and batch.trail_amount[k] > 0 \
        else None
    trail_pct = float(batch.trail_percent[k]) if otype is OrderType.TRAILING_STOP and trail_amount is None else None
    return Order(symbol=symbols[int(batch.symbol[k])], side=Side.BUY if qty > 0 else Side.SELL, quantity=abs(qty),
                 order_type=otype, limit_price=limit, stop_price=stop, trail_amount=trail_amount,
                 trail_percent=trail_pct, time_in_force=TimeInForce(TIF_NAMES[batch.time_in_force[k]]),
                 client_order_id=batch.client_order_ids[k], run_id=run_id)
