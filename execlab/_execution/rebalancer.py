"""The one pipeline every mode runs: plan → risk → OMS → executor, on columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from execlab._config import ConfigError, PlanConfig
from execlab._core.arrays import FloatArray
from execlab._core.batches import OrderBatch
from execlab._core.codes import DENIED, SUBMITTED, TIF, TYPE
from execlab._core.instruments import InstrumentArrays
from execlab._core.models import OrderType
from execlab._execution.executor import OrderExecutor
from execlab._oms.book import OrderBook
from execlab._plan.diff import CostEstimate, PlanSettings, plan_orders
from execlab._risk.engine import RiskContext, RiskEngine
from execlab._sim.valuation import exposures

__all__ = ["ParentSink", "RebalanceContext", "RebalanceOutcome", "Rebalancer"]


@dataclass(frozen=True, slots=True)
class RebalanceContext:
    """Everything a rebalance knows about the market and the account besides targets, cash and equity.

    Every driver (backtest, paper, live) fills it from the same estimators. A risk limit that needs an input left
    out here is a :class:`ConfigError` before anything is sent, never a silent denial.
    """

    bar: int
    """The step number (bar index in a backtest, feed event in paper, 0 in live)."""
    price: FloatArray
    """Each symbol's reference (last) price."""
    tradable: npt.NDArray[np.bool_] | None = None
    """Symbols that can trade now (``None``: all)."""
    day: int | None = None
    """Trading-day number (daily order counts, the daily loss limit)."""
    day_start_equity: float = np.nan
    """Equity when the trading day began (the daily loss is measured from it)."""
    adv: FloatArray | None = None
    """Average daily volume per symbol, known before this step (the participation check)."""
    timestamp: datetime | None = None
    """When the rebalance happens (dates the risk engine's state changes)."""
    rate: FloatArray | None = None
    """Per symbol, the home-currency value of one unit of its price currency (a cross ``EUR/GBP``: the GBP rate);
    ``None``: every symbol is priced in the home currency. Cash and equity are in the home currency; the plan sizes
    notionals, checks cash and the risk limits on ``price × rate``, orders keep their prices in the quote currency."""


@dataclass(frozen=True, slots=True)
class RebalanceOutcome:
    """What one rebalance did: orders planned, denied by risk, and sent; per symbol of the universe, the plan's
    target in shares, order quantity and :class:`execlab.PlanReason` code."""

    bar: int
    planned: int
    denied: int
    sent: int
    target_shares: FloatArray | None = None
    order_qty: FloatArray | None = None
    plan_reason: npt.NDArray[np.int64] | None = None


ParentSink = Callable[["npt.NDArray[np.int64]", FloatArray, FloatArray, "npt.NDArray[np.int8]", "RebalanceContext"],
                      "npt.NDArray[np.bool_]"]
