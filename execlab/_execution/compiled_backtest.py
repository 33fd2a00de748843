"""The whole backtest bar loop in compiled code, for runs whose every step is a built-in one.

It is the per-step path (:class:`execlab._execution.rebalancer.Rebalancer` over a
:class:`execlab._execution.backtest_executor.BacktestExecutor`, a :class:`execlab._risk.engine.RiskEngine` and an
in-memory :class:`execlab._oms.book.OrderBook`) with the Python between the steps taken out: the same kernels (the
plan's diff and cash cap, the risk checks, the order state table, the matching kernel, the cost estimate and the
valuation) called in the same order on the same numbers, so both paths give the same orders, fills, positions and
cash. A rebalance that meets a data gap hands the run back to the per-step path (which applies the data-gap policy).

:func:`_loop` allocates every array of a run once (the account, the working orders, the buffers a rebalance plans,
checks and books in); :func:`_bars` runs the bars on them compiled without reference counting
(:func:`execlab._core.compiled.no_refcount`), so a bar costs no allocation and no atomic operation, and hands back
to :func:`_loop` for room when the working-order or fill record may overflow.

Numba caches the compiled loop keyed by this file alone: after changing a kernel it calls in another module (the
plan, risk, matching, cost or valuation kernels), touch this file or clear its ``__pycache__`` so the loop is
compiled again with the new kernel (an installed release replaces every file, so users are not affected).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import numba
import numpy as np
import numpy.typing as npt

from execlab._config import Config
from execlab._core.arrays import FloatArray, IntArray
from execlab._core.batches import FillBatch
from execlab._core.codes import TIF, TYPE
from execlab._core.compiled import no_refcount
from execlab._core.instruments import InstrumentArrays
from execlab._core.models import OrderType
from execlab._data.bars import MarketData
from execlab._oms.book import TRANSITIONS, OrderBook
from execlab._plan.diff import _UNIT_CODES, _cap_to_cash, _diff_into, plan_buffers, sort_scratch
from execlab._risk.kernel import check_orders, initial_state, risk_params
from execlab._sim.costs import CostModel, estimate_into
from execlab._sim.kernel import match_bar
from execlab._sim.valuation import add_quote_flows, exposures, held_value, home_cash

__all__ = ["CompiledInputs", "CompiledRun", "compiled_inputs", "compiled_run", "loop_arguments", "run_compiled"]

_BOOK: Final = ("bar", "symbol", "order_type", "time_in_force", "status", "risk_reason", "venue_reason", "quantity",
                "limit_price", "decision_price", "filled", "fill_value", "fees")
"""The order-book columns the loop writes, in the order of its book record."""
_SUBMITTED, _PARTIAL, _DENIED, _CANCELLED = 1, 2, 7, 4
_CANCELLED_BY_CLIENT: Final = 6
_COMPACT_FROM: Final = 4096
_POSITIONS_ARG: Final = 35
"""Where the loop's arguments hold the positions and cash it writes."""


class CompiledRun(NamedTuple):
    """What a compiled run leaves: its order book, shares held per bar and cash per bar."""

    book: OrderBook
    positions: FloatArray
    cash: FloatArray


@dataclass(frozen=True, eq=False)
class CompiledInputs:
    """The arrays of one market, resolved once and shared by every run on it (a sweep's variants)."""

    market: MarketData
    ohlcv: tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]
    tradable: npt.NDArray[np.bool_]
    days: npt.NDArray[np.int64]
    mark: FloatArray
    bid: FloatArray
    ask: FloatArray


def _rw(a: Any, dtype: Any = np.float64) -> np.ndarray:
    """``a`` as a writeable C-contiguous array of ``dtype`` (copied only when it is not one): one compiled
    signature whatever the caller's arrays are."""
    out = np.ascontiguousarray(a, dtype=dtype)
    return out if out.flags.writeable else out.copy()


def _ro(a: Any, dtype: Any) -> np.ndarray:
    """``a`` as a read-only C-contiguous array of ``dtype`` (the cached per-market arrays are read-only)."""
    out = np.ascontiguousarray(a, dtype=dtype)
    if out.flags.writeable:
        out = out.copy()
        out.setflags(write=False)
    return out


