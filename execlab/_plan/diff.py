"""Plan: the diff from target positions to orders, on columns.

Targets in shares, weights or notional go down one ladder (weight → notional → shares), then
``order = target − current``, rounded toward zero to whole lots. Instrument minimums, a no-trade band and the
cash available (after sells, net of estimated costs, less a cash buffer) shape the orders; sells come first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Literal, TypeAlias

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd

from execlab._core.arrays import FloatArray, IntArray
from execlab._core.compiled import no_refcount
from execlab._core.instruments import InstrumentArrays

__all__ = ["CostEstimate", "Plan", "PlanReason", "PlanSettings", "plan_orders"]


class PlanReason(IntEnum):
    """Why a symbol's order is what it is."""

    ORDER = 0
    NO_CHANGE = 1
    BELOW_MIN_QUANTITY = 2
    BELOW_MIN_NOTIONAL = 3
    IN_NO_TRADE_BAND = 4
    CASH_LIMITED = 5
    NO_CASH = 6
    NOT_TRADING = 7
    UNTARGETED_HELD = 8
    """Held but not named by the targets, and ``plan.untargeted`` is ``hold``: no order."""


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Pre-trade estimate of costs: slippage fraction per symbol, fee rate, per-share fee and minimum fee."""

    slippage: FloatArray | float = 0.0
    fee_rate: float = 0.0
    per_share: float = 0.0
    min_fee: float = 0.0
    max_fee_pct: float = np.inf


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """The plan's knobs (see :class:`execlab.PlanConfig`) plus the cash floor that margin allows."""

    unit: Literal["shares", "weight", "notional"] = "shares"
    no_trade_band: float = 0.0
    cash_buffer: float = 0.0
    cash_floor: float | None = 0.0
    """Lowest cash the plan may leave (negative with margin); ``None`` means no cash check."""


@numba.njit(cache=True)
def _cap_to_cash(
    qty: FloatArray,
    price: FloatArray,
    slip: FloatArray,
    lot: FloatArray,
    min_qty: FloatArray,
    min_notional: FloatArray,
    sequence: IntArray,
    reason: IntArray,
    available: float,
    fee_rate: float,
    per_share: float,
    min_fee: float,
    max_fee_pct: float,
) -> None:
    """Walk orders in sequence; shrink buys (whole lots) to what the available cash pays for."""
    one_slip = slip.shape[0] == 1
    for k in range(sequence.shape[0]):
        j = sequence[k]
        q = qty[j]
        sl = slip[0] if one_slip else slip[j]
        if q == 0.0:
            continue
        if q < 0.0:
            gross = -q * price[j] * (1.0 - sl)
            fee = gross * fee_rate
            if per_share > 0.0:
                fee += min(max(min_fee, -q * per_share), max_fee_pct * gross)
            if gross - fee < 0.0 and available + gross - fee < 0.0:
                qty[j] = 0.0  # the fee is more than the sale brings and cash cannot pay it
                reason[j] = 6
                continue
            available += gross - fee
            continue
        unit = price[j] * (1.0 + sl)
        gross = q * unit
        fee = gross * fee_rate
        if per_share > 0.0:
            fee += min(max(min_fee, q * per_share), max_fee_pct * gross)
        cost = gross + fee
        if cost <= available * (1.0 + 1e-12) + 1e-9:
            available -= cost
            continue
        # Affordable size, then whole lots, then re-check the fee floor.
        room = available
        if per_share > 0.0:
            room -= min_fee
        new_q = room / (unit * (1.0 + fee_rate) + (per_share if per_share > 0.0 else 0.0))
        if lot[j] > 0.0:
            new_q = np.floor(new_q / lot[j] + 1e-9) * lot[j]
        while new_q > 0.0:
            gross = new_q * unit
            fee = gross * fee_rate
            if per_share > 0.0:
                fee += min(max(min_fee, new_q * per_share), max_fee_pct * gross)
            if gross + fee <= available * (1.0 + 1e-12) + 1e-9:
                break
            new_q = new_q - lot[j] if lot[j] > 0.0 else new_q * (1.0 - 1e-9)
        if new_q * unit < 1e-6 or new_q < min_qty[j] or new_q * price[j] < min_notional[j]:
            qty[j] = 0.0
            reason[j] = 6  # NO_CASH
            continue
        qty[j] = new_q
        reason[j] = 5  # CASH_LIMITED
        available -= gross + fee


_UNIT_CODES = {"shares": 0, "weight": 1, "notional": 2}
_SIGN: Final = np.uint64(1 << 63)
_ALL: Final = np.uint64(0xFFFFFFFFFFFFFFFF)
_BYTE: Final = np.uint64(0xFF)


@numba.njit(cache=True, nogil=True)
def sort_scratch(n: int) -> tuple[FloatArray, npt.NDArray[np.uint64], npt.NDArray[np.uint64], IntArray, IntArray]:
    """The buffers :func:`argsort_into` sorts up to ``n`` values in."""
    return np.empty(n), np.empty(n, np.uint64), np.empty(n, np.uint64), np.empty(n, np.int64), np.empty(256, np.int64)