"""Takes a rebalance's checked order table (symbol, signed quantity, decision price, risk reason per row) and
returns which rows it works itself as parent orders of an execution algorithm (those are not sent at once)."""


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
        self.parent_sink: ParentSink | None = None
        """Set by an execution algorithm's worker (``execution.algo`` other than ``none``); ``None`` sends every
        order at once."""

    def count_sent(self, n: int) -> None:
        """Count ``n`` orders sent outside :meth:`rebalance` (child orders) toward today's order count."""
        self._orders_today += int(n)

    @property
    def orders_today(self) -> int:
        """Orders sent on the current trading day."""
        return self._orders_today

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

    def check_context(self, ctx: RebalanceContext) -> None:
        """Raise :class:`ConfigError` naming the risk limit whose input ``ctx`` lacks."""
        cfg = self.risk.config
        if cfg.max_adv_pct is not None and ctx.adv is None:
            raise ConfigError("risk.max_adv_pct: this rebalance has no average daily volume; give the bar history "
                              "(bars=, --bars) or remove the limit")
        if cfg.daily_loss_limit is not None and (ctx.day is None or not np.isfinite(ctx.day_start_equity)):
            raise ConfigError("risk.daily_loss_limit: this rebalance does not know the equity at the start of the "
                              "trading day (the broker reports none and no earlier rebalance of the day was "
                              "journaled); remove the limit or use a broker that reports it")
        if cfg.max_daily_orders is not None and ctx.day is None:
            raise ConfigError("risk.max_daily_orders: this rebalance has no trading day")

    def enter_day(self, day: int | None) -> None:
        """Start counting today's orders afresh when ``day`` (a trading-day number) is a new day."""
        if day is not None and day != self._day:
            self._day, self._orders_today = day, 0

    def resume_day(self, day: int, orders_today: int) -> None:
        """Count ``orders_today`` orders already sent on trading day ``day`` (a live run's earlier rebalances)."""
        self._day, self._orders_today = day, int(orders_today)

    def rebalance(self, target: FloatArray, ctx: RebalanceContext, cash: float, equity: float) -> RebalanceOutcome:
        """Plan, check, journal and send the orders that move positions to ``target`` (see
        :class:`RebalanceContext` for what else the rebalance knows)."""
        self.check_context(ctx)
        bar, price, tradable, day, adv = ctx.bar, ctx.price, ctx.tradable, ctx.day, ctx.adv
        day_start_equity, timestamp = ctx.day_start_equity, ctx.timestamp
        self.enter_day(day)
        ex, book = self.executor, self.book
        self.sync()
        rate = ctx.rate
        if self.plan_config.cancel_open_orders:
            open_ids = book.open_ids()
            if open_ids.size:
                before = ex.account() if rate is not None else None
                ex.cancel(open_ids)
                self.sync()
                if before is None:
                    cash, equity = ex.account().cash, ex.account().equity
                else:  # cash and equity given in the home currency: move them by what the cancel changed
                    after = ex.account()
                    cash, equity = cash + (after.cash - before.cash), equity + (after.equity - before.equity)
        value = price if rate is None else price * rate  # one unit's worth in the home currency
        position = ex.positions()
        floor = ex.cash_floor()
        settings = self.settings if floor == self.settings.cash_floor else replace(self.settings, cash_floor=floor)
        estimates: list[CostEstimate] = []

        def costs(q: FloatArray) -> CostEstimate:
            estimates.append(ex.cost_estimate(q, price))
            return estimates[-1]

        shares, qty, plan_reason, seq = plan_orders(target, position, value, cash, equity, self.rules, settings,
                                                    costs, tradable)
        if seq.size == 0:
            return RebalanceOutcome(bar, 0, 0, 0, shares, qty, plan_reason)
        planned = int(seq.size)
        q = qty[seq]
        px = price[seq]
        nan = np.full(seq.size, np.nan)
        limit = self._limit_prices(seq, q, px) if self._is_limit else nan
        gross = net = float("nan")
        if self._needs_exposure:
            gross, net = exposures(position, value)  # symbols not listed yet have NaN prices (and no position)
        px_home, limit_home = (px, limit) if rate is None else (value[seq], limit * rate[seq])
        reason = self.risk.check(RiskContext(
            seq, q, px_home, position[seq], equity, limit_price=limit_home if self._is_limit else None,
            adv=None if adv is None else adv[seq], buying_power=cash - floor if floor is not None else np.inf,
            costs=estimates[-1] if estimates else None, gross_exposure=gross, net_exposure=net,
            orders_today=self._orders_today, day_start_equity=day_start_equity, trading_day=day,
            timestamp=timestamp))
        if self.parent_sink is not None:
            worked = self.parent_sink(seq, q, px, reason, ctx) & (reason == 0)
            if worked.any():
                rest = ~worked
                n_rest = int(rest.sum())
                if n_rest == 0:
                    return RebalanceOutcome(bar, planned, 0, 0, shares, qty, plan_reason)
                seq, q, px, limit, reason = seq[rest], q[rest], px[rest], limit[rest], reason[rest]
                out = self._book_and_send(bar, seq, q, px, limit, reason, n_rest, nan[:n_rest])
                return RebalanceOutcome(bar, planned, out.denied, out.sent, shares, qty, plan_reason)
        out = self._book_and_send(bar, seq, q, px, limit, reason, planned, nan)
        return RebalanceOutcome(bar, planned, out.denied, out.sent, shares, qty, plan_reason)

    def _book_and_send(self, bar: int, seq: npt.NDArray[np.int64], q: FloatArray, px: FloatArray, limit: FloatArray,
                       reason: npt.NDArray[np.int8], planned: int, nan: FloatArray) -> RebalanceOutcome:
        """Book checked orders, mark the denied ones and send the rest."""
        ex, book = self.executor, self.book
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
