"""``VenueAccount``: one local broker account over execlab's shared matching kernel, in neutral terms.

A broker's local venue parses its wire format into a :class:`VenueOrderRequest`, calls :meth:`VenueAccount.place`,
and renders the :class:`VenueOrder`, :class:`VenueExecution` and :class:`VenueEvent` values it gets back in its own
format. Matching is :class:`execlab._sim.quote_venue.QuoteVenue`'s (fees, slippage, participation cap, order types and
times in force as in the backtest).

Money is kept per currency. Every instrument names a ``base`` (what is bought) and a ``quote`` (what is paid):

- a *position* instrument (stocks, CFDs, margin FX; ``spot=False``) moves the position and the quote currency;
- a *spot* instrument (crypto, cash FX; ``spot=True``) moves the base and quote balances: a buy of ``BTC/USDT``
  spends USDT and receives BTC, a sell needs free BTC.

The account's own currency (``currency``) is the one the kernel's cash check and the margin buying power use;
balances in other currencies are valued through quotes of their pairs (``EUR.USD`` or ``USD.EUR``-like symbols of
the account's instruments). Fees come from the ``VenueConfig`` fee model, in the quote currency, or (``fee_in=
"received"``, as Binance) in the asset received.

A *future* (``asset_class="future"``) is margined: a fill moves no notional, the quote currency moves by the realized
P&L (price change × quantity × ``multiplier``) and the fee; equity counts the open P&L, gross exposure and the funds
check the notional (price × quantity × ``multiplier``).

Thread safety: every public method takes :attr:`lock`; listeners are called under it (hand work off, do not block).
"""

from __future__ import annotations

import math
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal

from execlab._config import VenueConfig
from execlab._core.codes import TIF, TYPE, VenueReason
from execlab._core.models import OrderType, TimeInForce
from execlab._data.bars import MarketData
from execlab._data.feeds import FeedEvent, ReplayFeed
from execlab._sim.bar_steps import BarSteps
from execlab._sim.quote_venue import (
    ACTIVATED,
    CANCELLED,
    EXPIRED,
    FILLED,
    REJECTED,
    EngineEvent,
    EngineFill,
    QuoteVenue,
)

__all__ = [
    "EVENT_KINDS",
    "GROUP_CLASSES",
    "OPEN_STATUSES",
    "Balance",
    "VenueAccount",
    "VenueEvent",
    "VenueExecution",
    "VenueInstrument",
    "VenueListener",
    "VenueOrder",
    "VenueOrderRequest",
    "VenueReject",
    "VenueStats",
]

#: The kinds of :class:`VenueEvent`.
EVENT_KINDS: Final = ("new", "partial_fill", "fill", "canceled", "expired", "rejected")
#: Neutral order statuses that can still fill or be canceled (``held``: a leg waiting for its entry).
OPEN_STATUSES: Final = frozenset({"new", "partially_filled", "held"})
#: Order classes :meth:`VenueAccount.place_group` accepts; bracket and OTO legs are held until the entry is done.
GROUP_CLASSES: Final = ("bracket", "oco", "oto")
_REASONS: Final = ("insufficient_funds", "unknown_symbol", "duplicate_client_id", "filter", "invalid")


class VenueReject(Exception):  # noqa: N818 - the name agreed in KIT_SPEC.md
    """An order the venue refuses before it exists: ``reason`` is one of ``insufficient_funds``,
    ``unknown_symbol``, ``duplicate_client_id``, ``filter`` (lot, tick, minimum), ``invalid``; ``detail`` holds
    figures a broker may echo (available, cost, …)."""

    def __init__(self, reason: str, message: str, **detail: Any) -> None:
        if reason not in _REASONS:
            raise ValueError(f"unknown reject reason {reason!r}; known: {_REASONS}")
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.detail = detail


@dataclass(frozen=True)
class VenueInstrument:
    """What the venue trades: ``base`` bought for ``quote``; sizes in base units (``lot`` step, ``tick``,
    ``min_qty``, ``min_notional`` in quote); ``spot`` settles base balances instead of a position; ``fee_in`` is
    ``"quote"`` or ``"received"`` (the asset a fill delivers)."""

    symbol: str
    base: str
    quote: str
    lot: float = 0.0
    tick: float = 0.0
    min_qty: float = 0.0
    min_notional: float = 0.0
    multiplier: float = 1.0
    asset_class: str = "equity"
    spot: bool = False
    fee_in: Literal["quote", "received"] = "quote"

    @property
    def margined(self) -> bool:
        """A future: cash moves by P&L × ``multiplier``, not by the notional."""
        return self.asset_class == "future"

    @property
    def unit_value(self) -> float:
        """Quote currency per unit of price per unit of quantity: the multiplier of a future, else 1."""
        return self.multiplier if self.margined else 1.0