@no_refcount()
def argsort_into(values: FloatArray, n: int, idx: IntArray,
                 scratch: tuple[FloatArray, npt.NDArray[np.uint64], npt.NDArray[np.uint64], IntArray, IntArray]
                 ) -> None:
    """Write into ``idx[:n]`` the indices that sort ``values[:n]`` (no NaN) ascending, equal values in index order
    (``np.argsort(values[:n], kind="stable")``): by insertion for up to 96 values and by an LSD radix sort of the
    floats' ordered bit patterns for more (several times faster than a merge sort at a few hundred). Allocates
    nothing: ``scratch`` is :func:`sort_scratch` of at least ``n``."""
    for j in range(n):
        idx[j] = j
    if n <= 96:  # below about a hundred, insertion beats the radix sort's eight passes over 256 buckets
        for a in range(1, n):
            k = idx[a]
            x = values[k]
            b = a - 1
            while b >= 0 and values[idx[b]] > x:
                idx[b + 1] = idx[b]
                b -= 1
            idx[b + 1] = k
        return
    w, keys, keys2, idx2, count = scratch
    for j in range(n):
        w[j] = values[j] if values[j] != 0.0 else 0.0  # -0.0 sorts with 0.0
    bits = w.view(np.uint64)
    for j in range(n):
        b = bits[j]
        keys[j] = b ^ _ALL if b & _SIGN else b | _SIGN
    src_k, dst_k, src_i, dst_i = keys, keys2, idx, idx2
    moved = False
    for shift in range(0, 64, 8):
        sh = np.uint64(shift)
        count[:] = 0
        for j in range(n):
            count[(src_k[j] >> sh) & _BYTE] += 1
        if count[(src_k[0] >> sh) & _BYTE] == n:
            continue  # every key has this byte: the pass would not move anything
        total = 0
        for d in range(256):
            c = count[d]
            count[d] = total
            total += c
        for j in range(n):
            d = (src_k[j] >> sh) & _BYTE
            pos = count[d]
            count[d] = pos + 1
            dst_k[pos] = src_k[j]
            dst_i[pos] = src_i[j]
        src_k, dst_k = dst_k, src_k
        src_i, dst_i = dst_i, src_i
        moved = not moved
    if moved:  # the sorted indices are in the other buffer
        for j in range(n):
            idx[j] = src_i[j]


PlanBuffers: TypeAlias = tuple[FloatArray, FloatArray, IntArray, FloatArray, IntArray, IntArray, IntArray]
"""Buffers of one symbol each for :func:`_diff_into` (:func:`plan_buffers`): target shares, order quantity, reason,
order value, symbols with an order, their sort order, the sending sequence."""


@numba.njit(cache=True, nogil=True)
def plan_buffers(n: int) -> PlanBuffers:
    """The buffers :func:`_diff_into` plans ``n`` symbols in."""
    return (np.empty(n), np.empty(n), np.empty(n, np.int64), np.empty(n), np.empty(n, np.int64),
            np.empty(n, np.int64), np.empty(n, np.int64))