def compiled_inputs(market: MarketData) -> CompiledInputs:
    """Resolve the per-market arrays of the compiled loop (once per market: kept beside its other cached arrays, so
    repeated runs and a sweep's variants share them)."""
    cached: CompiledInputs | None = market.__dict__.get("_compiled_inputs")
    if cached is None:
        cached = market.__dict__["_compiled_inputs"] = _resolve_inputs(market)
    return cached


def _resolve_inputs(market: MarketData) -> CompiledInputs:
    n_s = market.close.shape[1]
    bid = market.bid if market.bid is not None else np.full((1, n_s), np.nan)
    ask = market.ask if market.ask is not None else np.full((1, n_s), np.nan)
    ohlcv = (_rw(market.open), _rw(market.high), _rw(market.low), _rw(market.close), _rw(market.volume))
    return CompiledInputs(market, ohlcv, ~np.isnan(market.close), _ro(market.trading_days(), np.int64),
                          _ro(market.last_close(), np.float64), _rw(bid), _rw(ask))


def run_compiled(inputs: CompiledInputs, config: Config, costs: CostModel, targets: FloatArray,
                 rebalance_bars: IntArray, start: int, rules: InstrumentArrays, restricted: npt.NDArray[np.bool_],
                 risk_adv: FloatArray | None, gap_rows: npt.NDArray[np.bool_],
                 rate: FloatArray | None = None) -> CompiledRun | None:
    """Run the bar loop compiled: the order book, positions per bar and cash per bar, or ``None`` when a rebalance
    meets a data gap (a symbol without a price that has a target or a position), which the per-step path's
    data-gap policy must handle. ``rate`` (bars × symbols, :func:`execlab._runs.home_currency.bar_rates`): the
    home-currency value of one unit of each symbol's price currency, for pairs quoted in another currency."""
    args = loop_arguments(inputs, config, costs, targets, rebalance_bars, start, rules, restricted, risk_adv,
                          gap_rows, rate)
    return compiled_run(args, _loop(*args))


def loop_arguments(inputs: CompiledInputs, config: Config, costs: CostModel, targets: FloatArray,
                   rebalance_bars: IntArray, start: int, rules: InstrumentArrays, restricted: npt.NDArray[np.bool_],
                   risk_adv: FloatArray | None, gap_rows: npt.NDArray[np.bool_],
                   rate: FloatArray | None = None) -> tuple[Any, ...]:
    """The compiled loop's arguments for one run (see :func:`run_compiled`), its output arrays allocated: what a
    driver running many runs in one compiled call passes to the loop for each."""
    m = inputs.market
    n_t, n_s = m.close.shape
    plan, venue = config.plan, config.venue
    rebalance_at = np.full(n_t, -1, dtype=np.int64)
    rebalance_at[rebalance_bars] = np.arange(rebalance_bars.size)
    plan_i = np.array([_UNIT_CODES[plan.target_unit], TYPE[plan.order_type], TIF[plan.time_in_force],
                       int(plan.order_type == OrderType.LIMIT), int(plan.cancel_open_orders)], dtype=np.int64)
    plan_f = np.array([plan.no_trade_band, plan.cash_buffer, plan.limit_offset_bps], dtype=np.float64)
    delay = (0 if venue.fill_price == "close" else 1) + venue.latency_bars
    venue_i = np.array([costs.price_model, costs.slip_model, costs.fee_model, int(config.plan.allow_short), delay,
                        int(venue.margin.enabled), int(venue.fill_price == "close" and venue.latency_bars == 0)],
                       dtype=np.int64)
    venue_f = np.array([float(venue.participation_cap or 0.0), venue.margin.max_leverage], dtype=np.float64)
    needs_exposure = config.risk.max_gross_exposure is not None or config.risk.max_net_exposure is not None
    positions = np.zeros((n_t, n_s))
    cash = np.zeros(n_t)
    cash[:start] = config.initial_cash
    radv = risk_adv if risk_adv is not None else np.zeros((1, n_s))
    book_cap = max(1, targets.shape[0] * n_s)  # at most one order per symbol and rebalance
    return (start, *inputs.ohlcv, inputs.bid, inputs.ask,
            m.has_quotes, _rw(costs.sigma), _rw(costs.adv), inputs.mark, inputs.tradable, inputs.days, _rw(radv),
            risk_adv is not None, _rw(targets), rebalance_at, _rw(gap_rows, np.bool_), _rw(rules.lot_size),
            _rw(rules.min_quantity), _rw(rules.min_notional), _rw(rules.tick_size), plan_i, plan_f, venue_i, venue_f,
            _rw(costs.slip_params), _rw(costs.fee_params), risk_params(config.risk, plan.allow_short),
            initial_state(config.risk), restricted, bool(restricted.any()), needs_exposure, float(config.initial_cash),
            positions, cash, _book_record(book_cap), _fill_record(book_cap),
            _rw(rate) if rate is not None else np.ones((1, n_s)),
            inputs.mark if rate is None else _ro(inputs.mark * rate, np.float64), rate is not None)


