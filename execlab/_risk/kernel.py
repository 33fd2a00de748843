"""The pre-trade checks of :class:`execlab._risk.engine.RiskEngine`, compiled, for the compiled backtest loop.

Same checks, same order, same arithmetic as the engine (its batch walk, :func:`_running_limits`, is shared); the
trading state lives in a small integer record instead of the engine's attributes. The limits are one float vector
(NaN: limit off) built by :func:`risk_params`.
"""

from __future__ import annotations

from typing import Final

import numba
import numpy as np

from execlab._config import RiskConfig
from execlab._core.arrays import FloatArray
from execlab._core.compiled import no_refcount
from execlab._risk.engine import RiskReason, _running_limits

__all__ = ["ACTIVE", "HALTED", "REDUCING_ONLY", "check_orders", "initial_state", "risk_params"]

ACTIVE, REDUCING_ONLY, HALTED = 0, 1, 2
_STATES: Final = {"active": ACTIVE, "reducing_only": REDUCING_ONLY, "halted": HALTED}
# Parameter slots
(P_ORDER_VALUE, P_ORDER_QTY, P_POSITION_PCT, P_GROSS, P_NET, P_DAILY_ORDERS, P_DAILY_LOSS, P_BAND, P_ADV_PCT,
 P_BUYING_POWER, P_SHORT) = range(11)
# State slots: trading state, halt code, halt day known (0/1), halt day, state before the halt
S_STATE, S_HALT_CODE, S_HAS_HALT_DAY, S_HALT_DAY, S_BEFORE = range(5)
_TOL: Final = 1e-9
_NO_SLIPPAGE: Final = np.zeros(1)


def risk_params(config: RiskConfig, allow_short: bool) -> FloatArray:
    """The limits of ``config`` as the kernel's parameter vector (NaN where a limit is off)."""

    def val(x: float | None) -> float:
        return np.nan if x is None else float(x)

    c = config
    return np.array([val(c.max_order_value), val(c.max_order_quantity), val(c.max_position_pct),
                     val(c.max_gross_exposure), val(c.max_net_exposure), val(c.max_daily_orders),
                     val(c.daily_loss_limit), val(c.price_band_pct), val(c.max_adv_pct),
                     1.0 if c.check_buying_power else 0.0, 1.0 if allow_short else 0.0], dtype=np.float64)


