"""The matching kernel of the simulated venue: one bar, all working orders, compiled with numba.

Order types, times in force and status codes are the integer codes of ``execlab._core.codes``. The kernel takes its
inputs as six records, plain tuples in a fixed field order (numba dispatches plain tuples of arrays as fast as
separate arguments): :data:`Step`, :data:`Work` (the columns of :class:`WorkingOrders`), :data:`Market`,
:data:`Account`, :data:`Rules` and :data:`Out`. :func:`match` is the one place that calls it.
"""

from __future__ import annotations

from typing import TypeAlias

import numba
import numpy as np

from execlab._core.arrays import FloatArray, IntArray
from execlab._core.compiled import no_refcount
from execlab._sim.working_orders import WorkingOrders

__all__ = ["Account", "Market", "Out", "Rules", "Step", "Work", "match", "match_bar"]

# Fill price models
CLOSE, NEXT_OPEN, VWAP, QUOTE = 0, 1, 2, 3
# Slippage models
SLIP_NONE, SLIP_BPS, SLIP_HALF_SPREAD, SLIP_SQRT = 0, 1, 2, 3
# Fee models
FEE_NONE, FEE_BPS, FEE_PER_SHARE, FEE_MAKER_TAKER = 0, 1, 2, 3

Step: TypeAlias = tuple[int, int, int, float, float]
"""(bar or step number, session number, working-order rows in use, lowest cash allowed, largest gross exposure)."""
Work: TypeAlias = tuple[np.ndarray, ...]
"""The working-order columns, in ``execlab._sim.working_orders.COLUMNS`` order (:attr:`WorkingOrders.record`)."""
Market: TypeAlias = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray,
                          FloatArray, FloatArray, FloatArray]
"""Per symbol at the bar: (open, high, low, close, volume, bid, ask, σ, ADV, mark price for gross exposure)."""
Account: TypeAlias = tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
"""(position, average price, one-element cash box, volume used in this bar, lot size) — updated in place."""
Rules: TypeAlias = tuple[int, int, FloatArray, int, FloatArray, float, bool]
"""(price model, slippage model, slippage parameters [bps, impact coefficient], fee model, fee parameters
[bps, per share, minimum, maximum pct, maker bps, taker bps], participation cap (0: none), shorting allowed)."""
Out: TypeAlias = tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, np.ndarray, IntArray, np.ndarray,
                       np.ndarray]
"""Output buffers: fills (oid, signed quantity, price, model price, fee, maker) and events (oid, status, reason)."""


def match(orders: WorkingOrders, step: int, day: int, market: Market, account: Account, rules: Rules,
          cash_floor: float, max_gross: float) -> tuple[int, int, int, Out]:
    """Match the working orders against one bar (see :func:`match_bar`) into fresh output buffers.

    Returns how many fills and events were written to the buffers' first rows, how many orders are still working,
    and the buffers (:data:`Out`).
    """
    n = orders.n
    out = (np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n, np.bool_),
           np.empty(n, np.int64), np.empty(n, np.int8), np.empty(n, np.int8))
    nf, ne, left = match_bar((step, day, n, cash_floor, max_gross), orders.record, market, account, rules, out)
    return nf, ne, left, out


@numba.njit(cache=True, inline="always")
def _fee(model: int, p: np.ndarray, notional: float, qty: float, first: bool, maker: bool) -> float:
    # p = [bps, per_share, minimum, maximum_pct, maker_bps, taker_bps]
    fee = 0.0
    if model == FEE_BPS:
        fee = notional * p[0] * 1e-4
    elif model == FEE_PER_SHARE:
        fee = qty * p[1]
        if first and fee < p[2]:
            fee = p[2]
        cap = notional * p[3]
        fee = fee if fee < cap else cap
    elif model == FEE_MAKER_TAKER:
        fee = notional * (p[4] if maker else p[5]) * 1e-4
    return float(fee)


