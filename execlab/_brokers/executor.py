"""Broker adapters and the executor that routes through them with a journal.

An adapter implements only the private hooks (``_submit``, ``_cancel``, ``_order``, ``_open_orders``,
``_positions``, ``_account``, and the optional ones its :attr:`~BrokerAdapter.capabilities` declare);
:class:`BrokerExecutor` journals every request and response before acting on it, journals the broker's own
executions (with their fees) where it reports them, paces every call to the broker's rate limit
(:class:`execlab._brokers.pacing.RequestPacer`), stops calling a broker that keeps failing (a circuit breaker),
retries what is safe to retry, and looks an order up by its client order id before it ever sends it again.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar, cast

import numpy as np
import pybreaker
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from execlab._brokers.contract import (
    BrokerAdapter,
    BrokerCircuitOpenError,
    BrokerFill,
    BrokerOrder,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerUnavailableError,
    Capability,
    DeadLetter,
    DuplicateClientOrderIdError,
    OrderStream,
)
from execlab._brokers.pacing import RequestPacer
from execlab._config import BrokerConfig
from execlab._core.arrays import FloatArray, IntArray
from execlab._core.batches import FillBatch, OrderBatch, OrderEvents, concat_events, concat_fills
from execlab._core.codes import STATUS, TIF_NAMES, TYPE_NAMES
from execlab._core.instruments import Instrument
from execlab._core.models import AccountSnapshot, Order, OrderStatus, OrderType, Side, TimeInForce
from execlab._execution.executor import OrderExecutor
from execlab._oms.events import EventKind
from execlab._oms.journal import Journal, JournalCharge, JournalFill

__all__ = ["BrokerExecutor"]

T = TypeVar("T")


_ACTIVE = (OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED, OrderStatus.PENDING)
_MAX_RATE_LIMITED: Final = 5
"""429 answers one call may get (each waits for the broker's reset) before it gives up."""
_EPS: Final = 1e-9


def _not_an_outage(exc: BaseException) -> bool:
    """Errors the breaker ignores: everything but unavailability (rejections are the broker working fine)."""
    return not isinstance(exc, BrokerUnavailableError) or isinstance(exc, BrokerRateLimitedError)


def _worth_retrying(exc: BaseException) -> bool:
    """Unavailable, but not because the breaker is open nor after the rate-limit waits were used up."""
    return isinstance(exc, BrokerUnavailableError) and not isinstance(exc, BrokerCircuitOpenError
                                                                      | BrokerRateLimitedError)


class _JournalBreakerChanges(pybreaker.CircuitBreakerListener):
    """Journals every change of the breaker's state (kind ``circuit``)."""

    def __init__(self, journal: Journal, run_id: str):
        self.journal = journal
        self.run_id = run_id

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: pybreaker.CircuitBreakerState | None,
                     new_state: pybreaker.CircuitBreakerState) -> None:
        self.journal.record(self.run_id, EventKind.CIRCUIT, None, new_state.name,
                            {"from": old_state.name if old_state else None, "failures": cb.fail_counter})


