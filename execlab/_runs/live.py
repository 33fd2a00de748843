"""One rebalance against a broker (paper or live), safe to re-run: it resumes from the journal.

The same pipeline as the backtest: the inputs pass the one gate (:func:`execlab._plan.inputs.gate_rebalance_inputs`),
the plan is :func:`execlab.make_plan`'s, and the rebalancer gets the complete :class:`RebalanceContext` (prices,
trading day, the day's starting equity, ADV, timestamp) that the backtest gives it.

The first run of an ``(run_id, as_of)`` journals the targets (with a content hash), cancels what earlier rebalances
of the run left working, plans, checks risk and journals every intent in one transaction before sending anything.
A re-run with the same targets — after a crash, a papermill retry or a cell run twice — only finishes that
rebalance, obeying the trading state reconciliation sets; with different targets it is an error unless the caller
supersedes the first (its working orders are cancelled and the new targets planned under a new key).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from execlab._brokers.contract import BrokerOrder
from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.kill_switch import journaled_halt
from execlab._brokers.reconcile import ReconcileReport, reconcile
from execlab._config import Config, ConfigError
from execlab._core.instruments import InstrumentTable
from execlab._core.models import AccountSnapshot, Order, OrderStatus, OrderType, Side, TimeInForce
from execlab._data.bars import MarketData
from execlab._data.targets import TargetError
from execlab._execution.rebalancer import RebalanceContext, RebalanceOutcome
from execlab._execution.session import GENERATION, build_session, journal_history, parsed_time
from execlab._oms.book import BookJournal
from execlab._oms.events import EventKind
from execlab._oms.journal import Journal
from execlab._plan.diff import PlanReason
from execlab._plan.inputs import RebalanceInputs, TradableLookup, gate_rebalance_inputs, spendable_cash
from execlab._sim.estimators import ADV_RISK_WINDOW, adv_before

__all__ = ["LiveRebalance", "TargetsChangedError", "TradingHaltedError", "rebalance_time", "run_live_rebalance"]

_WORKING: Final = (OrderStatus.PENDING.value, OrderStatus.SUBMITTED.value, OrderStatus.PARTIALLY_FILLED.value)
_ACTIVE: Final = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)
#: Plan reasons that mean a target was cut, not merely rounded to lots or left inside the no-trade band.
_CUT: Final = {PlanReason.CASH_LIMITED, PlanReason.NO_CASH, PlanReason.NOT_TRADING}


class TradingHaltedError(RuntimeError):
    """The kill switch, reconciliation or risk halted trading; nothing was sent."""


class TargetsChangedError(TargetError):
    """A re-run of a rebalance key came with other targets than the first run; nothing was sent."""


@dataclass(frozen=True)
class LiveRebalance:
    """What one (possibly resumed) rebalance did."""

    orders: pd.DataFrame
    reconciliation: ReconcileReport
    resumed: bool
    complete: bool
    """True when no order is left working."""
    rebalance_key: str = ""
    """The journal's key of this rebalance (``as_of``, or ``as_of#2`` … once superseded)."""
    summary: pd.DataFrame | None = None
    """Per symbol: target, target shares, planned order, plan reason, risk reason, status, sent and filled."""

    @property
    def cut(self) -> list[str]:
        """Symbols whose target the plan cut (cash, not trading), not merely rounded or left in the band."""
        if self.summary is None:
            return []
        return [str(s) for s in self.summary.index[self.summary["plan_reason"].isin([r.name.lower()
                                                                                     for r in _CUT])]]