@dataclass(frozen=True)
class Balance:
    """One currency's money: ``free`` to spend, ``locked`` by open orders."""

    currency: str
    free: float
    locked: float = 0.0

    @property
    def total(self) -> float:
        """Free plus locked."""
        return self.free + self.locked


@dataclass(frozen=True)
class VenueOrderRequest:
    """A new order, already parsed from a broker's wire format. ``type`` is an execlab :class:`OrderType` value
    (``market``, ``limit``, ``stop``, ``stop_limit``, ``trailing_stop``), ``tif`` a :class:`TimeInForce` value; give
    ``qty`` (base units) or ``notional`` (quote); ``extra`` is kept on the order for the broker's own fields."""

    symbol: str
    side: Literal["buy", "sell"]
    type: str = "market"
    tif: str = "day"
    qty: float | None = None
    notional: float | None = None
    limit: float | None = None
    stop: float | None = None
    trail_price: float | None = None
    trail_percent: float | None = None
    client_id: str | None = None
    expires_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class VenueOrder:
    """One order as the venue keeps it (mutable; a broker renders it on every read). ``status`` is neutral:
    ``new``, ``partially_filled``, ``filled``, ``canceled``, ``expired``, ``rejected``."""

    oid: int
    id: str
    client_id: str
    symbol: str
    side: str
    type: str
    tif: str
    qty: float | None
    notional: float | None
    limit: float | None
    stop: float | None
    trail_price: float | None
    trail_percent: float | None
    created_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = "new"
    updated_at: datetime | None = None
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    failed_at: datetime | None = None
    expires_at: datetime | None = None
    filled_qty: float = 0.0
    filled_notional: float = 0.0
    fees: float = 0.0
    fee_currency: str | None = None
    hwm: float | None = None
    reason: str | None = None
    """Why the venue ended it (a :class:`VenueReason` name in lower case), when it did."""

    @property
    def is_open(self) -> bool:
        """True while the order can still fill or be canceled."""
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> float | None:
        """Average fill price (None before the first fill)."""
        return self.filled_notional / self.filled_qty if self.filled_qty > 0 else None


@dataclass(frozen=True)
class VenueExecution:
    """One fill: ``seq`` increases by one per execution; ``id`` is the venue's execution id."""

    seq: int
    id: str
    order_id: str
    client_id: str
    symbol: str
    side: str
    qty: float
    price: float
    fee: float
    fee_currency: str
    liquidity: Literal["maker", "taker"]
    timestamp: datetime
    position_qty: float
    """The position (or base balance of a spot instrument) after this fill."""


@dataclass(frozen=True)
class VenueEvent:
    """What happened to an order: ``kind`` in :data:`EVENT_KINDS`; ``order`` is a snapshot taken then."""

    kind: str
    order: VenueOrder
    execution: VenueExecution | None = None
    timestamp: datetime | None = None


VenueListener = Callable[[VenueEvent], None]


