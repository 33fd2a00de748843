"""Valuing a book of positions at marks, compiled: one summation order shared by every path that values a book.

The per-step backtest, the simulated venue and the compiled backtest loop all call these, so equity, day-start
equity and exposures come out bit for bit the same whichever path ran.
"""

from __future__ import annotations

import numba

from execlab._core.arrays import FloatArray, IntArray
from execlab._core.compiled import no_refcount

__all__ = ["add_quote_flows", "exposures", "held_value", "home_cash"]


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


@no_refcount()
def add_quote_flows(balance: FloatArray, order_symbol: IntArray, oid: IntArray, quantity: FloatArray,
                    price: FloatArray, fee: FloatArray, first: int, stop: int) -> None:
    """Add the cash flows of fills ``first .. stop`` (``-(quantity × price + fee)``, in each symbol's price currency;
    fill ``k`` is of order ``oid[k]``, whose symbol is ``order_symbol[oid[k]]``) to ``balance`` per symbol, in fill
    order. Allocates nothing."""
    for k in range(first, stop):
        balance[order_symbol[oid[k]]] -= quantity[k] * price[k] + fee[k]


@numba.njit(cache=True, nogil=True)
def home_cash(cash: float, balance: FloatArray, rate: FloatArray) -> float:
    """The loop's one cash figure in the home currency: ``cash`` took each symbol's flows (``balance``, in its price
    currency) at par; each is worth ``rate`` instead."""
    total = cash
    for j in range(balance.shape[0]):
        if balance[j] != 0.0:
            total += balance[j] * (rate[j] - 1.0)
    return total