def run_live_rebalance(
    targets: Mapping[str, float] | pd.Series,
    prices: Mapping[str, float] | pd.Series,
    config: Config,
    executor: BrokerExecutor,
    journal: Journal,
    as_of: str,
    instruments: InstrumentTable | None = None,
    timeout: float = 60.0,
    *,
    bars: MarketData | Any | None = None,
    supersede: bool = False,
) -> LiveRebalance:
    """Move the broker account to ``targets`` (in ``config.plan.target_unit``) for the rebalance ``as_of``.

    Held symbols the targets leave out are closed or kept as ``plan.untargeted`` says. ``bars`` (a long OHLCV table
    or :class:`MarketData`) gives the average daily volume that ``risk.max_adv_pct`` needs: the mean volume of the
    20 bars before ``as_of``. While the journal holds a kill-switch halt for the run, nothing is done:
    :class:`TradingHaltedError`. A re-run of ``as_of`` with other targets raises :class:`TargetsChangedError` unless
    ``supersede``. Fills arrive by the broker's order-update stream while the rebalance runs (polling when there is
    none); the stream is stopped on return.
    """
    if config.execution.algos() != ("none",):
        raise ConfigError(f"execution.algo: {config.execution.algo!r} works orders over a horizon on the broker's "
                          "clock: use execlab._runs.live_algo.run_live_algo_rebalance (execlab rebalance "
                          "--minute-bars), which needs the minute bars the schedule reads; nothing was sent")
    try:
        return _rebalance(targets, prices, config, executor, journal, as_of, instruments, timeout, bars, supersede)
    finally:
        executor.stop_stream()


def _rebalance(targets: Mapping[str, float] | pd.Series, prices: Mapping[str, float] | pd.Series, config: Config,
               executor: BrokerExecutor, journal: Journal, as_of: str, instruments: InstrumentTable | None,
               timeout: float, bars: MarketData | Any | None, supersede: bool) -> LiveRebalance:
    run_id = config.run_id
    if GENERATION in as_of or not as_of.strip():
        raise TargetError(f"as_of: {as_of!r} must be a non-empty key without {GENERATION!r} (it marks superseded "
                          "rebalances)")
    when = rebalance_time(as_of)
    market = None if bars is None or isinstance(bars, MarketData) else MarketData.from_bars(bars)
    market = bars if isinstance(bars, MarketData) else market
    journal.record_run(run_id, config.mode, config.broker.name, config.strategy_id, config.currency)
    halt = journaled_halt(journal, run_id)
    if halt is not None:
        raise TradingHaltedError(f"trading is halted by the kill switch ({halt.reason}, at {halt.at}); nothing was "
                                 "sent (execlab._brokers.kill_switch.resume_trading lifts the halt)")
    # Nothing is sent before the inputs have passed the gate.
    account = executor.account()
    held = executor.positions_by_symbol()
    if instruments is None and config.broker.broker_instruments:
        instruments = _broker_instruments(executor, targets, held)
    inputs = gate_rebalance_inputs(targets, held, prices, _cash(account, targets, instruments), config, instruments,
                                   _tradable_lookup(executor), account.equity)
    digest, payload = _targets_record(inputs, config)
    report = reconcile(executor, journal, run_id)
    keys = _generations(journal, run_id, as_of)
    key = keys[-1] if keys else as_of
    targets_journaled = False
    if keys:
        known = journal.targets(run_id)
        row = known[known["rebalance_key"] == key]
        same = row.empty or str(row["content_hash"].iloc[0]) == digest
        planned = not journal.orders(run_id, key).empty  # the intents are journaled all at once, or not at all
        if same and planned:
            complete = _resume(journal.orders(run_id, key), executor, journal, run_id, report, timeout)
            orders = journal.orders(run_id, key)
            return LiveRebalance(orders, report, True, complete, key, _summary_from_journal(orders, row))
        targets_journaled = same  # stopped after journaling the targets, before the plan: plan them now
    if keys and not targets_journaled:
        differ = _changed_symbols(str(row["payload"].iloc[0]), inputs)
        if not supersede:
            raise TargetsChangedError(
                f"targets: rebalance {as_of!r} of run {run_id!r} was first run with other targets (symbols that "
                f"differ: {differ[:10]}{' …' if len(differ) > 10 else ''}); nothing was sent. Re-run with the first "
                "targets to finish it, or supersede it (--supersede) to cancel what it left working and plan anew")
        _cancel_working(journal.orders(run_id, key), executor, journal, run_id, "superseded", timeout)
        journal.record(run_id, EventKind.ALERT, None, "superseded",
                       {"rebalance_key": key, "symbols_changed": differ})
        key = f"{as_of}{GENERATION}{len(keys) + 1}"
    if report.state == "halted" or config.risk.trading_state == "halted":
        raise TradingHaltedError(f"trading is halted: {report.alerts or 'risk.trading_state is halted'}")
    if config.plan.cancel_open_orders:
        earlier = journal_history(journal, run_id, key, when).working
        if _cancel_working(earlier, executor, journal, run_id, "next rebalance", timeout):
            # what they filled meanwhile moved positions and cash
            account = executor.account()
            held = executor.positions_by_symbol()
            inputs = gate_rebalance_inputs(targets, held, prices, _cash(account, targets, instruments), config,
                                           instruments, equity=account.equity)
    if not targets_journaled:
        journal.record_targets(run_id, key, digest, payload)
    universe = inputs.symbols
    executor.set_universe(universe)
    journal.record(run_id, EventKind.POSITIONS_SNAPSHOT, None, None, {"as_of": key, "positions": held})
    history = journal_history(journal, run_id, key, when)  # the day's orders so far, from the journal
    session = build_session(config, universe, executor=executor, instruments=instruments,
                            book_journal=BookJournal(journal, run_id, universe, lambda _bar: key), history=history)
    if report.state == "reducing_only":
        session.risk.set_reducing_only("reconciliation found an unexplained position difference")
    rebalancer = session.rebalancer
    adv = None if market is None else _adv_before(market, universe, when)
    start = account.day_start_equity
    ctx = RebalanceContext(0, inputs.price, None, history.day, math.nan if start is None else float(start), adv,
                           when.to_pydatetime(), inputs.rate)
    rebalancer.check_context(ctx)  # a limit without its input: an error before anything is sent
    outcome = rebalancer.rebalance(inputs.target, ctx, inputs.cash, inputs.equity)
    complete = executor.wait(timeout)
    rebalancer.sync()
    executor.sync_charges()  # the daily financing booked on the positions so far (a broker that reports it)
    orders = journal.orders(run_id, key)
    return LiveRebalance(orders, report, False, complete, key, _summary(inputs, outcome, orders))


