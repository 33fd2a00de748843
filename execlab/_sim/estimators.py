"""The σ/ADV estimator: return volatility and average volume per symbol, as known before each bar.

One estimator serves the backtest's cost model (square-root impact), the backtest's ADV for ``risk.max_adv_pct`` and
the paper executor, which feeds it one event at a time: :class:`RollingStats` is the incremental form,
:func:`sigma_before` and :func:`adv_before` run the same steps over a whole history. Both give the numbers of pandas'
``rolling(window, min_periods=2).std()`` of the close-to-close returns of closes carried forward, and of
``rolling(window, min_periods=1).mean()`` of the volume, shifted by one bar, to the last bit: the window statistics
are updated online with pandas' compensated add/remove steps.
"""

from __future__ import annotations

from typing import Final

import numba
import numpy as np

from execlab._core.arrays import FloatArray

__all__ = ["ADV_RISK_WINDOW", "RollingStats", "adv_before", "sigma_before"]

ADV_RISK_WINDOW: Final = 20
"""Bars of volume averaged for ``risk.max_adv_pct``."""


# -- online window steps (one row of symbols at a time) --------------------------------------------------------
# Infinite values count as missing, as in pandas. A variance update that loses all but three significant digits
# marks the window for a recomputation from its values, as in pandas.
_INV_COND_TOL: Final = float(np.finfo(np.float64).eps) * 1e3


@numba.njit(cache=True, inline="always")
def _var_add(val: float, f: FloatArray, s: int) -> bool:
    """Add ``val`` to symbol ``s``'s window (``f``: count, mean, sum of squared deviations, compensation of adds);
    True when the update was ill-conditioned."""
    prev_m2 = f[2, s]
    f[0, s] += 1.0
    mean_x = f[1, s]
    comp = f[3, s]
    prev_mean = mean_x - comp
    y = val - comp
    d = y - mean_x
    f[3, s] = d + mean_x - y
    mean_x += d / f[0, s]
    f[1, s] = mean_x
    f[2, s] = prev_m2 + (val - prev_mean) * (val - mean_x)
    return bool(prev_m2 * _INV_COND_TOL > f[2, s])


@numba.njit(cache=True)
def _var_push(x: FloatArray, t: int, window: int, ring: FloatArray, f: FloatArray, unstable: np.ndarray,
              out: FloatArray) -> None:
    """Add row ``t`` (``x``) to each symbol's window, dropping row ``t - window``; write the window's σ to ``out``.

    ``f`` holds per symbol: count, mean, sum of squared deviations, compensation of adds, compensation of removes.
    """
    slot = t % window
    first = t - window + 1 if t >= window else 0
    for s in range(x.shape[0]):
        old = ring[slot, s]
        val = x[s]
        if np.isinf(val):
            val = np.nan
        ring[slot, s] = val
        recompute = t == 0 or window == 1
        if not recompute:
            if t >= window and not np.isnan(old):
                prev_m2 = f[2, s]
                f[0, s] -= 1.0
                if f[0, s] != 0.0:
                    mean_x = f[1, s]
                    comp = f[4, s]
                    prev_mean = mean_x - comp
                    y = old - comp
                    d = y - mean_x
                    f[4, s] = d + mean_x - y
                    mean_x -= d / f[0, s]
                    f[1, s] = mean_x
                    f[2, s] = prev_m2 - (old - prev_mean) * (old - mean_x)
                    if prev_m2 * _INV_COND_TOL > f[2, s]:
                        unstable[s] = True
                else:
                    f[1, s] = 0.0
                    f[2, s] = 0.0
                    unstable[s] = False
            if not np.isnan(val) and _var_add(val, f, s):
                unstable[s] = True
        if recompute or unstable[s]:
            for k in range(5):
                f[k, s] = 0.0
            for j in range(first, t + 1):
                v = ring[j % window, s]
                if not np.isnan(v):
                    _var_add(v, f, s)
            unstable[s] = False
        n = f[0, s]
        if n >= 2.0:
            var = f[2, s] / (n - 1.0)
            out[s] = np.sqrt(var) if var > 0.0 else 0.0
        else:
            out[s] = np.nan


@numba.njit(cache=True)
def _mean_push(x: FloatArray, t: int, window: int, ring: FloatArray, nobs: np.ndarray, neg: np.ndarray,
               f: FloatArray, same: np.ndarray, out: FloatArray) -> None:
    """Add row ``t`` (``x``) to each symbol's window, dropping row ``t - window``; write the window's mean to ``out``.

    ``f`` holds per symbol: sum, compensation of adds, compensation of removes, last value added.
    """
    slot = t % window
    for s in range(x.shape[0]):
        old = ring[slot, s]
        val = x[s]
        if np.isinf(val):
            val = np.nan
        ring[slot, s] = val
        if window == 1:  # every window is new: start over
            nobs[s] = 0
            neg[s] = 0
            same[s] = 0
            f[0, s] = 0.0
            f[1, s] = 0.0
            f[2, s] = 0.0
            f[3, s] = val
        sum_x = f[0, s]
        n = nobs[s]
        if t >= window and window > 1 and not np.isnan(old):
            n -= 1
            y = -old - f[2, s]
            u = sum_x + y
            f[2, s] = u - sum_x - y
            sum_x = u
            if np.signbit(old):
                neg[s] -= 1
        if not np.isnan(val):
            n += 1
            y = val - f[1, s]
            u = sum_x + y
            f[1, s] = u - sum_x - y
            sum_x = u
            if np.signbit(val):
                neg[s] += 1
            if val == f[3, s]:
                same[s] += 1
            else:
                same[s] = 1
            f[3, s] = val
        f[0, s] = sum_x
        nobs[s] = n
        if n > 0:
            result = sum_x / n
            if same[s] >= n:
                result = f[3, s]
            elif (neg[s] == 0 and result < 0) or (neg[s] == n and result > 0):
                result = 0.0  # all values of one sign: so is their mean
            out[s] = result
        else:
            out[s] = np.nan


