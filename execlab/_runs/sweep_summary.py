"""A sweep's summaries and equity curves for many runs at once, from the arrays the compiled loop leaves: no order
book, no result object, no pandas per run.

Each run's figures are bit for bit the ones :meth:`execlab._runs.backtest.BacktestResult.summary` gives it (the same
array operations, element by element, and every reduction row by row; ``tests/modes/test_sweep_summary.py`` checks
it). Runs valued in a home currency (pairs quoted in another) are not taken here: their callers go through the result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba
import numpy as np

from execlab._core.arrays import FloatArray, IntArray
from execlab._core.codes import DENIED, FILLED, PARTIALLY_FILLED, PENDING, STATUS_NAMES, SUBMITTED
from execlab._data.bars import MarketData
from execlab._runs.performance import headline_rows

__all__ = ["RunArrays", "bar_sums", "fill_sums", "pairwise_sum", "run_summaries"]

_MIN_SPAN = 3
"""Bars a measured span needs here; a shorter one goes through the result (whose figures are NaN there)."""


@dataclass(frozen=True, eq=False)
class RunArrays:
    """What one compiled run left, as arrays: its start, positions and cash per bar, order states and fills."""

    initial_cash: float
    first: int
    """The measured span's first bar (the first rebalance; 0 without one)."""
    positions: FloatArray
    cash: FloatArray
    status: np.ndarray
    """Each order's state code."""
    fill_bar: IntArray
    fill_quantity: FloatArray
    fill_price: FloatArray
    fill_reference: FloatArray
    fill_fee: FloatArray


def run_summaries(runs: Sequence[RunArrays], market: MarketData, periods_per_year: Callable[[int], float],
                  positions: FloatArray | None = None) -> list[tuple[dict[str, float], FloatArray] | None]:
    """Each run's summary (the keys and values of ``BacktestResult.summary(periods_per_year=...)``) and equity per
    bar, or ``None`` for a run whose measured span is too short here. ``periods_per_year(first)``: the bars per
    year of the span starting at bar ``first``. ``positions``: the runs' positions stacked (runs × bars × symbols),
    when the caller holds them so (saves a copy)."""
    marks = market.last_close()
    n_t = marks.shape[0]
    out: list[tuple[dict[str, float], FloatArray] | None] = [None] * len(runs)
    by_first: dict[int, list[int]] = {}
    for k, run in enumerate(runs):
        if n_t - run.first >= _MIN_SPAN:
            by_first.setdefault(run.first, []).append(k)
    for first, members in by_first.items():
        stacked = positions if positions is not None and len(members) == len(runs) else np.stack(
            [runs[k].positions for k in members])
        cash = np.stack([runs[k].cash for k in members])
        equity, gross_value, net_value = bar_sums(stacked, marks, cash, first)
        span = equity[:, first:]
        g = len(members)
        traded = np.zeros((g, n_t))
        sums = np.empty((g, 4))
        for j, k in enumerate(members):
            run = runs[k]
            fill_sums(run.fill_bar, run.fill_quantity, run.fill_price, run.fill_reference, run.fill_fee, equity[j],
                      traded[j], sums[j])
        turnover_all, fees, slippage, traded_total = sums.T
        with np.errstate(divide="ignore", invalid="ignore"):
            gross = gross_value / span
            net = net_value / span
            turnover = traded[:, first:] / span
        headlines = headline_rows(span, market.timestamps[first:], turnover=turnover, gross=gross, net=net,
                                  traded=traded_total, fees=fees, slippage=slippage,
                                  periods_per_year=periods_per_year(first))
        for j, k in enumerate(members):
            run = runs[k]
            counts = np.bincount(run.status, minlength=len(STATUS_NAMES))
            start = run.initial_cash
            final = float(equity[j, -1])
            out[k] = ({
                "initial_value": start,
                "final_value": final,
                "total_return": final / start - 1.0,
                "turnover": float(turnover_all[j]),
                "fees": float(fees[j]),
                "slippage": float(slippage[j]),
                "orders": float(len(run.status)),
                "orders_filled": float(counts[FILLED]),
                "orders_denied": float(counts[DENIED]),
                "orders_working_at_end": float(counts[PENDING] + counts[SUBMITTED] + counts[PARTIALLY_FILLED]),
                "fills": float(len(run.fill_bar)),
                **headlines[j],
            }, equity[j])
    return out


