"""The same targets run in two modes (backtest against paper, paper against live): the gap, order by order.

Runs of the same targets share deterministic client order ids, so orders are matched on ``client_order_id`` by
default; ``on=("symbol", "day")`` matches the day's net trading per symbol and side instead, for runs whose ids
differ. For each match, both fill VWAPs are measured against one common decision price, ``a``'s:

    slippage_x_bps = s · (P_f,x − P_d,a) / P_d,a · 1e4        gap_bps = slippage_b_bps − slippage_a_bps

so a positive gap means ``b`` filled worse than ``a`` for that side (reality costs more than the simulation when
``a`` is the backtest). ``shortfall_gap_bps`` compares the whole implementation shortfall (fees and unfilled
quantities included) the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from execlab._analysis.tca import TcaError, TcaResult

__all__ = ["ModeComparison", "compare_modes"]

_QUANTILES: Final = (0.05, 0.25, 0.5, 0.75, 0.95)
_SUMMED: Final = ("quantity", "filled_quantity", "decision_notional", "filled_notional", "shortfall")


@dataclass(frozen=True, eq=False)
class ModeComparison:
    """Per-match gaps (``orders``), their distribution per symbol (``by_symbol``) and over everything (``stats``)."""

    orders: pd.DataFrame
    by_symbol: pd.DataFrame
    stats: dict[str, float]
    label_a: str
    label_b: str
    unmatched_a: tuple[str, ...]
    unmatched_b: tuple[str, ...]

    def summary(self) -> dict[str, float]:
        """Distribution of the fill-price gap over every matched order with fills on both sides."""
        return dict(self.stats)

    def __repr__(self) -> str:
        s = self.stats
        return (f"ModeComparison({self.label_b} − {self.label_a}: matched={int(s['count'])}, "
                f"mean_gap_bps={s['mean']:.2f}, mean_abs_gap_bps={s['mean_abs']:.2f})")


def _label(result: TcaResult, fallback: str) -> str:
    modes = sorted(set(result.orders["mode"].astype(str)) - {"unknown"})
    return "+".join(modes) if modes else fallback


def _per_key(orders: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per key: quantities and notionals summed, fill VWAP and decision price quantity-weighted."""
    frame = orders.assign(
        _fill_value=orders["filled_notional"],
        _dec_value=orders["decision_price"] * orders["quantity"],
    )
    grouped = frame.groupby(keys, sort=True)
    out = grouped[[*_SUMMED, "_fill_value", "_dec_value"]].sum()
    out["orders"] = grouped.size()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["fill_vwap"] = np.where(out["filled_quantity"] > 0, out["_fill_value"] / out["filled_quantity"], np.nan)
        out["decision_price"] = out["_dec_value"] / out["quantity"]
    return out.drop(columns=["_fill_value", "_dec_value"]).reset_index()


def _distribution(gap: pd.Series, weight: pd.Series) -> dict[str, float]:
    ok = np.isfinite(gap.to_numpy(dtype=np.float64))
    g = gap[ok].to_numpy(dtype=np.float64)
    w = weight[ok].to_numpy(dtype=np.float64)
    out = {"count": float(g.size), "mean": float(g.mean()) if g.size else np.nan,
           "std": float(g.std(ddof=1)) if g.size > 1 else np.nan,
           "mean_abs": float(np.abs(g).mean()) if g.size else np.nan,
           "weighted_mean": float((g * w).sum() / w.sum()) if g.size and w.sum() > 0 else np.nan,
           "min": float(g.min()) if g.size else np.nan}
    for q in _QUANTILES:
        out[f"p{round(q * 100):02d}"] = float(np.quantile(g, q)) if g.size else np.nan
    out["max"] = float(g.max()) if g.size else np.nan
    return out


