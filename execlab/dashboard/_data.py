"""The frames the dashboard shows, read from the journal. No Panel here: every frame can be checked alone.

Slippage and participation come from the TCA module (:func:`execlab._analysis.tca.tca_from_journal`); everything else is
the journal's own rows. Two figures are approximations, stated where they are built:

* **Targets**: ``journaled_target`` is what the latest rebalance was given (in ``plan.target_unit``), journaled
  before planning, so a target that got no order still shows. ``target`` (shares) is implied: the position
  journaled before the latest rebalance plus what that rebalance ordered (denied orders included, since they still
  say what was wanted). A symbol inside the plan's no-trade band has no order, so its target shows as its position.
* **Equity** is the change in value since the run's first positions snapshot: cash flows of the fills (price ×
  quantity, plus fees) plus the holdings marked at the latest price the journal knows for each symbol, a decision
  price (from the intents) or a fill price. Without bars or account snapshots, nothing better is journaled; between
  rebalances the marks are stale.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

import numpy as np
import pandas as pd

from execlab._analysis.algo_tca import parent_progress, parents_from_journal
from execlab._analysis.tca import TcaResult, tca_from_journal
from execlab._brokers.kill_switch import journaled_halt
from execlab._data.bars import MarketData
from execlab._oms.events import EventKind
from execlab._oms.journal import Journal

__all__ = [
    "FILL_COLUMNS",
    "DashboardData",
    "RiskStatus",
    "costs_over_time",
    "equity_over_time",
    "fills_table",
    "load_dashboard_data",
    "positions_against_targets",
    "risk_status",
]

TradingState = Literal["active", "reducing_only", "halted"]

FILL_COLUMNS: Final = ("at", "rebalance", "symbol", "side", "quantity", "price", "notional", "fee",
                       "decision_price", "slippage_decision_bps", "slippage_arrival_bps", "order_status",
                       "client_order_id", "fill_id")
"""The fills table's columns, in display order."""

_STATES: Final = ("active", "reducing_only", "halted")


@dataclass(frozen=True)
class RiskStatus:
    """The trading state of a run as its journal says, and why."""

    state: TradingState
    reason: str
    at: str
    """Journal time of the row that decided it ("" when no row did)."""
    source: Literal["kill_switch", "reconcile", "none"]


@dataclass(frozen=True)
class DashboardData:
    """Everything the dashboard shows for one run, as plain frames."""

    run_id: str
    fills: pd.DataFrame
    """One row per execution, newest first, columns :data:`FILL_COLUMNS`."""
    orders: pd.DataFrame
    """The TCA per-order table (:attr:`execlab._analysis.tca.TcaResult.orders`): order size is ``decision_notional``."""
    positions: pd.DataFrame
    """Per symbol: ``position``, ``target`` and ``difference`` (target − position)."""
    equity: pd.DataFrame
    """``at``, ``pnl`` (change in value since the first snapshot) and ``gross_exposure``; see the module notes."""
    costs: pd.DataFrame
    """``at``, cumulative ``fees``, ``slippage``, ``opportunity`` and ``total`` cost in currency (from TCA)."""
    risk: RiskStatus
    working_orders: int
    """Orders the journal still has pending, submitted or partially filled."""
    parents: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The execution algorithms' parents and how far each is worked
    (:func:`execlab._analysis.algo_tca.parent_progress`); empty when the run sends every order at once."""


def _utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601")


def _payload(text: object) -> dict[str, Any]:
    loaded = json.loads(str(text) or "{}")
    return loaded if isinstance(loaded, dict) else {}


def risk_status(journal: Journal, run_id: str) -> RiskStatus:
    """Halted while a kill-switch halt stands; else the state the latest reconciliation decided; else active."""
    halt = journaled_halt(journal, run_id)
    if halt is not None:
        return RiskStatus("halted", f"kill switch: {halt.reason}", halt.at, "kill_switch")
    rows = journal.events(run_id, EventKind.RECONCILE)
    if rows.empty:
        return RiskStatus("active", "no reconciliation journaled yet", "", "none")
    last = rows.iloc[-1]
    status = str(last["status"])
    alerts = [str(a) for a in _payload(last["payload"]).get("alerts", [])]
    if status not in _STATES:
        return RiskStatus("halted", f"unknown reconciliation state {status!r}", str(last["at"]), "reconcile")
    reason = "; ".join(alerts) if alerts else "reconciliation found nothing unexplained"
    return RiskStatus(cast(TradingState, status), reason, str(last["at"]), "reconcile")


def fills_table(journal: Journal, run_id: str, tca: TcaResult, intents: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every fill of the run with its order's rebalance, decision price, status and slippage (from TCA, in bps,
    positive meaning worse than the benchmark); newest first. Fills of external orders have no slippage."""
    fills = journal.fills(run_id)
    intents = journal.orders(run_id) if intents is None else intents
    if fills.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FILL_COLUMNS})
    keys = intents[["client_order_id", "rebalance_key", "decision_price", "status"]].rename(
        columns={"rebalance_key": "rebalance", "status": "order_status"})
    table = fills.merge(keys, on="client_order_id", how="left")
    slippage = ["slippage_decision_bps", "slippage_arrival_bps"]
    if "fill_id" in tca.fills.columns:
        table = table.merge(tca.fills[["fill_id", *slippage]], on="fill_id", how="left")
    else:
        table[slippage] = np.nan
    table["at"] = _utc(table["at"])
    table["notional"] = table["quantity"] * table["price"]
    table["rebalance"] = table["rebalance"].fillna("external")
    table = table.sort_values("at", ascending=False, kind="stable").reset_index(drop=True)
    return table[list(FILL_COLUMNS)]


