"""One rebalance against a broker (paper or live), safe to re-run: it resumes from the journal.

The first run of an ``(run_id, as_of)`` plans, checks risk and journals every intent in one transaction before
sending anything. A re-run — after a crash, a papermill retry or a cell run twice — finds those intents and only
finishes them: each order still working is looked up at the broker by its client order id and sent only if the
broker has never seen it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.kill_switch import journaled_halt
from execlab._brokers.reconcile import ReconcileReport, reconcile
from execlab._config import Config
from execlab._core.instruments import InstrumentTable
from execlab._core.models import Order, OrderStatus, OrderType, Side, TimeInForce
from execlab._data.targets import TargetError
from execlab._execution.rebalancer import Rebalancer
from execlab._oms.book import BookJournal, OrderBook
from execlab._oms.events import EventKind
from execlab._oms.journal import Journal
from execlab._plan.planner import symbol_series
from execlab._risk.engine import RiskEngine

__all__ = ["LiveRebalance", "TradingHaltedError", "run_live_rebalance"]

_WORKING = (OrderStatus.PENDING.value, OrderStatus.SUBMITTED.value, OrderStatus.PARTIALLY_FILLED.value)


class TradingHaltedError(RuntimeError):
    """The kill switch, reconciliation or risk halted trading; nothing was sent."""


@dataclass(frozen=True)
class LiveRebalance:
    """What one (possibly resumed) rebalance did."""

    orders: pd.DataFrame
    reconciliation: ReconcileReport
    resumed: bool
    complete: bool
    """True when no order is left working."""


def run_live_rebalance(
    targets: Mapping[str, float] | pd.Series,
    prices: Mapping[str, float] | pd.Series,
    config: Config,
    executor: BrokerExecutor,
    journal: Journal,
    as_of: str,
    instruments: InstrumentTable | None = None,
    timeout: float = 60.0,
) -> LiveRebalance:
    """Move the broker account to ``targets`` (in ``config.plan.target_unit``) for the rebalance ``as_of``.

    Only the symbols in ``targets`` are traded: a holding not listed is left alone (give it 0 to sell it).
    While the journal holds a kill-switch halt for the run, nothing is done: :class:`TradingHaltedError`.
    Fills arrive by the broker's order-update stream while the rebalance runs (polling when there is none); the
    stream is stopped on return.
    """
    try:
        return _rebalance(targets, prices, config, executor, journal, as_of, instruments, timeout)
    finally:
        executor.stop_stream()


def _rebalance(targets: Mapping[str, float] | pd.Series, prices: Mapping[str, float] | pd.Series, config: Config,
               executor: BrokerExecutor, journal: Journal, as_of: str, instruments: InstrumentTable | None,
               timeout: float) -> LiveRebalance:
    run_id = config.run_id
    journal.record_run(run_id, config.mode, config.broker.name, config.strategy_id)
    halt = journaled_halt(journal, run_id)
    if halt is not None:
        raise TradingHaltedError(f"trading is halted by the kill switch ({halt.reason}, at {halt.at}); nothing was "
                                 "sent (execlab._brokers.kill_switch.resume_trading lifts the halt)")
    report = reconcile(executor, journal, run_id)
    existing = journal.orders(run_id, as_of)
    if not existing.empty:
        complete = _resume(existing, executor, journal, run_id, timeout)
        return LiveRebalance(journal.orders(run_id, as_of), report, True, complete)
    if report.state == "halted" or config.risk.trading_state == "halted":
        raise TradingHaltedError(f"trading is halted: {report.alerts or 'risk.trading_state is halted'}")
    tgt = symbol_series(targets, "targets")
    px = symbol_series(prices, "prices")
    held = executor.positions_by_symbol()
    # The targets name the universe: a holding left out of them is not this rebalance's to sell (list it with 0).
    universe = tuple(sorted(tgt.index))
    missing = [s for s in universe if s not in px.index]
    if missing:
        raise TargetError(f"prices: no price for symbols {missing[:10]}")
    executor.set_universe(universe)
    journal.record(run_id, EventKind.POSITIONS_SNAPSHOT, None, None, {"as_of": as_of, "positions": held})
    book = OrderBook(journal=BookJournal(journal, run_id, universe, lambda _bar: as_of))
    rules = (instruments if instruments is not None else InstrumentTable()).arrays(universe)
    risk = RiskEngine(config.risk, universe, config.plan.allow_short)
    if report.state == "reducing_only":
        risk.set_reducing_only("reconciliation found an unexplained position difference")
    rebalancer = Rebalancer(executor, book, risk, config.plan, rules)
    account = executor.account()
    target_arr = tgt.reindex(list(universe), fill_value=0.0).to_numpy()
    rebalancer.rebalance(target_arr, px.reindex(list(universe)).to_numpy(), account.cash, account.equity, 0)
    complete = executor.wait(timeout)
    rebalancer.sync()
    return LiveRebalance(journal.orders(run_id, as_of), report, False, complete)


def _optional(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(str(value))


def _resume(existing: pd.DataFrame, executor: BrokerExecutor, journal: Journal, run_id: str,
            timeout: float) -> bool:
    working = existing[existing["status"].isin(_WORKING)]
    for row in working.to_dict("records"):
        coid = str(row["client_order_id"])
        if row["risk_reason"]:
            journal.record(run_id, EventKind.STATE, coid, OrderStatus.DENIED.value, {"by": "resume"})
            continue
        if row["status"] == OrderStatus.PENDING.value:
            journal.record(run_id, EventKind.STATE, coid, OrderStatus.SUBMITTED.value, {"by": "resume"})
        order = Order(symbol=str(row["symbol"]), side=Side(str(row["side"])), quantity=float(row["quantity"]),
                      order_type=OrderType(str(row["order_type"])),
                      time_in_force=TimeInForce(str(row["time_in_force"])),
                      limit_price=_optional(row["limit_price"]), stop_price=_optional(row["stop_price"]),
                      client_order_id=coid, run_id=run_id)
        executor.place(order)
    complete = executor.wait(timeout)
    status = journal.status_of(list(existing["client_order_id"]))
    rows = []
    for coid, known in executor.known_orders().items():
        if coid in status and status[coid] != known.status.value:
            rows.append((EventKind.STATE, coid, known.status.value, {"from": status[coid], "by": "resume"}))
    if rows:
        journal.record_many(run_id, rows)
    return complete