@numba.njit(cache=True)
def _diff(
    target: FloatArray,
    position: FloatArray,
    price: FloatArray,
    equity: float,
    unit: int,
    cash_buffer: float,
    band: float,
    lot: FloatArray,
    min_qty: FloatArray,
    min_notional: FloatArray,
    tradable: npt.NDArray[np.bool_],
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Targets → shares → signed orders in whole lots, with the reason per symbol and the sending sequence
    (:func:`_diff_into` on buffers of its own)."""
    n = target.shape[0]
    buf = plan_buffers(n)
    n_orders = _diff_into(target, position, price, equity, unit, cash_buffer, band, lot, min_qty, min_notional,
                          tradable, buf, sort_scratch(n))
    return buf[0], buf[1], buf[2], buf[6][:n_orders].copy()


@no_refcount()
def _diff_into(
    target: FloatArray,
    position: FloatArray,
    price: FloatArray,
    equity: float,
    unit: int,
    cash_buffer: float,
    band: float,
    lot: FloatArray,
    min_qty: FloatArray,
    min_notional: FloatArray,
    tradable: npt.NDArray[np.bool_],
    buf: PlanBuffers,
    scratch: tuple[FloatArray, npt.NDArray[np.uint64], npt.NDArray[np.uint64], IntArray, IntArray],
) -> int:
    """Targets → shares → signed orders in whole lots, with the reason per symbol and the sending sequence, into
    ``buf`` (:func:`plan_buffers`; the sequence in its last array's first rows); returns how many orders. Allocates
    nothing (``scratch``: :func:`sort_scratch`)."""
    shares, qty, reason, value, active, order, sequence = buf
    n = target.shape[0]
    n_orders = 0
    sizing = equity * (1.0 - cash_buffer)
    for j in range(n):
        qty[j] = 0.0
        reason[j] = 0
        t = target[j]
        if unit == 0:
            sh = t
        elif t == 0.0:
            sh = 0.0
        elif unit == 1:
            sh = t * sizing / price[j]
        else:
            sh = t / price[j]
        shares[j] = sh
        pos = position[j]
        if not tradable[j]:
            q = 0.0  # no bar for this symbol now (halt, gap): hold, whatever the target
            if sh != pos:
                reason[j] = 7
        elif sh == 0.0 and abs(pos) * price[j] >= 1e-9:
            q = -pos  # closing a position is always allowed (below a billionth of a unit of money it is dust)
            grid = np.round(pos / lot[j], 8) if lot[j] > 0.0 else 0.0
            if grid != np.trunc(grid):
                # Off the step grid (a fee taken in the asset received): close what the grid allows; the rest
                # is dust no order can sell, so it is not chased.
                q = -np.trunc(grid) * lot[j]
                if q == 0.0:
                    reason[j] = 2
        else:
            q = sh - pos
            if lot[j] > 0.0:
                q = np.trunc(np.round(q / lot[j], 8)) * lot[j]
            elif abs(q) <= 1e-9 * max(abs(sh), abs(pos)) or abs(q) * price[j] < 1e-9:
                q = 0.0  # float dust on continuous quantities
            if q != 0.0:
                notional = abs(q) * price[j]
                if abs(q) < min_qty[j]:
                    reason[j] = 2
                elif notional < min_notional[j]:
                    reason[j] = 3
                elif notional < band * equity:
                    reason[j] = 4
                if reason[j] != 0:
                    q = 0.0
            else:
                reason[j] = 1
        if q != 0.0:
            qty[j] = q
            value[n_orders] = q * price[j]
            active[n_orders] = j
            n_orders += 1
    argsort_into(value, n_orders, order, scratch)
    for k in range(n_orders):
        sequence[k] = active[order[k]]
    return n_orders


def plan_orders(
    target: FloatArray,
    position: FloatArray,
    price: FloatArray,
    cash: float,
    equity: float,
    rules: InstrumentArrays,
    settings: PlanSettings,
    costs: CostEstimate | Callable[[FloatArray], CostEstimate] = CostEstimate(),
    tradable: npt.NDArray[np.bool_] | None = None,
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Orders for one rebalance: returns ``(target_shares, order_qty, reason, sequence)``.

    ``order_qty`` is signed (negative sells); ``sequence`` lists the symbols with an order, sells first,
    then by order value ascending (the order a shared cash pool is spent in). ``reason`` holds a
    :class:`PlanReason` code per symbol. Symbols not ``tradable`` now (no bar: a halt or a gap) are held.
    """
    shares, qty, reason, sequence = _diff(target, position, price, equity, _UNIT_CODES[settings.unit],
                                          settings.cash_buffer, settings.no_trade_band, rules.lot_size,
                                          rules.min_quantity, rules.min_notional,
                                          np.ones(target.shape[0], np.bool_) if tradable is None else tradable)
    if settings.cash_floor is not None and sequence.size:
        if callable(costs):
            costs = costs(qty)
        slip = np.asarray(costs.slippage, dtype=np.float64).reshape(-1)
        available = cash - settings.cash_floor - settings.cash_buffer * max(equity, 0.0)
        _cap_to_cash(qty, price, slip, rules.lot_size, rules.min_quantity, rules.min_notional, sequence, reason,
                     available, costs.fee_rate, costs.per_share, costs.min_fee, costs.max_fee_pct)
        sequence = sequence[qty[sequence] != 0.0]
    return shares, qty, reason, sequence


class Plan:
    """A rebalance plan a person can read before anything is sent: one row per symbol."""

    def __init__(self, table: pd.DataFrame, timestamp: pd.Timestamp | None, cash: float, equity: float):
        self.table = table
        self.timestamp = timestamp
        self.cash = cash
        self.equity = equity

    @property
    def orders(self) -> pd.DataFrame:
        """Only the rows that send an order, in sending order."""
        rows = self.table[self.table["order_qty"] != 0]
        return rows.sort_values("sequence")

    def summary(self) -> dict[str, float]:
        """Counts and notionals of the plan's buys and sells."""
        o = self.orders
        buys, sells = o[o["order_qty"] > 0], o[o["order_qty"] < 0]
        return {
            "orders": float(len(o)),
            "buys": float(len(buys)),
            "sells": float(len(sells)),
            "buy_notional": float(buys["notional"].sum()),
            "sell_notional": float(sells["notional"].sum()),
        }

    def __repr__(self) -> str:
        s = self.summary()
        return (f"Plan(at={self.timestamp}, equity={self.equity:,.2f}, cash={self.cash:,.2f}, "
                f"orders={int(s['orders'])}, buys={int(s['buys'])}, sells={int(s['sells'])})\n"
                f"{self.orders.to_string()}")

    def _repr_html_(self) -> str:
        s = self.summary()
        head = (f"<b>Plan</b> at {self.timestamp} — equity {self.equity:,.2f}, cash {self.cash:,.2f}: "
                f"{int(s['sells'])} sells ({s['sell_notional']:,.0f}), {int(s['buys'])} buys "
                f"({s['buy_notional']:,.0f})")
        return head + self.table.to_html(float_format=lambda v: f"{v:,.4f}")
