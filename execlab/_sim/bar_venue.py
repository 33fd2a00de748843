"""The simulated venue: working orders, an account, and the matching kernel, bar by bar."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from execlab._config import VenueConfig
from execlab._core.arrays import FloatArray, IntArray
from execlab._core.batches import NO_EVENTS, NO_FILLS, FillBatch, OrderBatch, OrderEvents
from execlab._core.codes import OPG
from execlab._data.bars import MarketData
from execlab._plan.diff import CostEstimate
from execlab._sim import kernel, margin
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
        """Cancel working orders by key; returns the keys that were still working."""
        return self._orders.cancel(oids)

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
            return NO_FILLS, NO_EVENTS
        m, c = self.market, self.costs
        equity = self._margin_equity(i)
        market: kernel.Market = (m.open[i], m.high[i], m.low[i], m.close[i], m.volume[i], c.row(self._bid, i),
                                 c.row(self._ask, i), c.row(c.sigma, i), c.row(c.adv, i), self._mark[i])
        if self._rules[6] != self.allow_short:  # the attribute is public: follow a change
            self._rules = self.costs.rules(self._cap, self.allow_short)
        nf, ne, left, out = kernel.match(w, i, int(self._day[i]), market, self._account, self._rules,
                                         margin.cash_floor(self.config.margin, equity),
                                         margin.max_gross(self.config.margin, equity))
        if left == 0:
            w.clear()
        # The batches are views of the kernel's fresh output buffers, not copies.
        f_oid, f_qty, f_price, f_ref, f_fee, f_maker, e_oid, e_status, e_reason = out
        fills = NO_FILLS if nf == 0 else FillBatch(
            f_oid[:nf], np.full(nf, i, dtype=np.int64), f_qty[:nf], f_price[:nf], f_ref[:nf], f_fee[:nf], f_maker[:nf],
        )
        events = NO_EVENTS if ne == 0 else OrderEvents(e_oid[:ne], e_status[:ne], e_reason[:ne])
        return fills, events
