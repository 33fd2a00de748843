"""The simulated venue: working orders, an account, and the matching kernel, bar by bar."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from execlab._config import VenueConfig
from execlab._core.arrays import FloatArray, IntArray
from execlab._core.batches import (
    NO_EVENTS,
    NO_FILLS,
    FillBatch,
    OrderBatch,
    OrderEvents,
    concat_events,
    concat_fills,
)
from execlab._core.codes import CANCELLED, FILLED, OPG, STOP, STOP_LIMIT, SUBMITTED, TRAILING_STOP, VenueReason
from execlab._data.bars import MarketData
from execlab._plan.diff import CostEstimate
from execlab._sim import kernel, margin
from execlab._sim.contingent import Contingent, HeldLeg, Settlement
from execlab._sim.costs import CostModel
from execlab._sim.valuation import held_value
from execlab._sim.working_orders import WorkingOrders

__all__ = ["SimulatedVenue"]


class SimulatedVenue:
    """Fills orders from bars with the configured price, slippage, fee, participation and cash rules."""

    def __init__(self, market: MarketData, config: VenueConfig, initial_cash: float, lot_size: FloatArray,
                 allow_short: bool = False):
        self.market = market
        self.config = config
        self.costs = CostModel.from_config(config, market)
        n_s = market.close.shape[1]
        self.position = np.zeros(n_s)
        self.avg_price = np.zeros(n_s)
        self._cash = np.array([float(initial_cash)])
        self._lot = np.ascontiguousarray(lot_size, dtype=np.float64)
        self.allow_short = bool(allow_short)
        self._vol_used = np.zeros(n_s)
        self._vol_bar = -1
        self._day = market.trading_days()
        self._delay = (0 if config.fill_price == "close" else 1) + config.latency_bars
        self._bid = market.bid if market.bid is not None else np.full((1, n_s), np.nan)
        self._ask = market.ask if market.ask is not None else np.full((1, n_s), np.nan)
        self._mark = market.last_close()
        self._orders = WorkingOrders()
        self._account: kernel.Account = (self.position, self.avg_price, self._cash, self._vol_used, self._lot)
        self._cap = float(config.participation_cap or 0.0)
        self._rules = self.costs.rules(self._cap, self.allow_short)
        self.bar = 0
        self._contingent = Contingent()
        self._queued: list[OrderEvents] = []

    # -- account -----------------------------------------------------------------------------------------
    @property
    def cash(self) -> float:
        """Cash balance."""
        return float(self._cash[0])

    def mark_prices(self, i: int) -> FloatArray:
        """Last known close of every symbol at bar ``i``."""
        out: FloatArray = self._mark[i]
        return out

    @property
    def trading_days(self) -> npt.NDArray[np.int64]:
        """Trading-day number of every bar (changes when the date changes)."""
        return self._day

    def mark_prices_all(self) -> FloatArray:
        """Last known close per bar and symbol (time × symbol, read-only use)."""
        return self._mark

    def equity(self, i: int) -> float:
        """Cash plus positions at their last known close."""
        return self.cash + held_value(self.position, self._mark[i])

    def cash_floor(self, i: int) -> float:
        """Lowest cash allowed: zero without margin, −(leverage − 1) × equity with it."""
        return margin.cash_floor(self.config.margin, self._margin_equity(i))

    def max_gross(self, i: int) -> float:
        """Largest gross exposure allowed: max_leverage × equity with margin, unbounded without (cash rules)."""
        return margin.max_gross(self.config.margin, self._margin_equity(i))

    def _margin_equity(self, i: int) -> float:
        """Equity as the margin rule needs it (which is not at all without margin)."""
        return self.equity(i) if self.config.margin.enabled else 0.0

    def cost_estimate(self, i: int, qty: FloatArray, price: FloatArray) -> CostEstimate:
        """The venue's own expectation of slippage and fees, for the plan's cash check."""
        spread = None
        if self.market.bid is not None and self.market.ask is not None:
            spread = self.market.ask[i] - self.market.bid[i]
        return self.costs.estimate(i, qty, price, spread)

    @property
    def open_order_count(self) -> int:
        """Orders still working."""
        return self._orders.active_count()

    # -- orders ------------------------------------------------------------------------------------------
    def submit(self, orders: OrderBatch, bar: int) -> None:
        """Accept new working orders at bar ``bar`` (they may fill from ``bar`` + delay on)."""
        m = len(orders.oid)
        if m == 0:
            return
        w = self._orders
        if w.n and not w.active[: w.n].any():
            w.clear()
        elif w.worth_compacting():
            w.compact(w.active[: w.n])
        # An opening-auction order sent at a bar can only join the next bar's open.
        eligible = bar + np.where(orders.time_in_force == OPG, max(self._delay, 1), self._delay)
        w.add(orders.oid, orders.symbol, orders.quantity, orders.order_type, orders.time_in_force,
              limit=orders.limit_price, stop=orders.stop_price, trail_amount=orders.trail_amount,
              trail_percent=orders.trail_percent, extreme=self._mark[bar][orders.symbol], eligible=eligible,
              day=self._day[np.minimum(eligible, self._day.size - 1)], submit=bar, count=m)

    def cancel(self, oids: IntArray) -> IntArray:
        """Cancel working (or held) orders by key; returns the keys that were still working. The legs they hold
        and the other members of their one-cancels-other groups follow: their events come with the next
        :meth:`process`."""
        done = self._orders.cancel(oids)
        if self._contingent:
            held = [int(o) for o in oids if self._contingent.is_held(int(o))]
            for oid in [*done.tolist(), *held]:
                self._queued.append(self._settle(self._contingent.cancelled(oid, self._filled(oid), self._working()),
                                                 self.bar))
            done = np.concatenate([done, np.asarray(held, dtype=np.int64)])
        return done

    def hold(self, parent: int, legs: OrderBatch) -> None:
        """Keep the orders of ``legs`` until the working order ``parent`` is done, then work them for what it filled,
        from the next bar on (a bracket's or OTO's exits; see :mod:`execlab._sim.contingent`)."""
        for k in range(len(legs.oid)):
            self._contingent.hold(parent, HeldLeg(
                int(legs.oid[k]), int(legs.symbol[k]), 1.0 if legs.quantity[k] > 0 else -1.0,
                int(legs.order_type[k]), int(legs.time_in_force[k]), float(legs.limit_price[k]),
                float(legs.stop_price[k])))

    def link(self, oids: IntArray, stop_like: npt.NDArray[np.bool_] | None = None) -> None:
        """Make the orders ``oids`` (working or held) one one-cancels-other group; ``stop_like`` marks the stop-type
        members (matched first when one bar reaches several; default: read from the working orders and held legs)."""
        if stop_like is None:
            types = {leg.oid: leg.order_type for legs in self._contingent.held.values() for leg in legs}
            w = self._orders
            for oid in oids.tolist():
                if oid not in types:
                    types[oid] = int(w.type[: w.n][w.oid[: w.n] == oid][0])
            stop_like = np.array([types[o] in (STOP, STOP_LIMIT, TRAILING_STOP) for o in oids.tolist()])
        self._contingent.link(zip(oids.tolist(), stop_like.tolist(), strict=True))

    def _working(self) -> list[int]:
        return [int(o) for o in self._orders.working_oids()]

    def _filled(self, oid: int) -> float:
        w = self._orders
        rows = np.flatnonzero(w.oid[: w.n] == oid)
        return float(w.filled[rows[-1]]) if rows.size else 0.0

    def _settle(self, todo: Settlement, i: int) -> OrderEvents:
        """Apply the contingent links' decisions: cancel (status cancelled), activate from bar ``i + 1`` (status
        submitted)."""
        oid: list[int] = []
        status: list[int] = []
        reason: list[int] = []
        w = self._orders
        for o, why in todo.cancel:
            w.cancel(np.array([o], dtype=np.int64))
            oid.append(o)
            status.append(CANCELLED)
            sibling = why == "one_cancels_other"
            reason.append(int(VenueReason.ONE_CANCELS_OTHER if sibling else VenueReason.PARENT_ENDED))
        for leg, qty in todo.activate:
            s = int(leg.symbol)
            nxt = i + 1
            w.add(leg.oid, s, leg.sign * qty, leg.order_type, leg.tif, limit=leg.limit, stop=leg.stop,
                  trail_amount=0.0, trail_percent=0.0, extreme=self._mark[min(i, self._mark.shape[0] - 1)][s],
                  eligible=nxt, day=self._day[min(nxt, self._day.size - 1)], submit=i)
            oid.append(leg.oid)
            status.append(SUBMITTED)
            reason.append(0)
        return OrderEvents(np.array(oid, dtype=np.int64), np.array(status, dtype=np.int8),
                           np.array(reason, dtype=np.int8))

    def working_oids(self) -> IntArray:
        """Keys of the orders still working."""
        return self._orders.working_oids()

    def process(self, i: int) -> tuple[FillBatch, OrderEvents]:
        """Match every eligible working order against bar ``i``."""
        self.bar = i
        if self._vol_bar != i:
            self._vol_used[:] = 0.0
            self._vol_bar = i
        w = self._orders
        if w.n == 0:
            return NO_FILLS, self._take_queued()
        m, c = self.market, self.costs
        equity = self._margin_equity(i)
        market: kernel.Market = (m.open[i], m.high[i], m.low[i], m.close[i], m.volume[i], c.row(self._bid, i),
                                 c.row(self._ask, i), c.row(c.sigma, i), c.row(c.adv, i), self._mark[i])
        if self._rules[6] != self.allow_short:  # the attribute is public: follow a change
            self._rules = self.costs.rules(self._cap, self.allow_short)
        floor, max_gross = margin.cash_floor(self.config.margin, equity), margin.max_gross(self.config.margin, equity)
        if not self._contingent and not self._queued:
            nf, ne, left, out = kernel.match(w, i, int(self._day[i]), market, self._account, self._rules, floor,
                                             max_gross)
            if left == 0:
                w.clear()
            # The batches are views of the kernel's fresh output buffers, not copies.
            return self._batches(i, nf, ne, out)
        return self._process_contingent(i, market, floor, max_gross)

    def _batches(self, i: int, nf: int, ne: int, out: kernel.Out) -> tuple[FillBatch, OrderEvents]:
        f_oid, f_qty, f_price, f_ref, f_fee, f_maker, e_oid, e_status, e_reason = out
        fills = NO_FILLS if nf == 0 else FillBatch(
            f_oid[:nf], np.full(nf, i, dtype=np.int64), f_qty[:nf], f_price[:nf], f_ref[:nf], f_fee[:nf], f_maker[:nf],
        )
        events = NO_EVENTS if ne == 0 else OrderEvents(e_oid[:ne], e_status[:ne], e_reason[:ne])
        return fills, events

    def _take_queued(self) -> OrderEvents:
        out, self._queued = self._queued, []
        return concat_events(out)

    def _process_contingent(self, i: int, market: kernel.Market, floor: float,
                            max_gross: float) -> tuple[FillBatch, OrderEvents]:
        """One bar with held legs or one-cancels-other groups: the stops of a group before its limits (the stop
        first), then what the links decide (see :mod:`execlab._sim.contingent`)."""
        w = self._orders
        day = int(self._day[i])
        deferred = self._contingent.deferred(self._working())
        act = w.active[: w.n]
        rows = np.flatnonzero(act & np.isin(w.oid[: w.n], list(deferred)))
        act[rows] = False
        try:
            nf, ne, _left, out = kernel.match(w, i, day, market, self._account, self._rules, floor, max_gross)
        finally:
            act[rows] = True
        fills, events = self._batches(i, nf, ne, out)
        parts_f, parts_e = [fills], [self._take_queued(), events]
        traded = {int(o) for o in fills.oid}
        second = [r for r in rows.tolist() if not self._contingent.group_filled(int(w.oid[r]), traded)]
        if second:
            chosen = np.zeros(w.n, dtype=np.bool_)
            chosen[second] = True
            off = act & ~chosen
            act[off] = False
            try:
                nf, ne, _left, out = kernel.match(w, i, day, market, self._account, self._rules, floor, max_gross)
            finally:
                act[off] = True
            more_f, more_e = self._batches(i, nf, ne, out)
            parts_f.append(more_f)
            parts_e.append(more_e)
        fills, events = concat_fills(parts_f), concat_events(parts_e)
        terminal = events.status >= FILLED  # filled, cancelled, rejected, expired: left the book
        ended = [(int(o), self._filled(int(o))) for o in events.oid[terminal]]
        parts_e.append(self._settle(self._contingent.settle({int(o) for o in fills.oid}, ended, self._working()), i))
        return fills, concat_events(parts_e)
