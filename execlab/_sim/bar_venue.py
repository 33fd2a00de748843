"""The simulated venue: working orders, an account, and the matching kernel, bar by bar."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from execlab._config import VenueConfig
from execlab._core.arrays import FloatArray, IntArray
from execlab._core.batches import NO_EVENTS, NO_FILLS, FillBatch, OrderBatch, OrderEvents
from execlab._core.codes import OPG
from execlab._data.bars import MarketData
from execlab._plan.diff import CostEstimate
from execlab._sim.costs import CostModel
from execlab._sim.kernel import match_bar

__all__ = ["SimulatedVenue"]


_WORK_FIELDS: dict[str, type] = {
    "oid": np.int64, "sym": np.int64, "qty": np.float64, "type": np.int8, "tif": np.int8,
    "limit": np.float64, "stop": np.float64, "trail_amt": np.float64, "trail_pct": np.float64,
    "extreme": np.float64, "triggered": np.bool_, "eligible": np.int64, "day": np.int64,
    "submit": np.int64, "filled": np.float64, "active": np.bool_,
}


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
        dates = market.timestamps.normalize()
        self._day = np.asarray((dates - dates[0]) // pd.Timedelta(days=1), dtype=np.int64)
        self._delay = (0 if config.fill_price == "close" else 1) + config.latency_bars
        self._bid = market.bid if market.bid is not None else np.full((1, n_s), np.nan)
        self._ask = market.ask if market.ask is not None else np.full((1, n_s), np.nan)
        self._mark = market.last_close()
        self._cap = float(config.participation_cap or 0.0)
        self._n = 0
        self._w: dict[str, np.ndarray] = {k: np.zeros(64, dtype=t) for k, t in _WORK_FIELDS.items()}
        self._f: dict[str, np.ndarray] = {}
        self._e: dict[str, np.ndarray] = {}
        self._grow_outputs(256)
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
        held = self.position != 0.0
        return self.cash + float(self.position[held] @ self._mark[i][held]) if held.any() else self.cash

    def cash_floor(self, i: int) -> float:
        """Lowest cash allowed: zero without margin, −(leverage − 1) × equity with it."""
        margin = self.config.margin
        return -(margin.max_leverage - 1.0) * max(self.equity(i), 0.0) if margin.enabled else 0.0

    def max_gross(self, i: int) -> float:
        """Largest gross exposure allowed: max_leverage × equity with margin, unbounded without (cash rules)."""
        margin = self.config.margin
        return margin.max_leverage * max(self.equity(i), 0.0) if margin.enabled else float("inf")

    def cost_estimate(self, i: int, qty: FloatArray, price: FloatArray) -> CostEstimate:
        """The venue's own expectation of slippage and fees, for the plan's cash check."""
        spread = None
        if self.market.bid is not None and self.market.ask is not None:
            spread = self.market.ask[i] - self.market.bid[i]
        return self.costs.estimate(i, qty, price, spread)

    @property
    def open_order_count(self) -> int:
        """Orders still working."""
        return int(self._w["active"][: self._n].sum())

    # -- orders ------------------------------------------------------------------------------------------
    def _grow_outputs(self, size: int) -> None:
        self._f = {"oid": np.empty(size, np.int64), "qty": np.empty(size), "price": np.empty(size),
                   "ref": np.empty(size), "fee": np.empty(size), "maker": np.empty(size, np.bool_)}
        self._e = {"oid": np.empty(size, np.int64), "status": np.empty(size, np.int8),
                   "reason": np.empty(size, np.int8)}

    def submit(self, orders: OrderBatch, bar: int) -> None:
        """Accept new working orders at bar ``bar`` (they may fill from ``bar`` + delay on)."""
        m = len(orders.oid)
        if m == 0:
            return
        w = self._w
        if self._n and not w["active"][: self._n].any():
            self._n = 0
        elif self._n > 4096 and w["active"][: self._n].mean() < 0.5:
            keep = np.flatnonzero(w["active"][: self._n])
            for arr in w.values():
                arr[: keep.size] = arr[keep]
            self._n = keep.size
        need = self._n + m
        if need > w["oid"].size:
            size = max(need, 2 * w["oid"].size)
            for key, arr in w.items():
                grown = np.zeros(size, dtype=arr.dtype)
                grown[: self._n] = arr[: self._n]
                w[key] = grown
        sl = slice(self._n, need)
        w["oid"][sl] = orders.oid
        w["sym"][sl] = orders.symbol
        w["qty"][sl] = orders.quantity
        w["type"][sl] = orders.order_type
        w["tif"][sl] = orders.time_in_force
        w["limit"][sl] = orders.limit_price
        w["stop"][sl] = orders.stop_price
        w["trail_amt"][sl] = orders.trail_amount
        w["trail_pct"][sl] = orders.trail_percent
        w["extreme"][sl] = self._mark[bar][orders.symbol]
        w["triggered"][sl] = False
        # An opening-auction order sent at a bar can only join the next bar's open.
        eligible = bar + np.where(orders.time_in_force == OPG, max(self._delay, 1), self._delay)
        w["eligible"][sl] = eligible
        w["day"][sl] = self._day[np.minimum(eligible, self._day.size - 1)]
        w["submit"][sl] = bar
        w["filled"][sl] = 0.0
        w["active"][sl] = True
        self._n = need

    def cancel(self, oids: IntArray) -> IntArray:
        """Cancel working orders by key; returns the keys that were still working."""
        act = self._w["active"][: self._n]
        hit = act & np.isin(self._w["oid"][: self._n], oids)
        act[hit] = False
        out: IntArray = self._w["oid"][: self._n][hit].copy()
        return out

    def working_oids(self) -> IntArray:
        """Keys of the orders still working."""
        out: IntArray = self._w["oid"][: self._n][self._w["active"][: self._n]].copy()
        return out

    def process(self, i: int) -> tuple[FillBatch, OrderEvents]:
        """Match every eligible working order against bar ``i``."""
        self.bar = i
        if self._vol_bar != i:
            self._vol_used[:] = 0.0
            self._vol_bar = i
        if self._n == 0:
            return NO_FILLS, NO_EVENTS
        self._grow_outputs(self._n)  # fresh buffers: the batches returned below are views of them, not copies
        m, w, f, e, c = self.market, self._w, self._f, self._e, self.costs
        nf, ne, left = match_bar(
            i, self._day[i], self._n,
            w["oid"], w["sym"], w["qty"], w["type"], w["tif"], w["limit"], w["stop"], w["trail_amt"],
            w["trail_pct"], w["extreme"], w["triggered"], w["eligible"], w["day"], w["submit"], w["filled"],
            w["active"],
            m.open[i], m.high[i], m.low[i], m.close[i], m.volume[i],
            c.row(self._bid, i), c.row(self._ask, i), c.row(c.sigma, i), c.row(c.adv, i),
            self.position, self.avg_price, self._cash, self._vol_used, self._lot,
            c.price_model, c.slip_model, c.slip_params, c.fee_model, c.fee_params,
            self._cap, self.cash_floor(i), self.allow_short, self.max_gross(i), self._mark[i],
            f["oid"], f["qty"], f["price"], f["ref"], f["fee"], f["maker"],
            e["oid"], e["status"], e["reason"],
        )
        if left == 0:
            self._n = 0
        fills = NO_FILLS if nf == 0 else FillBatch(
            f["oid"][:nf], np.full(nf, i, dtype=np.int64), f["qty"][:nf], f["price"][:nf], f["ref"][:nf],
            f["fee"][:nf], f["maker"][:nf],
        )
        events = NO_EVENTS if ne == 0 else OrderEvents(
            e["oid"][:ne], e["status"][:ne], e["reason"][:ne]
        )
        return fills, events