def compiled_run(args: tuple[Any, ...], out: tuple[Any, ...]) -> CompiledRun | None:
    """The :class:`CompiledRun` of the loop called with ``args`` (from :func:`loop_arguments`) that returned
    ``out``, or ``None`` when it stopped at a data gap."""
    book_cols, n_orders, fills, n_fills, gap_bar = out
    if gap_bar >= 0:
        return None
    book = OrderBook.from_columns(dict(zip(_BOOK, book_cols, strict=True)), n_orders,
                                  FillBatch(*(a[:n_fills] for a in fills)))
    return CompiledRun(book, args[_POSITIONS_ARG], args[_POSITIONS_ARG + 1])


def _book_record(n: int) -> tuple[np.ndarray, ...]:
    """The loop's order record (the columns of :data:`_BOOK`), allocated by numpy: large arrays get transparent huge
    pages, so the pages the loop writes cost far fewer page faults than arrays allocated in compiled code."""
    i8, f8 = np.int8, np.float64
    return (np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, i8), np.empty(n, i8), np.empty(n, i8),
            np.empty(n, i8), np.empty(n, i8), np.empty(n, f8), np.empty(n, f8), np.empty(n, f8), np.empty(n, f8),
            np.empty(n, f8), np.empty(n, f8))


def _fill_record(n: int) -> tuple[np.ndarray, ...]:
    """The loop's fill record (``FillBatch`` order), allocated by numpy (see :func:`_book_record`)."""
    return (np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n), np.empty(n),
            np.empty(n, np.bool_))


@numba.njit(cache=True, nogil=True)
def _grow1(a: np.ndarray, size: int) -> np.ndarray:
    out = np.zeros(size, a.dtype)
    for k in range(a.shape[0]):  # a loop, not a slice assignment: far less code to compile for each dtype
        out[k] = a[k]
    return out


@numba.njit(cache=True, nogil=True)
def _grow_work(w: tuple, size: int) -> tuple:  # type: ignore[type-arg]
    return (_grow1(w[0], size), _grow1(w[1], size), _grow1(w[2], size), _grow1(w[3], size), _grow1(w[4], size),
            _grow1(w[5], size), _grow1(w[6], size), _grow1(w[7], size), _grow1(w[8], size), _grow1(w[9], size),
            _grow1(w[10], size), _grow1(w[11], size), _grow1(w[12], size), _grow1(w[13], size), _grow1(w[14], size),
            _grow1(w[15], size))


@numba.njit(cache=True, nogil=True)
def _new_out(n: int) -> tuple:  # type: ignore[type-arg]
    return (np.empty(n, np.int64), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n, np.bool_),
            np.empty(n, np.int64), np.empty(n, np.int8), np.empty(n, np.int8))