def initial_state(config: RiskConfig) -> np.ndarray:
    """The kernel's state record for an engine starting in ``config.trading_state``."""
    return np.array([_STATES[config.trading_state], int(RiskReason.HALTED), 0, 0, ACTIVE], dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def _positive(x: float) -> bool:
    return x > 0.0 and x < np.inf


@no_refcount(error_model="numpy")
def check_orders(state: np.ndarray, p: np.ndarray, restricted: np.ndarray, any_restricted: bool,
                 reason: np.ndarray, symbol: np.ndarray, q: np.ndarray, price: np.ndarray, position: np.ndarray,
                 equity: float, limit: np.ndarray, is_limit: bool, adv: np.ndarray, has_adv: bool,
                 buying_power: float, slip: np.ndarray, fee_rate: float, per_share: float, min_fee: float,
                 max_fee_pct: float, gross: float, net: float, orders_today: int, day_start_equity: float,
                 trading_day: int) -> None:
    """Write a :class:`RiskReason` code per order into ``reason`` (zeros on entry), as ``RiskEngine.check`` does;
    may change ``state`` (a daily-loss halt, lifted on a new trading day). Allocates nothing."""
    n = q.shape[0]
    if (state[S_STATE] == HALTED and state[S_HALT_CODE] == 2 and not (state[S_HAS_HALT_DAY] == 1
                                                                       and state[S_HALT_DAY] == trading_day)):
        state[S_STATE] = state[S_BEFORE]
        state[S_HALT_CODE] = 1
        state[S_HAS_HALT_DAY] = 0
    if state[S_STATE] == HALTED:
        for k in range(n):
            reason[k] = state[S_HALT_CODE]
        return
    loss = p[P_DAILY_LOSS]
    if (not np.isnan(loss) and np.isfinite(equity) and np.isfinite(day_start_equity)
            and equity - day_start_equity <= -loss):
        state[S_BEFORE] = state[S_STATE]
        state[S_STATE] = HALTED
        state[S_HALT_CODE] = 2
        state[S_HAS_HALT_DAY] = 1
        state[S_HALT_DAY] = trading_day
        for k in range(n):
            reason[k] = 2
        return
    if n == 0:
        return
    reducing = state[S_STATE] == REDUCING_ONLY
    allow_short = p[P_SHORT] != 0.0
    use_bp = p[P_BUYING_POWER] != 0.0 and buying_power != np.inf
    needs_price = (not np.isnan(p[P_ORDER_VALUE]) or not np.isnan(p[P_BAND]) or not np.isnan(p[P_POSITION_PCT])
                   or not np.isnan(p[P_GROSS]) or not np.isnan(p[P_NET]))
    needs_equity = (not np.isnan(p[P_POSITION_PCT]) or not np.isnan(p[P_GROSS]) or not np.isnan(p[P_NET])
                    or not np.isnan(loss))
    per_order = (any_restricted or not allow_short or needs_price or needs_equity or not np.isnan(p[P_ORDER_QTY])
                 or not np.isnan(p[P_ADV_PCT]))
    batch = not np.isnan(p[P_GROSS]) or not np.isnan(p[P_NET]) or not np.isnan(p[P_DAILY_ORDERS])
    if not (reducing or per_order or batch or use_bp):
        return
    all_invalid = ((needs_equity and not np.isfinite(equity))
                   or (not np.isnan(loss) and not np.isfinite(day_start_equity))
                   or (not np.isnan(p[P_GROSS]) and not np.isfinite(gross))
                   or (not np.isnan(p[P_NET]) and not np.isfinite(net))
                   or (p[P_BUYING_POWER] != 0.0 and np.isnan(buying_power))
                   or (not np.isnan(p[P_ADV_PCT]) and not has_adv))
    needs_price = needs_price or use_bp
    eq0 = max(equity, 0.0)
    for k in range(n):
        qk = q[k]
        pos = position[k]
        px = price[k]
        op = limit[k] if is_limit and not np.isnan(limit[k]) else px
        code = 0
        if reducing and not (qk * pos < 0.0 and abs(qk) <= abs(pos) + _TOL):
            code = 3
        elif any_restricted and restricted[symbol[k]]:
            code = 4
        else:
            invalid = all_invalid or not (np.isfinite(qk) and np.isfinite(pos))
            if not invalid and needs_price:
                invalid = not (_positive(px) and _positive(op))
            if not invalid and not np.isnan(p[P_ADV_PCT]) and has_adv:
                invalid = not adv[k] >= 0.0
            if invalid:
                code = 5
            elif not allow_short and pos + qk < -_TOL:
                code = 6
            elif not np.isnan(p[P_ORDER_QTY]) and abs(qk) > p[P_ORDER_QTY]:
                code = 7
            elif not np.isnan(p[P_ORDER_VALUE]) and abs(qk) * op > p[P_ORDER_VALUE]:
                code = 8
            elif not np.isnan(p[P_BAND]) and abs(op - px) > p[P_BAND] * px * (1.0 + 1e-12):
                code = 9
            elif not np.isnan(p[P_ADV_PCT]) and has_adv and abs(qk) > (
                    p[P_ADV_PCT] * adv[k] if p[P_ADV_PCT] > 0 else 0.0):
                code = 10
            elif not np.isnan(p[P_POSITION_PCT]):
                after = abs(pos + qk)
                if after * px > p[P_POSITION_PCT] * eq0 and after > abs(pos):
                    code = 11
        reason[k] = code
    if batch or use_bp:
        gross_limit = np.nan if np.isnan(p[P_GROSS]) else p[P_GROSS] * eq0
        net_limit = np.nan if np.isnan(p[P_NET]) else p[P_NET] * eq0
        orders_left = -1 if np.isnan(p[P_DAILY_ORDERS]) else max(int(p[P_DAILY_ORDERS]) - orders_today, 0)
        if use_bp:
            _running_limits(reason, symbol, q, position, price, limit if is_limit else limit[:0], slip, fee_rate,
                            per_share, min_fee, max_fee_pct, buying_power, gross, gross_limit, net, net_limit,
                            orders_left)
        else:
            _running_limits(reason, symbol, q, position, price, limit if is_limit else limit[:0], _NO_SLIPPAGE,
                            0.0, 0.0, 0.0, np.inf, np.nan, gross, gross_limit, net, net_limit, orders_left)
