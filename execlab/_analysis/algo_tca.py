"""Transaction costs per execution algorithm: each parent order against its arrival price and its interval VWAP,
how far its children strayed from the schedule, and the share of the market's volume it took.

For a parent with side ``s`` (+1 buy, −1 sell), fill VWAP ``P_f`` over all its children, arrival (decision) price
``P_a`` and ``B`` the VWAP of the market's bars from its start to its last fill: ``slippage_arrival_bps`` =
``s · (P_f − P_a) / P_a · 1e4`` and ``slippage_vwap_bps`` = ``s · (P_f − B) / B · 1e4`` (positive: worse than the
benchmark). ``participation`` is the filled quantity over the volume of those bars (against ``participation_cap``).
``schedule_deviation_*`` compares, after each child, the parent's filled fraction with the fraction its TWAP/VWAP
schedule wanted done when that child was sent (percent of the parent; NaN for POV and iceberg, which follow volume
and display size rather than a clock). Each child's own costs are the rows of ``TcaResult.orders`` with its
``parent_id``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from execlab._algos import AlgoParams, ParentOrder, scheduled_fraction
from execlab._analysis.tca import TcaResult, _Bars, _utc_ns
from execlab._data.bars import MarketData
from execlab._oms.journal import Journal

__all__ = ["AlgoTca", "algo_tca", "parent_progress", "parents_from_journal"]

_PARENT_COLUMNS = ["parent_id", "symbol", "side", "quantity", "arrival_price", "algo", "start", "end",
                   "participation_cap", "slices", "profile"]


@dataclass(frozen=True, eq=False)
class AlgoTca:
    """Per-parent costs (``parents``), per-child costs (``children``: TCA rows with a ``parent_id``) and
    :meth:`by_algo`."""

    parents: pd.DataFrame
    children: pd.DataFrame

    def by_algo(self) -> pd.DataFrame:
        """Per algorithm: parents, children, notional, slippage vs arrival and vs interval VWAP (weighted by filled
        notional), participation achieved (volume-weighted) and its cap, mean schedule deviation."""
        rows = []
        for algo, g in self.parents.groupby("algo", sort=True):
            w = g["filled_notional"].to_numpy(dtype=float)
            ok = w > 0

            def weighted(col: str, g: pd.DataFrame = g, w: np.ndarray = w, ok: np.ndarray = ok) -> float:
                v = g[col].to_numpy(dtype=float)
                m = ok & np.isfinite(v)
                return float((v[m] * w[m]).sum() / w[m].sum()) if m.any() else math.nan

            volume = g["interval_volume"].to_numpy(dtype=float)
            filled = g["filled_quantity"].to_numpy(dtype=float)
            vm = np.isfinite(volume) & (volume > 0)
            rows.append({"algo": algo, "parents": len(g), "children": int(g["children"].sum()),
                         "filled_notional": float(w.sum()), "fill_rate": float(filled.sum() / g["quantity"].sum()),
                         "slippage_arrival_bps": weighted("slippage_arrival_bps"),
                         "slippage_vwap_bps": weighted("slippage_vwap_bps"),
                         "participation": float(filled[vm].sum() / volume[vm].sum()) if vm.any() else math.nan,
                         "max_participation": float(g["participation"].max()),
                         "participation_cap": float(g["participation_cap"].max()),
                         "schedule_deviation_mean_pct": float(g["schedule_deviation_mean_pct"].mean())})
        return pd.DataFrame(rows)


def algo_tca(tca: TcaResult, parents: pd.DataFrame, bars: pd.DataFrame | MarketData | None = None) -> AlgoTca:
    """Costs per parent (see the module docstring) from a TCA of its children and the parents' table
    (``BacktestResult.parents`` or :func:`parents_from_journal`); ``bars`` give the interval VWAP and volume."""
    orders = tca.orders
    if "parent_id" not in orders.columns or parents.empty:
        return AlgoTca(pd.DataFrame(columns=[*_PARENT_COLUMNS, "filled_quantity"]), orders.iloc[:0])
    children = orders[orders["parent_id"].notna()].copy()
    b = _Bars.of(bars) if bars is not None else None
    out = []
    for _, p in parents.iterrows():
        kids = children[children["parent_id"] == p["parent_id"]]
        q = float(kids["filled_quantity"].sum())
        value = float(kids["filled_notional"].sum())
        pf = value / q if q > 0 else math.nan
        s = 1.0 if p["side"] == "buy" else -1.0
        pa = float(p["arrival_price"])
        start = pd.Timestamp(p["start"])
        last = kids["last_fill_time"].dropna()
        stop = pd.Timestamp(last.max()).tz_localize("UTC") if len(last) else pd.Timestamp(p["end"])
        if stop.tzinfo is None:
            stop = stop.tz_localize("UTC")
        vwap = volume = math.nan
        if b is not None and p["symbol"] in b.symbols:
            sym = np.array([b.symbols[p["symbol"]]], dtype=np.int64)
            v, vol = b.interval(sym, _utc_ns(pd.DatetimeIndex([start])), _utc_ns(pd.DatetimeIndex([stop])))
            vwap, volume = float(v[0]), float(vol[0])
        mean_dev, max_dev = _schedule_deviation(p, kids)
        out.append({**{c: p.get(c) for c in _PARENT_COLUMNS}, "children": len(kids), "filled_quantity": q,
                    "fill_vwap": pf, "filled_notional": value, "interval_vwap": vwap, "interval_volume": volume,
                    "slippage_arrival_bps": s * (pf - pa) / pa * 1e4 if q > 0 else math.nan,
                    "slippage_vwap_bps": s * (pf - vwap) / vwap * 1e4 if q > 0 and vwap > 0 else math.nan,
                    "participation": q / volume if volume and volume > 0 else math.nan,
                    "schedule_deviation_mean_pct": mean_dev, "schedule_deviation_max_pct": max_dev,
                    "left": float(p["quantity"]) - q,
                    "fees": float(kids["fees"].sum()), "shortfall": float(kids["shortfall"].sum())})
    return AlgoTca(pd.DataFrame(out), children)


def _schedule_deviation(p: pd.Series, kids: pd.DataFrame) -> tuple[float, float]:
    if p["algo"] not in ("twap", "vwap") or kids.empty:
        return math.nan, math.nan
    start, end = pd.Timestamp(p["start"]), pd.Timestamp(p["end"])
    profile = p.get("profile")
    slices = int(p.get("slices") or 1)
    params = AlgoParams(p["algo"], end - start, slices,
                        profile=tuple(profile) if isinstance(profile, list | tuple) and len(profile) == slices
                        else None)
    parent = ParentOrder(str(p["parent_id"]), str(p["symbol"]), str(p["side"]), float(p["quantity"]),
                         float(p["arrival_price"]), params, start)
    kids = kids.sort_values("timestamp", kind="stable")
    done = kids["filled_quantity"].cumsum().to_numpy(dtype=float) / parent.quantity
    due = np.array([scheduled_fraction(parent, pd.Timestamp(t)) for t in kids["timestamp"]])
    dev = np.abs(done - due) * 100
    return float(dev.mean()), float(dev.max())


def parents_from_journal(journal: Journal, run_id: str) -> pd.DataFrame:
    """The parent orders a run's execution algorithms journaled (``parent`` events), as
    ``BacktestResult.parents`` lists them."""
    events = journal.events(run_id, kind="parent")
    rows: list[dict[str, Any]] = []
    for coid, payload in zip(events["client_order_id"], events["payload"], strict=True):
        data = json.loads(payload)
        start = pd.Timestamp(data["start"])
        rows.append({"parent_id": coid, "symbol": data["symbol"], "side": data["side"],
                     "quantity": float(data["quantity"]), "arrival_price": float(data["arrival_price"]),
                     "algo": data["algo"], "start": start, "end": start + pd.Timedelta(data["horizon"]),
                     "participation_cap": data.get("participation"), "slices": data.get("slices"),
                     "profile": data.get("profile")})
    return pd.DataFrame(rows, columns=_PARENT_COLUMNS)


_WORKING = ("pending", "submitted", "partially_filled")


def parent_progress(parents: pd.DataFrame, orders: pd.DataFrame, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """Where each parent stands: children sent, filled and working quantity, percent done against percent its
    schedule wants done at ``now`` (default: its latest child's time), and ``state`` (working, done, or ``left`` when
    the horizon is over with quantity unfilled). ``orders`` are order rows with ``parent_id``, ``quantity``,
    ``filled_quantity``, ``status`` and ``timestamp`` (a TCA or a result's orders table)."""
    columns = ["parent_id", "algo", "symbol", "side", "quantity", "children", "filled_quantity", "working_quantity",
               "done_pct", "scheduled_pct", "state", "end"]
    if parents.empty:
        return pd.DataFrame(columns=columns)
    has_parent = "parent_id" in orders.columns
    rows = []
    for _, p in parents.iterrows():
        kids = orders[orders["parent_id"] == p["parent_id"]] if has_parent else orders.iloc[:0]
        filled = float(kids["filled_quantity"].sum())
        working = kids[kids["status"].isin(_WORKING)]
        open_qty = float((working["quantity"] - working["filled_quantity"]).sum())
        at = now if now is not None else (pd.Timestamp(kids["timestamp"].max()) if len(kids) else pd.Timestamp(
            p["start"]))
        start, end = pd.Timestamp(p["start"]), pd.Timestamp(p["end"])
        if at.tzinfo is None and start.tzinfo is not None:
            at = at.tz_localize("UTC")
        profile = p.get("profile")
        slices = int(p.get("slices") or 1)
        cap = p.get("participation_cap")
        params = AlgoParams(p["algo"], max(end - start, pd.Timedelta(1, "ns")), slices,
                            participation=float(cap) if cap is not None and cap == cap else (
                                0.1 if p["algo"] == "pov" else None),
                            profile=tuple(profile) if isinstance(profile, list | tuple) and len(profile) == slices
                            else None)
        parent = ParentOrder(str(p["parent_id"]), str(p["symbol"]), str(p["side"]), float(p["quantity"]),
                             float(p["arrival_price"]), params, start)
        quantity = float(p["quantity"])
        state = "done" if filled >= quantity - 1e-9 else ("left" if at >= end and open_qty <= 0 else "working")
        rows.append({"parent_id": p["parent_id"], "algo": p["algo"], "symbol": p["symbol"], "side": p["side"],
                     "quantity": quantity, "children": len(kids), "filled_quantity": filled,
                     "working_quantity": open_qty, "done_pct": filled / quantity * 100,
                     "scheduled_pct": scheduled_fraction(parent, at) * 100, "state": state, "end": end})
    return pd.DataFrame(rows, columns=columns)
