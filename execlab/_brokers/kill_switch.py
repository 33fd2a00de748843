"""The kill switch against a broker: halt trading, cancel every open order, optionally flatten every position.

The halt is a journal row (``kind='kill_switch'``, ``status='halted'``), so it outlives the process that pulled it:
:func:`journaled_halt` reads it back, and :func:`execlab._runs.live.run_live_rebalance` refuses to trade a run while it
stands. :func:`halt_trading` journals a halt without a broker (a dashboard with no broker config, an operator);
:func:`resume_trading` lifts it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import numpy as np

from execlab._brokers.contract import BrokerError
from execlab._brokers.executor import BrokerExecutor
from execlab._core.ids import client_order_id
from execlab._core.models import Order, Side
from execlab._oms.events import EventKind
from execlab._oms.journal import Journal
from execlab._risk.engine import RiskEngine, kill_switch

__all__ = ["KillSwitchHalt", "KillSwitchReport", "engage_kill_switch", "halt_trading", "journaled_halt",
           "resume_trading"]

KILL_SWITCH: Final = EventKind.KILL_SWITCH
"""The journal event kind of every kill-switch row."""
_HALTED: Final = "halted"
_RESUMED: Final = "active"


@dataclass(frozen=True)
class KillSwitchHalt:
    """A kill-switch halt standing in the journal."""

    reason: str
    at: str
    """Journal time (UTC, ISO 8601) of the halt."""


@dataclass(frozen=True)
class KillSwitchReport:
    """What the kill switch did: orders cancelled, flattening orders sent, and failures that need a person."""

    cancelled: list[str]
    flattened: list[str]
    failures: list[str]


def engage_kill_switch(executor: BrokerExecutor, journal: Journal, run_id: str, risk: RiskEngine | None = None,
                       flatten: bool = False, reason: str = "kill switch", by: str | None = None) -> KillSwitchReport:
    """Halt ``risk`` (if given), cancel every order working at the broker and, with ``flatten``, close every position.

    Every step is journaled first; ``by`` (who pressed it, e.g. the dashboard's logged-in user) goes into the halt
    row. The flattening orders are the kill switch's own (market, day) and bypass risk,
    which denies everything once halted. The executor's order-update stream is stopped on return.
    """
    try:
        return _engage(executor, journal, run_id, risk, flatten, reason, by)
    finally:
        executor.stop_stream()


def _engage(executor: BrokerExecutor, journal: Journal, run_id: str, risk: RiskEngine | None, flatten: bool,
            reason: str, by: str | None) -> KillSwitchReport:
    at = datetime.now(UTC)
    if risk is not None:
        risk.halt(reason, at)
    journal.record(run_id, KILL_SWITCH, None, _HALTED, {"reason": reason, "flatten": flatten, **_who(by)})
    working = executor.open_orders()
    held = executor.positions_by_symbol()
    symbols = sorted(s for s, q in held.items() if q)
    actions = kill_switch(np.arange(len(working), dtype=np.int64), np.array([held[s] for s in symbols]), flatten,
                          reason)
    cancelled, flattened, failures = [], [], []
    for k in actions.cancel.tolist():
        order = working[k]
        journal.record(run_id, EventKind.REQUEST, order.client_order_id, None, {"op": "cancel", "by": "kill_switch"})
        try:
            executor.cancel_order(order.broker_order_id)
            cancelled.append(order.client_order_id)
        except BrokerError as exc:
            failures.append(f"cancel {order.client_order_id}: {exc}")
    key = f"kill-{at:%Y%m%dT%H%M%S%f}"
    for sym_index, qty in zip(actions.flatten_symbol.tolist(), actions.flatten_quantity.tolist(), strict=True):
        symbol = symbols[sym_index]
        order = Order(symbol=symbol, side=Side.BUY if qty > 0 else Side.SELL, quantity=abs(qty),
                      client_order_id=client_order_id(run_id, key, symbol, 0), run_id=run_id)
        if executor.place(order) is None:
            failures.append(f"flatten {symbol}: not accepted")
        else:
            flattened.append(order.client_order_id)
    journal.record(run_id, KILL_SWITCH, None, "done",
                   {"cancelled": len(cancelled), "flattened": len(flattened), "failures": failures})
    return KillSwitchReport(cancelled, flattened, failures)


def halt_trading(journal: Journal, run_id: str, reason: str = "kill switch", by: str | None = None) -> None:
    """Journal a halt of ``run_id`` (by ``by``, if given) without touching a broker: no rebalance of the run trades
    until :func:`resume_trading`. Orders already working at the broker keep working (use :func:`engage_kill_switch`
    to cancel them)."""
    journal.record(run_id, KILL_SWITCH, None, _HALTED,
                   {"reason": reason, "flatten": False, "broker": False, **_who(by)})


def _who(by: str | None) -> dict[str, str]:
    return {} if by is None else {"by": by}


def resume_trading(journal: Journal, run_id: str, reason: str = "resumed") -> None:
    """Lift a kill-switch halt of ``run_id`` (journaled, like the halt)."""
    journal.record(run_id, KILL_SWITCH, None, _RESUMED, {"reason": reason})


def journaled_halt(journal: Journal, run_id: str) -> KillSwitchHalt | None:
    """The kill-switch halt standing for ``run_id``, or None when trading is not halted by one.

    The latest ``halted`` or ``active`` kill-switch row decides; the ``done`` row that closes an engaged kill switch
    does not lift the halt.
    """
    rows = journal.events(run_id, KILL_SWITCH)
    rows = rows[rows["status"].isin([_HALTED, _RESUMED])]
    if rows.empty or rows["status"].iloc[-1] != _HALTED:
        return None
    payload = json.loads(str(rows["payload"].iloc[-1]) or "{}")
    return KillSwitchHalt(str(payload.get("reason") or "kill switch"), str(rows["at"].iloc[-1]))
