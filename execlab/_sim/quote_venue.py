"""A quote-driven front of execlab's matching kernel, shared by the local broker venues.

The backtest drives :func:`execlab._sim.kernel.match_bar` with bars; a local broker venue has quotes that arrive
one symbol at a time and a symbol list that grows as quotes and orders name new symbols. :class:`QuoteVenue` keeps
its orders in the same working-order store and its account in the same arrays as :class:`execlab.SimulatedVenue`
and calls the same kernel, so fees, the cash and margin checks, shorting rules, the participation cap, order types
and times in force mean the same thing in a backtest and behind a broker's wire protocol.

How a quote becomes a "bar" for the kernel: buy orders are matched against a bar whose open, high, low and close
are all the ask, sell orders against the bid (the last price stands in for a missing side). A marketable limit
therefore fills at the touch, a resting limit waits for the touch to reach it, a stop triggers when the touch
crosses it and then fills at the touch. Opening and closing auction orders (``opg``, ``cls``) trade at the next
quote of their symbol. The configured slippage applies on top of crossing the spread, except ``half_spread``,
which crossing the spread already is.

Bars instead of quotes: :meth:`QuoteVenue.set_bars` makes one OHLCV bar per symbol the market step and
:meth:`QuoteVenue.match_bars` runs the kernel over it exactly as the backtest's :class:`execlab.SimulatedVenue` does
(configured fill price model, open/high/low/close for limits and stops, square-root impact from the σ and ADV given),
so a paper account replaying bars fills like the backtest.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from execlab._config import VenueConfig
from execlab._core.arrays import FloatArray
from execlab._core.codes import CLS, FOK, IOC, OPG, STOP, STOP_LIMIT, TRAILING_STOP, VenueReason
from execlab._sim import kernel, margin
from execlab._sim.contingent import Contingent, HeldLeg, Settlement
from execlab._sim.costs import CostModel
from execlab._sim.working_orders import WorkingOrders

__all__ = ["ACTIVATED", "EngineEvent", "EngineFill", "QuoteVenue"]


_NEVER = np.iinfo(np.int64).max // 2

_WARM = False

#: Kernel status codes of the events :meth:`QuoteVenue.match` reports.
FILLED, CANCELLED, REJECTED, EXPIRED = 3, 4, 5, 6
#: A held leg began working (its entry is done): the one event that is not an order leaving the book.
ACTIVATED = 7


@dataclass(frozen=True)
class EngineFill:
    """One execution: signed quantity (buy > 0), price, fee, whether it rested (maker), and the model price
    before slippage (``reference``)."""

    oid: int
    qty: float
    price: float
    fee: float
    maker: bool
    reference: float = math.nan


@dataclass(frozen=True)
class EngineEvent:
    """An order left the book: ``status`` is FILLED, CANCELLED, REJECTED or EXPIRED; ``reason`` a VenueReason.
    (``ACTIVATED``: a held leg of a bracket or OTO began working.)"""

    oid: int
    status: int
    reason: int


@dataclass
class _Meta:
    row: int
    sym: int
    qty: float
    """Signed total quantity (0 while a notional order has not been priced)."""
    notional: float | None
    ratio: float | None
    """Partial-fill cap still to apply to this order's first fill."""
    parked: float = 0.0
    """Signed quantity waiting, inactive, for the next quote of the symbol (an auction order or a held-back rest)."""
    done: bool = False


@dataclass
class _Book:
    bid: list[float] = field(default_factory=list)
    ask: list[float] = field(default_factory=list)
    last: list[float] = field(default_factory=list)
    volume: list[float] = field(default_factory=list)


@dataclass
class _Bars:
    """The bar of the current step per symbol (NaN: no bar), with the impact inputs known before it."""

    step: int
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    bid: FloatArray
    ask: FloatArray
    sigma: FloatArray
    adv: FloatArray


_Runner = Callable[[FloatArray, int, float, float], tuple[list[EngineFill], list[EngineEvent]]]


