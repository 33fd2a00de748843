"""Works a rebalance's orders with an execution algorithm: parents in, child orders out through the session's own
risk engine, OMS book and executor, one market step at a time.

The same worker runs in the backtest (one step per bar) and in paper trading (one step per feed event): it sees the
market only through :meth:`AlgoWorker.on_step` and rebuilds each parent's progress from the OMS book, so both modes
send the same children from the same bars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
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
    volume_profile,
)
from execlab._config import ExecutionConfig
from execlab._core.arrays import FloatArray
from execlab._core.batches import OrderBatch
from execlab._core.codes import DENIED, LIMIT, MARKET, PARTIALLY_FILLED, PENDING, SUBMITTED, TIF
from execlab._core.ids import client_order_id, rebalance_key
from execlab._core.instruments import InstrumentTable
from execlab._core.models import TimeInForce
from execlab._execution.child_risk import ChildAccount, check_children
from execlab._execution.rebalancer import RebalanceContext, Rebalancer
from execlab._oms.events import EventKind
from execlab._oms.journal import Journal

__all__ = ["AlgoWorker", "uses_algorithms"]

_DAY = TIF[TimeInForce.DAY]


def uses_algorithms(execution: ExecutionConfig) -> bool:
    """Whether any symbol's orders are worked by an algorithm (``algo`` other than ``none`` anywhere)."""
    return execution.algos() != ("none",)


@dataclass(eq=False)
class _Parent:
    order: ParentOrder
    symbol_index: int
    volume_before: float
    """The symbol's cumulative volume before the start step (the first child counts the start step's volume)."""
    children: list[int] = field(default_factory=list)
    """Order-book ids of its children, in sequence order."""