class BrokerExecutor(OrderExecutor):
    """:class:`OrderExecutor` over a :class:`BrokerAdapter`, journaling before acting, never sending twice.

    Every adapter call goes through :attr:`pacer` (the broker's rate limit, from ``config``) and :attr:`breaker`:
    after ``config.breaker_fail_max`` unavailable answers in a row, calls fail fast with
    :class:`BrokerCircuitOpenError` for ``config.breaker_reset_seconds``, then one trial call decides. Orders that
    cannot be placed are listed in :attr:`dead_letters` and journaled as ``alert``; a re-run of the rebalance
    resumes them. The executor hands its pacer to the adapter (``adapter.pacer``) for the broker's rate-limit
    headers; pass one ``pacer`` to several executors that share an API key.
    """

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
        config: BrokerConfig | None = None,
        pacer: RequestPacer | None = None,
        stream: bool = True,
        fallback_poll_seconds: float = 2.0,
    ):
        config = config if config is not None else BrokerConfig()
        self._progress = progress
        self.adapter = adapter
        self.pacer = pacer if pacer is not None else RequestPacer.from_config(config)
        """Paces every call to the broker's rate limit."""
        adapter.pacer = self.pacer
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=config.breaker_fail_max, reset_timeout=config.breaker_reset_seconds, exclude=[_not_an_outage],
            listeners=[_JournalBreakerChanges(journal, run_id)], name=adapter.name)
        """Opens after consecutive unavailable answers; read ``breaker.current_state``."""
        self._bulk_refresh = adapter.supports(Capability.BULK_REFRESH)
        self._listed_fills = adapter.supports(Capability.FILLS)
        self._reported_fills = self._listed_fills or adapter.supports(Capability.FILL_STREAM)
        """Fills come from the broker's executions (ids, fees); else they are derived from cumulative quantities."""
        self._fills_since: datetime | None = None
        """Executions after this time are asked for; None at first: the broker's recent ones (its clock, which a
        local venue replaying history sets in the past, decides what recent is)."""
        self._fills_due: set[str] = set()
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
        self.dead_letters: list[DeadLetter] = []
        """Orders that could not be placed (broker unavailable, breaker open): they need a person or a re-run."""
        self._use_stream = stream
        self._fallback_poll = fallback_poll_seconds
        self._stream: OrderStream | None = None
        self._stream_state = "off"
        self._updates: queue.SimpleQueue[BrokerOrder | BrokerFill] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._gap = False
        self._last_rest = -math.inf

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

    # -- calls: paced, through the breaker, with retry ------------------------------------------------------
    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """One adapter call that is safe to repeat: retried with backoff while the broker is unavailable."""
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=self._backoff, max=5.0),
            retry=retry_if_exception(_worth_retrying),
            sleep=self._sleep,
            reraise=True,
        )
        return cast(T, retrying(self._guarded, fn))

    def _guarded(self, fn: Callable[[], T]) -> T:
        """``fn`` once through the circuit breaker (fails fast while it is open) and the pacer."""
        try:
            return cast(T, self.breaker.call(self._paced, fn))
        except pybreaker.CircuitBreakerError as exc:
            raise BrokerCircuitOpenError(
                f"{self.adapter.name}: circuit breaker open after {self.breaker.fail_counter} unavailable answers in "
                f"a row; calls fail fast for {self.breaker.reset_timeout:g} s") from exc

    def _paced(self, fn: Callable[[], T]) -> T:
        for _ in range(_MAX_RATE_LIMITED - 1):
            with self.pacer.request():
                try:
                    return fn()
                except BrokerRateLimitedError as exc:
                    limited = exc
            # Not processed by the broker: wait for its reset and send again.
            self.pacer.rate_limited(limited.retry_after)
        with self.pacer.request():
            return fn()

    # -- orders --------------------------------------------------------------------------------------------
    def submit(self, orders: OrderBatch) -> None:
        if orders.client_order_ids is None:
            raise ValueError("BrokerExecutor needs client order ids on the batch (an OrderBook with a journal)")
        for k in range(len(orders)):
            order = _neutral_order(orders, k, self._symbols, self.run_id)
            self._by_coid[order.client_order_id] = int(orders.oid[k])
            self.place(order)

    def place(self, order: Order) -> BrokerOrder | None:
        """Send ``order`` unless the broker already has it; returns the broker's view (None if it refused, or if it
        could not be placed: then it is in :attr:`dead_letters`).

        The broker is asked first only when the journal holds a request for this order (it may have arrived: a
        crash, a re-run); a fresh order is sent straight away.
        """
        coid = order.client_order_id
        known = self._known.get(coid)
        if known is not None:  # the broker showed it to us already (reconciliation, a refresh)
            return known
        if self._stream_state == "off":
            self.start_stream()
        try:
            if self.journal.has_request(coid):
                existing = self._lookup(coid, order.symbol)
                if existing is not None:
                    self.journal.record(self.run_id, EventKind.RESPONSE, coid, None, {"found_existing": existing.raw})
                    self._observe(existing)
                    return existing
            return self._send(order)
        except BrokerUnavailableError as exc:
            self._dead_letter(order, f"{type(exc).__name__}: {exc}")
            return None

    def _send(self, order: Order) -> BrokerOrder | None:
        coid = order.client_order_id
        for attempt in range(self._attempts):
            try:
                placed = self._guarded(_bind(self._submit_once, order, attempt))
            except DuplicateClientOrderIdError:
                placed_or_none = self._lookup(coid, order.symbol)
                if placed_or_none is None:
                    raise
                placed = placed_or_none
            except BrokerRejectedError as exc:
                self.journal.record(self.run_id, EventKind.RESPONSE, coid, None, {"rejected": str(exc)})
                self._event(coid, OrderStatus.REJECTED)
                return None
            except BrokerCircuitOpenError:
                raise
            except BrokerUnavailableError as exc:
                self.journal.record(self.run_id, EventKind.RESPONSE, coid, None,
                                    {"unavailable": str(exc), "try": attempt})
                # It may have arrived: look before sending again.
                found = self._lookup(coid, order.symbol)
                if found is None:
                    self._sleep(self._backoff * (2**attempt))
                    continue
                placed = found
            self.journal.record(self.run_id, EventKind.RESPONSE, coid, None, {"order": placed.raw})
            self._observe(placed)
            return placed
        raise BrokerUnavailableError(f"broker unavailable after {self._attempts} tries")

    def _submit_once(self, order: Order, attempt: int) -> BrokerOrder:
        # Runs once the breaker and the pacer let the request go: journaled before it is sent.
        coid = order.client_order_id
        self.journal.record(self.run_id, EventKind.REQUEST, coid, None,
                            {"op": "submit", "order": order.model_dump(mode="json"), "try": attempt})
        if self._progress is not None:
            self._progress("sending", coid)
        try:
            return self.adapter._submit(order)
        except BrokerRateLimitedError as exc:
            self.journal.record(self.run_id, EventKind.RESPONSE, coid, None, {"rate_limited": str(exc)})
            raise

    def _dead_letter(self, order: Order, reason: str) -> None:
        letter = DeadLetter(order.client_order_id, order.symbol, reason, datetime.now(UTC))
        self.dead_letters.append(letter)
        self.journal.record(self.run_id, EventKind.ALERT, letter.client_order_id, None,
                            {"dead_letter": reason, "symbol": letter.symbol})

    def _lookup(self, coid: str, symbol: str | None = None) -> BrokerOrder | None:
        if symbol is not None:
            self.adapter._note_symbol(coid, symbol)
        return self._call("lookup", _bind(self.adapter._order, coid))

    def lookup(self, client_order_id: str, symbol: str | None = None) -> BrokerOrder | None:
        """The broker's view of one order (paced, retried), or None if it has none; tracked from now on.
        ``symbol``: the one it was sent for, where the journal knows it (a broker that finds orders per symbol
        looks there alone)."""
        found = self._lookup(client_order_id, symbol)
        if found is not None:
            self._observe(found)
        return found

    def cancel_order(self, broker_order_id: str) -> None:
        """Ask the broker to cancel one order by its id (paced, retried)."""
        self._call("cancel", _bind(self.adapter._cancel, broker_order_id))

    def cancel(self, oids: IntArray) -> None:
        wanted = {int(o) for o in oids}
        for coid, oid in list(self._by_coid.items()):
            if oid in wanted and coid in self._known:
                known = self._known[coid]
                self.journal.record(self.run_id, EventKind.REQUEST, coid, None, {"op": "cancel"})
                try:
                    self.cancel_order(known.broker_order_id)
                except BrokerRejectedError as exc:
                    self.journal.record(self.run_id, EventKind.RESPONSE, coid, None, {"cancel_refused": str(exc)})

    # -- the order-update stream, with polling as the fallback ---------------------------------------------
    def start_stream(self, timeout: float = 10.0) -> bool:
        """Start the adapter's order-update stream (if it has one and the executor was made with ``stream``);
        True when it is live. A stream that cannot connect is journaled and the executor polls instead; refused
        keys raise (:class:`BrokerError`), since the REST calls would be refused too."""
        if not self._use_stream or self._stream_state != "off":
            return self._stream_state == "live"
        self._stream_state = "polling"
        if not self.adapter.supports(Capability.ORDER_STREAM):
            return False
        try:
            handle = self.adapter._stream(self._on_stream_order, self._on_stream_fill, self._on_stream_gap, timeout)
        except BrokerUnavailableError as exc:
            self.journal.record(self.run_id, EventKind.ALERT, None, None,
                                {"stream": f"unavailable, polling instead: {exc}"})
            return False
        if handle is None:
            return False
        self._stream, self._stream_state = handle, "live"
        self.journal.record(self.run_id, EventKind.STREAM, None, "live", {"adapter": self.adapter.name})
        return True

    @property
    def streaming(self) -> bool:
        """Whether order updates arrive by stream now (else they are polled)."""
        return self._stream is not None and self._stream.connected

    def stop_stream(self) -> None:
        """Stop the order-update stream, if one runs (the next order sent starts it again)."""
        if self._stream is not None:
            self._stream.stop()
            self._stream = None
        self._stream_state = "off"

    def close(self) -> None:
        """Stop the stream and release the adapter's connections (sockets, loop threads)."""
        self.stop_stream()
        self.adapter.close()

    def __enter__(self) -> BrokerExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _on_stream_order(self, order: BrokerOrder) -> None:  # on the stream's thread: hand off only
        self._updates.put(order)
        self._wake.set()

    def _on_stream_fill(self, fill: BrokerFill) -> None:  # on the stream's thread: hand off only
        self._updates.put(fill)
        self._wake.set()

    def _on_stream_gap(self) -> None:  # on the stream's thread
        self._gap = True
        self._wake.set()

    def _drain(self) -> None:
        while True:
            try:
                update = self._updates.get_nowait()
            except queue.Empty:
                return
            if isinstance(update, BrokerFill):
                self._take_fills([update])
            else:
                self._observe(update)

    def refresh(self, rest: bool = False) -> None:
        """Take in the stream's updates; ask the broker (REST) about every order still working when there is no
        live stream, after a gap in it, every ``fallback_poll_seconds`` as a safety net, or when ``rest`` asks for
        the broker's view now (a schedule's tick); then list the broker's executions once if an order filled more
        than the journal has (one request for the whole batch)."""
        self._drain()
        now = time.monotonic()
        if rest or not self.streaming or self._gap or now - self._last_rest >= self._fallback_poll:
            self._gap = False
            self._poll_rest()
            self._last_rest = now
        self.sync_fills()

    def _poll_rest(self) -> None:
        """Ask the broker about every order still working and turn changes into fills and events.

        With an adapter that lists recent orders, one request covers the batch; orders it does not show are
        looked up one by one.
        """
        working = [coid for coid, known in self._known.items() if known.status in _ACTIVE]
        if len(working) > 1 and self._bulk_refresh:
            wanted = set(working)
            for now in self._call("recent orders", self.adapter._recent_orders):
                if now.client_order_id in wanted:
                    wanted.discard(now.client_order_id)
                    self._observe(now)
            working = [coid for coid in working if coid in wanted]
        for coid in working:
            found = self._lookup(coid)
            if found is not None:
                self._observe(found)

    def wait(self, timeout: float = 30.0, interval: float = 0.1) -> bool:
        """Refresh until no order is working or ``timeout`` passes; True when all are done and none was
        dead-lettered. A broker that is unavailable meanwhile (or a breaker open) is waited out, up to ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.refresh()
            except BrokerUnavailableError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(interval)
                continue
            if not self._fills_due and not any(k.status in _ACTIVE for k in self._known.values()):
                return not self.dead_letters
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self.streaming:  # woken by the next update, or polled as a fallback
                self._wake.wait(min(left, self._fallback_poll))
                self._wake.clear()
            else:
                time.sleep(interval)

    def adopt(self, order: BrokerOrder, oid: int | None = None) -> None:
        """Track an order that exists at the broker (after a restart, or external)."""
        if oid is not None:
            self._by_coid[order.client_order_id] = oid
        self._observe(order)

    def _observe(self, now: BrokerOrder) -> None:
        coid = now.client_order_id
        before = self._known.get(coid)
        if before is not None and _older(now, before):
            return  # a stream update overtaken by a newer REST answer (or the reverse)
        self._known[coid] = now
        filled_before = max(before.filled_quantity if before else 0.0, self.journal.fills_total(coid))
        if now.filled_quantity > filled_before + _EPS:
            if self._reported_fills:  # journaled from the broker's executions at the next refresh (one request)
                self._fills_due.add(coid)
            else:
                self._derive_fill(now, filled_before)
        if before is None or before.status != now.status or now.filled_quantity != filled_before:
            self._event(coid, now.status, now.raw)

    def _derive_fill(self, now: BrokerOrder, filled_before: float) -> None:
        """The fallback for a broker that reports no executions: the growth of the cumulative filled quantity is one
        fill (id ``<broker order id>:<cumulative quantity>``, priced from the average, fee unknown: 0)."""
        coid = now.client_order_id
        qty = now.filled_quantity - filled_before
        value_now = now.filled_quantity * (now.avg_fill_price or 0.0)
        price = (value_now - self.journal.fills_value(coid)) / qty if qty else (now.avg_fill_price or 0.0)
        fill = JournalFill(f"{now.broker_order_id}:{now.filled_quantity:.10g}", coid, now.symbol, now.side.value,
                           qty, price)
        if self.journal.record_fills(self.run_id, [fill])[0]:
            self._pending_fill(coid, now.side, qty, price, 0.0, False)

    def sync_charges(self) -> int:
        """Journal the money the broker booked on positions outside fills (daily financing) that the journal does
        not hold yet, when the adapter reports it (:attr:`Capability.CHARGES`); returns how many were new."""
        if not self.adapter.supports(Capability.CHARGES):
            return 0
        journaled = self.journal.charges()
        booked = [str(b) for b in journaled["booked_at"].dropna()] if len(journaled) else []
        since = None  # after the newest journaled, less a second of overlap (the journal ignores charges it has)
        if booked:
            since = datetime.fromisoformat(max(booked)) - timedelta(seconds=1)
        charges = self._call("charges", lambda: self.adapter._charges(since))
        rows = [JournalCharge(c.charge_id, c.kind, c.symbol, c.amount, c.currency,
                              c.timestamp.astimezone(UTC).isoformat(timespec="microseconds") if c.timestamp else None)
                for c in charges]
        return sum(self.journal.record_charges(self.run_id, rows))

    def sync_fills(self) -> None:
        """Journal the broker's executions of every order seen to have filled more than the journal holds (one
        request; nothing to do when all are journaled or the broker reports no executions)."""
        if self._fills_due and self._listed_fills:
            self._sync_fills()

    def _sync_fills(self) -> None:
        """Ask the broker for its executions since the last ones seen and journal the new ones."""
        since = self._fills_since
        fills = self._call("fills", lambda: self.adapter._fills(since))
        self._take_fills(fills)
        latest = max((f.timestamp for f in fills if f.timestamp is not None), default=None)
        if latest is not None:  # a second of overlap: the journal ignores executions it has
            since = latest - timedelta(seconds=1)
            self._fills_since = since if self._fills_since is None else max(self._fills_since, since)

    def _take_fills(self, fills: Sequence[BrokerFill]) -> None:
        """Journal the broker's executions (its execution id is the fill id, so one seen twice counts once) and
        hand the new ones of this executor's orders to the OMS, with their fees."""
        fills = [f for f in fills if f.client_order_id in self._known]  # not other runs' or clients' executions
        if not fills:
            return
        rows = [JournalFill(f.execution_id, f.client_order_id, f.symbol, f.side.value, f.quantity, f.price, f.fee,
                            "", f.fee_currency, f.liquidity,
                            f.timestamp.astimezone(UTC).isoformat(timespec="microseconds") if f.timestamp else None,
                            f.quote_rate)
                for f in fills]
        for fill, new in zip(fills, self.journal.record_fills(self.run_id, rows), strict=True):
            if new:
                self._pending_fill(fill.client_order_id, fill.side, fill.quantity, fill.price, _fee_value(fill),
                                   fill.liquidity == "maker")
        for coid in list(self._fills_due):
            known = self._known.get(coid)
            if known is None or self.journal.fills_total(coid) >= known.filled_quantity - _EPS:
                self._fills_due.discard(coid)

    def _pending_fill(self, coid: str, side: Side, qty: float, price: float, fee: float, maker: bool) -> None:
        if coid not in self._by_coid:
            return
        sign = 1.0 if side is Side.BUY else -1.0
        self._pending_fills.append(FillBatch(
            np.array([self._by_coid[coid]]), np.array([0]), np.array([sign * qty]), np.array([price]),
            np.array([price]), np.array([fee]), np.array([maker])))

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

    def instruments(self, symbols: Sequence[str]) -> dict[str, Instrument] | None:
        """Trading rules of ``symbols`` from the broker (None: the adapter does not declare
        :attr:`Capability.INSTRUMENTS`)."""
        if not self.adapter.supports(Capability.INSTRUMENTS):
            return None
        return self._call("instruments", lambda: self.adapter._instruments(symbols))

    def tradable(self, symbols: Sequence[str]) -> set[str] | None:
        """Which of ``symbols`` the broker lists as tradable (None: the broker cannot say)."""
        return self._call("assets", lambda: self.adapter._tradable(symbols))

    def clock(self) -> datetime:
        """The broker's time now (paced, retried), or the machine's (UTC) when the broker has no clock to read."""
        found = self._call("clock", self.adapter._clock)
        return found if found is not None else datetime.now(UTC)

    def open_orders(self) -> list[BrokerOrder]:
        """Orders still working at the broker."""
        return self._call("open orders", self.adapter._open_orders)

    def cash_floor(self) -> float | None:
        return 0.0


def _fee_value(fill: BrokerFill) -> float:
    """The fee in the quote currency, for the OMS's cash: a fee charged in the base asset of a pair ``BASE/QUOTE``
    (a crypto buy) is valued at the fill price."""
    base = fill.symbol.partition("/")[0]  # a pair named by its base alone (``BTC``) is its own base
    if fill.fee_currency is not None and fill.fee_currency.upper() == base.upper():
        return fill.fee * fill.price
    return fill.fee


def _older(now: BrokerOrder, before: BrokerOrder) -> bool:
    """Whether ``now`` is an earlier view of the order than ``before`` (less filled, or working after it ended)."""
    if now.filled_quantity < before.filled_quantity - 1e-12:
        return True
    return before.status not in _ACTIVE and now.status in _ACTIVE


def _bind(fn: Callable[..., T], *args: Any) -> Callable[[], T]:
    return lambda: fn(*args)


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
