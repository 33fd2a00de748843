"""The one pipeline every mode runs: plan → risk → OMS → executor, on columns."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from execlab._config import PlanConfig
from execlab._core.arrays import FloatArray
from execlab._core.batches import OrderBatch
from execlab._core.codes import DENIED, SUBMITTED, TIF, TYPE
from execlab._core.instruments import InstrumentArrays
from execlab._core.models import OrderType
from execlab._execution.executor import OrderExecutor
from execlab._oms.book import OrderBook
from execlab._plan.diff import CostEstimate, PlanSettings, plan_orders
from execlab._risk.engine import RiskContext, RiskEngine

__all__ = ["RebalanceOutcome", "Rebalancer"]


@dataclass(frozen=True, slots=True)
class RebalanceOutcome:
    """What one rebalance did: orders planned, denied by risk, and sent."""

    bar: int
    planned: int
    denied: int
    sent: int


class Rebalancer:
    """Turns one row of targets into orders and routes them through an :class:`OrderExecutor`."""

    def __init__(self, executor: OrderExecutor, book: OrderBook, risk: RiskEngine, plan: PlanConfig,
                 rules: InstrumentArrays):
        self.executor = executor
        self.book = book
        self.risk = risk
        self.plan_config = plan
        self.rules = rules
        self.settings = PlanSettings(unit=plan.target_unit, no_trade_band=plan.no_trade_band,
                                     cash_buffer=plan.cash_buffer)
        self._type = TYPE[plan.order_type]
        self._tif = TIF[plan.time_in_force]
        self._is_limit = plan.order_type == OrderType.LIMIT
        self._needs_exposure = risk.config.max_gross_exposure is not None or risk.config.max_net_exposure is not None
        self._day: int | None = None
        self._orders_today = 0

    def _limit_prices(self, seq: npt.NDArray[np.int64], q: FloatArray, px: FloatArray) -> FloatArray:
        off = self.plan_config.limit_offset_bps * 1e-4
        tick = self.rules.tick_size[seq]
        raw = np.where(q > 0, px * (1.0 + off), px * (1.0 - off))
        on_grid = np.where(q > 0, np.ceil(np.round(raw / tick, 6)), np.floor(np.round(raw / tick, 6))) * tick
        out: FloatArray = np.where(tick > 0, on_grid, raw)
        return out

    def sync(self) -> None:
        """Book the fills and state changes the executor reported."""
        fills, events = self.executor.poll()
        if len(fills) or len(events):
            self.book.apply(fills, events)

    def rebalance(self, target: FloatArray, price: FloatArray, cash: float, equity: float, bar: int,
                  tradable: npt.NDArray[np.bool_] | None = None, day: int | None = None,
                  adv: FloatArray | None = None, *, day_start_equity: float = np.nan,
                  timestamp: datetime | None = None) -> RebalanceOutcome:
        """Plan, check, journal and send the orders that move positions to ``target``.

        ``price`` is each symbol's reference (last) price; ``tradable`` marks the symbols that can trade now;
        ``day`` numbers the trading day (for daily order counts and the daily loss limit); ``adv`` is each symbol's
        average daily volume (for the participation check); ``day_start_equity`` is equity when the day began
        (the daily loss is measured from it); ``timestamp`` dates the risk engine's state changes.
        """
        if day is not None and day != self._day:
            self._day, self._orders_today = day, 0
        ex, book = self.executor, self.book
        self.sync()
        if self.plan_config.cancel_open_orders:
            open_ids = book.open_ids()
            if open_ids.size:
                ex.cancel(open_ids)
                self.sync()
                cash, equity = ex.account().cash, ex.account().equity
        position = ex.positions()
        floor = ex.cash_floor()
        settings = self.settings if floor == self.settings.cash_floor else replace(self.settings, cash_floor=floor)
        estimates: list[CostEstimate] = []

        def costs(q: FloatArray) -> CostEstimate:
            estimates.append(ex.cost_estimate(q, price))
            return estimates[-1]

        _, qty, _, seq = plan_orders(target, position, price, cash, equity, self.rules, settings, costs, tradable)
        if seq.size == 0:
            return RebalanceOutcome(bar, 0, 0, 0)
        planned = int(seq.size)
        q = qty[seq]
        px = price[seq]
        nan = np.full(seq.size, np.nan)
        limit = self._limit_prices(seq, q, px) if self._is_limit else nan
        gross = net = float("nan")
        if self._needs_exposure:
            held = position != 0.0  # symbols not listed yet have NaN prices (and no position)
            value = position[held] * price[held]
            gross, net = float(np.abs(value).sum()), float(value.sum())
        reason = self.risk.check(RiskContext(
            seq, q, px, position[seq], equity, limit_price=limit if self._is_limit else None,
            adv=None if adv is None else adv[seq], buying_power=cash - floor if floor is not None else np.inf,
            costs=estimates[-1] if estimates else None, gross_exposure=gross, net_exposure=net,
            orders_today=self._orders_today, day_start_equity=day_start_equity, trading_day=day,
            timestamp=timestamp))
        oids = book.add({"bar": bar, "symbol": seq, "quantity": q, "order_type": self._type,
                         "time_in_force": self._tif, "decision_price": px, "risk_reason": reason,
                         "limit_price": limit})
        ok = reason == 0
        n_ok = int(ok.sum())
        if n_ok < planned:
            book.transition(oids[~ok], DENIED)
        if n_ok:
            sent = oids if n_ok == planned else oids[ok]
            if n_ok < planned:
                seq, q, limit = seq[ok], q[ok], limit[ok]
            batch = OrderBatch(sent, seq, q, np.full(n_ok, self._type, np.int8), np.full(n_ok, self._tif, np.int8),
                               limit, nan[:n_ok], nan[:n_ok], nan[:n_ok], book.ids_of(sent))
            book.transition(sent, SUBMITTED)
            self._orders_today += n_ok
            ex.submit(batch)
            self.sync()
        return RebalanceOutcome(bar, planned, planned - n_ok, n_ok)
