"""Benchmarks built from the bars themselves, for the tear sheet's "versus a benchmark"."""

from __future__ import annotations

import pandas as pd

__all__ = ["equal_weight_index"]


def equal_weight_index(bars: pd.DataFrame) -> pd.Series:
    """The equal-weight index of the symbols in ``bars`` (long: ``timestamp``, ``symbol``, ``close``), rebalanced
    every bar: 1.0 at the first bar, then compounded by the mean return of the symbols priced on both bars."""
    closes = bars.pivot_table(index="timestamp", columns="symbol", values="close", aggfunc="last").sort_index()
    returns = closes.pct_change(fill_method=None).mean(axis=1, skipna=True).fillna(0.0)
    return (1.0 + returns).cumprod().rename("equal_weight")