@numba.njit(cache=True, nogil=True)
def _compact(w: tuple, n: int) -> int:  # type: ignore[type-arg]
    """Keep the active rows in order (``WorkingOrders.compact``); returns the rows in use."""
    act = w[15]
    k = 0
    for r in range(n):
        if act[r]:
            if k != r:
                w[0][k] = w[0][r]
                w[1][k] = w[1][r]
                w[2][k] = w[2][r]
                w[3][k] = w[3][r]
                w[4][k] = w[4][r]
                w[5][k] = w[5][r]
                w[6][k] = w[6][r]
                w[7][k] = w[7][r]
                w[8][k] = w[8][r]
                w[9][k] = w[9][r]
                w[10][k] = w[10][r]
                w[11][k] = w[11][r]
                w[12][k] = w[12][r]
                w[13][k] = w[13][r]
                w[14][k] = w[14][r]
                w[15][k] = w[15][r]
            k += 1
    return k


@numba.njit(cache=True, nogil=True, inline="always")
def _apply(out: tuple, nf: int, ne: int, i: int, bk: tuple, fl: tuple, n_fills: int,  # type: ignore[type-arg]
           table: np.ndarray) -> None:
    """Book the matching kernel's fills and events (``OrderBook.apply``) into the order and fill records (the fill
    record has room: :func:`_bars` checks at each bar)."""
    f_oid, f_qty, f_price, f_ref, f_fee, f_maker, e_oid, e_status, e_reason = out
    status, venue_reason, filled, value, fees = bk[4], bk[6], bk[10], bk[11], bk[12]
    x_oid, x_bar, x_qty, x_price, x_ref, x_fee, x_maker = fl
    for k in range(nf):
        o = f_oid[k]
        filled[o] += f_qty[k]
        value[o] += f_qty[k] * f_price[k]
        fees[o] += f_fee[k]
        r = n_fills + k
        x_oid[r] = o
        x_bar[r] = i
        x_qty[r] = f_qty[k]
        x_price[r] = f_price[k]
        x_ref[r] = f_ref[k]
        x_fee[r] = f_fee[k]
        x_maker[r] = f_maker[k]
    for k in range(ne):
        o = e_oid[k]
        if table[status[o], e_status[k]]:
            status[o] = e_status[k]
            if e_reason[k] > venue_reason[o]:
                venue_reason[o] = e_reason[k]


# The loop's state between calls of :func:`_bars` (an int64 record; the day-start equity is a float box)
(_S_BAR, _S_WORKING, _S_ORDERS, _S_FILLS, _S_COUNTED, _S_OPEN_FROM, _S_DAY, _S_HAS_DAY, _S_ORDERS_TODAY,
 _S_VOL_BAR, _S_START) = range(11)
