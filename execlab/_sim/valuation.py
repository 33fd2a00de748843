"""Valuing a book of positions at marks, compiled: one summation order shared by every path that values a book.

The per-step backtest, the simulated venue and the compiled backtest loop all call these, so equity, day-start
equity and exposures come out bit for bit the same whichever path ran.
"""

from __future__ import annotations

import numba

from execlab._core.arrays import FloatArray

__all__ = ["exposures", "held_value"]


@numba.njit(cache=True, nogil=True)
def held_value(position: FloatArray, mark: FloatArray) -> float:
    """Sum of position × mark over the symbols held (a flat symbol's mark, even NaN, is not read)."""
    total = 0.0
    for j in range(position.shape[0]):
        if position[j] != 0.0:
            total += position[j] * mark[j]
    return total


@numba.njit(cache=True, nogil=True)
def exposures(position: FloatArray, price: FloatArray) -> tuple[float, float]:
    """(gross, net) exposure: sums of |position × price| and position × price over the symbols held."""
    gross = 0.0
    net = 0.0
    for j in range(position.shape[0]):
        if position[j] != 0.0:
            v = position[j] * price[j]
            gross += abs(v)
            net += v
    return gross, net