class QuoteVenue:
    """Working orders, cash and positions, matched against the latest quote of each symbol by the kernel.

    Not thread-safe: the owner serialises calls. Symbols are added on first use. Orders are keyed by an integer
    ``oid`` the owner chooses. Nothing matches until :meth:`match` is called (after a quote or a submission).
    ``sells_first`` matches sell orders before buy orders (so a rebalance's sells pay for its buys); by default
    buys go first.
    """

    def __init__(self, config: VenueConfig | None = None, initial_cash: float = 100_000.0,
                 allow_short: bool = False, *, sells_first: bool = False) -> None:
        self.config = config or VenueConfig()
        self.allow_short = bool(allow_short)
        self.sells_first = bool(sells_first)
        self._bars: _Bars | None = None
        self.symbols: list[str] = []
        self._index: dict[str, int] = {}
        self._quotes = _Book()
        self.position = np.zeros(0)
        self.avg_price = np.zeros(0)
        self._lot = np.zeros(0)
        self._vol_used = np.zeros(0)
        self._cash = np.array([float(initial_cash)])
        self._orders = WorkingOrders()
        self._meta: dict[int, _Meta] = {}
        self._live: dict[int, _Meta] = {}  # the orders not done yet: what each step has to look at
        self._step = 0
        # σ and ADV come with each step's bars (set_bars); a quote carries none.
        self._costs = CostModel.from_venue(self.config, np.zeros((1, 0)), np.zeros((1, 0)))
        # Against quotes, crossing the spread is the half-spread slippage (bar steps price like the backtest).
        half_spread = self._costs.slip_model == kernel.SLIP_HALF_SPREAD
        self._quote_slip_model = kernel.SLIP_NONE if half_spread else self._costs.slip_model
        self._cap = float(self.config.participation_cap or 0.0)
        self._contingent = Contingent()
        self._queued: list[EngineEvent] = []  # contingent events of a client cancel, reported by the next match
        self._last_day = 0

    @staticmethod
    def warm_up() -> None:
        """Load (or compile) the matching kernel now, so the first real order does not wait for it."""
        global _WARM
        if _WARM:
            return
        venue = QuoteVenue()
        venue.set_quotes([("WARM", 1.0, 1.0, 1.0, math.inf)])
        venue.submit(1, "WARM", 1.0, 0, 1, day=0)
        venue.match(0)
        _WARM = True

    # -- symbols and quotes --------------------------------------------------------------------------------
    def symbol_index(self, symbol: str) -> int:
        """Column of ``symbol``, adding it (flat, no quote) on first use."""
        s = self._index.get(symbol)
        if s is not None:
            return s
        s = len(self.symbols)
        self.symbols.append(symbol)
        self._index[symbol] = s
        q = self._quotes
        q.bid.append(math.nan)
        q.ask.append(math.nan)
        q.last.append(math.nan)
        q.volume.append(math.inf)
        self.position = np.append(self.position, 0.0)
        self.avg_price = np.append(self.avg_price, 0.0)
        self._lot = np.append(self._lot, 0.0)
        self._vol_used = np.append(self._vol_used, 0.0)
        return s

    def set_lot_size(self, symbol: str, lot_size: float) -> None:
        """Trade ``symbol`` in whole multiples of ``lot_size`` when a fill is cut (0: any quantity)."""
        self._lot[self.symbol_index(symbol)] = max(float(lot_size), 0.0)

    def set_quotes(self, quotes: list[tuple[str, float, float, float, float]]) -> None:
        """Replace the quotes ``(symbol, bid, ask, last, volume)`` as one market step (NaN: side unknown).

        ``volume`` is what the participation cap may take from this step (``inf``: unlimited). Orders waiting for
        their symbol's next quote (auction orders, the held-back rest of a partial fill) join this step.
        """
        self._step += 1
        self._vol_used[:] = 0.0
        touched: set[int] = set()
        q = self._quotes
        for symbol, bid, ask, last, volume in quotes:
            s = self.symbol_index(symbol)
            q.bid[s], q.ask[s], q.last[s], q.volume[s] = float(bid), float(ask), float(last), float(volume)
            touched.add(s)
        w = self._orders
        for meta in self._live.values():
            if meta.parked != 0.0 and meta.sym in touched:
                r = meta.row
                w.qty[r] = meta.parked
                w.eligible[r] = self._step
                w.active[r] = True
                meta.parked = 0.0

    def set_bars(self, bars: Sequence[tuple[str, float, float, float, float, float]], *,
                 quotes: Mapping[str, tuple[float, float]] | None = None,
                 impact: Mapping[str, tuple[float, float]] | None = None) -> None:
        """Make one OHLCV bar per listed symbol ``(symbol, open, high, low, close, volume)`` the next market step.

        Symbols not listed have no bar in this step (their orders wait, as in the backtest). Each close becomes its
        symbol's last price (a NaN close keeps the previous one); ``quotes`` gives a symbol's ``(bid, ask)`` at the
        bar's close (for the ``quote`` fill price and ``half_spread`` slippage); ``impact`` its ``(σ, ADV)`` known
        before the bar (for ``sqrt_impact``). Match with :meth:`match_bars`.
        """
        quotes = quotes or {}
        q = self._quotes
        rows = []
        for symbol, _o, _h, _lo, close, volume in bars:
            s = self.symbol_index(symbol)
            bid, ask = quotes.get(symbol, (math.nan, math.nan))
            rows.append((symbol, bid, ask, close if not math.isnan(close) else q.last[s], volume))
        self.set_quotes(rows)
        n_s = len(self.symbols)
        cols = [np.full(n_s, math.nan) for _ in range(9)]
        op, hi, lo, cl, vol, bid_a, ask_a, sig, adv_a = cols
        vol[:] = 0.0
        sig[:] = 0.0
        adv_a[:] = 0.0
        for symbol, o, h, low, close, volume in bars:
            s = self._index[symbol]
            op[s], hi[s], lo[s], cl[s], vol[s] = o, h, low, close, volume
            bid_a[s], ask_a[s] = quotes.get(symbol, (math.nan, math.nan))
            if impact is not None and symbol in impact:
                sig[s], adv_a[s] = impact[symbol]
        self._bars = _Bars(self._step, op, hi, lo, cl, vol, bid_a, ask_a, sig, adv_a)

    def quote(self, symbol: str) -> tuple[float, float, float] | None:
        """``(bid, ask, last)`` of ``symbol``, or None when it has never been quoted."""
        s = self._index.get(symbol)
        if s is None:
            return None
        q = self._quotes
        out = (q.bid[s], q.ask[s], q.last[s])
        return None if all(math.isnan(v) for v in out) else out

    def touch(self, symbol: str, buy: bool) -> float:
        """Price an order on this side would trade at now: the ask for a buy, the bid for a sell, else last."""
        quote = self.quote(symbol)
        if quote is None:
            return math.nan
        bid, ask, last = quote
        side = ask if buy else bid
        return side if not math.isnan(side) else last

    def mark(self, symbol: str) -> float:
        """Valuation price: last, else the mid, else the one side known (NaN when never quoted)."""
        quote = self.quote(symbol)
        if quote is None:
            return math.nan
        bid, ask, last = quote
        if not math.isnan(last):
            return last
        if not (math.isnan(bid) or math.isnan(ask)):
            return 0.5 * (bid + ask)
        return ask if math.isnan(bid) else bid

    def _marks(self) -> FloatArray:
        marks = np.array([self.mark(s) for s in self.symbols], dtype=np.float64)
        # A position never quoted is valued at its entry price.
        missing = np.isnan(marks)
        marks[missing] = self.avg_price[missing]
        return marks

    # -- account -------------------------------------------------------------------------------------------
    @property
    def cash(self) -> float:
        """Cash balance."""
        return float(self._cash[0])

    def set_cash(self, cash: float) -> None:
        """Replace the cash balance (an owner keeping money per currency keeps this its own currency's)."""
        self._cash[0] = float(cash)

    def holding(self, symbol: str) -> float:
        """Signed quantity held in ``symbol``."""
        s = self._index.get(symbol)
        return 0.0 if s is None else float(self.position[s])

    def equity(self) -> float:
        """Cash plus positions at their marks."""
        return self.cash + float(self.position @ self._marks()) if self.symbols else self.cash

    def gross(self) -> float:
        """Gross exposure: the sum of absolute position values at their marks."""
        return float(np.abs(self.position) @ self._marks()) if self.symbols else 0.0

    def leverage(self) -> float:
        """Gross exposure allowed per unit of equity (1 without margin)."""
        return margin.leverage(self.config.margin)

    # -- orders --------------------------------------------------------------------------------------------
    def submit(self, oid: int, symbol: str, qty: float, order_type: int, tif: int, *, day: int,
               limit: float = math.nan, stop: float = math.nan, trail_amount: float = 0.0,
               trail_percent: float = 0.0, notional: float | None = None,
               partial_ratio: float | None = None, after_close: bool = False, held_by: int | None = None) -> None:
        """Add a working order: ``qty`` is signed (buy > 0); a notional order passes ``qty`` = ±0 and ``notional``.

        ``day`` is the session number (DAY orders expire when it changes). ``partial_ratio`` caps the order's first
        fill at that fraction of its quantity; the rest waits for the next quote of the symbol (an IOC cancels it).
        ``after_close``: the order arrives after the current bar closed (see :meth:`set_bars`), so only that bar's
        close is left for it to trade in this step, and a ``cls`` order joins this bar's close.
        ``held_by``: the order is a leg held until the entry with that key is done (see
        :mod:`execlab._sim.contingent`); it then works for the quantity the entry filled.
        """
        if oid in self._meta or self._contingent.is_held(oid):
            raise ValueError(f"oid {oid} is already used")
        s = self.symbol_index(symbol)
        if held_by is not None:
            self._contingent.hold(held_by, HeldLeg(oid, symbol, 1.0 if qty > 0 else -1.0, order_type, tif, limit,
                                                   stop))
            return
        self._compact()
        w = self._orders
        buy = notional > 0 if notional is not None else qty > 0
        auction = tif == OPG or (tif == CLS and not after_close)
        placeholder = 1.0 if buy else -1.0  # a notional order's quantity is set when it is priced
        # A quote is the whole bar: an order is never "this bar's close only" unless it came after a bar's close.
        r = w.add(oid, s, qty if notional is None else placeholder, order_type, tif, limit=limit, stop=stop,
                  trail_amount=trail_amount, trail_percent=trail_percent, extreme=self.touch(symbol, buy),
                  eligible=_NEVER if auction else self._step, day=day,
                  submit=self._step if after_close else self._step - 1, active=not auction)
        ratio = partial_ratio if partial_ratio is not None and tif != FOK else None
        self._meta[oid] = self._live[oid] = _Meta(r, s, 0.0 if notional is not None else qty, notional, ratio,
                                parked=(w.qty[r] if auction else 0.0))

    def cancel(self, oid: int) -> bool:
        """Stop a working (or held) order; False when it is unknown or no longer working.

        The legs it holds, and the other members of its one-cancels-other group, follow (see
        :mod:`execlab._sim.contingent`): their events come from :meth:`take_events` or the next match.
        """
        held = self._contingent.is_held(oid)
        meta = self._meta.get(oid)
        if not held and (meta is None or meta.done):
            return False
        if meta is not None:
            meta.done = True
            meta.parked = 0.0
            self._live.pop(oid, None)
            self._orders.active[meta.row] = False
        if self._contingent:
            self._queued += self._settle(self._contingent.cancelled(oid, self.filled(oid), self._live),
                                         self._last_day)
        return True

    def link(self, oids: Sequence[int]) -> None:
        """Make the orders ``oids`` (working or held) one one-cancels-other group; stop-type members are matched first
        when a step reaches several of them (see :mod:`execlab._sim.contingent`)."""
        types = {leg.oid: leg.order_type for legs in self._contingent.held.values() for leg in legs}
        for oid in oids:
            if oid not in types:
                types[oid] = int(self._orders.type[self._meta[oid].row])
        self._contingent.link((oid, types[oid] in (STOP, STOP_LIMIT, TRAILING_STOP)) for oid in oids)

    def take_events(self) -> list[EngineEvent]:
        """Events a client cancel caused (legs cancelled or activated with it), not yet reported."""
        out, self._queued = self._queued, []
        return out

    def is_working(self, oid: int) -> bool:
        """True while the order can still fill (a held leg included)."""
        meta = self._meta.get(oid)
        return (meta is not None and not meta.done) or self._contingent.is_held(oid)

    def _settle(self, todo: Settlement, day: int) -> list[EngineEvent]:
        """Apply what the contingent links decided: activate legs (from the next step on), cancel others."""
        events: list[EngineEvent] = []
        w = self._orders
        for oid, why in todo.cancel:
            meta = self._meta.get(oid)
            if meta is not None:
                if meta.done:
                    continue
                meta.done = True
                meta.parked = 0.0
                self._live.pop(oid, None)
                w.active[meta.row] = False
            reason = VenueReason.ONE_CANCELS_OTHER if why == "one_cancels_other" else VenueReason.PARENT_ENDED
            events.append(EngineEvent(oid, CANCELLED, int(reason)))
        for leg, qty in todo.activate:
            symbol = str(leg.symbol)
            s = self.symbol_index(symbol)
            r = w.add(leg.oid, s, leg.sign * qty, leg.order_type, leg.tif, limit=leg.limit, stop=leg.stop,
                      trail_amount=0.0, trail_percent=0.0, extreme=self.touch(symbol, leg.sign > 0),
                      eligible=self._step + 1, day=day, submit=self._step)
            self._meta[leg.oid] = self._live[leg.oid] = _Meta(r, s, leg.sign * qty, None, None)
            events.append(EngineEvent(leg.oid, ACTIVATED, 0))
        return events

    def filled(self, oid: int) -> float:
        """Unsigned quantity filled so far."""
        meta = self._meta.get(oid)
        return 0.0 if meta is None else float(self._orders.filled[meta.row])

    def remaining(self, oid: int) -> float:
        """Unsigned quantity still to fill (for an unpriced notional order: 0)."""
        meta = self._meta.get(oid)
        if meta is None or meta.done:
            return 0.0
        return max(abs(meta.qty) - float(self._orders.filled[meta.row]), 0.0)

    def extreme(self, oid: int) -> float:
        """A trailing stop's watermark (lowest ask for a buy, highest bid for a sell)."""
        meta = self._meta.get(oid)
        return math.nan if meta is None else float(self._orders.extreme[meta.row])

    def _compact(self) -> None:
        w = self._orders
        if not w.worth_compacting(len(self._live)):
            return
        keep = np.zeros(w.n, dtype=np.bool_)
        keep[[m.row for m in self._live.values()]] = True
        new_row = {int(old): new for new, old in enumerate(w.compact(keep))}
        self._meta = {oid: m for oid, m in self._meta.items() if not m.done}
        for m in self._meta.values():
            m.row = new_row[m.row]

    # -- matching ------------------------------------------------------------------------------------------
    def match(self, day: int) -> tuple[list[EngineFill], list[EngineEvent]]:
        """Match every working order against the current quotes; returns fills and orders that left the book."""
        return self._match(day, self._match_quotes)

    def match_bars(self, day: int) -> tuple[list[EngineFill], list[EngineEvent]]:
        """Match every working order against the bars of the current step (:meth:`set_bars`), in submission order,
        with the configured fill price model: the backtest's matching, one step at a time."""
        bars = self._bars
        if bars is None or bars.step != self._step:
            raise ValueError("match_bars: the current market step has no bars; call set_bars first")
        return self._match(day, self._match_bars)

    def _match(self, day: int, run: _Runner) -> tuple[list[EngineFill], list[EngineEvent]]:
        if self._orders.n == 0 or not self._live:
            return [], self.take_events()
        w = self._orders
        # Price notional orders not filled yet; apply first-fill caps.
        capped: dict[int, float] = {}
        for oid, meta in self._live.items():
            if not w.active[meta.row]:
                continue
            r = meta.row
            buy = w.qty[r] > 0
            if meta.notional is not None and w.filled[r] == 0.0:
                px = self.touch(self.symbols[meta.sym], buy)
                if px > 0:
                    shares = math.floor(abs(meta.notional) / px * 1e9) / 1e9
                    meta.qty = shares if buy else -shares
                    w.qty[r] = meta.qty
            if np.isnan(w.extreme[r]) and w.type[r] == TRAILING_STOP:
                w.extreme[r] = self.touch(self.symbols[meta.sym], buy)
            if meta.ratio is not None and meta.qty != 0.0:
                full = float(w.qty[r])
                part = abs(full) * meta.ratio
                part = max(math.floor(part), 1.0) if float(full).is_integer() else math.floor(part * 1e9) / 1e9
                if 0 < part < abs(full):
                    w.qty[r] = math.copysign(part, full)
                    capped[oid] = full
                else:
                    meta.ratio = None  # too small to split
        marks = self._marks()
        equity = self.cash + float(self.position @ marks)
        floor, max_gross = margin.cash_floor(self.config.margin, equity), margin.max_gross(self.config.margin, equity)
        deferred = self._contingent.deferred(self._live) if self._contingent else set()
        if not deferred:
            fills, events = run(marks, day, floor, max_gross)
        else:  # the stop first: the limit legs of a group wait while its stops match
            fills, events = self._run_masked(run, [self._meta[o].row for o in deferred], False, marks, day, floor,
                                             max_gross)
            traded = {f.oid for f in fills}
            second = [self._meta[o].row for o in deferred if not self._contingent.group_filled(o, traded)]
            if second:
                more_fills, more_events = self._run_masked(run, second, True, marks, day, floor, max_gross)
                fills, events = fills + more_fills, events + more_events
        # Release the first-fill caps: a capped order that traded parks its rest for the next quote.
        out_events = [e for e in events if not (e.oid in capped and e.status == FILLED)]
        terminal = {e.oid for e in out_events}
        filled_now = {f.oid for f in fills}
        for oid, full in capped.items():
            meta = self._meta[oid]
            r = meta.row
            if oid in terminal:
                continue
            if oid not in filled_now:
                w.qty[r] = full  # untouched: still working at full size, still capped
                continue
            meta.ratio = None
            rest = math.copysign(max(abs(full) - float(w.filled[r]), 0.0), full)
            w.active[r] = False
            if w.tif[r] == IOC:
                out_events.append(EngineEvent(oid, CANCELLED, int(VenueReason.IOC_REMAINDER)))
            else:
                w.qty[r] = rest
                meta.parked = rest
        for e in out_events:
            ended = self._meta.get(e.oid)
            if ended is not None:
                ended.done = True
                ended.parked = 0.0
                self._live.pop(e.oid, None)
        self._last_day = day
        out_events = self.take_events() + out_events
        if self._contingent:
            out_events += self._settle(self._contingent.settle(
                filled_now, [(e.oid, float(w.filled[self._meta[e.oid].row])) for e in out_events
                             if e.oid in self._meta and e.status != ACTIVATED], self._live), day)
        return fills, out_events

    def _run_masked(self, run: _Runner, rows: list[int], only: bool, marks: FloatArray, day: int, floor: float,
                    max_gross: float) -> tuple[list[EngineFill], list[EngineEvent]]:
        """``run`` with the working orders at ``rows`` left out (``only``: with only those)."""
        act = self._orders.active[: self._orders.n]
        if only:
            chosen = np.zeros(act.shape[0], dtype=np.bool_)
            chosen[rows] = True
            off = act & ~chosen
        else:
            off = np.zeros(act.shape[0], dtype=np.bool_)
            off[rows] = act[rows]
        act[off] = False
        try:
            return run(marks, day, floor, max_gross)
        finally:
            act[off] = True

    def _match_quotes(self, marks: FloatArray, day: int, floor: float,
                      max_gross: float) -> tuple[list[EngineFill], list[EngineEvent]]:
        w = self._orders
        n = w.n
        fills: list[EngineFill] = []
        events: list[EngineEvent] = []
        q = self._quotes
        volume = np.array(q.volume, dtype=np.float64)
        for buy in ((False, True) if self.sells_first else (True, False)):
            side = np.array(q.ask if buy else q.bid, dtype=np.float64)
            last = np.array(q.last, dtype=np.float64)
            touch = np.where(np.isnan(side), last, side)
            act = w.active[:n]
            other = act & ((w.qty[:n] < 0) if buy else (w.qty[:n] > 0))
            act[other] = False
            try:
                fills_now, events_now = self._run_kernel(touch, volume, marks, day, floor, max_gross)
            finally:
                act[other] = True
            fills += fills_now
            events += events_now
        return fills, events

    def _match_bars(self, marks: FloatArray, day: int, floor: float,
                    max_gross: float) -> tuple[list[EngineFill], list[EngineEvent]]:
        bars = self._bars
        assert bars is not None
        market = (bars.open, bars.high, bars.low, bars.close, bars.volume, bars.bid, bars.ask, bars.sigma, bars.adv,
                  marks)
        return self._call_kernel(market, self._costs.rules(self._cap, self.allow_short), day, floor, max_gross)

    def _run_kernel(self, px: FloatArray, volume: FloatArray, marks: FloatArray, day: int, floor: float,
                    max_gross: float) -> tuple[list[EngineFill], list[EngineEvent]]:
        zeros = np.zeros(len(self.symbols))
        rules = self._costs.rules(self._cap, self.allow_short, price_model=kernel.CLOSE,
                                  slip_model=self._quote_slip_model)
        return self._call_kernel((px, px, px, px, volume, px, px, zeros, zeros, marks), rules, day, floor, max_gross)

    def _call_kernel(self, market: kernel.Market, rules: kernel.Rules, day: int, floor: float,
                     max_gross: float) -> tuple[list[EngineFill], list[EngineEvent]]:
        nf, ne, _left, out = kernel.match(self._orders, self._step, day, market,
                                          (self.position, self.avg_price, self._cash, self._vol_used, self._lot),
                                          rules, floor, max_gross)
        f_oid, f_qty, f_price, f_ref, f_fee, f_maker, e_oid, e_status, e_reason = out
        fills = [EngineFill(int(f_oid[k]), float(f_qty[k]), float(f_price[k]), float(f_fee[k]), bool(f_maker[k]),
                            float(f_ref[k])) for k in range(nf)]
        events = [EngineEvent(int(e_oid[k]), int(e_status[k]), int(e_reason[k])) for k in range(ne)
                  if e_status[k] != 2]
        return fills, events