_DONE, _GAP, _GROW = 0, 1, 2


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _loop(start: int, o: FloatArray, h: FloatArray, lo: FloatArray, c: FloatArray, vol: FloatArray,
          bid: FloatArray, ask: FloatArray, has_quotes: bool, sigma: FloatArray, cadv: FloatArray, mark: FloatArray,
          tradable: np.ndarray, days: np.ndarray, radv: FloatArray, has_radv: bool, targets: FloatArray,
          rebalance_at: np.ndarray, gap_rows: np.ndarray, lot: FloatArray, min_qty: FloatArray,
          min_notional: FloatArray, tick: FloatArray, plan_i: np.ndarray, plan_f: FloatArray, venue_i: np.ndarray,
          venue_f: FloatArray, slip_p: FloatArray, fee_p: FloatArray, risk_p: FloatArray, risk_state: np.ndarray,
          restricted: np.ndarray, any_restricted: bool, needs_exposure: bool, initial_cash: float,
          positions: FloatArray, cash_out: FloatArray, bk: tuple, fl: tuple,  # type: ignore[type-arg]
          rate: FloatArray, home_mark: FloatArray, has_rate: bool) -> tuple:  # type: ignore[type-arg]
    """The run: allocates the account, the working orders and every buffer of a rebalance once, then runs
    :func:`_bars`, growing the working-order and fill records when it asks for room."""
    n_s = c.shape[1]
    account = (np.zeros(n_s), np.zeros(n_s), np.array([initial_cash]), np.zeros(n_s), lot)
    cap_w = 64
    work = (np.zeros(cap_w, np.int64), np.zeros(cap_w, np.int64), np.zeros(cap_w), np.zeros(cap_w, np.int8),
            np.zeros(cap_w, np.int8), np.zeros(cap_w), np.zeros(cap_w), np.zeros(cap_w), np.zeros(cap_w),
            np.zeros(cap_w), np.zeros(cap_w, np.bool_), np.zeros(cap_w, np.int64), np.zeros(cap_w, np.int64),
            np.zeros(cap_w, np.int64), np.zeros(cap_w), np.zeros(cap_w, np.bool_))
    out = _new_out(cap_w)
    n = max(n_s, 1)
    scratch = (np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n),
               np.empty(n), np.empty(n, np.int64), np.zeros(n, np.int8), np.zeros(n_s))
    buffers = (plan_buffers(n_s), sort_scratch(n_s), scratch)
    state = np.zeros(11, np.int64)
    state[_S_BAR] = start
    state[_S_START] = start
    state[_S_VOL_BAR] = -1
    day_start = np.array([initial_cash])
    while True:
        code = _bars(state, day_start, o, h, lo, c, vol, bid, ask, has_quotes, sigma, cadv, mark, tradable, days,
                     radv, has_radv, targets, rebalance_at, gap_rows, min_qty, min_notional, tick, plan_i, plan_f,
                     venue_i, venue_f, slip_p, fee_p, risk_p, risk_state, restricted, any_restricted, needs_exposure,
                     positions, cash_out, bk, fl, rate, home_mark, has_rate, account, work, out, buffers)
        if code == _DONE:
            return bk, state[_S_ORDERS], fl, state[_S_FILLS], -1
        if code == _GAP:
            return bk, state[_S_ORDERS], fl, state[_S_FILLS], state[_S_BAR]
        wn, n_fills = state[_S_WORKING], state[_S_FILLS]
        if wn + n_s > work[0].shape[0]:
            size = max(wn + n_s, 2 * work[0].shape[0])
            work = _grow_work(work, size)
            out = _new_out(size)
        need = n_fills + 2 * wn + n_s
        if need > fl[0].shape[0]:
            size = max(need, 2 * fl[0].shape[0])
            fl = (_grow1(fl[0], size), _grow1(fl[1], size), _grow1(fl[2], size), _grow1(fl[3], size),
                  _grow1(fl[4], size), _grow1(fl[5], size), _grow1(fl[6], size))