# -- inputs --------------------------------------------------------------------------------------------------------
def rebalance_time(as_of: str) -> pd.Timestamp:
    """The rebalance time of ``as_of`` when it is a date or time, else now (UTC)."""
    return parsed_time(as_of) or pd.Timestamp(datetime.now(UTC))


def _cash(account: AccountSnapshot, targets: Mapping[str, float] | pd.Series,
          instruments: InstrumentTable | None) -> float:
    """The free balance of the quote currency the targets' orders spend (the account's cash when it has one)."""
    symbols = [str(s) for s in (targets.index if isinstance(targets, pd.Series) else targets)]
    return spendable_cash(account, symbols, instruments)


def _broker_instruments(executor: BrokerExecutor, targets: Mapping[str, float] | pd.Series,
                        held: Mapping[str, float]) -> InstrumentTable | None:
    """The broker's trading rules of the targeted and held symbols, when it lists them (a crypto exchange's step,
    tick and minimum notional); None: the default rules apply."""
    names = targets.index if isinstance(targets, pd.Series) else list(targets)
    symbols = sorted({str(s).strip().upper() for s in names} | set(held))
    found = executor.instruments(symbols)
    if not found:
        return None
    classes = {i.asset_class for i in found.values()}
    return InstrumentTable(found.values(), default_asset_class=classes.pop() if len(classes) == 1 else "us_equity")


def _tradable_lookup(executor: BrokerExecutor) -> TradableLookup:
    def lookup(symbols: Sequence[str]) -> set[str]:
        listed = executor.tradable(symbols)
        return set(symbols) if listed is None else listed

    return lookup