def _snapshots(journal: Journal, run_id: str) -> pd.DataFrame:
    """Positions snapshots: ``seq``, ``at``, ``as_of`` and ``positions`` (a dict)."""
    rows = journal.events(run_id, EventKind.POSITIONS_SNAPSHOT)
    payloads = [_payload(p) for p in rows["payload"]]
    return pd.DataFrame({
        "seq": rows["seq"].to_numpy(),
        "at": rows["at"].to_numpy(),
        "as_of": [str(p.get("as_of", "")) for p in payloads],
        "positions": [{str(k): float(v) for k, v in dict(p.get("positions", {})).items()} for p in payloads],
    })


def _signed(frame: pd.DataFrame, quantity: str = "quantity") -> pd.Series:
    q = frame[quantity].astype(float)
    return q.where(frame["side"] == "buy", -q)


def positions_against_targets(journal: Journal, run_id: str, intents: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per symbol: the position now, the latest rebalance's (implied) target, and the difference."""
    intents = journal.orders(run_id) if intents is None else intents
    snaps = _snapshots(journal, run_id)
    fills = journal.fills(run_id)
    # Now: the latest snapshot plus the fills journaled since (what reconciliation expects).
    held = pd.Series(snaps["positions"].iloc[-1] if not snaps.empty else {}, dtype=float)
    if not fills.empty:
        since = fills[fills["at"] >= snaps["at"].iloc[-1]] if not snaps.empty else fills
        held = held.add(_signed(since).groupby(since["symbol"]).sum(), fill_value=0.0)
    target = pd.Series(dtype=float)
    if not intents.empty:
        key = str(intents["rebalance_key"].iloc[-1])
        before = snaps[snaps["as_of"] == key]
        baseline = pd.Series(before["positions"].iloc[-1] if not before.empty else {}, dtype=float)
        latest = intents[intents["rebalance_key"] == key]
        target = baseline.add(_signed(latest).groupby(latest["symbol"]).sum(), fill_value=0.0)
    given, unit = _journaled_targets(journal, run_id)
    symbols = sorted(set(held.index) | set(target.index) | set(given.index))
    table = pd.DataFrame({"position": held.reindex(symbols, fill_value=0.0),
                          "target": target.reindex(symbols).fillna(held.reindex(symbols, fill_value=0.0))},
                         index=pd.Index(symbols, name="symbol"))
    table["difference"] = table["target"] - table["position"]
    table["journaled_target"] = given.reindex(symbols)
    table["unit"] = unit if len(given) else ""
    keep = (table["position"].abs() > 1e-12) | (table["target"].abs() > 1e-12) | table["journaled_target"].notna()
    return table[keep]


def _journaled_targets(journal: Journal, run_id: str) -> tuple[pd.Series, str]:
    """The targets the latest rebalance of the run was given (in their unit), as journaled before planning."""
    rows = journal.targets(run_id)
    if rows.empty:
        return pd.Series(dtype=float), ""
    payload = json.loads(str(rows["payload"].iloc[-1]))
    pairs = {str(s): float(v) for s, v in payload.get("targets", [])}
    return pd.Series(pairs, dtype=float), str(payload.get("unit", ""))


def equity_over_time(journal: Journal, run_id: str, intents: pd.DataFrame | None = None) -> pd.DataFrame:
    """Change in value since the first positions snapshot, and gross exposure, at every fill and decision.

    Holdings are marked at the latest decision or fill price the journal knows (see the module notes).
    """
    intents = journal.orders(run_id) if intents is None else intents
    fills = journal.fills(run_id)
    snaps = _snapshots(journal, run_id)
    empty = pd.DataFrame({"at": pd.Series(dtype="datetime64[us, UTC]"), "pnl": pd.Series(dtype=float),
                          "gross_exposure": pd.Series(dtype=float)})
    marks = intents.dropna(subset=["decision_price"])
    events = pd.concat([
        pd.DataFrame({"at": marks["created_at"], "kind": 0, "symbol": marks["symbol"], "dq": 0.0,
                      "price": marks["decision_price"].astype(float), "fee": 0.0}),
        pd.DataFrame({"at": fills["at"], "kind": 1, "symbol": fills["symbol"],
                      "dq": _signed(fills) if not fills.empty else pd.Series(dtype=float),
                      "price": fills["price"].astype(float), "fee": fills["fee"].astype(float)}),
    ], ignore_index=True)
    if events.empty:
        return empty
    events["at"] = _utc(events["at"])
    events = events.sort_values(["at", "kind"], kind="stable").reset_index(drop=True)
    start: Mapping[str, float] = snaps["positions"].iloc[0] if not snaps.empty else {}
    initial = events["symbol"].map(lambda s: float(start.get(s, 0.0)))
    grouped = events.groupby("symbol", sort=False)
    position = initial + grouped["dq"].cumsum()
    value = position * events["price"]
    # A symbol's first event compares with its starting holding marked at that first price: no change.
    before = grouped["price"].transform("first") * initial
    previous = value.groupby(events["symbol"]).shift(1).fillna(before)
    change = value - previous
    cash = -(events["dq"] * events["price"]) - events["fee"]
    exposure_change = value.abs() - previous.abs()
    gross_start = float(sum(abs(q) * float(grouped["price"].first().get(s, np.nan)) for s, q in start.items()
                            if s in grouped.groups))
    out = pd.DataFrame({"at": events["at"], "pnl": (cash + change).cumsum(),
                        "gross_exposure": gross_start + exposure_change.cumsum()})
    out = out.groupby("at", as_index=False).last()
    first = pd.DataFrame({"at": [_utc(pd.Series([snaps["at"].iloc[0]])).iloc[0] if not snaps.empty
                                 else out["at"].iloc[0]],
                          "pnl": [0.0], "gross_exposure": [gross_start]})
    return pd.concat([first, out], ignore_index=True).sort_values("at", kind="stable").reset_index(drop=True)


def costs_over_time(orders: pd.DataFrame) -> pd.DataFrame:
    """Cumulative costs of the TCA per-order table over time: ``fees``, ``slippage`` (delay + execution),
    ``opportunity`` (the unfilled part) and ``total`` (the implementation shortfall), each order counted at its last
    fill (its decision when it never filled). In currency; positive is a cost."""
    columns = ["fees", "slippage", "opportunity"]
    if orders.empty:
        frame = pd.DataFrame({c: pd.Series(dtype=float) for c in [*columns, "total"]})
        frame.insert(0, "at", pd.Series(dtype="datetime64[us, UTC]"))
        return frame
    at = pd.to_datetime(orders["last_fill_time"], utc=True).fillna(pd.to_datetime(orders["timestamp"], utc=True))
    steps = pd.DataFrame({"at": at, "fees": orders["fees"].astype(float),
                          "slippage": (orders["delay_cost"] + orders["execution_cost"]).astype(float),
                          "opportunity": orders["opportunity_cost"].astype(float)})
    out = steps.groupby("at", as_index=False)[columns].sum().sort_values("at", kind="stable")
    out[columns] = out[columns].cumsum()
    out["total"] = out[columns].sum(axis=1)
    return out.reset_index(drop=True)


def load_dashboard_data(journal: Journal, run_id: str, bars: pd.DataFrame | MarketData | None = None
                        ) -> DashboardData:
    """Read one run's journal into the dashboard's frames. ``bars`` (long OHLCV) let TCA measure participation
    and the interval VWAP; without them participation is NaN."""
    intents = journal.orders(run_id)
    tca = tca_from_journal(journal, run_id, bars=bars)
    working = int(intents["status"].isin(["pending", "submitted", "partially_filled"]).sum()) if len(intents) else 0
    return DashboardData(
        run_id=run_id,
        fills=fills_table(journal, run_id, tca, intents),
        orders=tca.orders,
        positions=positions_against_targets(journal, run_id, intents),
        equity=equity_over_time(journal, run_id, intents),
        costs=costs_over_time(tca.orders),
        risk=risk_status(journal, run_id),
        working_orders=working,
        parents=parent_progress(parents_from_journal(journal, run_id), tca.orders),
    )