@no_refcount(error_model="numpy")
def _bars(state: np.ndarray, day_start: FloatArray, o: FloatArray, h: FloatArray, lo: FloatArray, c: FloatArray,
          vol: FloatArray, bid: FloatArray, ask: FloatArray, has_quotes: bool, sigma: FloatArray, cadv: FloatArray,
          mark: FloatArray, tradable: np.ndarray, days: np.ndarray, radv: FloatArray, has_radv: bool,
          targets: FloatArray, rebalance_at: np.ndarray, gap_rows: np.ndarray, min_qty: FloatArray,
          min_notional: FloatArray, tick: FloatArray, plan_i: np.ndarray, plan_f: FloatArray, venue_i: np.ndarray,
          venue_f: FloatArray, slip_p: FloatArray, fee_p: FloatArray, risk_p: FloatArray, risk_state: np.ndarray,
          restricted: np.ndarray, any_restricted: bool, needs_exposure: bool, positions: FloatArray,
          cash_out: FloatArray, bk: tuple, fl: tuple, rate: FloatArray, home_mark: FloatArray,  # type: ignore[type-arg]
          has_rate: bool, account: tuple, work: tuple, out: tuple,  # type: ignore[type-arg]
          buffers: tuple) -> int:  # type: ignore[type-arg]
    """The bars from ``state[_S_BAR]`` on, on the arrays :func:`_loop` allocated: ``_DONE``, ``_GAP`` (a rebalance
    met a data gap at ``state[_S_BAR]``) or ``_GROW`` (bar ``state[_S_BAR]`` may need more working-order or fill
    rows than there are; nothing of it has run). Allocates nothing, and counts no references to its arrays (each
    count is an atomic operation; they took about half the loop's time when it allocated as it went)."""
    n_t, n_s = c.shape
    unit, o_type, o_tif, is_limit, cancel_open = plan_i[0], plan_i[1], plan_i[2], plan_i[3] != 0, plan_i[4] != 0
    band, cash_buffer, limit_off = plan_f[0], plan_f[1], plan_f[2] * 1e-4
    price_model, slip_model, fee_model = venue_i[0], venue_i[1], venue_i[2]
    allow_short, delay, margin_on, fills_now = venue_i[3] != 0, venue_i[4], venue_i[5] != 0, venue_i[6] != 0
    cap, lev = venue_f[0], venue_f[1]
    rules = (price_model, slip_model, slip_p, fee_model, fee_p, cap, allow_short)
    table = TRANSITIONS_TABLE
    one_sig = sigma.shape[0] == 1
    one_cadv = cadv.shape[0] == 1
    one_q = bid.shape[0] == 1
    one_radv = radv.shape[0] == 1
    position, _, cash_box, vol_used, lot = account
    plan_buf, sort_buf, scratch = buffers
    qty, plan_reason, seq_all = plan_buf[1], plan_buf[2], plan_buf[6]
    slip_all, q_all, px_all, limit_all, pos_all, adv_all, pxr_all, limr_all, seq_buf, reason_all, quote_balance = \
        scratch
    b_bar, b_sym, b_type, b_tif, b_status, b_risk, b_venue, b_qty, b_limit, b_decision, b_filled, b_value, b_fees = bk
    w_cap = work[0].shape[0]
    out_cap = out[0].shape[0]
    f_cap = fl[0].shape[0]

    wn = state[_S_WORKING]
    n_orders = state[_S_ORDERS]
    n_fills = state[_S_FILLS]
    n_counted = state[_S_COUNTED]  # home currency: the fills whose flows ``quote_balance`` holds
    open_from = state[_S_OPEN_FROM]
    cur_day = state[_S_DAY]
    has_day = state[_S_HAS_DAY] != 0
    orders_today = state[_S_ORDERS_TODAY]
    vol_bar = state[_S_VOL_BAR]
    day_start_equity = day_start[0]
    start = state[_S_START]
    code = _DONE
    i = state[_S_BAR]
    while i < n_t:
        if wn + n_s > w_cap or wn + n_s > out_cap or n_fills + 2 * wn + n_s > f_cap:
            code = _GROW  # a bar fills each working order at most twice and adds one order per symbol
            break
        # -- executor.on_bar(i): the venue matches its working orders against bar i
        if vol_bar != i:
            vol_used[:] = 0.0
            vol_bar = i
        sig_row = sigma[0] if one_sig else sigma[i]
        cadv_row = cadv[0] if one_cadv else cadv[i]
        bid_row = bid[0] if one_q else bid[i]
        ask_row = ask[0] if one_q else ask[i]
        mark_i = mark[i]
        market = (o[i], h[i], lo[i], c[i], vol[i], bid_row, ask_row, sig_row, cadv_row, mark_i)
        if has_rate and n_counted < n_fills:  # the fills through bar i - 1
            add_quote_flows(quote_balance, b_sym, fl[0], fl[2], fl[3], fl[5], n_counted, n_fills)
            n_counted = n_fills
        if wn > 0:
            eq_m = cash_box[0] + held_value(position, mark_i) if margin_on else 0.0
            floor_m = -(lev - 1.0) * max(eq_m, 0.0) if margin_on else 0.0
            gross_m = lev * max(eq_m, 0.0) if margin_on else np.inf
            nf, ne, left = match_bar((i, days[i], wn, floor_m, gross_m), work, market, account, rules, out)
            if left == 0:
                wn = 0
            _apply(out, nf, ne, i, bk, fl, n_fills, table)
            n_fills += nf
        if i > start and days[i] != days[i - 1]:
            if has_rate:
                day_start_equity = (home_cash(cash_out[i - 1], quote_balance, rate[i - 1])
                                    + held_value(positions[i - 1], home_mark[i - 1]))
            else:
                day_start_equity = cash_out[i - 1] + held_value(positions[i - 1], mark[i - 1])
        r = rebalance_at[i]
        if r >= 0:
            if gap_rows[r]:
                gap = False
                for j in range(n_s):
                    if not tradable[i, j] and (targets[r, j] != 0.0 or position[j] != 0.0):
                        gap = True
                if gap:
                    code = _GAP  # the data-gap policy decides: the per-step path
                    break
            c0 = cash_box[0]
            equity = c0 + held_value(position, mark_i)
            price = home_mark[i]  # one unit's worth in the home currency (``mark`` itself without a foreign quote)
            if has_rate:  # money in the home currency
                add_quote_flows(quote_balance, b_sym, fl[0], fl[2], fl[3], fl[5], n_counted, n_fills)
                n_counted = n_fills
                c0 = home_cash(cash_box[0], quote_balance, rate[i])
                equity = c0 + held_value(position, price)
            # -- Rebalancer.rebalance
            day = days[i]
            if not has_day or day != cur_day:
                cur_day, has_day, orders_today = day, True, 0
            if cancel_open:
                # OrderBook.open_ids: every order below open_from is in a terminal state
                while open_from < n_orders and not (b_status[open_from] == _SUBMITTED
                                                    or b_status[open_from] == _PARTIAL):
                    open_from += 1
                if open_from < n_orders:
                    for k in range(wn):
                        oid = work[0][k]
                        st = b_status[oid]
                        if work[15][k] and st in (_SUBMITTED, _PARTIAL):
                            work[15][k] = False
                            if table[st, _CANCELLED]:
                                b_status[oid] = _CANCELLED
                                if b_venue[oid] < _CANCELLED_BY_CLIENT:
                                    b_venue[oid] = _CANCELLED_BY_CLIENT
                    if not has_rate:  # a cancel moves no cash: the home amounts stand
                        c0 = cash_box[0]
                        equity = c0 + held_value(position, mark_i)
            floor = -(lev - 1.0) * max(cash_box[0] + held_value(position, mark_i), 0.0) if margin_on else 0.0
            n_seq = _diff_into(targets[r], position, price, equity, unit, cash_buffer, band, lot, min_qty,
                               min_notional, tradable[i], plan_buf, sort_buf)
            if n_seq == 0:
                _record(positions, cash_out, i, position, cash_box[0])
                i += 1
                continue
            n_slip, fee_rate, per_share, min_fee, max_fee_pct = estimate_into(
                slip_all, slip_model, slip_p, fee_model, fee_p, qty, mark_i, sig_row, cadv_row, bid_row, ask_row,
                has_quotes)
            slip = slip_all[:n_slip]
            available = c0 - floor - cash_buffer * max(equity, 0.0)
            _cap_to_cash(qty, price, slip, lot, min_qty, min_notional, seq_all[:n_seq], plan_reason, available,
                         fee_rate, per_share, min_fee, max_fee_pct)
            m = 0
            for k in range(n_seq):
                j = seq_all[k]
                if qty[j] != 0.0:
                    seq_buf[m] = j
                    m += 1
            if m == 0:
                _record(positions, cash_out, i, position, cash_box[0])
                i += 1
                continue
            seq = seq_buf[:m]
            q = q_all[:m]
            px = px_all[:m]
            limit = limit_all[:m]
            pos_seq = pos_all[:m]
            reason = reason_all[:m]
            for k in range(m):
                s = seq[k]
                q[k] = qty[s]
                px[k] = mark_i[s]
                limit[k] = np.nan
                pos_seq[k] = position[s]
                reason[k] = 0
            if is_limit:
                for k in range(m):
                    t = tick[seq[k]]
                    raw = px[k] * (1.0 + limit_off) if q[k] > 0 else px[k] * (1.0 - limit_off)
                    if t > 0:
                        if q[k] > 0:
                            limit[k] = np.ceil(np.round(raw / t, 6)) * t
                        else:
                            limit[k] = np.floor(np.round(raw / t, 6)) * t
                    else:
                        limit[k] = raw
            gross = np.nan
            net = np.nan
            if needs_exposure:
                gross, net = exposures(position, price)
            adv_seq = px[:0]
            if has_radv:
                radv_row = radv[0] if one_radv else radv[i]
                adv_seq = adv_all[:m]
                for k in range(m):
                    adv_seq[k] = radv_row[seq[k]]
            px_r, limit_r = px, limit
            if has_rate:
                px_r, limit_r = pxr_all[:m], limr_all[:m]
                rate_i = rate[i]
                for k in range(m):
                    px_r[k] = price[seq[k]]
                    limit_r[k] = limit[k] * rate_i[seq[k]]
            check_orders(risk_state, risk_p, restricted, any_restricted, reason, seq, q, px_r, pos_seq, equity, limit_r,
                         is_limit, adv_seq, has_radv, c0 - floor, slip, fee_rate, per_share, min_fee, max_fee_pct,
                         gross, net, orders_today, day_start_equity, day)
            # -- OrderBook.add, then DENIED or SUBMITTED
            n_ok = 0
            for k in range(m):
                b = n_orders + k
                b_bar[b] = i
                b_sym[b] = seq[k]
                b_type[b] = o_type
                b_tif[b] = o_tif
                b_risk[b] = reason[k]
                b_venue[b] = 0
                b_qty[b] = q[k]
                b_limit[b] = limit[k]
                b_decision[b] = px[k]
                b_filled[b] = 0.0
                b_value[b] = 0.0
                b_fees[b] = 0.0
                if reason[k] == 0:
                    b_status[b] = _SUBMITTED
                    n_ok += 1
                else:
                    b_status[b] = _DENIED
            first = n_orders
            n_orders += m
            if n_ok:
                orders_today += n_ok
                # -- SimulatedVenue.submit
                if wn:
                    active = 0
                    for k in range(wn):
                        if work[15][k]:
                            active += 1
                    if active == 0:
                        wn = 0
                    elif wn > _COMPACT_FROM and 2 * active < wn:
                        wn = _compact(work, wn)
                for k in range(m):
                    if reason[k] != 0:
                        continue
                    s = seq[k]
                    eligible = i + (max(delay, 1) if o_tif == 4 else delay)
                    work[0][wn] = first + k
                    work[1][wn] = s
                    work[2][wn] = q[k]
                    work[3][wn] = o_type
                    work[4][wn] = o_tif
                    work[5][wn] = limit[k]
                    work[6][wn] = np.nan
                    work[7][wn] = np.nan
                    work[8][wn] = np.nan
                    work[9][wn] = mark_i[s]
                    work[10][wn] = False
                    work[11][wn] = eligible
                    work[12][wn] = days[min(eligible, n_t - 1)]
                    work[13][wn] = i
                    work[14][wn] = 0.0
                    work[15][wn] = True
                    wn += 1
                if fills_now:
                    eq_m = cash_box[0] + held_value(position, mark_i) if margin_on else 0.0
                    floor_m = -(lev - 1.0) * max(eq_m, 0.0) if margin_on else 0.0
                    gross_m = lev * max(eq_m, 0.0) if margin_on else np.inf
                    nf, ne, left = match_bar((i, days[i], wn, floor_m, gross_m), work, market, account, rules, out)
                    if left == 0:
                        wn = 0
                    _apply(out, nf, ne, i, bk, fl, n_fills, table)
                    n_fills += nf
        _record(positions, cash_out, i, position, cash_box[0])
        i += 1
    state[_S_BAR] = i
    state[_S_WORKING] = wn
    state[_S_ORDERS] = n_orders
    state[_S_FILLS] = n_fills
    state[_S_COUNTED] = n_counted
    state[_S_OPEN_FROM] = open_from
    state[_S_DAY] = cur_day
    state[_S_HAS_DAY] = 1 if has_day else 0
    state[_S_ORDERS_TODAY] = orders_today
    state[_S_VOL_BAR] = vol_bar
    day_start[0] = day_start_equity
    return code


@numba.njit(cache=True, nogil=True, inline="always")
def _record(positions: FloatArray, cash_out: FloatArray, i: int, position: FloatArray, cash: float) -> None:
    """Shares held and cash at the end of bar ``i``."""
    row = positions[i]
    for j in range(position.shape[0]):
        row[j] = position[j]
    cash_out[i] = cash


TRANSITIONS_TABLE: Final = np.ascontiguousarray(TRANSITIONS)