@numba.njit(cache=True, nogil=True, inline="always")
def _block_sum(a: FloatArray, lo: int, n: int) -> float:
    """numpy's sum of ``a[lo:lo + n]`` for ``n`` up to 128: one running sum below 8 values, else eight."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    whole = n - n % 8
    while i < whole:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    total: float = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += a[lo + i]
        i += 1
    return total


@numba.njit("float64(float64[::1], int64, int64)", cache=True, nogil=True)
def pairwise_sum(a: FloatArray, lo: int, n: int) -> float:
    """The sum of ``a[lo:lo + n]`` added up in numpy's order (its pairwise summation: eight running sums in blocks
    of up to 128, halves above), so it equals ``np.sum`` of those values bit for bit."""
    if n <= 128:
        return _block_sum(a, lo, n)
    half = n // 2
    half -= half % 8
    total: float = pairwise_sum(a, lo, half) + pairwise_sum(a, lo + half, n - half)
    return total


_BIG = np.finfo(np.float64).max


@numba.njit(cache=True, nogil=True)
def bar_sums(positions: FloatArray, marks: FloatArray, cash: FloatArray,
             first: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per run (``positions``: runs × bars × symbols; ``cash``: runs × bars) and bar: equity (cash plus the held
    values, NaN marks counted as 0: ``np.nansum``), and from bar ``first`` on the sums of the held values' absolute
    values and of the held values (NaN as 0, infinities as the largest float: ``np.nan_to_num``), each added up as
    numpy adds up a row."""
    g, n_t, n_s = positions.shape
    equity = np.empty((g, n_t))
    gross = np.empty((g, n_t - first))
    net = np.empty((g, n_t - first))
    held = np.empty(n_s)
    absolute = np.empty(n_s)
    small = n_s <= 128
    for v in range(g):
        for t in range(n_t):
            for j in range(n_s):
                x = positions[v, t, j] * marks[t, j]
                held[j] = 0.0 if np.isnan(x) else x
            equity[v, t] = (_block_sum(held, 0, n_s) if small else pairwise_sum(held, 0, n_s)) + cash[v, t]
            if t >= first:
                for j in range(n_s):
                    x = held[j]
                    if np.isinf(x):
                        x = _BIG if x > 0 else -_BIG
                    held[j] = x
                    absolute[j] = abs(x)
                if small:
                    gross[v, t - first] = _block_sum(absolute, 0, n_s)
                    net[v, t - first] = _block_sum(held, 0, n_s)
                else:
                    gross[v, t - first] = pairwise_sum(absolute, 0, n_s)
                    net[v, t - first] = pairwise_sum(held, 0, n_s)
    return equity, gross, net


@numba.njit(cache=True, nogil=True)
def fill_sums(bar: IntArray, quantity: FloatArray, price: FloatArray, reference: FloatArray, fee: FloatArray,
              equity: FloatArray, traded: FloatArray, out: FloatArray) -> None:
    """One run's fills added up as numpy does: ``traded`` (zeros in, per bar) gets the traded notional per bar
    (``np.bincount`` of the fills' ``|quantity × price|``); ``out`` the sum over bars of traded over ``equity``, the
    fees, the slippage (``|price − reference| × |quantity|``) and the traded notional."""
    n = bar.shape[0]
    n_t = equity.shape[0]
    notional = np.empty(n)
    slip = np.empty(n)
    for i in range(n):
        notional[i] = abs(quantity[i] * price[i])
        slip[i] = abs(price[i] - reference[i]) * abs(quantity[i])
        traded[bar[i]] += notional[i]
    ratio = np.empty(n_t)
    for t in range(n_t):
        ratio[t] = traded[t] / equity[t]
    out[0] = pairwise_sum(ratio, 0, n_t)
    out[1] = pairwise_sum(np.ascontiguousarray(fee), 0, n)
    out[2] = pairwise_sum(slip, 0, n)
    out[3] = pairwise_sum(notional, 0, n)