@dataclass
class VenueStats:
    """Counters the harness reads (``/_stats``): requests, answers by status, 429s, placements per client id,
    stream counts."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    rate_limited: int = 0
    attempts: Counter[str] = field(default_factory=Counter)
    attempts_without_id: int = 0
    streams: Counter[str] = field(default_factory=Counter)


def _futures_fill(held: float, avg: float, qty: float, price: float) -> tuple[float, float, float]:
    """A signed fill of ``qty`` at ``price`` on a futures position ``held`` at ``avg``: ``(realized P&L per unit of
    multiplier, new position, new average price)``."""
    after = held + qty
    if held == 0.0 or (held > 0) == (qty > 0):  # opening or adding
        return 0.0, after, (held * avg + qty * price) / after if after else 0.0
    closed = min(abs(qty), abs(held)) * (1.0 if held > 0 else -1.0)
    realized = closed * (price - avg)
    if after == 0.0:
        return realized, 0.0, 0.0
    return realized, after, avg if (after > 0) == (held > 0) else price


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def _utc_day(now: datetime) -> int:
    return now.astimezone(UTC).date().toordinal()


class VenueAccount:
    """Orders, balances, positions, executions and events of one local account.

    Args:
        cash: starting balances ``{currency: amount}`` (a number: that much of ``currency``).
        currency: the account's currency (equity, buying power and the kernel's cash are in it).
        venue_config: fees, slippage, participation cap and margin, as in the backtest.
        allow_short: sells beyond the position (or the free base balance) open shorts.
        instruments: the tradable instruments; with ``symbols_closed`` only these.
        default_instrument: makes the instrument of a symbol not listed (default: a position instrument quoted in
            ``currency``).
        session_of: the session number of a time (DAY orders expire when it changes; default: the UTC date).
        clock: the time source; seed: ids repeat with it.
        execution_id: the venue's id of the n-th execution (default: a seeded UUID); a venue whose wire names
            executions by number (Binance's and OKX's trade ids) passes ``str``, so its wire id is the account's.
    """

    def __init__(self, cash: float | Mapping[str, float] = 100_000.0, *, currency: str = "USD",
                 venue_config: VenueConfig | None = None, allow_short: bool = False,
                 instruments: Iterable[VenueInstrument] = (), symbols_closed: bool = False,
                 default_instrument: Callable[[str], VenueInstrument] | None = None,
                 session_of: Callable[[datetime], int] = _utc_day,
                 clock: Callable[[], datetime] | None = None, seed: int = 0,
                 execution_id: Callable[[int], str] | None = None) -> None:
        start = {currency: float(cash)} if isinstance(cash, int | float) else {c: float(v) for c, v in cash.items()}
        for cur, amount in start.items():
            if not (math.isfinite(amount) and amount >= 0):
                raise ValueError(f"cash {cur}: must be a finite amount >= 0, got {amount!r}")
        self.lock = threading.RLock()
        self.currency = currency
        self.allow_short = bool(allow_short)
        self.instruments: dict[str, VenueInstrument] = {i.symbol: i for i in instruments}
        # A spot sell spends a base balance, not a kernel position: the account checks those itself.
        spot = any(i.spot for i in self.instruments.values())
        self.engine = QuoteVenue(venue_config, start.get(currency, 0.0), allow_short or spot)
        self._ledger: dict[str, float] = dict(start)
        self._ledger.setdefault(currency, 0.0)
        self.symbols_closed = symbols_closed
        self._default = default_instrument or (lambda s: VenueInstrument(s, s, currency))
        self._session_of = session_of
        self._clock = clock or (lambda: datetime.now(UTC))
        self._frozen: datetime | None = None
        self.rng = random.Random(seed)
        self._execution_id = execution_id
        self.stats_counters = VenueStats()
        self.orders: list[VenueOrder] = []
        self._by_id: dict[str, VenueOrder] = {}
        self._by_client: dict[str, VenueOrder] = {}
        self._by_oid: dict[int, VenueOrder] = {}
        self._open: dict[int, VenueOrder] = {}
        self._executions: list[VenueExecution] = []
        self._futures: dict[str, tuple[float, float]] = {}
        """``symbol → (quantity, average price)`` of futures (their realized P&L settles in cash)."""
        self.events: list[VenueEvent] = []
        self._listeners: list[VenueListener] = []
        self.created_at = self.now()
        self._day = self._session_of(self.created_at)
        self.last_equity = self.equity()
        self.lastday: dict[str, float] = {}
        self._bar_steps: BarSteps | None = None
        """Set once bars are stepped (:meth:`step_bars`): orders then match as the backtest matches bars."""

    # -- time ----------------------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The venue's time: the frozen replay time, else the clock (always timezone-aware)."""
        return _utc(self._frozen or self._clock())

    @property
    def day(self) -> int:
        """The current session number."""
        return self._day

    def set_time(self, when: datetime | None) -> None:
        """Freeze the clock at ``when`` (bar replay), or follow the clock again with None; rolls the session."""
        with self.lock:
            self._frozen = None if when is None else _utc(when)
            self._roll()

    def sync(self) -> None:
        """Bring time-driven state up to date (a server calls it before every request)."""
        with self.lock:
            self._roll()

    def _roll(self) -> None:
        day = self._session_of(self.now())
        if day == self._day:
            return
        self._day = day
        self.last_equity = self.equity()
        self.lastday = {s: self.engine.mark(s) for s in self.engine.symbols}
        self._match()

    def new_id(self) -> str:
        """A seeded UUID4 string (order, execution and account ids)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    # -- instruments and quotes ----------------------------------------------------------------------------
    def instrument(self, symbol: str) -> VenueInstrument:
        """The instrument of ``symbol`` (raises ``VenueReject("unknown_symbol")`` when the list is closed)."""
        found = self.instruments.get(symbol)
        if found is not None:
            return found
        if self.symbols_closed:
            raise VenueReject("unknown_symbol", f"unknown symbol {symbol!r}", symbol=symbol)
        return self._default(symbol)

    def knows(self, symbol: str) -> bool:
        """Whether ``symbol`` is tradable here."""
        return not self.symbols_closed or symbol in self.instruments

    def set_quote(self, symbol: str, bid: float | None, ask: float | None, last: float | None = None,
                  volume: float | None = None) -> None:
        """One symbol's quote (None: side unknown; last defaults to the mid), then match."""
        self.set_quotes([(symbol, bid, ask, last, volume)])

    def set_quotes(self, quotes: Iterable[tuple[str, float | None, float | None, float | None, float | None]]
                   ) -> None:
        """Quotes ``(symbol, bid, ask, last, volume)`` as one market step, then match every working order."""
        batch: list[tuple[str, float, float, float, float]] = []
        for symbol, bid_in, ask_in, last, volume in quotes:
            bid = math.nan if bid_in is None else float(bid_in)
            ask = math.nan if ask_in is None else float(ask_in)
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
            batch.append((symbol, bid, ask, float(last), math.inf if volume is None else float(volume)))
        with self.lock:
            self._roll()
            self.engine.set_quotes(batch)
            for symbol, *_ in batch:
                self.lastday.setdefault(symbol, self.engine.mark(symbol))
            self._match()

    def replay_bars(self, bars: Any) -> Iterator[Any]:
        """Step through long OHLCV bars, one timestamp per ``next``: freeze the clock at it, quote every symbol from
        its bar (``bid``/``ask`` columns, else the close), match; yields the timestamp."""
        market = MarketData.from_bars(bars)
        for i, stamp in enumerate(market.timestamps):
            self.set_time(stamp.to_pydatetime())
            batch: list[tuple[str, float | None, float | None, float | None, float | None]] = []
            for s, symbol in enumerate(market.symbols):
                close = float(market.close[i, s])
                if math.isnan(close):
                    continue
                bid = float(market.bid[i, s]) if market.bid is not None else close
                ask = float(market.ask[i, s]) if market.ask is not None else close
                batch.append((symbol, close if math.isnan(bid) else bid, close if math.isnan(ask) else ask, close,
                              float(market.volume[i, s])))
            self.set_quotes(batch)
            yield stamp

    def step_bars(self, event: FeedEvent) -> None:
        """Make one bar event the next market step, matched as the backtest matches a bar.

        The clock freezes at the event's time; every working order is matched by the kernel against the bars with the
        configured fill price (open, high, low and close for limits and stops, σ and ADV of the earlier bars for
        square-root impact). From the first call on, an order placed between two steps trades from the next bar
        (``next_open``, ``vwap``) or at the close of the bar it came after (``close``), as in the backtest and in
        paper on the same bars; the first step's events must list every symbol the replay will carry.
        """
        with self.lock:
            if self._bar_steps is None:
                self._bar_steps = BarSteps(self.engine.config)
            self.set_time(event.timestamp.to_pydatetime())
            self._bar_steps.step(self.engine, event)
            for symbol in event.symbols:
                mark = self.engine.mark(symbol)
                if not math.isnan(mark):
                    self.lastday.setdefault(symbol, mark)
            self._apply(*self.engine.match_bars(self._day))

    def replay_bar_steps(self, bars: Any) -> Iterator[Any]:
        """Step through long OHLCV bars (as for the backtest and :class:`execlab.ReplayFeed`) one timestamp per
        ``next`` with :meth:`step_bars`; yields the timestamp, so the caller can trade between bars."""
        for event in ReplayFeed.from_bars(bars):
            self.step_bars(event)
            yield event.timestamp

    # -- listeners -----------------------------------------------------------------------------------------
    def subscribe(self, listener: VenueListener) -> None:
        """Call ``listener(event)`` for every new event (under the lock: hand off, do not block)."""
        with self.lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: VenueListener) -> None:
        """Stop calling ``listener`` (no error when it was not subscribed)."""
        with self.lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _publish(self, kind: str, o: VenueOrder, execution: VenueExecution | None = None) -> None:
        event = VenueEvent(kind, replace(o, extra=dict(o.extra)), execution, self.now())
        self.events.append(event)
        for listener in list(self._listeners):
            listener(event)

    # -- orders --------------------------------------------------------------------------------------------
    def place(self, request: VenueOrderRequest, *, reject: bool = False,
              partial_ratio: float | None = None) -> VenueOrder:
        """Accept ``request`` (checks: symbol, duplicate client id, filters, funds), then match it. ``reject``
        creates the order and rejects it at once (a fault knob); ``partial_ratio`` caps its first fill."""
        return self.place_group(request, "simple", (), reject=reject, partial_ratio=partial_ratio)

    def place_group(self, request: VenueOrderRequest, order_class: str, legs: Iterable[VenueOrderRequest], *,
                    reject: bool = False, partial_ratio: float | None = None) -> VenueOrder:
        """Accept ``request`` with its ``legs`` as one ``order_class`` group (see :data:`GROUP_CLASSES` and
        :mod:`execlab._sim.contingent`), then match; returns the parent.

        A bracket's or OTO's legs are ``held`` until the entry is done, then work for what it filled; an OCO's legs
        work at once. The members of a bracket's exits, or of an OCO, cancel each other. Each order carries
        ``extra["order_class"]``; the parent lists its legs' ids in ``extra["legs"]``, a leg names its parent in
        ``extra["parent_id"]``. Legs are not checked for funds (they close what the entry opens).
        """
        legs = tuple(legs)
        if order_class not in ("simple", *GROUP_CLASSES) or (order_class == "simple") != (not legs):
            raise VenueReject("invalid", f"order class {order_class!r} with {len(legs)} legs")
        with self.lock:
            self._roll()
            inst = self.instrument(request.symbol)
            for r in (request, *legs):
                if r.client_id and r.client_id in self._by_client:
                    raise VenueReject("duplicate_client_id", "client order id must be unique", client_id=r.client_id)
                if (r.qty is None) == (r.notional is None):
                    raise VenueReject("invalid", "give exactly one of qty or notional")
                self._check_filters(inst, r)
            self._check_funds(inst, request)
            o = self._new_order(inst, request)
            held = order_class in ("bracket", "oto")
            children = [self._new_order(inst, leg) for leg in legs]
            if legs:
                o.extra.update(order_class=order_class, legs=[c.id for c in children])
                for c in children:
                    c.extra.update(order_class=order_class, parent_id=o.id)
                    c.status = "held" if held else "new"
            self._publish("new", o)
            if reject:
                now = self.now()
                for x in (o, *children):
                    x.status, x.failed_at, x.updated_at, x.reason = "rejected", now, now, "rejected"
                    self._open.pop(x.oid, None)
                    self._publish("rejected", x)
                return o
            at_close = self._bar_steps is not None and self._bar_steps.delay == 0
            self._submit(o, partial_ratio, after_close=at_close)
            for c in children:
                if not held:
                    self._publish("new", c)
                self._submit(c, None, held_by=o.oid if held else None, after_close=at_close)
            if order_class == "bracket":
                self.engine.link([c.oid for c in children])
            elif order_class == "oco":
                self.engine.link([o.oid, *(c.oid for c in children)])
            if inst.lot > 0:
                self.engine.set_lot_size(o.symbol, inst.lot)
            if at_close:  # fill_price close: it trades at the close of the bar it came after, as in the backtest
                self._apply(*self.engine.match_bars(self._day))
            self._match()
            return o

    def _new_order(self, inst: VenueInstrument, r: VenueOrderRequest) -> VenueOrder:
        o = VenueOrder(
            oid=len(self.orders) + 1, id=self.new_id(), client_id=r.client_id or self.new_id(), symbol=r.symbol,
            side=r.side, type=r.type, tif=r.tif, qty=r.qty, notional=r.notional, limit=r.limit, stop=r.stop,
            trail_price=r.trail_price, trail_percent=r.trail_percent, created_at=self.now(), extra=dict(r.extra),
            expires_at=r.expires_at,
            fee_currency=self._fee_currency(inst, r.side),
        )
        self.orders.append(o)
        self._by_id[o.id] = self._by_client[o.client_id] = self._by_oid[o.oid] = self._open[o.oid] = o
        return o

    def _submit(self, o: VenueOrder, partial_ratio: float | None, held_by: int | None = None, *,
                after_close: bool = False) -> None:
        sign = 1.0 if o.side == "buy" else -1.0
        nan = math.nan
        self.engine.submit(
            o.oid, o.symbol, sign * (o.qty or 0.0), TYPE[OrderType(o.type)], TIF[TimeInForce(o.tif)],
            day=self._day, limit=nan if o.limit is None else o.limit, stop=nan if o.stop is None else o.stop,
            trail_amount=o.trail_price or 0.0, trail_percent=o.trail_percent or 0.0,
            notional=None if o.notional is None else sign * o.notional, partial_ratio=partial_ratio, held_by=held_by,
            after_close=after_close,
        )

    def legs_of(self, o: VenueOrder) -> list[VenueOrder]:
        """The legs of a group's parent (empty for any other order)."""
        with self.lock:
            return [self._by_id[i] for i in o.extra.get("legs", ())]

    def _check_filters(self, inst: VenueInstrument, r: VenueOrderRequest) -> None:
        if r.qty is not None:
            if inst.lot > 0 and abs(r.qty / inst.lot - round(r.qty / inst.lot)) > 1e-9:
                raise VenueReject("filter", f"quantity {r.qty} is not a multiple of the lot {inst.lot}")
            if r.qty < inst.min_qty:
                raise VenueReject("filter", f"quantity {r.qty} is below the minimum {inst.min_qty}")
        for name, price in (("limit", r.limit), ("stop", r.stop)):
            if price is not None and inst.tick > 0 and abs(price / inst.tick - round(price / inst.tick)) > 1e-6:
                raise VenueReject("filter", f"{name} price {price} is not a multiple of the tick {inst.tick}")
        if inst.min_notional > 0:
            px = self._estimate(r.symbol, r.side == "buy", r.type, r.limit, r.stop)
            value = r.notional if r.notional is not None else (r.qty or 0.0) * (px if px > 0 else 0.0)
            if value < inst.min_notional:
                raise VenueReject("filter", f"notional {value:g} is below the minimum {inst.min_notional:g}")

    def _fee_currency(self, inst: VenueInstrument, side: str) -> str:
        if inst.fee_in == "received" and inst.spot:
            return inst.base if side == "buy" else inst.quote
        return inst.quote

    def cancel(self, order_id: str) -> VenueOrder:
        """Cancel an open order by venue id (KeyError: unknown; ValueError: no longer open)."""
        with self.lock:
            o = self._by_id[order_id]
            if not o.is_open:
                raise ValueError(f'order is already in "{o.status}" state')
            self.engine.cancel(o.oid)
            now = self.now()
            o.status, o.canceled_at, o.updated_at = "canceled", now, now
            self._open.pop(o.oid, None)
            self._publish("canceled", o)
            self._apply([], self.engine.take_events())  # the legs and siblings that follow it
            return o

    def order(self, order_id: str) -> VenueOrder | None:
        """The order with this venue id."""
        with self.lock:
            return self._by_id.get(order_id)

    def order_by_client_id(self, client_id: str) -> VenueOrder | None:
        """The order with this client id."""
        with self.lock:
            return self._by_client.get(client_id)

    def open_orders(self) -> list[VenueOrder]:
        """Orders still open, oldest first."""
        with self.lock:
            return [o for o in self._open.values() if o.is_open]

    def all_orders(self) -> list[VenueOrder]:
        """Every order, oldest first."""
        with self.lock:
            return list(self.orders)

    # -- matching ------------------------------------------------------------------------------------------
    def _match(self) -> None:
        if self._bar_steps is not None:
            return  # bar replay: orders match at the next bar step (or at once, at the close: see place)
        fills, events = self.engine.match(self._day)
        self._apply(fills, events)

    def _apply(self, fills: list[EngineFill], events: list[EngineEvent]) -> None:
        now = self.now()
        ended = {e.oid for e in events if e.status not in (FILLED, ACTIVATED)}
        for f in fills:
            o = self._by_oid[f.oid]
            inst = self.instrument(o.symbol)
            q = abs(f.qty)
            fee, fee_cur = self._settle(inst, f)
            o.filled_qty += q
            o.filled_notional += q * f.price
            o.fees += fee
            o.fee_currency = fee_cur
            o.updated_at = now
            done = not self.engine.is_working(f.oid) and f.oid not in ended
            o.status = "filled" if done else "partially_filled"
            if done:
                o.filled_at = now
            held = self._ledger.get(inst.base, 0.0) if inst.spot else self.engine.holding(o.symbol)
            seq = len(self._executions) + 1
            exec_id = self._execution_id(seq) if self._execution_id is not None else self.new_id()
            ex = VenueExecution(seq, exec_id, o.id, o.client_id, o.symbol, o.side, q, f.price, fee, fee_cur,
                                "maker" if f.maker else "taker", now, held)
            self._executions.append(ex)
            self._publish("fill" if done else "partial_fill", o, ex)
        for e in events:
            if e.status == FILLED:
                continue
            o = self._by_oid[e.oid]
            o.updated_at = now
            if e.status == ACTIVATED:  # a held leg: its entry is done, it works for what the entry filled
                o.status, o.qty = "new", self.engine.remaining(o.oid)
                self._publish("new", o)
                continue
            o.reason = VenueReason(e.reason).name.lower()
            if e.status == EXPIRED:
                o.status, o.expired_at, kind = "expired", now, "expired"
            elif e.status == REJECTED or (e.status == CANCELLED and e.reason in (VenueReason.INSUFFICIENT_CASH,
                                                                                  VenueReason.NO_SHORTING)
                                          and o.filled_qty == 0):
                o.status, o.failed_at, kind = "rejected", now, "rejected"
            else:
                o.status, o.canceled_at, kind = "canceled", now, "canceled"
            self._publish(kind, o)
        for oid in list(self._open):
            o = self._open[oid]
            if not o.is_open:
                del self._open[oid]
            elif o.type == "trailing_stop":
                hwm = self.engine.extreme(o.oid)
                o.hwm = None if math.isnan(hwm) else hwm
        # The kernel's cash is the account currency's balance (fills in other currencies moved it wrongly).
        self.engine.set_cash(self._ledger[self.currency])

    def _settle(self, inst: VenueInstrument, f: EngineFill) -> tuple[float, str]:
        """Move balances for one fill; returns its fee and fee currency."""
        led = self._ledger
        if inst.margined:  # a future: only the P&L it realizes moves cash
            held, avg = self._futures.get(inst.symbol, (0.0, 0.0))
            realized, held, avg = _futures_fill(held, avg, f.qty, f.price)
            self._futures[inst.symbol] = (held, avg)
            cost = -realized * inst.multiplier
        else:
            cost = f.qty * f.price  # signed: a buy spends quote
        led[inst.quote] = led.get(inst.quote, 0.0) - cost
        if inst.spot:
            led[inst.base] = led.get(inst.base, 0.0) + f.qty
        if inst.fee_in == "received" and inst.spot and f.qty > 0:
            fee, cur = f.fee / f.price, inst.base  # a buy pays its fee out of the base received
        else:
            fee, cur = f.fee, inst.quote
        led[cur] = led.get(cur, 0.0) - fee
        return fee, cur

    # -- money ---------------------------------------------------------------------------------------------
    def _estimate(self, symbol: str, buy: bool, kind: str, limit: float | None, stop: float | None) -> float:
        if kind in ("limit", "stop_limit") and limit is not None:
            return limit
        touch = self.engine.touch(symbol, buy)
        if kind == "stop" and stop is not None:
            return max(stop, touch) if buy and not math.isnan(touch) else stop
        return touch

    def open_qty(self, o: VenueOrder) -> float:
        """Quantity an open order may still trade (a notional order not priced yet: at the current touch)."""
        left = self.engine.remaining(o.oid) if self.engine.is_working(o.oid) else 0.0
        if left == 0.0 and o.notional is not None and o.filled_qty == 0.0 and o.is_open:
            px = self.engine.touch(o.symbol, o.side == "buy")
            left = o.notional / px if px > 0 else 0.0
        return left

    def _order_cost(self, o: VenueOrder) -> float:
        if o.notional is not None and o.filled_qty == 0.0:
            return o.notional
        px = self._estimate(o.symbol, True, o.type, o.limit, o.stop)
        return self.open_qty(o) * (px if px > 0 else 0.0) * self.instrument(o.symbol).unit_value

    def locked(self, currency: str) -> float:
        """Money of ``currency`` held by open orders: quote for buys, base for sells of spot instruments."""
        with self.lock:
            total = 0.0
            for o in self._open.values():
                if not o.is_open:
                    continue
                inst = self.instrument(o.symbol)
                if o.side == "buy" and inst.quote == currency:
                    total += self._order_cost(o)
                elif o.side == "sell" and inst.spot and inst.base == currency:
                    total += self.open_qty(o)
            return total

    def balances(self) -> list[Balance]:
        """Balances per currency (free, locked), sorted by currency."""
        with self.lock:
            out = []
            for cur in sorted(self._ledger):
                total = self._ledger[cur]
                locked = min(self.locked(cur), max(total, 0.0))
                out.append(Balance(cur, total - locked, locked))
            return out

    def balance(self, currency: str) -> float:
        """Total balance of ``currency`` (0 when none)."""
        with self.lock:
            return self._ledger.get(currency, 0.0)

    def deposit(self, currency: str, amount: float) -> None:
        """Add (or with a negative amount remove) money of ``currency``."""
        with self.lock:
            self._ledger[currency] = self._ledger.get(currency, 0.0) + float(amount)
            self.engine.set_cash(self._ledger[self.currency])

    def held_for_orders(self, symbol: str) -> float:
        """Quantity of ``symbol`` that open sell orders hold."""
        return sum(self.open_qty(o) for o in self._open.values()
                   if o.is_open and o.side == "sell" and o.symbol == symbol)

    def holding(self, symbol: str) -> float:
        """Signed position in ``symbol`` (spot instruments: the fills' net quantity)."""
        return self.engine.holding(symbol)

    def positions(self) -> list[tuple[str, float, float, float]]:
        """``(symbol, qty, avg_entry, mark)`` of every non-flat position instrument, sorted by symbol (a mark never
        quoted is the entry price). Spot instruments show as balances instead."""
        with self.lock:
            e = self.engine
            out = []
            for s in sorted(e.symbols):
                qty = e.holding(s)
                if qty == 0.0 or self.instrument(s).spot:
                    continue
                avg = float(e.avg_price[e.symbol_index(s)])
                mark = e.mark(s)
                out.append((s, qty, avg, avg if math.isnan(mark) else mark))
            return out

    def rate(self, currency: str) -> float:
        """Value of one unit of ``currency`` in the account currency, from the quotes of a pair of them (NaN when
        no instrument quotes it)."""
        if currency == self.currency:
            return 1.0
        for inst in self.instruments.values():
            if inst.base == currency and inst.quote == self.currency:
                return self.engine.mark(inst.symbol)
            if inst.quote == currency and inst.base == self.currency:
                m = self.engine.mark(inst.symbol)
                return 1.0 / m if m > 0 else math.nan
        return math.nan

    def equity(self) -> float:
        """Balances plus position instruments at their marks, in the account currency (currencies without a rate
        are left out)."""
        with self.lock:
            total = 0.0
            for cur, amount in self._ledger.items():
                r = self.rate(cur)
                if amount and not math.isnan(r):
                    total += amount * r
            for s, qty, _avg, mark in self.positions():
                inst = self.instrument(s)
                r = self.rate(inst.quote)
                if math.isnan(r):
                    continue
                if inst.margined:  # the open P&L; the cash already holds what was realized
                    total += qty * (mark - self._futures.get(s, (0.0, mark))[1]) * inst.multiplier * r
                else:
                    total += qty * mark * r
            return total

    def gross(self) -> float:
        """Sum of |position values| of position instruments, in the account currency."""
        with self.lock:
            total = 0.0
            for s, q, _avg, m in self.positions():
                inst = self.instrument(s)
                r = self.rate(inst.quote)
                total += 0.0 if math.isnan(r) else abs(q) * m * inst.unit_value * r
            return total

    def leverage(self) -> float:
        """Gross exposure allowed per unit of equity (1 without margin)."""
        return self.engine.leverage()

    def buying_power(self) -> float:
        """``leverage × equity − gross − open buys in the account currency``, never below zero."""
        with self.lock:
            return max(self.leverage() * self.equity() - self.gross() - self.locked(self.currency), 0.0)

    def _check_funds(self, inst: VenueInstrument, r: VenueOrderRequest) -> None:
        buy = r.side == "buy"
        px = self._estimate(r.symbol, buy, r.type, r.limit, r.stop)
        qty = r.qty if r.qty is not None else ((r.notional or 0.0) / px if px > 0 else 0.0)
        if inst.spot:
            if buy:
                cost = r.notional if r.notional is not None else qty * (px if px > 0 else 0.0)
                free = self._ledger.get(inst.quote, 0.0) - self.locked(inst.quote)
                if cost > free + 1e-9:
                    raise VenueReject("insufficient_funds", f"insufficient {inst.quote} balance",
                                      currency=inst.quote, available=max(free, 0.0), cost=cost)
            elif not self.allow_short:
                free = self._ledger.get(inst.base, 0.0) - self.locked(inst.base)
                if qty > free + 1e-9:
                    raise VenueReject("insufficient_funds", f"insufficient {inst.base} balance",
                                      currency=inst.base, available=max(free, 0.0), cost=qty)
            return
        if buy:
            cost = r.notional if r.notional is not None else qty * (px if px > 0 else 0.0)
        else:
            held = self.engine.holding(r.symbol)
            for_orders = self.held_for_orders(r.symbol)
            available = max(held, 0.0) - for_orders
            short = qty - max(available, 0.0)
            if short > 1e-9 and not self.allow_short:
                raise VenueReject("insufficient_funds", "insufficient qty available for order", kind="position",
                                  requested=qty, available=max(available, 0.0), held=held,
                                  held_for_orders=for_orders, symbol=r.symbol)
            cost = max(short, 0.0) * (px if px > 0 else 0.0)
        cost *= inst.unit_value * (self.rate(inst.quote) if inst.quote != self.currency else 1.0)
        if cost <= 0.0:
            return
        bp = self.buying_power()
        if cost > bp + 1e-9:
            raise VenueReject("insufficient_funds", "insufficient buying power", kind="buying_power",
                              buying_power=bp, cost=cost)

    # -- executions and statistics -------------------------------------------------------------------------
    def executions(self, since_id: int | None = None) -> list[VenueExecution]:
        """Executions with ``seq`` above ``since_id`` (all when None), oldest first."""
        with self.lock:
            start = since_id or 0
            return list(self._executions[start:]) if start >= 0 else list(self._executions)

    def count_request(self) -> None:
        """Count one API request."""
        with self.lock:
            self.stats_counters.requests += 1

    def count_status(self, status: int, *, rate_limited: bool = False) -> None:
        """Count one answer by HTTP status (or the protocol's equivalent)."""
        with self.lock:
            self.stats_counters.statuses[status] += 1
            if rate_limited:
                self.stats_counters.rate_limited += 1

    def count_attempt(self, client_id: str | None) -> None:
        """Count one order placement attempt, whatever its fate (refused, faulted, rate-limited, accepted)."""
        with self.lock:
            if client_id:
                self.stats_counters.attempts[client_id] += 1
            else:
                self.stats_counters.attempts_without_id += 1

    def count_stream(self, **changes: int) -> None:
        """Change stream counters (connections, open, authorized, auth_failures, drops, messages)."""
        with self.lock:
            for name, step in changes.items():
                self.stats_counters.streams[name] += step

    def stats(self) -> dict[str, Any]:
        """Request totals, answers by status, 429s, order attempts per client id (``order_attempts``: the crash
        trials count "placed exactly once" here), orders, executions, stream counts."""
        with self.lock:
            c = self.stats_counters
            return {
                "requests": c.requests,
                "responses": {str(k): v for k, v in sorted(c.statuses.items())},
                "rate_limited": c.rate_limited,
                "order_attempts": dict(c.attempts),
                "order_attempts_without_client_order_id": c.attempts_without_id,
                "orders": len(self.orders),
                "open_orders": sum(o.is_open for o in self._open.values()),
                "executions": len(self._executions),
                "events": len(self.events),
                "streams": dict(c.streams),
            }