class AlgoWorker:
    """The execution algorithms of one run, attached to its :class:`Rebalancer` (as its parent sink).

    Call :meth:`observe` at every market step once the executor has seen it (before any rebalance at it), and
    :meth:`on_step` after the rebalance.
    ``parents`` and ``skips`` are the run's record of what was worked and why children were held back.
    """

    def __init__(self, execution: ExecutionConfig, rebalancer: Rebalancer, instruments: InstrumentTable | None = None,
                 *, run_id: str = "run", journal: Journal | None = None):
        self.execution = execution
        self.rebalancer = rebalancer
        self.instruments = instruments if instruments is not None else InstrumentTable()
        self.run_id = run_id
        self.journal = journal
        self.symbols = rebalancer.executor.symbols
        n = len(self.symbols)
        self._active: list[_Parent] = []
        self._all: list[_Parent] = []
        self._times: list[pd.Timestamp] = []
        self._volumes: list[FloatArray] = []
        self._cum = np.zeros(n)
        self._cum_at: dict[int, FloatArray] = {}
        self._last = np.full(n, np.nan)
        self._step = -1
        self._now: pd.Timestamp | None = None
        self.skips: list[tuple[pd.Timestamp, SkipReason]] = []
        rebalancer.parent_sink = self.take

    # -- the rebalance hands its order table over ------------------------------------------------------------
    def take(self, seq: npt.NDArray[np.int64], qty: FloatArray, price: FloatArray, reason: npt.NDArray[np.int8],
             ctx: RebalanceContext) -> npt.NDArray[np.bool_]:
        """Become the parent of each approved row whose symbol's algorithm is not ``none``; returns those rows.

        A new rebalance replaces the parents of the previous one (its working children are cancelled by
        ``plan.cancel_open_orders`` as any order is)."""
        when = pd.Timestamp(ctx.timestamp) if ctx.timestamp is not None else self._now
        if when is None:
            raise ValueError("an execution algorithm needs the rebalance's timestamp")
        key = rebalance_key(when)
        taken = np.zeros(seq.size, dtype=np.bool_)
        self._active = []
        events = []
        for k, (s, q, px) in enumerate(zip(seq.tolist(), qty.tolist(), price.tolist(), strict=True)):
            symbol = self.symbols[s]
            if reason[k] != 0 or self.execution.for_symbol(symbol).algo == "none" or not px > 0:
                continue
            profile = self._profile(symbol, when) if self.execution.for_symbol(symbol).algo == "vwap" else None
            params = algo_params(self.execution, symbol, profile)
            pid = client_order_id(self.run_id, key, symbol, 0)
            before = float(self._cum[s] - (self._volumes[-1][s] if self._volumes else 0.0))
            parent = _Parent(ParentOrder(pid, symbol, "buy" if q > 0 else "sell", abs(q), float(px), params, when), s,
                             before)
            self._active.append(parent)
            self._all.append(parent)
            taken[k] = True
            events.append((EventKind.PARENT, pid, None, {
                "symbol": symbol, "side": parent.order.side, "quantity": abs(q), "arrival_price": float(px),
                "algo": params.algo, "start": when.isoformat(), "horizon": str(params.horizon),
                "slices": params.slices, "participation": params.participation, "at_end": params.at_end,
                "profile": None if params.profile is None else list(params.profile), "rebalance_key": key}))
        if self.journal is not None and events:
            self.journal.record_many(self.run_id, events)
        return taken

    def _profile(self, symbol: str, start: pd.Timestamp) -> tuple[float, ...] | None:
        cfg = self.execution.for_symbol(symbol)
        if cfg.profile is not None or not self._times:
            return None
        s = self.symbols.index(symbol)
        history = pd.DataFrame({"ts": self._times, "symbol": symbol,
                                "volume": [v[s] for v in self._volumes]})
        return volume_profile(history, symbol, start, pd.Timedelta(cfg.horizon), cfg.slices)

    # -- each market step -------------------------------------------------------------------------------------
    def observe(self, step: int, timestamp: pd.Timestamp, last: FloatArray, volume: FloatArray) -> None:
        """Record one market step (its volume feeds POV and the VWAP profiles)."""
        vol = np.nan_to_num(np.asarray(volume, dtype=np.float64))
        self._step, self._now = step, timestamp
        self._times.append(timestamp)
        self._volumes.append(vol.copy())
        self._cum = self._cum + vol
        self._cum_at[step] = self._cum.copy()
        self._last = np.where(np.isnan(last), self._last, last)

    def on_step(self, bid: FloatArray | None, ask: FloatArray | None, *, day: int | None = None,
                day_start_equity: float = math.nan, adv: FloatArray | None = None) -> list[ChildOrder]:
        """Send the children the schedule asks for at the step last observed (``bid``/``ask``: its quotes), each
        checked by the run's risk engine; ``adv``: each symbol's ADV known before the step (``risk.max_adv_pct``),
        as the step's rebalance gets it."""
        step, timestamp = self._step, self._now
        if not self._active or timestamp is None:
            return []
        rb = self.rebalancer
        rb.enter_day(day)  # children on a later day of the horizon count toward that day's orders
        rb.sync()
        book = rb.book
        progress: dict[str, ParentProgress] = {}
        market: dict[str, MarketSlice] = {}
        still: list[_Parent] = []
        for parent in self._active:
            prog = self._progress(parent)
            if is_finished(parent.order, prog, timestamp):
                if timestamp >= parent.order.end and parent.order.params.at_end == "leave":
                    left = parent.order.quantity - prog.filled
                    if left > 1e-9:
                        self.skips.append((timestamp, SkipReason(parent.order.client_id, parent.order.symbol,
                                                                 "left at the end of the horizon", left)))
                continue
            still.append(parent)
            progress[parent.order.client_id] = prog
            s = parent.symbol_index
            since = self._cum[s] - (self._cum_at[int(book.column("bar")[parent.children[-1]])][s]
                                    if parent.children else parent.volume_before)
            market[parent.order.symbol] = MarketSlice(
                float(self._last[s]), _num(bid, s), _num(ask, s), float(since), timestamp)
        self._active = still
        if not still:
            return []
        ex = rb.executor
        reserved = sum(self._open_quantity(p) * float(self._last[p.symbol_index])
                       for p in still if p.order.side == "buy")
        floor = ex.cash_floor()
        cash = ex.account().cash - (floor if floor is not None else 0.0) - reserved
        children, skips = next_children([p.order for p in still], progress, market, timestamp, cash_available=cash,
                                        instruments=self.instruments)
        self.skips.extend((timestamp, s) for s in skips)
        if children:
            self._send(children, {p.order.client_id: p for p in still}, step, timestamp, day, day_start_equity, adv)
        return children

    def _open_quantity(self, parent: _Parent) -> float:
        col = self.rebalancer.book.column
        status, qty, filled = col("status"), col("quantity"), col("filled")
        return float(sum(abs(qty[o]) - abs(filled[o]) for o in parent.children
                         if status[o] in (PENDING, SUBMITTED, PARTIALLY_FILLED)))

    def _progress(self, parent: _Parent) -> ParentProgress:
        """Filled and working quantity and children sent, read from the OMS book."""
        filled = float(abs(self.rebalancer.book.column("filled")[parent.children].sum())) if parent.children else 0.0
        return ParentProgress(filled, self._open_quantity(parent), len(parent.children))

    def _send(self, children: list[ChildOrder], parents: dict[str, _Parent], step: int, timestamp: pd.Timestamp,
              day: int | None, day_start_equity: float, adv: FloatArray | None) -> None:
        rb = self.rebalancer
        ex, book = rb.executor, rb.book
        account = ex.account()
        floor = ex.cash_floor()
        full = np.zeros(len(self.symbols))
        for c in children:
            full[parents[c.parent_id].symbol_index] += c.quantity if c.side == "buy" else -c.quantity
        checked = check_children(rb.risk, self.symbols, children, ChildAccount(
            self._last, ex.positions(), account.equity,
            account.cash - floor if floor is not None else np.inf, ex.cost_estimate(full, self._last), adv,
            rb.orders_today, day_start_equity, day, timestamp.to_pydatetime()))
        seq, q, px, limit, reason = checked.symbol, checked.quantity, checked.price, checked.limit_price, \
            checked.reason
        types = np.where(np.isnan(limit), MARKET, LIMIT).astype(np.int8)
        oids = book.add({"bar": step, "symbol": seq, "quantity": q, "order_type": types, "time_in_force": _DAY,
                         "decision_price": px, "risk_reason": reason, "limit_price": limit},
                        children=[(c.client_id, c.parent_id, c.algo) for c in children])
        for c, oid in zip(children, oids.tolist(), strict=True):
            parents[c.parent_id].children.append(oid)
        ok = reason == 0
        if not ok.all():
            book.transition(oids[~ok], DENIED)
        n_ok = int(ok.sum())
        if n_ok:
            sent = oids[ok]
            nan = np.full(n_ok, np.nan)
            batch = OrderBatch(sent, seq[ok], q[ok], types[ok], np.full(n_ok, _DAY, np.int8), limit[ok], nan, nan,
                               nan, tuple(c.client_id for c, k in zip(children, ok.tolist(), strict=True) if k))
            book.transition(sent, SUBMITTED)
            rb.count_sent(n_ok)
            ex.submit(batch)
            rb.sync()

    # -- what was worked ----------------------------------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether some parent is still being worked."""
        return bool(self._active)

    def parents(self) -> pd.DataFrame:
        """One row per parent: symbol, side, quantity, arrival price, algorithm, horizon, children, filled."""
        col = self.rebalancer.book.column
        rows = []
        for p in self._all:
            o = p.order
            filled = float(np.abs(col("filled")[p.children]).sum()) if p.children else 0.0
            value = float(np.abs(col("fill_value")[p.children]).sum()) if p.children else 0.0
            rows.append({"parent_id": o.client_id, "symbol": o.symbol, "side": o.side, "quantity": o.quantity,
                         "arrival_price": o.arrival_price, "algo": o.params.algo, "start": o.start, "end": o.end,
                         "participation_cap": o.params.participation, "slices": o.params.slices,
                         "profile": o.params.profile, "children": len(p.children),
                         "filled_quantity": filled, "avg_fill_price": value / filled if filled else math.nan,
                         "left": o.quantity - filled})
        return pd.DataFrame(rows)

    def skip_table(self) -> pd.DataFrame:
        """Why children were held back: time, parent, symbol, reason, quantity held."""
        return pd.DataFrame([{"timestamp": t, "parent_id": s.parent_id, "symbol": s.symbol, "reason": s.reason,
                              "quantity": s.quantity} for t, s in self.skips],
                            columns=["timestamp", "parent_id", "symbol", "reason", "quantity"])


def _num(values: FloatArray | None, s: int) -> float | None:
    if values is None:
        return None
    v = float(values[s])
    return None if math.isnan(v) else v