@numba.njit(cache=True)
def _returns(close: FloatArray, last: FloatArray, r: FloatArray) -> None:
    """Close-to-close return per symbol, closes carried forward over gaps; ``last`` becomes the carried close."""
    for s in range(close.shape[0]):
        c = close[s]
        if np.isnan(c):
            c = last[s]
        r[s] = c / last[s] - 1.0
        last[s] = c


class _Var:
    """σ over the last ``window`` values of a row stream (pandas ``rolling(window, min_periods=2).std()``)."""

    def __init__(self, n: int, window: int):
        self.window = window
        self.t = 0
        self.ring = np.full((window, n), np.nan)
        self.f = np.zeros((5, n))
        self.unstable = np.zeros(n, np.bool_)

    def push(self, x: FloatArray, out: FloatArray) -> None:
        _var_push(x, self.t, self.window, self.ring, self.f, self.unstable, out)
        self.t += 1


class _Mean:
    """Mean over the last ``window`` values of a row stream (pandas ``rolling(window, min_periods=1).mean()``)."""

    def __init__(self, n: int, window: int):
        self.window = window
        self.t = 0
        self.ring = np.full((window, n), np.nan)
        self.nobs = np.zeros(n, np.int64)
        self.neg = np.zeros(n, np.int64)
        self.f = np.zeros((4, n))
        self.f[3] = np.nan
        self.same = np.zeros(n, np.int64)

    def push(self, x: FloatArray, out: FloatArray) -> None:
        _mean_push(x, self.t, self.window, self.ring, self.nobs, self.neg, self.f, self.same, out)
        self.t += 1


class RollingStats:
    """Per symbol, fed one bar at a time: σ of close-to-close returns over ``vol_window`` bars and mean volume over
    each of ``adv_windows`` bars, as known before the next bar.

    A NaN close is a bar without a trade (the close before it carries forward); volume should be 0 there.
    """

    def __init__(self, n_symbols: int, vol_window: int, adv_windows: tuple[int, ...] = ()):
        self._last = np.full(n_symbols, np.nan)
        self._r = np.full(n_symbols, np.nan)
        self._var = _Var(n_symbols, vol_window)
        self._sigma = np.full(n_symbols, np.nan)
        self._means = {w: _Mean(n_symbols, w) for w in dict.fromkeys(adv_windows)}
        self._adv = {w: np.full(n_symbols, np.nan) for w in self._means}

    def update(self, close: FloatArray, volume: FloatArray) -> None:
        """Take in one bar: its close (NaN: none) and volume per symbol."""
        _returns(np.asarray(close, dtype=np.float64), self._last, self._r)
        self._var.push(self._r, self._sigma)
        vol = np.asarray(volume, dtype=np.float64)
        for w, mean in self._means.items():
            mean.push(vol, self._adv[w])

    def sigma(self) -> FloatArray:
        """σ of returns over the bars fed so far (NaN with fewer than two returns)."""
        return self._sigma.copy()

    def adv(self, window: int) -> FloatArray:
        """Mean volume of the last ``window`` bars fed (one of ``adv_windows``; NaN before the first bar)."""
        return self._adv[window].copy()


@numba.njit(cache=True)
def _sigma_rows(close: FloatArray, window: int, out: FloatArray) -> None:
    n_t, n = close.shape
    last = np.full(n, np.nan)
    r = np.empty(n)
    ring = np.full((window, n), np.nan)
    f = np.zeros((5, n))
    unstable = np.zeros(n, np.bool_)
    out[0] = np.nan
    for t in range(n_t - 1):
        _returns(close[t], last, r)
        _var_push(r, t, window, ring, f, unstable, out[t + 1])


@numba.njit(cache=True)
def _mean_rows(x: FloatArray, window: int, out: FloatArray) -> None:
    n_t, n = x.shape
    ring = np.full((window, n), np.nan)
    nobs = np.zeros(n, np.int64)
    neg = np.zeros(n, np.int64)
    f = np.zeros((4, n))
    f[3] = np.nan
    same = np.zeros(n, np.int64)
    out[0] = np.nan
    for t in range(n_t - 1):
        _mean_push(x[t], t, window, ring, nobs, neg, f, same, out[t + 1])


def sigma_before(close: FloatArray, window: int) -> FloatArray:
    """σ of close-to-close returns over ``window`` bars known before each bar (time × symbol; NaN: too few)."""
    c = np.ascontiguousarray(close, dtype=np.float64)
    out = np.empty_like(c)
    if c.shape[0]:
        _sigma_rows(c, int(window), out)
    return out


def adv_before(volume: FloatArray, window: int) -> FloatArray:
    """Mean volume over ``window`` bars known before each bar (time × symbol; NaN at the first bar)."""
    v = np.ascontiguousarray(volume, dtype=np.float64)
    out = np.empty_like(v)
    if v.shape[0]:
        _mean_rows(v, int(window), out)
    return out
