"""A rebalance worked by an execution algorithm at a broker, on the broker's clock, resumable from the journal.

The rebalance's orders become parent orders, journaled once (``parent`` events, never sent). At each tick of the
broker's clock the schedule rebuilds every parent's progress from the journal and the broker's view of its children
(filled, working, children created so far), asks :func:`execlab._algos.next_children` for the children due, journals
them as intents (with their parent, algorithm, reason and decision time) and sends them through the broker executor
with their derived client ids. Nothing lives only in memory: a process killed at any point and started again on the
same run and rebalance key finds the parents, reconciles with the broker, sends the children it had journaled but
not sent (the broker is asked first, by client id, when a request may have reached it) and carries on; a child id is
never sent twice, because it is a function of the parent and the child's sequence number.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from execlab._algos import (
    ChildOrder,
    MarketSlice,
    ParentOrder,
    ParentProgress,
    SkipReason,
    algo_params,
    is_finished,
    next_children,
)
from execlab._brokers.contract import BrokerOrder
from execlab._brokers.executor import BrokerExecutor
from execlab._config import Config
from execlab._core.ids import client_order_id
from execlab._core.instruments import InstrumentTable
from execlab._core.models import Order, OrderStatus, OrderType, Side, TimeInForce
from execlab._execution.child_risk import ChildAccount, check_children, check_orders
from execlab._execution.session import TradingSession, build_session, journal_history
from execlab._oms.events import EventKind
from execlab._oms.journal import Intent, Journal
from execlab._risk.engine import RiskReason
from execlab._runs.minute_market import MinuteMarket

if TYPE_CHECKING:
    from execlab._plan.diff import Plan

__all__ = ["AlgoRebalance", "AlgoTick", "BrokerSchedule", "child_table", "journaled_parents", "open_schedule",
           "parents_from_plan", "run_live_algo_rebalance"]

_ACTIVE: Final = (OrderStatus.PENDING, OrderStatus.SUBMITTED, OrderStatus.PARTIALLY_FILLED)
_WORKING: Final = tuple(s.value for s in _ACTIVE)
_EPS: Final = 1e-9
CHILD_COLUMNS: Final = ("decided_at", "parent_id", "seq", "client_order_id", "symbol", "side", "quantity",
                        "limit_price", "reason", "algo")


@dataclass(frozen=True)
class AlgoTick:
    """What one tick did: the children it sent, why parents sent less, and whether every parent is done."""

    now: pd.Timestamp
    children: tuple[ChildOrder, ...]
    skips: tuple[SkipReason, ...]
    finished: bool


# -- parents in the journal ----------------------------------------------------------------------------------
def _parent_payload(parent: ParentOrder, key: str) -> dict[str, Any]:
    p = parent.params
    return {"rebalance_key": key, "client_id": parent.client_id, "symbol": parent.symbol, "side": parent.side,
            "quantity": parent.quantity, "arrival_price": parent.arrival_price, "start": parent.start.isoformat(),
            "algo": p.algo, "horizon": str(p.horizon), "slices": p.slices, "participation": p.participation,
            "at_end": p.at_end, "params": {"algo": p.algo, "horizon": str(p.horizon), "slices": p.slices,
                       "participation": p.participation, "display_size": p.display_size, "min_child": p.min_child,
                       "limit_bps": p.limit_bps, "max_spread_bps": p.max_spread_bps, "at_end": p.at_end,
                       "profile": list(p.profile) if p.profile is not None else None}}


def _parent_from(payload: Mapping[str, Any]) -> ParentOrder:
    from execlab._algos import AlgoParams

    raw = dict(payload["params"])
    raw["horizon"] = pd.Timedelta(raw["horizon"])
    raw["profile"] = tuple(raw["profile"]) if raw.get("profile") is not None else None
    return ParentOrder(str(payload["client_id"]), str(payload["symbol"]), str(payload["side"]),
                       float(payload["quantity"]), float(payload["arrival_price"]), AlgoParams(**raw),
                       pd.Timestamp(payload["start"]))


def journaled_parents(journal: Journal, run_id: str, key: str) -> list[ParentOrder]:
    """The parents journaled for the rebalance ``key`` of ``run_id``, in the order they were journaled."""
    events = journal.events(run_id, EventKind.PARENT.value)
    out = []
    for text in events["payload"]:
        payload = json.loads(str(text))
        if payload.get("rebalance_key") == key and "params" in payload:  # a broker schedule's parent
            out.append(_parent_from(payload))
    return out


def parents_from_plan(plan: pd.DataFrame, config: Config, run_id: str, key: str, start: pd.Timestamp,
                      profiles: Mapping[str, tuple[float, ...]] | None = None) -> list[ParentOrder]:
    """One parent per planned order of ``plan`` (:func:`execlab.make_plan`'s table), in the plan's sequence (sells
    first); its client id is the one the order would have had (run, key, symbol)."""
    rows = plan[plan["sequence"] >= 0].sort_values("sequence")
    out = []
    for symbol, row in rows.iterrows():
        sym = str(symbol)
        params = algo_params(config.execution, sym, (profiles or {}).get(sym))
        out.append(ParentOrder(client_order_id(run_id, key, sym, 0), sym, str(row["side"]),
                               abs(float(row["order_qty"])), float(row["price"]), params, start))
    return out


def open_schedule(targets: Mapping[str, float] | pd.Series, prices: Mapping[str, float] | pd.Series, config: Config,
                  executor: BrokerExecutor, journal: Journal, as_of: str, market: MinuteMarket,
                  start: pd.Timestamp, instruments: InstrumentTable | None = None, *,
                  cancel_timeout: float = 30.0) -> BrokerSchedule:
    """The schedule of rebalance ``as_of``: on its first run the orders earlier rebalances left working are
    cancelled (``plan.cancel_open_orders``, waiting up to ``cancel_timeout`` seconds for the broker), the targets
    planned (as :func:`execlab.make_plan` plans them) and the parents journaled, starting at ``start``; a later run
    (a restart) finds them in the journal,
    reconciles with the broker and carries on. Raises :class:`TradingHaltedError` while the kill switch halts the
    run and :class:`TargetsChangedError` when a restart brings other targets."""
    from execlab._brokers.kill_switch import journaled_halt
    from execlab._brokers.reconcile import reconcile
    from execlab._plan.inputs import gate_rebalance_inputs
    from execlab._plan.planner import plan_table
    from execlab._runs.live import (
        TargetsChangedError,
        TradingHaltedError,
        _cancel_working,
        _cash,
        _targets_record,
        _tradable_lookup,
    )

    run_id = config.run_id
    journal.record_run(run_id, config.mode, config.broker.name, config.strategy_id)
    halt = journaled_halt(journal, run_id)
    if halt is not None:
        raise TradingHaltedError(f"trading is halted by the kill switch ({halt.reason}, at {halt.at}); nothing was "
                                 "sent")
    account = executor.account()
    held = executor.positions_by_symbol()
    schedule = BrokerSchedule(executor, journal, run_id, as_of, market, instruments,
                              TimeInForce(config.plan.time_in_force))
    report = reconcile(executor, journal, run_id)
    if report.state == "halted" or config.risk.trading_state == "halted":
        raise TradingHaltedError(f"trading is halted: {report.alerts or 'risk.trading_state is halted'}")
    known = journal.targets(run_id)
    row = known[known["rebalance_key"] == as_of]
    if schedule.parents or not journal.orders(run_id, as_of).empty:  # a restart (or every parent was denied)
        payload = json.loads(str(row["payload"].iloc[0])) if not row.empty else {}
        given = {str(s): float(v) for s, v in payload.get("targets", [])}
        now = {str(s).strip().upper(): float(v) for s, v in dict(targets).items()}
        if given and given != now:
            raise TargetsChangedError(f"targets: rebalance {as_of!r} of run {run_id!r} is being worked with other "
                                      "targets; nothing was sent")
        if schedule.parents:
            schedule.use_risk(config, start)
        return schedule
    if config.plan.cancel_open_orders and _cancel_working(journal_history(journal, run_id, as_of, start).working,
                                                          executor, journal, run_id, "next rebalance", cancel_timeout):
        account = executor.account()  # what the cancelled orders filled meanwhile moved positions and cash
        held = executor.positions_by_symbol()
    inputs = gate_rebalance_inputs(targets, held, prices, _cash(account, targets, instruments), config, instruments,
                                   _tradable_lookup(executor), account.equity)
    if row.empty:
        digest, payload = _targets_record(inputs, config)
        journal.record_targets(run_id, as_of, digest, payload)
    plan: Plan = plan_table(inputs, config, instruments, timestamp=start)
    parents = parents_from_plan(plan.table, config, run_id, as_of, start, _profiles(plan.table, config, market, start))
    if parents:
        schedule.use_risk(config, start, parents)
        parents = schedule.deny_parents(parents, start)
    schedule.journal_parents(parents)
    return schedule


def _profiles(plan: pd.DataFrame, config: Config, market: MinuteMarket,
              start: pd.Timestamp) -> dict[str, tuple[float, ...]]:
    """VWAP volume curves from each symbol's own minute history before ``start`` (where the config gives none)."""
    from execlab._algos import volume_profile

    out: dict[str, tuple[float, ...]] = {}
    for symbol in plan.index[plan["sequence"] >= 0]:
        cfg = config.execution.for_symbol(str(symbol))
        if cfg.algo != "vwap" or cfg.profile is not None:
            continue
        found = volume_profile(market.long_volume(), str(symbol), start, pd.Timedelta(cfg.horizon), cfg.slices)
        if found is not None:
            out[str(symbol)] = found
    return out


@dataclass(frozen=True)
class AlgoRebalance:
    """What a scheduled rebalance at a broker did: its parents, its children (:func:`child_table`), whether every
    parent is done, and whether this run resumed one an earlier process had started."""

    parents: tuple[ParentOrder, ...]
    children: pd.DataFrame
    finished: bool
    resumed: bool


def run_live_algo_rebalance(targets: Mapping[str, float] | pd.Series, prices: Mapping[str, float] | pd.Series,
                            config: Config, executor: BrokerExecutor, journal: Journal, as_of: str, bars: Any, *,
                            instruments: InstrumentTable | None = None, poll_seconds: float = 0.05,
                            idle_timeout: float = 60.0,
                            on_tick: Callable[[AlgoTick], None] | None = None) -> AlgoRebalance:
    """Work the rebalance ``as_of`` with ``config.execution``'s algorithm at the broker, ticking at every new time of
    the broker's clock until every parent is done (or the clock stands still for ``idle_timeout`` seconds).

    ``bars`` are the minute bars the schedule sees (a long table or :class:`MinuteMarket`; only bars stamped at or
    before the broker's time are read). A re-run of ``as_of`` (after a crash) resumes the journaled schedule.
    """
    market = bars if isinstance(bars, MinuteMarket) else MinuteMarket(bars)
    resumed = bool(journaled_parents(journal, config.run_id, as_of))
    try:
        start = pd.Timestamp(executor.clock())
        schedule = open_schedule(targets, prices, config, executor, journal, as_of, market, start, instruments)
        finished = schedule.run(executor.clock, poll_seconds=poll_seconds, idle_timeout=idle_timeout,
                                on_tick=on_tick)
    finally:
        executor.stop_stream()
    return AlgoRebalance(tuple(schedule.parents), child_table(schedule.children()), finished, resumed)


# -- the schedule at a broker --------------------------------------------------------------------------------
class BrokerSchedule:
    """Works the parents of one rebalance through a :class:`BrokerExecutor`, one tick of the broker's clock at a
    time; every tick starts from the journal and the broker, never from memory."""

    def __init__(self, executor: BrokerExecutor, journal: Journal, run_id: str, key: str, market: MinuteMarket,
                 instruments: InstrumentTable | None = None, time_in_force: TimeInForce = TimeInForce.DAY):
        self.executor = executor
        self.journal = journal
        self.run_id = run_id
        self.key = key
        self.market = market
        self.instruments = instruments
        self.time_in_force = time_in_force
        self.parents = journaled_parents(journal, run_id, key)
        self.session: TradingSession | None = None
        """The run's risk engine (:meth:`use_risk`); ``None`` sends children unchecked."""

    def use_risk(self, config: Config, start: pd.Timestamp, parents: Sequence[ParentOrder] | None = None) -> None:
        """Check every child with the risk engine of ``config`` (the session every mode builds), as the backtest's
        worker does, over the symbols of ``parents`` (by default the journaled ones); raises :class:`ConfigError`
        naming a configured limit whose input the run lacks."""
        from execlab._execution.rebalancer import RebalanceContext

        universe = tuple(dict.fromkeys(p.symbol for p in (self.parents if parents is None else parents)))
        self.session = build_session(config, universe, executor=self.executor, instruments=self.instruments)
        account = self._account(universe, pd.Timestamp(start), {})
        self.session.rebalancer.check_context(RebalanceContext(
            0, account.last, None, account.day, account.day_start_equity, account.adv, account.timestamp))

    def journal_parents(self, parents: Sequence[ParentOrder]) -> None:
        """Journal the parents (one transaction), unless this rebalance key has them already."""
        if self.parents:
            return
        self.journal.record_many(self.run_id, [(EventKind.PARENT, p.client_id, None, _parent_payload(p, self.key))
                                               for p in parents])
        self.parents = journaled_parents(self.journal, self.run_id, self.key)

    def children(self) -> pd.DataFrame:
        """The journal's children of this rebalance with their latest status and filled quantity."""
        orders = self.journal.orders(self.run_id, self.key)
        return orders[orders["parent_id"].notna()].reset_index(drop=True)

    # -- one tick ------------------------------------------------------------------------------------------
    def tick(self, now: pd.Timestamp) -> AlgoTick:
        """Bring the children's states up to date, send journaled children not sent yet, then send the children due
        at ``now``."""
        now = pd.Timestamp(now)
        self.executor.refresh(rest=True)  # the broker's view at this tick, not the stream's latest word
        children = self.children()
        self._journal_states(children)
        children = self.children()
        self._stop_if_halted(children)
        self._send_unsent(children)
        known = self.executor.known_orders()
        progress = {p.client_id: _progress(children[children["parent_id"] == p.client_id], known)
                    for p in self.parents}
        if all(is_finished(p, progress[p.client_id], now) for p in self.parents):
            return AlgoTick(now, (), (), True)
        market = {p.symbol: self._slice(p, children, now) for p in self.parents}
        slices = {s: m for s, m in market.items() if m is not None}
        cash = self._cash_available(children, known, slices)
        due, skips = next_children(self.parents, progress, slices, now, cash_available=cash,
                                   instruments=self.instruments)
        if due:
            self._send(due, now, slices, self._check(due, now, slices, children))
        return AlgoTick(now, tuple(due), tuple(skips), False)

    def deny_parents(self, parents: Sequence[ParentOrder], start: pd.Timestamp) -> list[ParentOrder]:
        """Check the parents as the backtest checks its rebalance's order table (one batch, market orders at the
        arrival price); journal each denied one as a denied order (never sent, as the backtest books it) and
        return the others."""
        assert self.session is not None
        universe = self.session.symbols
        account = self._account(universe, start, {})
        last = np.array(account.last, dtype=np.float64)
        for p in parents:
            last[universe.index(p.symbol)] = p.arrival_price
        seq = np.array([universe.index(p.symbol) for p in parents], dtype=np.int64)
        q = np.array([p.quantity if p.side == "buy" else -p.quantity for p in parents], dtype=np.float64)
        full = np.zeros(len(universe))
        np.add.at(full, seq, q)
        checked = check_orders(self.session.risk, seq, q, np.full(len(parents), np.nan), ChildAccount(
            last, account.position, account.equity, account.buying_power, self.executor.cost_estimate(full, last),
            account.adv, account.orders_today, account.day_start_equity, account.day, account.timestamp))
        why = ["" if r == 0 else RiskReason(int(r)).name.lower() for r in checked.reason.tolist()]
        denied = [(p, w) for p, w in zip(parents, why, strict=True) if w]
        if denied:
            at = start.isoformat()
            self.journal.record_intents([Intent(p.client_id, self.run_id, self.key, p.symbol, p.side, p.quantity,
                                                "market", self.time_in_force.value, None, None, p.arrival_price, 0,
                                                w, decided_at=at) for p, w in denied])
            self.journal.record_many(self.run_id, [(EventKind.STATE, p.client_id, OrderStatus.DENIED.value,
                                                    {"from": "pending", "by": "risk"}) for p, _ in denied])
        return [p for p, w in zip(parents, why, strict=True) if not w]

    def _stop_if_halted(self, children: pd.DataFrame) -> None:
        """Raise :class:`TradingHaltedError` saying what each parent has left when the kill switch halts the run."""
        from execlab._brokers.kill_switch import journaled_halt
        from execlab._runs.live import TradingHaltedError

        halt = journaled_halt(self.journal, self.run_id)
        if halt is None:
            return
        known = self.executor.known_orders()
        left = []
        for p in self.parents:
            filled = _progress(children[children["parent_id"] == p.client_id], known).filled
            if p.quantity - filled > _EPS:
                left.append(f"{p.side} {p.quantity - filled:g} {p.symbol} of {p.quantity:g}")
        raise TradingHaltedError(f"trading is halted by the kill switch ({halt.reason}, at {halt.at}); no more "
                                 f"children were sent; left: {', '.join(left) if left else 'nothing'}")

    def _account(self, universe: tuple[str, ...], now: pd.Timestamp,
                 market: Mapping[str, MarketSlice]) -> ChildAccount:
        """The inputs of the risk check at ``now``, by the estimators an ordinary order at the broker gets."""
        from execlab._runs.live import _adv_before

        assert self.session is not None
        account = self.executor.account()
        held = self.executor.positions_by_symbol()
        last = np.array([market[s].last if s in market else _last(self.market, s, now) for s in universe])
        floor = self.executor.cash_floor()
        history = journal_history(self.journal, self.run_id, self.key, now)
        mine = self.children()
        start = account.day_start_equity
        adv = _adv_before(self.market.data, universe, now) if self.session.config.risk.max_adv_pct is not None \
            else None
        return ChildAccount(last, np.array([held.get(s, 0.0) for s in universe]), float(account.equity),
                            account.cash - floor if floor is not None else np.inf, None, adv,
                            history.orders_today + int((mine["risk_reason"] == "").sum()),
                            float("nan") if start is None else float(start), history.day, now.to_pydatetime())

    def _check(self, due: Sequence[ChildOrder], now: pd.Timestamp, market: Mapping[str, MarketSlice],
               children: pd.DataFrame) -> list[str]:
        """The risk engine's reason per child (``""``: may be sent)."""
        if self.session is None:
            return [""] * len(due)
        universe = self.session.symbols
        account = self._account(universe, now, market)
        full = np.zeros(len(universe))
        for c in due:
            full[universe.index(c.symbol)] += c.quantity if c.side == "buy" else -c.quantity
        costs = self.executor.cost_estimate(full, account.last)
        checked = check_children(self.session.risk, universe, due, ChildAccount(
            account.last, account.position, account.equity, account.buying_power, costs, account.adv,
            account.orders_today, account.day_start_equity, account.day, account.timestamp))
        return ["" if r == 0 else RiskReason(int(r)).name.lower() for r in checked.reason.tolist()]

    def _slice(self, parent: ParentOrder, children: pd.DataFrame, now: pd.Timestamp) -> MarketSlice | None:
        quote = self.market.quote(parent.symbol, now)
        if quote is None:
            return None
        mine = children[children["parent_id"] == parent.client_id]
        # Volume printed after the previous child's bar; for the first child, from the start bar on (inclusive).
        since = pd.Timestamp(mine["decided_at"].iloc[-1]) if len(mine) else parent.start
        last, bid, ask = quote
        volume = self.market.volume_between(parent.symbol, since, now, from_after=mine.empty)
        return MarketSlice(last, bid, ask, volume, now)

    def _cash_available(self, children: pd.DataFrame, known: Mapping[str, BrokerOrder],
                        market: Mapping[str, MarketSlice]) -> float:
        """The broker's cash less what working buy children will spend, at the last trade price (as the backtest's
        worker reserves it)."""
        cash = float(self.executor.account().cash)
        for row in children[children["side"] == "buy"].to_dict("records"):
            coid = str(row["client_order_id"])
            found = known.get(coid)
            status = found.status.value if found is not None else str(row["status"])
            if status not in _WORKING:
                continue
            filled = found.filled_quantity if found is not None else float(row["filled_quantity"])
            left = float(row["quantity"]) - filled
            m = market.get(str(row["symbol"]))
            cash -= max(left, 0.0) * (m.last if m is not None else 0.0)
        return cash

    # -- sending -------------------------------------------------------------------------------------------
    def _send(self, due: Sequence[ChildOrder], now: pd.Timestamp, market: Mapping[str, MarketSlice],
              denied: Sequence[str]) -> None:
        at = now.isoformat()
        # The decision price of a child is the last trade when it was decided (as in the backtest and paper).
        intents = [Intent(c.client_id, self.run_id, self.key, c.symbol, c.side, c.quantity,
                          "limit" if c.limit_price is not None else "market", self.time_in_force.value,
                          c.limit_price, None, market[c.symbol].last, c.seq, why, c.parent_id, c.algo, c.reason, at)
                   for c, why in zip(due, denied, strict=True)]
        self.journal.record_intents(intents)  # all of the tick's children, or none, before anything is sent
        refused = [(EventKind.STATE, c.client_id, OrderStatus.DENIED.value, {"from": "pending", "by": "risk"})
                   for c, why in zip(due, denied, strict=True) if why]
        if refused:
            self.journal.record_many(self.run_id, refused)
        for c, why in zip(due, denied, strict=True):
            if why:
                continue
            m = market[c.symbol]
            mid = (m.bid + m.ask) / 2 if m.bid is not None and m.ask is not None else m.last
            # On the broker's clock, with the arrival price (the mid) TCA measures against, as paper journals it.
            self.journal.record(self.run_id, EventKind.REQUEST, c.client_id, None,
                                {"op": "submit", "at": at, "arrival_price": mid, "parent_id": c.parent_id})
            self._place(c.client_id, c.symbol, c.side, c.quantity, c.limit_price)

    def _send_unsent(self, children: pd.DataFrame) -> None:
        """Children journaled but never seen at the broker (a crash between journaling and sending): send them now
        (the executor asks the broker first when a request for one was journaled)."""
        known = self.executor.known_orders()
        unsent = children["status"].isin([OrderStatus.PENDING.value, OrderStatus.SUBMITTED.value])
        for row in children[unsent].to_dict("records"):
            coid = str(row["client_order_id"])
            if coid in known:
                continue
            self._place(coid, str(row["symbol"]), str(row["side"]), float(row["quantity"]),
                        _optional(row["limit_price"]), pending=row["status"] == OrderStatus.PENDING.value)

    def _place(self, coid: str, symbol: str, side: str, quantity: float, limit: float | None,
               pending: bool = True) -> None:
        if pending:
            self.journal.record(self.run_id, EventKind.STATE, coid, OrderStatus.SUBMITTED.value, {"from": "pending"})
        order = Order(symbol=symbol, side=Side(side), quantity=quantity,
                      order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
                      time_in_force=self.time_in_force, limit_price=limit, client_order_id=coid, run_id=self.run_id)
        placed = self.executor.place(order)
        if placed is None and not self.executor.dead_letters:
            self.journal.record(self.run_id, EventKind.STATE, coid, OrderStatus.REJECTED.value,
                                {"from": "submitted", "by": "broker"})

    def _journal_states(self, children: pd.DataFrame) -> None:
        """Journal the broker's status of every child whose journaled status it changed."""
        known = self.executor.known_orders()
        rows: list[tuple[EventKind, str | None, str | None, dict[str, object] | None]] = []
        for row in children.to_dict("records"):
            coid, was = str(row["client_order_id"]), str(row["status"])
            found = known.get(coid)
            if found is not None and found.status.value != was and was in _WORKING:
                rows.append((EventKind.STATE, coid, found.status.value, {"from": was, "by": "broker"}))
        if rows:
            self.journal.record_many(self.run_id, rows)

    # -- the clock -----------------------------------------------------------------------------------------
    def run(self, clock: Callable[[], datetime], *, poll_seconds: float = 0.05, idle_timeout: float = 60.0,
            on_tick: Callable[[AlgoTick], None] | None = None) -> bool:
        """Tick at every new time of ``clock`` (the broker's) until every parent is done; False when the clock did
        not move for ``idle_timeout`` seconds before that."""
        last: pd.Timestamp | None = None
        idle_since = time.monotonic()
        while True:
            now = pd.Timestamp(clock())
            if last is None or now > last:
                done = self.tick(now)
                if on_tick is not None:
                    on_tick(done)
                if done.finished:
                    return True
                last, idle_since = now, time.monotonic()
            elif time.monotonic() - idle_since > idle_timeout:
                return False
            time.sleep(poll_seconds)


def _progress(children: pd.DataFrame, known: Mapping[str, BrokerOrder]) -> ParentProgress:
    filled = working = 0.0
    for row in children.to_dict("records"):
        found = known.get(str(row["client_order_id"]))
        done = max(float(row["filled_quantity"]), found.filled_quantity if found is not None else 0.0)
        status = found.status if found is not None else OrderStatus(str(row["status"]))
        filled += done
        if status in _ACTIVE:
            working += max(float(row["quantity"]) - done, 0.0)
    return ParentProgress(filled, working, len(children))


def _last(market: MinuteMarket, symbol: str, now: pd.Timestamp) -> float:
    quote = market.quote(symbol, now)
    return quote[0] if quote is not None else float("nan")


def _optional(value: Any) -> float | None:
    return None if value is None or value != value else float(value)


def child_table(children: pd.DataFrame | Sequence[tuple[pd.Timestamp, ChildOrder]]) -> pd.DataFrame:
    """The child order table (one row per child: decision time, parent, sequence number, client id, symbol, side,
    quantity, limit price, reason, algorithm) of journaled children or of ``(time, child)`` pairs, sorted by decision
    time, parent and sequence number."""
    if isinstance(children, pd.DataFrame):
        table = children.rename(columns={"leg": "seq"})[list(CHILD_COLUMNS)].copy()
        table["decided_at"] = pd.to_datetime(table["decided_at"], utc=True)
    else:
        table = pd.DataFrame([(t, c.parent_id, c.seq, c.client_id, c.symbol, c.side, c.quantity, c.limit_price,
                               c.reason, c.algo) for t, c in children], columns=list(CHILD_COLUMNS))
        table["decided_at"] = pd.to_datetime(table["decided_at"], utc=True)
    table["limit_price"] = table["limit_price"].astype(float)
    table["quantity"] = table["quantity"].astype(float)
    table["seq"] = table["seq"].astype(np.int64)
    return table.sort_values(["decided_at", "parent_id", "seq"]).reset_index(drop=True)
