"""One compiled pass over a target matrix: its C-ordered copy, and whether any of the bar-dependent checks of
:func:`execlab._data.targets.align_targets` could fail (the checks themselves, and their messages, stay there)."""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from execlab._core.arrays import FloatArray

__all__ = ["TargetScan", "scan_targets"]


class TargetScan(NamedTuple):
    """The targets copied in row order, and which checks have something to look at."""

    values: FloatArray
    negative: bool
    """Some target is below zero."""
    small_row: bool
    """Some row has a non-zero target and only targets below 1 in magnitude: a row
    :func:`execlab._data.targets.check_unit` may refuse in shares or notional."""
    no_price: bool
    """Some non-zero target falls where its symbol has no mark price."""


def scan_targets(values: FloatArray, marks: FloatArray, bars: npt.NDArray[np.int64],
                 cols: npt.NDArray[np.int64]) -> TargetScan:
    """Scan ``values`` (rebalance × symbol) against ``marks`` (bar × market symbol, carried forward: NaN only
    before a symbol's first price) at ``bars`` (increasing), the target columns being market columns ``cols``."""
    out = np.ascontiguousarray(values, dtype=np.float64)
    negative, small = _rows(out)
    return TargetScan(out, negative, small, _unpriced(out, marks, bars, cols))


@numba.njit(cache=True, nogil=True)
def _rows(values: np.ndarray) -> tuple[bool, bool]:
    """(some value is negative, some row's largest magnitude is above 0 and below 1)."""
    n_r, n_s = values.shape
    negative = False
    small = False
    for r in range(n_r):
        top = 0.0
        low = 0.0
        for j in range(n_s):
            v = values[r, j]
            top = max(top, abs(v))
            low = min(low, v)
        negative = negative or low < 0.0
        small = small or (top > 0.0 and top < 1.0)
    return negative, small


@numba.njit(cache=True, nogil=True)
def _unpriced(values: np.ndarray, marks: np.ndarray, bars: np.ndarray, cols: np.ndarray) -> bool:
    """Whether a non-zero value falls at a bar before its symbol's first price."""
    n_r, n_s = values.shape
    n_t = marks.shape[0]
    for j in range(n_s):
        c = cols[j]
        first = 0
        while first < n_t and np.isnan(marks[first, c]):
            first += 1
        r = 0
        while r < n_r and bars[r] < first:
            if values[r, j] != 0.0:
                return True
            r += 1
    return False