@no_refcount()
def match_bar(step: Step, work: Work, market: Market, account: Account, rules: Rules,
              out: Out) -> tuple[int, int, int]:
    """Match working orders against bar ``i``; returns (fills written, events written, active orders left).

    Status codes written to events: 2 partially filled, 3 filled, 4 cancelled, 5 rejected, 6 expired. Allocates
    nothing, and counts no references to its arrays (compiled without the runtime's reference counting: an atomic
    operation per array and call, which cost the compiled backtest loop more than the matching itself).
    """
    i, day_i, n_work, cash_floor, max_gross = step
    (w_oid, w_sym, w_qty, w_type, w_tif, w_limit, w_stop, w_trail_amt, w_trail_pct, w_extreme, w_triggered,
     w_eligible, w_day, w_submit, w_filled, w_active) = work
    o, h, lo, c, vol, bid, ask, sigma, adv, mark = market
    position, avg_price, cash_box, vol_used, lot = account
    price_model, slip_model, slip_p, fee_model, fee_p, cap, allow_short = rules
    f_oid, f_qty, f_price, f_ref, f_fee, f_maker, e_oid, e_status, e_reason = out
    cash = cash_box[0]
    gross = 0.0
    if max_gross < np.inf:
        for j in range(position.shape[0]):
            if position[j] != 0.0:
                gross += abs(position[j] * mark[j])
    nf = 0
    ne = 0
    left = 0
    for k in range(n_work):
        if not w_active[k]:
            continue
        if w_eligible[k] > i:
            left += 1
            continue
        s = w_sym[k]
        tif = w_tif[k]
        first_bar = w_eligible[k] == i
        # DAY orders live through the session they became eligible in; OPG/CLS only their one auction.
        if (tif == 0 and w_day[k] < day_i) or ((tif == 4 or tif == 5) and not first_bar):
            w_active[k] = False
            e_oid[ne] = w_oid[k]
            e_status[ne] = 6
            e_reason[ne] = 5
            ne += 1
            continue
        q_left = w_qty[k]
        buy = q_left > 0
        same_bar = w_submit[k] == i  # submitted at this bar's close: only the close is left to trade
        # Reference (model) price for market-like execution
        if tif == 4:
            ref = o[s]
        elif tif == 5 or price_model == CLOSE:
            ref = c[s]
        elif price_model == NEXT_OPEN:
            ref = o[s]
        elif price_model == VWAP:
            ref = (h[s] + lo[s] + c[s]) / 3.0
        else:
            ref = 0.5 * (bid[s] + ask[s])
        bar_open = c[s] if same_bar else o[s]
        bar_high = c[s] if same_bar else h[s]
        bar_low = c[s] if same_bar else lo[s]
        if tif == 4 or tif == 5:  # auction orders trade only at their auction's price
            bar_open = ref
            bar_high = ref
            bar_low = ref
        t = w_type[k]
        px = np.nan
        market_like = False
        maker = False  # True when a resting limit was reached intrabar (it provided liquidity)
        invalid = ((t == 1 or t == 3) and not (w_limit[k] > 0.0)) or ((t == 2 or t == 3) and not (w_stop[k] > 0.0))
        invalid = invalid or (t == 4 and not (w_trail_amt[k] > 0.0 or w_trail_pct[k] > 0.0))
        if invalid:
            px = np.nan
        elif np.isnan(ref) or np.isnan(c[s]):
            px = np.nan  # no trading in this symbol at this bar
        elif t == 0:
            px = ref
            market_like = True
        elif t == 1:
            lim = w_limit[k]
            if buy:
                if bar_open <= lim:
                    px = bar_open
                elif bar_low <= lim:
                    px = lim
                    maker = True
            else:
                if bar_open >= lim:
                    px = bar_open
                elif bar_high >= lim:
                    px = lim
                    maker = True
        else:
            if t == 4:
                # The stop known before this bar triggers; this bar's extreme moves it for later bars.
                ext = w_extreme[k]
                off = w_trail_amt[k] if w_trail_amt[k] > 0 else ext * w_trail_pct[k] * 0.01
                stop = ext + off if buy else ext - off
                if not same_bar:
                    w_extreme[k] = min(ext, bar_low) if buy else max(ext, bar_high)
            else:
                stop = w_stop[k]
            trig = w_triggered[k]
            trig_px = np.nan
            if not trig:
                if buy and bar_high >= stop:
                    trig = True
                    trig_px = max(bar_open, stop)
                elif (not buy) and bar_low <= stop:
                    trig = True
                    trig_px = min(bar_open, stop)
            else:
                trig_px = bar_open
            if trig:
                w_triggered[k] = True
                if t == 3:
                    lim = w_limit[k]
                    if buy and trig_px <= lim:
                        px = trig_px
                    elif buy and bar_low <= lim:
                        px = lim
                        maker = True
                    elif (not buy) and trig_px >= lim:
                        px = trig_px
                    elif (not buy) and bar_high >= lim:
                        px = lim
                        maker = True
                else:
                    px = trig_px
                    market_like = True
        qty = abs(q_left)
        if not np.isnan(px):
            if cap > 0.0:
                room = cap * vol[s] - vol_used[s]
                if room < qty:
                    qty = room if room > 0.0 else 0.0
                    if lot[s] > 0.0:
                        qty = np.floor(qty / lot[s] + 1e-9) * lot[s]
        else:
            qty = 0.0
        reason = 0
        # Shorting: without margin a sell never goes below zero.
        if qty > 0.0 and not buy and not allow_short and qty > position[s] + 1e-9:
            qty = max(position[s], 0.0)
            reason = 2
        # Margin: an order that grows a position keeps gross exposure within max_gross.
        if qty > 0.0 and max_gross < np.inf:
            grows = (buy and position[s] >= 0.0) or ((not buy) and position[s] <= 0.0)
            if grows:
                room = (max_gross - gross) / px
                if room < qty:
                    qty = room if room > 0.0 else 0.0
                    if lot[s] > 0.0:
                        qty = np.floor(qty / lot[s] + 1e-9) * lot[s]
                    reason = 1
        fill_px = px
        fee = 0.0
        if qty > 0.0:
            if market_like:
                if slip_model == SLIP_BPS:
                    frac = slip_p[0] * 1e-4
                elif slip_model == SLIP_HALF_SPREAD:
                    frac = 0.5 * (ask[s] - bid[s]) / px
                elif slip_model == SLIP_SQRT:
                    frac = slip_p[1] * sigma[s] * np.sqrt(qty / adv[s]) if adv[s] > 0 else 0.0
                    if np.isnan(frac):
                        frac = 0.0
                else:
                    frac = 0.0
                fill_px = px * (1.0 + frac) if buy else px * (1.0 - frac)
            notional = qty * fill_px
            fee = _fee(fee_model, fee_p, notional, qty, w_filled[k] == 0.0, maker)
            if buy and cash - notional - fee < cash_floor - 1e-9 * max(1.0, abs(cash)):
                # Shrink to the lots the cash pays for.
                avail = cash - cash_floor
                per = fill_px * (1.0 + (fee_p[0] * 1e-4 if fee_model == FEE_BPS else 0.0))
                if fee_model == FEE_MAKER_TAKER:
                    per = fill_px * (1.0 + (fee_p[4] if maker else fee_p[5]) * 1e-4)
                if fee_model == FEE_PER_SHARE:
                    per = fill_px + fee_p[1]
                    avail -= fee_p[2] if w_filled[k] == 0.0 else 0.0
                new_q = avail / per if avail > 0 else 0.0
                if lot[s] > 0.0:
                    new_q = np.floor(new_q / lot[s] + 1e-9) * lot[s]
                while new_q > 0.0:
                    notional = new_q * fill_px
                    fee = _fee(fee_model, fee_p, notional, new_q, w_filled[k] == 0.0, maker)
                    if cash - notional - fee >= cash_floor - 1e-9 * max(1.0, abs(cash)):
                        break
                    new_q = new_q - lot[s] if lot[s] > 0.0 else new_q * (1.0 - 1e-9)
                qty = new_q if new_q * fill_px >= 1e-6 else 0.0  # no dust orders after a cash cut
                notional = qty * fill_px
                fee = _fee(fee_model, fee_p, notional, qty, w_filled[k] == 0.0, maker) if qty > 0 else 0.0
                reason = 1
            if tif == 3 and qty < abs(q_left) - 1e-12:
                qty = 0.0  # fill-or-kill: all or nothing
                reason = 4
        if qty > 0.0:
            signed = qty if buy else -qty
            pos0 = position[s]
            pos1 = pos0 + signed
            if pos0 == 0.0 or (pos0 > 0) != (signed > 0):
                if abs(signed) > abs(pos0):
                    avg_price[s] = fill_px
                elif pos1 == 0.0:
                    avg_price[s] = 0.0
            else:
                avg_price[s] = (avg_price[s] * pos0 + fill_px * signed) / pos1
            position[s] = pos1 if abs(pos1) > 1e-12 * max(1.0, abs(pos0)) else 0.0
            gross += (abs(position[s]) - abs(pos0)) * fill_px
            cash -= signed * fill_px + fee
            vol_used[s] += qty
            w_filled[k] += qty
            q_left = q_left - signed
            if abs(q_left) <= 1e-9 * max(1.0, qty):
                q_left = 0.0
            w_qty[k] = q_left
            f_oid[nf] = w_oid[k]
            f_qty[nf] = signed
            f_price[nf] = fill_px
            f_ref[nf] = px
            f_fee[nf] = fee
            f_maker[nf] = maker
            nf += 1
        done_status = -1
        if invalid:
            done_status = 5
            reason = 8
        elif q_left == 0.0:
            done_status = 3
        elif reason == 1 or reason == 2:
            done_status = 4 if w_filled[k] > 0 else 5
        elif reason == 4:
            done_status = 4
        elif tif == 2 or tif == 3:
            done_status = 4
            reason = 3 if tif == 2 else 4
        elif tif == 4 or tif == 5:
            done_status = 6
            reason = 5
        if done_status >= 0:
            w_active[k] = False
            e_oid[ne] = w_oid[k]
            e_status[ne] = done_status
            e_reason[ne] = reason
            ne += 1
        else:
            left += 1
            if qty > 0.0:
                e_oid[ne] = w_oid[k]
                e_status[ne] = 2
                e_reason[ne] = reason
                ne += 1
    cash_box[0] = cash
    return nf, ne, left