def compare_modes(a: TcaResult, b: TcaResult, on: str | Sequence[str] = "client_order_id") -> ModeComparison:
    """Match ``a``'s orders with ``b``'s and measure the gap ``b − a`` in bps against ``a``'s decision price.

    ``on``: ``"client_order_id"`` (the default: runs of the same targets share ids) or columns of the orders
    tables such as ``("symbol", "day")``; ``side`` is always part of a multi-column match. Matches whose sides
    differ are refused. ``by_symbol`` gives count, mean, std, mean of the absolute gap, notional-weighted mean,
    min, 5/25/50/75/95 % quantiles and max of ``gap_bps`` per symbol; matches without a fill on both sides are in
    ``orders`` with a NaN gap and are not counted.
    """
    keys = [on] if isinstance(on, str) else list(on)
    for name in keys:
        if name not in a.orders.columns or name not in b.orders.columns:
            raise TcaError(f"compare_modes: {name!r} is not a column of both orders tables")
    by_id = keys == ["client_order_id"]
    if not by_id and "side" not in keys:
        keys.append("side")
    if not by_id and "symbol" not in keys:
        keys.insert(0, "symbol")
    cols = ["client_order_id", "symbol", "side", "status", "quantity", "filled_quantity", "decision_price",
            "fill_vwap", "decision_notional", "filled_notional", "shortfall"]
    if by_id:
        left, right = a.orders[cols], b.orders[cols]
    else:
        left, right = _per_key(a.orders, keys), _per_key(b.orders, keys)
    merged = left.merge(right, on=keys, how="outer", suffixes=("_a", "_b"), indicator=True)
    only_a = merged["_merge"] == "left_only"
    only_b = merged["_merge"] == "right_only"

    def names(mask: pd.Series) -> tuple[str, ...]:
        part = merged[mask]
        return tuple(part[keys].astype(str).agg("|".join, axis=1)) if len(part) else ()

    unmatched_a, unmatched_b = names(only_a), names(only_b)
    m = merged[merged["_merge"] == "both"].drop(columns=["_merge"]).reset_index(drop=True)
    if by_id:
        bad = (m["side_a"] != m["side_b"]).to_numpy()
        if bad.any():
            row = m.iloc[int(np.flatnonzero(bad)[0])]
            raise TcaError(f"compare_modes: order {row['client_order_id']!r} is a {row['side_a']} in a but a "
                           f"{row['side_b']} in b")
        m = m.rename(columns={"symbol_a": "symbol", "side_a": "side"}).drop(columns=["symbol_b", "side_b"])
    s = np.where(m["side"].to_numpy() == "buy", 1.0, -1.0)
    ref = m["decision_price_a"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        slip_a = s * (m["fill_vwap_a"].to_numpy(dtype=np.float64) - ref) / ref * 1e4
        slip_b = s * (m["fill_vwap_b"].to_numpy(dtype=np.float64) - ref) / ref * 1e4
        m["slippage_a_bps"] = slip_a
        m["slippage_b_bps"] = slip_b
        m["gap_bps"] = slip_b - slip_a
        m["decision_gap_bps"] = s * (m["decision_price_b"].to_numpy(dtype=np.float64) - ref) / ref * 1e4
        m["fill_rate_a"] = m["filled_quantity_a"] / m["quantity_a"]
        m["fill_rate_b"] = m["filled_quantity_b"] / m["quantity_b"]
        m["shortfall_gap_bps"] = (m["shortfall_b"] / m["decision_notional_b"]
                                  - m["shortfall_a"] / m["decision_notional_a"]) * 1e4
    m["weight"] = np.minimum(m["filled_quantity_a"], m["filled_quantity_b"]) * ref
    rows = []
    for symbol, part in m.groupby("symbol", sort=True):
        rows.append({"symbol": symbol, **_distribution(part["gap_bps"], part["weight"]),
                     "mean_shortfall_gap_bps": float(part["shortfall_gap_bps"].mean())})
    by_symbol = pd.DataFrame(rows, columns=["symbol", *_distribution(pd.Series([], dtype=float),
                                                                      pd.Series([], dtype=float)),
                                            "mean_shortfall_gap_bps"])
    stats = _distribution(m["gap_bps"], m["weight"])
    stats["mean_shortfall_gap_bps"] = float(m["shortfall_gap_bps"].mean()) if len(m) else np.nan
    stats["unmatched_a"] = float(len(unmatched_a))
    stats["unmatched_b"] = float(len(unmatched_b))
    return ModeComparison(m.drop(columns=["weight"]), by_symbol, stats, _label(a, "a"), _label(b, "b"),
                          unmatched_a, unmatched_b)