def _adv_before(market: MarketData, universe: tuple[str, ...], when: pd.Timestamp) -> np.ndarray:
    """Each symbol's ADV known before ``when``: the backtest's estimator over the bars strictly before it."""
    missing = [s for s in universe if s not in market.symbols]
    if missing:
        raise TargetError(f"bars: no bars for symbols {missing[:10]} (risk.max_adv_pct needs their volume)")
    stamps = market.timestamps
    if (stamps.tz is None) != (when.tz is None):
        when = when.tz_localize(stamps.tz) if when.tz is None else when.tz_convert(stamps.tz).tz_localize(None)
    rows = int(stamps.searchsorted(when, side="left"))
    cols = [market.symbols.index(s) for s in universe]
    # One row for the rebalance itself: the estimator's value at that row is what was known before it.
    history = np.vstack([market.volume[:rows][:, cols], np.full((1, len(cols)), np.nan)])
    out: np.ndarray = adv_before(history, ADV_RISK_WINDOW)[-1]
    return out


def _targets_record(inputs: RebalanceInputs, config: Config) -> tuple[str, dict[str, Any]]:
    pairs = [[s, float(v)] for s, v in sorted(inputs.targets.items())]
    payload = {"unit": config.plan.target_unit, "untargeted": config.plan.untargeted, "targets": pairs}
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return digest, payload


def _changed_symbols(stored: str, inputs: RebalanceInputs) -> list[str]:
    before = {str(s): float(v) for s, v in json.loads(stored).get("targets", [])}
    now = {str(s): float(v) for s, v in inputs.targets.items()}
    return sorted(s for s in set(before) | set(now) if before.get(s) != now.get(s))


def _generations(journal: Journal, run_id: str, as_of: str) -> list[str]:
    """The keys ``as_of`` has had in this run, oldest first (``as_of``, ``as_of#2`` …)."""
    keys = set(journal.targets(run_id)["rebalance_key"]) | set(journal.orders(run_id)["rebalance_key"])
    found = [k for k in keys if k == as_of or (k.startswith(as_of + GENERATION)
                                              and k[len(as_of) + 1:].isdigit())]
    return sorted(found, key=lambda k: int(k[len(as_of) + 1:]) if k != as_of else 1)


# -- working orders of earlier rebalances ----------------------------------------------------------------------
def _cancel_working(orders: pd.DataFrame, executor: BrokerExecutor, journal: Journal, run_id: str, by: str,
                    timeout: float) -> bool:
    """Cancel every order of ``orders`` still working at the broker, wait until the broker confirms, journal it;
    False when there was none."""
    working = orders[orders["status"].isin(_WORKING)]
    if working.empty:
        return False
    found: dict[str, BrokerOrder | None] = {}
    for coid, symbol in zip(working["client_order_id"].astype(str), working["symbol"].astype(str), strict=True):
        bo = executor.lookup(coid, symbol)
        found[coid] = bo
        if bo is not None and bo.status in _ACTIVE:
            journal.record(run_id, EventKind.REQUEST, coid, None, {"op": "cancel", "by": by})
            executor.cancel_order(bo.broker_order_id)
    executor.wait(timeout)
    _journal_final_states(executor, journal, run_id, list(found), by, never_sent=OrderStatus.CANCELLED)
    return True


def _journal_final_states(executor: BrokerExecutor, journal: Journal, run_id: str, coids: list[str], by: str,
                          never_sent: OrderStatus | None = None) -> None:
    status = journal.status_of(coids)
    known = executor.known_orders()
    rows = []
    for coid in coids:
        now = known[coid].status if coid in known else never_sent
        if now is not None and coid in status and status[coid] != now.value:
            rows.append((EventKind.STATE, coid, now.value, {"from": status[coid], "by": by}))
    if rows:
        journal.record_many(run_id, rows)


# -- resume ------------------------------------------------------------------------------------------------------
def _optional(value: object) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(str(value))


