"""The kill switch against a broker: halt trading, cancel every open order, optionally flatten every position."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from execlab._broker import BrokerError, BrokerExecutor
from execlab._ids import client_order_id
from execlab._journal import Journal
from execlab._risk import RiskEngine, kill_switch
from execlab._schema import Order, Side

__all__ = ["KillSwitchReport", "engage_kill_switch"]


@dataclass(frozen=True)
class KillSwitchReport:
    """What the kill switch did: orders cancelled, flattening orders sent, and failures that need a person."""

    cancelled: list[str]
    flattened: list[str]
    failures: list[str]


def engage_kill_switch(executor: BrokerExecutor, journal: Journal, run_id: str, risk: RiskEngine | None = None,
                       flatten: bool = False, reason: str = "kill switch") -> KillSwitchReport:
    """Halt ``risk`` (if given), cancel every order working at the broker and, with ``flatten``, close every position.

    Every step is journaled first. The flattening orders are the kill switch's own (market, day) and bypass risk,
    which denies everything once halted.
    """
    at = datetime.now(UTC)
    if risk is not None:
        risk.halt(reason, at)
    journal.record(run_id, "kill_switch", None, "halted", {"reason": reason, "flatten": flatten})
    working = executor.open_orders()
    held = executor.positions_by_symbol()
    symbols = sorted(s for s, q in held.items() if q)
    actions = kill_switch(np.arange(len(working), dtype=np.int64), np.array([held[s] for s in symbols]), flatten,
                          reason)
    cancelled, flattened, failures = [], [], []
    for k in actions.cancel.tolist():
        order = working[k]
        journal.record(run_id, "request", order.client_order_id, None, {"op": "cancel", "by": "kill_switch"})
        try:
            executor.adapter._cancel(order.broker_order_id)
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
    journal.record(run_id, "kill_switch", None, "done",
                   {"cancelled": len(cancelled), "flattened": len(flattened), "failures": failures})
    return KillSwitchReport(cancelled, flattened, failures)
