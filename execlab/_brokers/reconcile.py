"""Reconciliation: the journal's view against the broker's, on start and on demand.

Orders the broker has and the journal does not are adopted as external; journaled orders still working are
refreshed from the broker; positions are compared with what the journal expects (the last positions snapshot
plus the fills since). A difference the fills explain is not an error; one they do not explain moves trading to
reducing-only (or halted) and is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from execlab._brokers.executor import BrokerExecutor
from execlab._core.models import OrderStatus
from execlab._oms.events import EventKind
from execlab._oms.journal import Journal

__all__ = ["ReconcileReport", "reconcile"]

_WORKING = (OrderStatus.PENDING.value, OrderStatus.SUBMITTED.value, OrderStatus.PARTIALLY_FILLED.value)


@dataclass(frozen=True)
class ReconcileReport:
    """What reconciliation found and what it decided."""

    adopted: pd.DataFrame
    """Orders working at the broker that the journal did not know (now journaled as external)."""
    refreshed: pd.DataFrame
    """Journaled working orders and the broker's current status for them."""
    positions: pd.DataFrame
    """Per symbol: expected by the journal, held at the broker, and the unexplained difference."""
    state: Literal["active", "reducing_only", "halted"]
    alerts: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing unexplained was found."""
        return self.state == "active"


def _last_snapshot(journal: Journal, run_id: str) -> tuple[dict[str, float], int]:
    snaps = journal.events(run_id, EventKind.POSITIONS_SNAPSHOT)
    if snaps.empty:
        return {}, 0
    last = snaps.iloc[-1]
    return {k: float(v) for k, v in json.loads(last["payload"]).get("positions", {}).items()}, int(last["seq"])


def _fee_in_asset(fills: pd.DataFrame) -> pd.Series:
    """Per fill, the fee taken in the traded asset itself (a crypto buy's fee in the asset received: ``BTC`` on
    ``BTC/USDT``, or on ``BTC`` when pairs are named by their base), which the position lacks; 0 otherwise."""
    base = fills["symbol"].astype(str).str.partition("/")[0].str.upper()
    taken = fills["fee_currency"].fillna("").astype(str).str.upper() == base
    return fills["fee"].where(taken, 0.0).astype(float)


def reconcile(executor: BrokerExecutor, journal: Journal, run_id: str, tolerance: float = 1e-6,
              on_mismatch: Literal["reducing_only", "halted"] = "reducing_only") -> ReconcileReport:
    """Reconcile the journal of ``run_id`` with the broker behind ``executor``; journal what was found."""
    alerts: list[str] = []
    known = journal.known_order_ids()
    adopted_rows = []
    for order in executor.open_orders():
        if order.client_order_id not in known:
            journal.record(run_id, EventKind.ADOPTED, order.client_order_id, order.status.value,
                           {"external": True, "order": order.raw})
            executor.adopt(order)
            adopted_rows.append({"client_order_id": order.client_order_id, "symbol": order.symbol,
                                 "side": order.side.value, "quantity": order.quantity, "status": order.status.value})
    orders = journal.orders(run_id)
    refreshed_rows = []
    for row in orders[orders["status"].isin(_WORKING)].itertuples():
        coid = str(row.client_order_id)
        if not journal.has_request(coid):
            # Never sent (every send is journaled before it leaves): nothing to ask the broker.
            refreshed_rows.append({"client_order_id": coid, "symbol": row.symbol, "journal_status": row.status,
                                   "broker_status": "never_sent"})
            continue
        found = executor.lookup(coid, str(row.symbol))
        broker_status = found.status.value if found is not None else "unknown_at_broker"
        if found is not None:
            executor.adopt(found)
            if found.status.value != row.status:
                journal.record(run_id, EventKind.STATE, coid, found.status.value,
                               {"from": row.status, "by": "reconcile"})
        refreshed_rows.append({"client_order_id": coid, "symbol": row.symbol, "journal_status": row.status,
                               "broker_status": broker_status})

    executor.sync_fills()  # executions of the orders just looked up that the journal lacks (a crash before them)
    baseline, since = _last_snapshot(journal, run_id)
    fills = journal.fills(run_id)
    if not fills.empty and since:
        # Fills journaled after the snapshot event count; the snapshot already includes earlier ones.
        events = journal.events(run_id)
        snap_at = events.loc[events["seq"] == since, "at"].iloc[0]
        fills = fills[fills["at"] >= snap_at]
    expected = pd.Series(baseline, dtype=float)
    if not fills.empty:
        signed = fills["quantity"].where(fills["side"] == "buy", -fills["quantity"]) - _fee_in_asset(fills)
        expected = expected.add(signed.groupby(fills["symbol"]).sum(), fill_value=0.0)
    held = pd.Series(executor.positions_by_symbol(), dtype=float)
    external = {r["symbol"] for r in adopted_rows}
    symbols = sorted(set(expected.index) | set(held.index))
    table = pd.DataFrame({"expected": expected.reindex(symbols, fill_value=0.0),
                          "broker": held.reindex(symbols, fill_value=0.0)}, index=pd.Index(symbols, name="symbol"))
    table["difference"] = table["broker"] - table["expected"]
    table["explained_by_external_orders"] = table.index.isin(list(external))
    unexplained = table[(table["difference"].abs() > tolerance) & ~table["explained_by_external_orders"]]
    state: Literal["active", "reducing_only", "halted"] = "active"
    if since and not unexplained.empty:
        state = on_mismatch
        alerts.append(f"position mismatch in {list(unexplained.index)[:10]}: trading is {state}")
    journal.record(run_id, EventKind.RECONCILE, None, state, {
        "adopted": len(adopted_rows), "refreshed": len(refreshed_rows),
        "mismatch": unexplained["difference"].to_dict(), "alerts": alerts,
    })
    return ReconcileReport(pd.DataFrame(adopted_rows), pd.DataFrame(refreshed_rows), table, state, alerts)
