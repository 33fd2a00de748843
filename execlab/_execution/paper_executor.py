"""Paper trading on the local simulated venue: the backtest's matching kernel driven by a clock and a price feed.

:class:`PaperExecutor` is an :class:`OrderExecutor` whose market moves only when a feed event arrives
(:meth:`PaperExecutor.on_event`). :func:`run_paper` is the paper twin of :func:`execlab.run_backtest`: the same
targets, the same plan → risk → OMS → executor steps
(:class:`execlab._execution.rebalancer.Rebalancer`), the same result tables, with an optional SQLite journal
that a dashboard can read while the run goes on.

How a feed event becomes a market step:

- **Bars** (``venue.fill_price`` ``close``, ``next_open`` or ``vwap``): each event is one bar per symbol and is
  matched by the kernel exactly as the backtest matches a bar (the configured fill price, open/high/low/close for
  limits and stops, σ and ADV from earlier bars for square-root impact). An order sent at a bar's close fills from
  the next bar on (``next_open``, ``vwap``) or at that close (``close``), as in the backtest.
- **Quotes** (``venue.fill_price: quote``, or an event without OHLC): buys trade at the ask, sells at the bid (the
  last trade stands in for an empty side), limits rest until the touch reaches them, the participation cap takes a
  fraction of the volume printed since the previous event. A symbol without a new quote keeps its standing quote
  with no new volume.
- **Latency**: ``venue.latency_bars`` counts feed events. An order reaches the venue that many events after it was
  sent (plus one for ``next_open``/``vwap`` bars, as in the backtest); ``latency_seconds`` adds a wall-time delay
  measured on the feed's clock.

Sells are matched before buys within a step, so a rebalance's sells pay for its buys (the plan sequences them so).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from execlab._config import VenueConfig
from execlab._core.arrays import FloatArray, IntArray
from execlab._core.batches import FillBatch, OrderBatch, OrderEvents, concat_events, concat_fills
from execlab._core.codes import CANCELLED, OPG, PARTIALLY_FILLED, VenueReason
from execlab._core.models import AccountSnapshot
from execlab._data.feeds import FeedError, FeedEvent
from execlab._execution.executor import OrderExecutor
from execlab._oms.events import EventKind
from execlab._oms.journal import Journal, JournalFill
from execlab._plan.diff import CostEstimate
from execlab._sim import margin
from execlab._sim.costs import CostModel
from execlab._sim.estimators import ADV_RISK_WINDOW, RollingStats
from execlab._sim.quote_venue import EngineEvent, EngineFill, QuoteVenue

__all__ = ["PaperExecutor"]


@dataclass(slots=True)
class _Queued:
    """An order on its way to the venue (latency)."""

    due_step: int
    due_time: pd.Timestamp | None
    oid: int
    sym: int
    qty: float
    order_type: int
    tif: int
    limit: float
    stop: float
    trail_amount: float
    trail_percent: float


class PaperExecutor(OrderExecutor):
    """The simulated venue stepped by a price feed: :meth:`on_event` moves its clock and matches working orders.

    ``symbols`` is the universe that order and position columns refer to; feed symbols outside it are ignored.
    With a ``journal``, every order sent gets a ``request`` event carrying its arrival price (the mid, or the last
    price when one side is empty, when the order was sent) and every fill is journaled before the OMS sees it.
    """

    def __init__(self, symbols: Sequence[str], venue: VenueConfig | None = None, initial_cash: float = 1_000_000.0,
                 lot_size: FloatArray | None = None, allow_short: bool = False, *, journal: Journal | None = None,
                 run_id: str = "run", latency_seconds: float = 0.0):
        self._symbols = tuple(str(s) for s in symbols)
        if len(set(self._symbols)) != len(self._symbols):
            raise ValueError("PaperExecutor: symbols must be unique")
        if not (latency_seconds >= 0 and math.isfinite(latency_seconds)):
            raise ValueError(f"latency_seconds must be >= 0, got {latency_seconds!r}")
        self.config = venue or VenueConfig()
        n = len(self._symbols)
        lots = np.zeros(n) if lot_size is None else np.asarray(lot_size, dtype=np.float64)
        self.venue = QuoteVenue(self.config, initial_cash, allow_short, sells_first=True)
        for sym, lot in zip(self._symbols, lots.tolist(), strict=True):
            self.venue.symbol_index(sym)
            self.venue.set_lot_size(sym, lot)
        self._index = {s: i for i, s in enumerate(self._symbols)}
        self.journal = journal
        self.run_id = run_id
        self.latency_seconds = float(latency_seconds)
        self.step = -1
        """Number of the current feed event (-1 before the first)."""
        self.timestamp: pd.Timestamp | None = None
        """Time of the current feed event: the paper clock."""
        self.day = 0
        self._day0: date | None = None
        self._quote_mode = self.config.fill_price == "quote"
        self._bar_step = False
        self._bar_delay = (0 if self.config.fill_price == "close" else 1) + self.config.latency_bars
        self.marks = np.full(n, np.nan)
        """Valuation and decision price per symbol: the last close (bars) or the mid, else last (quotes)."""
        self.tradable = np.zeros(n, dtype=np.bool_)
        """Symbols with a price in the current event."""
        self.bid = np.full(n, np.nan)
        self.ask = np.full(n, np.nan)
        self.last_bar: dict[str, FloatArray] = {}
        """The current event's open, high, low, close and volume per universe symbol (NaN: none)."""
        self._queue: list[_Queued] = []
        self._fills: list[FillBatch] = []
        self._events: list[OrderEvents] = []
        self._arrival: dict[int, float] = {}
        self._coid: dict[int, str] = {}
        self._sym_of: dict[int, int] = {}
        self._fill_seq: dict[int, int] = {}
        slip = self.config.slippage
        self._needs_impact = slip.model == "sqrt_impact"
        self._stats = RollingStats(n, slip.volatility_window, (slip.adv_window, ADV_RISK_WINDOW))
        self.adv = np.full(n, np.nan)
        """Mean volume of the 20 events before the current one, per symbol (for ``risk.max_adv_pct``)."""
        self._costs = CostModel.from_venue(self.config, np.zeros((1, n)), np.zeros((1, n)))
        self._sigma = self._costs.sigma  # σ and ADV known before the current event: rewritten at each event
        self._adv_impact = self._costs.adv

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    # -- the clock -----------------------------------------------------------------------------------------
    def on_event(self, event: FeedEvent) -> None:
        """Advance the clock to ``event``: orders whose latency has passed reach the venue, then everything working
        is matched against the new bars or quotes."""
        ts = event.timestamp
        if self.timestamp is not None:
            try:
                backwards = ts < self.timestamp
            except TypeError:
                raise FeedError(f"feed: event at {ts} mixes time-zone-aware and naive timestamps with "
                                f"{self.timestamp}") from None
            if backwards:
                raise FeedError(f"feed: time went backwards, event at {ts} after {self.timestamp}")
        if self._day0 is None:
            self._day0 = ts.date()
        self.step += 1
        self.timestamp = ts
        self.day = (ts.date() - self._day0).days  # calendar days in the feed's time zone (DST nights included)
        n = len(self._symbols)
        idx = np.fromiter((self._index.get(s, -1) for s in event.symbols), dtype=np.int64, count=len(event))
        keep = idx >= 0
        sel = idx[keep]

        def spread(values: FloatArray | None, fill: float) -> FloatArray:
            out = np.full(n, fill)
            if values is not None:
                out[sel] = values[keep]
            return out

        close = spread(event.close, np.nan)
        volume = spread(event.volume, 0.0)
        bid, ask = spread(event.bid, np.nan), spread(event.ask, np.nan)
        self._bar_step = bar = event.is_bar and not self._quote_mode
        if self._needs_impact:  # known before this event
            self._sigma[0] = self._stats.sigma()
            self._adv_impact[0] = self._stats.adv(self.config.slippage.adv_window)
        self.adv = self._stats.adv(ADV_RISK_WINDOW)
        self._release()
        syms = self._symbols
        present = sel.tolist()
        if bar:
            o, h, lo = spread(event.open, np.nan), spread(event.high, np.nan), spread(event.low, np.nan)
            self.last_bar = {"open": o, "high": h, "low": lo, "close": close, "volume": volume}
            rows = [(syms[s], float(o[s]), float(h[s]), float(lo[s]), float(close[s]), float(volume[s]))
                    for s in present]
            quotes = None if event.bid is None and event.ask is None else {
                syms[s]: (float(bid[s]), float(ask[s])) for s in present}
            impact = {syms[s]: (float(self._sigma[0, s]), float(self._adv_impact[0, s])) for s in present} \
                if self._needs_impact else None
            self.venue.set_bars(rows, quotes=quotes, impact=impact)
            fills, events = self.venue.match_bars(self.day)
            self.bid, self.ask = bid, ask
            np.copyto(self.marks, close, where=~np.isnan(close))
            self.tradable = ~np.isnan(close)
        else:
            self.bid = np.where(np.isnan(bid), self.bid, bid)
            self.ask = np.where(np.isnan(ask), self.ask, ask)
            last = np.where(np.isnan(close), self.venue_last(), close)
            rows_q = [(syms[s], float(self.bid[s]), float(self.ask[s]), float(last[s]), float(volume[s]))
                      for s in range(n) if not (math.isnan(self.bid[s]) and math.isnan(self.ask[s])
                                                 and math.isnan(last[s]))]
            self.venue.set_quotes(rows_q)
            fills, events = self.venue.match(self.day)
            both = ~(np.isnan(self.bid) | np.isnan(self.ask))
            mid = np.where(both, 0.5 * (self.bid + self.ask), np.where(np.isnan(last), np.fmax(self.bid, self.ask),
                                                                       last))
            self.marks = np.where(np.isnan(mid), self.marks, mid)
            self.tradable = np.zeros(n, dtype=np.bool_)
            self.tradable[sel] = True
            quoted = np.where(self.tradable, self.marks, np.nan)
            self.last_bar = {"open": quoted, "high": quoted, "low": quoted, "close": quoted, "volume": volume}
        self._stats.update(self.marks, volume)
        self._collect(fills, events)

    def venue_last(self) -> FloatArray:
        """The venue's last trade price per symbol (NaN where none was seen)."""
        out = np.full(len(self._symbols), np.nan)
        for s, sym in enumerate(self._symbols):
            quote = self.venue.quote(sym)
            if quote is not None:
                out[s] = quote[2]
        return out

    def _release(self) -> None:
        if not self._queue:
            return
        ts = self.timestamp
        assert ts is not None
        keep: list[_Queued] = []
        for q in self._queue:
            if q.due_step <= self.step and (q.due_time is None or q.due_time <= ts):
                self._to_venue(q, after_close=False)
            else:
                keep.append(q)
        self._queue = keep

    def _to_venue(self, q: _Queued, after_close: bool) -> None:
        self.venue.submit(q.oid, self._symbols[q.sym], q.qty, q.order_type, q.tif, day=self.day, limit=q.limit,
                          stop=q.stop, trail_amount=q.trail_amount, trail_percent=q.trail_percent,
                          after_close=after_close)

    def _collect(self, fills: list[EngineFill], events: list[EngineEvent]) -> None:
        if fills:
            batch = FillBatch(
                np.array([f.oid for f in fills], dtype=np.int64), np.full(len(fills), self.step, dtype=np.int64),
                np.array([f.qty for f in fills]), np.array([f.price for f in fills]),
                np.array([f.reference for f in fills]), np.array([f.fee for f in fills]),
                np.array([f.maker for f in fills], dtype=np.bool_))
            self._journal_fills(fills)
            self._fills.append(batch)
        ended = {e.oid for e in events}
        partial = list(dict.fromkeys(f.oid for f in fills if f.oid not in ended))
        if partial or events:
            oids = partial + [e.oid for e in events]
            status = [PARTIALLY_FILLED] * len(partial) + [e.status for e in events]
            reason = [0] * len(partial) + [e.reason for e in events]
            self._events.append(OrderEvents(np.array(oids, dtype=np.int64), np.array(status, dtype=np.int8),
                                            np.array(reason, dtype=np.int8)))

    def _journal_fills(self, fills: list[EngineFill]) -> None:
        if self.journal is None:
            return
        at = self.timestamp.isoformat() if self.timestamp is not None else ""
        rows = []
        for f in fills:
            coid = self._coid.get(f.oid)
            if coid is None:
                continue
            seq = self._fill_seq.get(f.oid, 0) + 1
            self._fill_seq[f.oid] = seq
            rows.append(JournalFill(f"{coid}:{seq}", coid, self._symbols[self._sym_of[f.oid]],
                                    "buy" if f.qty > 0 else "sell", abs(f.qty), f.price, f.fee, at))
        if rows:
            self.journal.record_fills(self.run_id, rows)

    # -- orders --------------------------------------------------------------------------------------------
    def arrival_price(self, oid: int) -> float:
        """Mid (or last price when a side is empty) of the order's symbol when it was sent; NaN if never sent."""
        return self._arrival.get(int(oid), math.nan)

    def submit(self, orders: OrderBatch) -> None:
        if self.step < 0 or self.timestamp is None:
            raise RuntimeError("PaperExecutor: no market yet; feed an event (on_event) before sending orders")
        m = len(orders)
        if m == 0:
            return
        sym = orders.symbol
        both = ~(np.isnan(self.bid[sym]) | np.isnan(self.ask[sym]))
        arrival = np.where(both, 0.5 * (self.bid[sym] + self.ask[sym]), self.marks[sym])
        delay = self._bar_delay if self._bar_step else self.config.latency_bars
        due_time = self.timestamp + pd.Timedelta(seconds=self.latency_seconds) if self.latency_seconds else None
        coids = orders.client_order_ids
        if self.journal is not None and coids is not None:  # journaled before the venue sees anything
            at = self.timestamp.isoformat()
            self.journal.record_many(self.run_id, [
                (EventKind.REQUEST, coids[k], None, {
                    "op": "submit", "venue": "sim", "at": at, "symbol": self._symbols[int(sym[k])],
                    "side": "buy" if orders.quantity[k] > 0 else "sell", "quantity": abs(float(orders.quantity[k])),
                    "arrival_price": None if math.isnan(arrival[k]) else float(arrival[k])})
                for k in range(m)])
        direct = False
        for k in range(m):
            oid = int(orders.oid[k])
            self._arrival[oid] = float(arrival[k])
            self._sym_of[oid] = int(sym[k])
            if coids is not None:
                self._coid[oid] = coids[k]
            tif = int(orders.time_in_force[k])
            wait = max(delay, 1) if tif == OPG and self._bar_step else delay
            q = _Queued(self.step + wait, due_time, oid, int(sym[k]), float(orders.quantity[k]),
                        int(orders.order_type[k]), tif, float(orders.limit_price[k]), float(orders.stop_price[k]),
                        float(orders.trail_amount[k]), float(orders.trail_percent[k]))
            if wait == 0 and due_time is None:
                self._to_venue(q, after_close=self._bar_step)
                direct = True
            else:
                self._queue.append(q)
        if direct:
            fills, events = self.venue.match_bars(self.day) if self._bar_step else self.venue.match(self.day)
            self._collect(fills, events)

    def cancel(self, oids: IntArray) -> None:
        wanted = {int(o) for o in oids}
        done = [q.oid for q in self._queue if q.oid in wanted]
        if done:
            self._queue = [q for q in self._queue if q.oid not in wanted]
        done += [o for o in wanted - set(done) if self.venue.cancel(o)]
        if not done:
            return
        done.sort()
        if self.journal is not None:
            self.journal.record_many(self.run_id, [(EventKind.REQUEST, self._coid[o], None, {"op": "cancel"})
                                                   for o in done if o in self._coid])
        self._events.append(OrderEvents(np.array(done, dtype=np.int64), np.full(len(done), CANCELLED, np.int8),
                                        np.full(len(done), VenueReason.CANCELLED_BY_CLIENT, np.int8)))

    def order_status(self, oids: IntArray) -> OrderEvents:
        queued = {q.oid for q in self._queue}
        working = np.array([int(o) in queued or self.venue.is_working(int(o)) for o in oids], dtype=np.bool_)
        return OrderEvents(np.asarray(oids, np.int64), np.where(working, 1, -1).astype(np.int8),
                           np.zeros(len(oids), np.int8))

    def poll(self) -> tuple[FillBatch, OrderEvents]:
        fills, events = self._fills, self._events
        self._fills, self._events = [], []
        return concat_fills(fills), concat_events(events)

    # -- account -------------------------------------------------------------------------------------------
    def positions(self) -> FloatArray:
        return self.venue.position

    def cash(self) -> float:
        """Cash now."""
        return self.venue.cash

    def equity(self) -> float:
        """Cash plus positions at their marks (a position never priced at its entry price)."""
        pos = self.venue.position
        held = pos != 0.0
        if not held.any():
            return self.venue.cash
        marks = np.where(np.isnan(self.marks), self.venue.avg_price, self.marks)
        return self.venue.cash + float(pos[held] @ marks[held])

    def account(self) -> AccountSnapshot:
        floor = self.cash_floor()
        when: datetime | None = None if self.timestamp is None else self.timestamp.to_pydatetime()
        return AccountSnapshot(timestamp=when, cash=self.venue.cash, equity=self.equity(),
                               buying_power=self.venue.cash - floor)

    def cash_floor(self) -> float:
        rule = self.config.margin
        return margin.cash_floor(rule, self.equity() if rule.enabled else 0.0)

    def cost_estimate(self, quantity: FloatArray, price: FloatArray) -> CostEstimate:
        quoted = ~(np.isnan(self.bid) | np.isnan(self.ask))
        spread = np.where(quoted, self.ask - self.bid, 0.0) if quoted.any() else None
        return self._costs.estimate(0, quantity, price, spread)
