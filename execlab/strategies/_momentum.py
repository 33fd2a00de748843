"""Cross-sectional momentum with inverse-volatility weights: a demo strategy that emits target weights."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from execlab._core.arrays import FloatArray

__all__ = ["momentum_targets"]

_VOL_WINDOW: Final = 60
_REQUIRED: Final = ("timestamp", "symbol", "close")


def momentum_targets(
    bars: pd.DataFrame,
    lookback: int = 126,
    skip: int = 21,
    top_n: int = 3,
    rebalance: str = "ME",
    max_weight: float = 0.4,
    gross: float = 0.95,
) -> pd.DataFrame:
    """Target weights of a long-only momentum portfolio, one row per rebalance date.

    ``bars`` is long format with at least ``timestamp``, ``symbol`` and (adjusted) ``close``. Rebalance dates
    are the last timestamp present in ``bars`` within each ``rebalance`` period (a pandas offset alias,
    month end by default); the last period may be incomplete. On each date the symbols are ranked by their
    return from ``lookback`` bars ago to ``skip`` bars ago; the ``top_n`` with a positive return are held,
    weighted by the inverse of their volatility (standard deviation of the last 60 daily returns), capped at
    ``max_weight`` and scaled to sum to ``gross`` (to less when the caps bind). A row depends only on bars up
    to and including its date.

    Returns a float64 DataFrame indexed by rebalance timestamp with one column per symbol in ``bars``. Every
    weight is in ``[0, max_weight]``, each row sums to at most ``gross``, and symbols without a close on the
    date or without enough history get 0.0. Raises ``ValueError`` for bad parameters, missing columns,
    a non-datetime ``timestamp``, duplicate (timestamp, symbol) rows or a non-positive close.
    """
    _check_params(lookback, skip, top_n, max_weight, gross)
    close = _wide_close(bars)
    momentum = close.shift(skip) / close.shift(lookback) - 1.0
    vol = close.pct_change(fill_method=None).rolling(_VOL_WINDOW, min_periods=_VOL_WINDOW).std()
    dates = _rebalance_dates(close.index, rebalance)

    mom = momentum.loc[dates].to_numpy(dtype=np.float64)
    sig = vol.loc[dates].to_numpy(dtype=np.float64)
    priced = close.loc[dates].notna().to_numpy()
    weights = np.zeros(mom.shape, dtype=np.float64)
    for row in range(len(dates)):
        weights[row] = _row_weights(mom[row], sig[row], priced[row], top_n, max_weight, gross)
    return pd.DataFrame(weights, index=dates, columns=close.columns)


def _check_params(lookback: int, skip: int, top_n: int, max_weight: float, gross: float) -> None:
    if skip < 0:
        raise ValueError(f"skip must be >= 0, got {skip}")
    if lookback <= skip:
        raise ValueError(f"lookback must be greater than skip, got lookback={lookback}, skip={skip}")
    if top_n < 1:
        raise ValueError(f"top_n must be >= 1, got {top_n}")
    if not (np.isfinite(max_weight) and max_weight > 0):
        raise ValueError(f"max_weight must be a finite number > 0, got {max_weight}")
    if not (np.isfinite(gross) and gross >= 0):
        raise ValueError(f"gross must be a finite number >= 0, got {gross}")


def _wide_close(bars: pd.DataFrame) -> pd.DataFrame:
    missing = [col for col in _REQUIRED if col not in bars.columns]
    if missing:
        raise ValueError(f"bars is missing columns {missing}")
    if not pd.api.types.is_datetime64_any_dtype(bars["timestamp"]):
        raise ValueError(f"bars.timestamp must be datetime64, got {bars['timestamp'].dtype}")
    dup = bars.duplicated(subset=["timestamp", "symbol"])
    if dup.any():
        first = bars.loc[dup].iloc[0]
        raise ValueError(f"bars has duplicate rows for {first['symbol']} at {first['timestamp']}")
    close = bars["close"].astype(np.float64)
    bad = close.le(0.0) | np.isinf(close)
    if bad.any():
        first = bars.loc[bad].iloc[0]
        raise ValueError(
            f"bars has a non-positive or infinite close for {first['symbol']} at {first['timestamp']}"
        )
    wide = bars.assign(close=close).pivot(index="timestamp", columns="symbol", values="close")
    return wide.sort_index().sort_index(axis=1)


def _rebalance_dates(index: pd.Index, rebalance: str) -> pd.DatetimeIndex:
    stamps = pd.Series(index, index=index)
    last = stamps.resample(rebalance).last().dropna()
    return pd.DatetimeIndex(last.to_numpy(), name=index.name)


def _row_weights(
    mom: FloatArray, sig: FloatArray, priced: npt.NDArray[np.bool_], top_n: int, cap: float, gross: float
) -> FloatArray:
    weights = np.zeros(mom.shape, dtype=np.float64)
    ok = priced & np.isfinite(mom) & (mom > 0) & np.isfinite(sig) & (sig > 0)
    candidates = np.flatnonzero(ok)
    if candidates.size == 0:
        return weights
    order = np.argsort(-mom[candidates], kind="stable")
    chosen = candidates[order[:top_n]]
    weights[chosen] = _capped(1.0 / sig[chosen], gross, cap)
    return weights


def _capped(raw: FloatArray, total: float, cap: float) -> FloatArray:
    """Split ``total`` in proportion to ``raw`` with no share above ``cap``; the excess goes to the rest."""
    out = np.zeros(raw.shape, dtype=np.float64)
    free = np.ones(raw.shape, dtype=bool)
    remaining = total
    while free.any() and remaining > 0:
        share = raw[free] / raw[free].sum() * remaining
        over = share > cap
        if not over.any():
            out[free] = share
            break
        hit = np.flatnonzero(free)[over]
        out[hit] = cap
        remaining -= cap * hit.size
        free[hit] = False
    return out