def _resume(existing: pd.DataFrame, executor: BrokerExecutor, journal: Journal, run_id: str,
            report: ReconcileReport, timeout: float) -> bool:
    working = existing[existing["status"].isin(_WORKING)]
    if len(working) and report.state == "halted":
        raise TradingHaltedError(f"trading is halted: {report.alerts}; the resume sent nothing")
    held = executor.positions_by_symbol() if report.state == "reducing_only" else {}
    for row in working.to_dict("records"):
        coid = str(row["client_order_id"])
        if row["risk_reason"]:
            journal.record(run_id, EventKind.STATE, coid, OrderStatus.DENIED.value, {"by": "resume"})
            continue
        side = Side(str(row["side"]))
        position = held.get(str(row["symbol"]), 0.0)
        grows = (side is Side.BUY and position >= 0) or (side is Side.SELL and position <= 0)
        if report.state == "reducing_only" and grows and executor.lookup(coid, str(row["symbol"])) is None:
            journal.record(run_id, EventKind.STATE, coid, OrderStatus.DENIED.value,
                           {"by": "resume", "reason": "reducing_only"})
            continue
        if row["status"] == OrderStatus.PENDING.value:
            journal.record(run_id, EventKind.STATE, coid, OrderStatus.SUBMITTED.value, {"by": "resume"})
        order = Order(symbol=str(row["symbol"]), side=side, quantity=float(row["quantity"]),
                      order_type=OrderType(str(row["order_type"])),
                      time_in_force=TimeInForce(str(row["time_in_force"])),
                      limit_price=_optional(row["limit_price"]), stop_price=_optional(row["stop_price"]),
                      client_order_id=coid, run_id=run_id)
        executor.place(order)
    complete = executor.wait(timeout)
    _journal_final_states(executor, journal, run_id, list(existing["client_order_id"].astype(str)), "resume")
    return complete


# -- what happened ------------------------------------------------------------------------------------------------
def _summary(inputs: RebalanceInputs, outcome: RebalanceOutcome, orders: pd.DataFrame) -> pd.DataFrame:
    table = pd.DataFrame({
        "target": inputs.target,
        "target_shares": outcome.target_shares if outcome.target_shares is not None else np.nan,
        "current": inputs.current,
        "planned": outcome.order_qty if outcome.order_qty is not None else 0.0,
        "plan_reason": [PlanReason(int(r)).name.lower() for r in outcome.plan_reason]
        if outcome.plan_reason is not None else "",
    }, index=pd.Index(list(inputs.symbols), name="symbol"))
    return _with_orders(table, orders)


def _summary_from_journal(orders: pd.DataFrame, targets_row: pd.DataFrame) -> pd.DataFrame:
    given: dict[str, float] = {}
    if not targets_row.empty:
        given = {str(s): float(v) for s, v in json.loads(str(targets_row["payload"].iloc[0])).get("targets", [])}
    symbols = sorted(set(given) | set(orders["symbol"].astype(str)))
    table = pd.DataFrame({"target": [given.get(s, 0.0) for s in symbols], "target_shares": np.nan,
                          "current": np.nan, "planned": np.nan, "plan_reason": ""},
                         index=pd.Index(symbols, name="symbol"))
    return _with_orders(table, orders)


def _with_orders(table: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    signed = np.where(orders["side"] == "buy", 1.0, -1.0)
    per = pd.DataFrame({
        "symbol": orders["symbol"].astype(str),
        "sent": np.where(orders["risk_reason"] == "", signed * orders["quantity"], 0.0),
        "filled": signed * orders["filled_quantity"].fillna(0.0),
        "status": orders["status"].astype(str),
        "risk_reason": orders["risk_reason"].astype(str),
    })
    grouped = per.groupby("symbol").agg(sent=("sent", "sum"), filled=("filled", "sum"),
                                        status=("status", lambda s: ",".join(sorted(set(s)))),
                                        risk_reason=("risk_reason", lambda s: ",".join(sorted(set(s) - {""}))))
    out = table.join(grouped, how="left")
    out["sent"] = out["sent"].fillna(0.0)
    out["filled"] = out["filled"].fillna(0.0)
    out["status"] = out["status"].fillna("")
    out["risk_reason"] = out["risk_reason"].fillna("")
    return out
