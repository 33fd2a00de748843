"""VWAP volume profiles from a symbol's own minute history (a pure function of the bars given)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["volume_profile"]


def volume_profile(
    minute_bars: pd.DataFrame,
    symbol: str,
    start: pd.Timestamp,
    horizon: pd.Timedelta,
    slices: int,
    *,
    lookback_days: int = 20,
) -> tuple[float, ...] | None:
    """Each slice's share of the volume traded in the same time-of-day window on the symbol's previous days.

    ``minute_bars`` is long (columns ``ts``, ``symbol``, ``volume``; ``ts`` in the same zone as ``start``). Only
    days before ``start``'s day are used (no look-ahead), at most ``lookback_days`` of them. ``None`` when there is
    no such history with volume (the caller then weights the slices equally).
    """
    if slices < 1:
        raise ValueError(f"slices must be >= 1, got {slices}")
    rows = minute_bars.loc[minute_bars["symbol"] == symbol, ["ts", "volume"]]
    ts = pd.DatetimeIndex(rows["ts"])
    day_start = start.normalize()
    before = ts < day_start
    if not before.any():
        return None
    ts, volume = ts[before], rows["volume"].to_numpy(dtype=float)[before]
    offset = ts - ts.normalize()
    window_start = start - day_start
    elapsed = offset - window_start
    inside = (elapsed >= pd.Timedelta(0)) & (elapsed < horizon)
    days = ts.normalize()[inside]
    keep = pd.DatetimeIndex(sorted(set(days))[-lookback_days:])
    mask = np.asarray(inside) & np.asarray(ts.normalize().isin(keep))
    if not mask.any():
        return None
    bucket = np.minimum((np.asarray(elapsed[mask] / (horizon / slices))).astype(int), slices - 1)
    weights = np.bincount(bucket, weights=np.nan_to_num(volume[mask]), minlength=slices)
    total = weights.sum()
    if total <= 0:
        return None
    return tuple(float(w / total) for w in weights)
