"""Pre-trade risk over a whole batch at once: every check returns a reason code per order, never raises.

Checks run in the order of their :class:`RiskReason` codes and an order keeps the first reason that denies it.
The per-order checks (``RESTRICTED`` … ``MAX_POSITION_PCT``) look at each order alone; the batch checks
(``BUYING_POWER`` … ``MAX_DAILY_ORDERS``) take the orders still passing in batch order (the plan puts sells
first) and deny an order when it, on top of the earlier orders that passed, would break a limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum
from typing import Final, Literal

import numba
import numpy as np
import numpy.typing as npt
import pandas as pd

from execlab._config import RiskConfig
from execlab._core.arrays import FloatArray, IntArray
from execlab._plan.diff import CostEstimate

__all__ = [
    "KillSwitchActions",
    "RiskContext",
    "RiskEngine",
    "RiskReason",
    "StateChange",
    "TradingState",
    "kill_switch",
]

ReasonArray = npt.NDArray[np.int8]
TradingState = Literal["active", "reducing_only", "halted"]

_EMPTY: Final = np.zeros(0, dtype=np.float64)
_EMPTY.setflags(write=False)
_NO_COSTS: Final = CostEstimate()
_TOL: Final = 1e-9


class RiskReason(IntEnum):
    """Why pre-trade risk denied an order (0 means it passed). Checks run in the order of these codes."""

    OK = 0
    HALTED = 1
    """Trading is halted (by :meth:`RiskEngine.halt`, the kill switch or the config): every order is denied."""
    DAILY_LOSS_LIMIT = 2
    """Today's loss reached ``daily_loss_limit``: trading halts for the day and every order is denied."""
    REDUCING_ONLY = 3
    """Reducing-only state: the order would grow |position| or flip its sign."""
    RESTRICTED = 4
    """The symbol is on the ``restricted`` list."""
    INVALID_INPUT = 5
    """A value a configured check needs is missing: NaN or infinite quantity, position, equity, day-start
    equity or book exposure, or a price, limit price, last price or average daily volume that is NaN,
    infinite or not positive (ADV may be 0)."""
    SHORTING_NOT_ALLOWED = 6
    """The order would leave a short position and shorting is off."""
    MAX_ORDER_QUANTITY = 7
    """|quantity| is above ``max_order_quantity``."""
    MAX_ORDER_VALUE = 8
    """|quantity| × order price is above ``max_order_value``."""
    PRICE_BAND = 9
    """The order price is further from the last price than ``price_band_pct`` (fat finger)."""
    MAX_ADV_PCT = 10
    """|quantity| is above ``max_adv_pct`` × average daily volume."""
    MAX_POSITION_PCT = 11
    """The order grows a position beyond ``max_position_pct`` × equity."""
    BUYING_POWER = 12
    """The buy's estimated cost, after the batch's earlier passing orders, is beyond buying power."""
    MAX_GROSS_EXPOSURE = 13
    """The order, after the batch's earlier passing orders, takes gross exposure beyond the limit."""
    MAX_NET_EXPOSURE = 14
    """The order, after the batch's earlier passing orders, takes |net exposure| beyond the limit, further
    from zero."""
    MAX_DAILY_ORDERS = 15
    """Today's order count (sent earlier plus passing orders earlier in the batch) is at ``max_daily_orders``."""


# Plain ints for the numba kernel.
_BUYING_POWER: Final = int(RiskReason.BUYING_POWER)
_MAX_GROSS: Final = int(RiskReason.MAX_GROSS_EXPOSURE)
_MAX_NET: Final = int(RiskReason.MAX_NET_EXPOSURE)
_MAX_DAILY: Final = int(RiskReason.MAX_DAILY_ORDERS)


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What the checks see: one batch of orders (arrays aligned per order) and the account (scalars).

    Only ``symbol``, ``quantity``, ``price``, ``position`` and ``equity`` are required; a check whose other
    inputs are left at their defaults either does not apply (buying power, last price) or, when configured,
    denies with ``INVALID_INPUT`` rather than pass unchecked (ADV, day-start equity, book exposure).
    """

    symbol: IntArray
    """Index of each order's symbol in the engine's universe."""
    quantity: FloatArray
    """Signed order quantity: positive buys, negative sells."""
    price: FloatArray
    """Decision price (the current mark) of each order's symbol."""
    position: FloatArray
    """Current position of each order's symbol."""
    equity: float
    """Account equity now."""
    limit_price: FloatArray | None = None
    """Limit price per order, NaN for market orders (``None``: all market)."""
    last_price: FloatArray | None = None
    """Last traded price per order's symbol, for the price band (``None``: the decision price)."""
    adv: FloatArray | None = None
    """Average daily volume per order's symbol, in the units of ``quantity``."""
    buying_power: float = np.inf
    """What the account may spend on buys now (infinite: not limited)."""
    costs: CostEstimate | None = None
    """Expected slippage and fees, as :meth:`OrderExecutor.cost_estimate` gives them (slippage a scalar or one
    per symbol of the universe), added to the cost of buys and taken off the proceeds of sells (``None``: no
    costs). Limit orders are costed at their limit, without slippage."""
    gross_exposure: float = np.nan
    """Sum of |position × price| over the whole book before the batch (needed by ``max_gross_exposure``)."""
    net_exposure: float = np.nan
    """Sum of position × price over the whole book before the batch (needed by ``max_net_exposure``)."""
    orders_today: int = 0
    """Orders already sent today (not counting denied ones)."""
    day_start_equity: float = np.nan
    """Equity at the start of the trading day (needed by ``daily_loss_limit``)."""
    trading_day: int | None = None
    """Any integer that changes when a new trading day starts; a daily-loss halt lifts when it changes."""
    timestamp: datetime | None = None
    """Time of the decision, for the state-change record (``None``: the wall clock)."""


@dataclass(frozen=True, slots=True)
class StateChange:
    """One change of the engine's trading state and why."""

    timestamp: datetime
    previous: TradingState
    state: TradingState
    reason: str


@dataclass(frozen=True, slots=True)
class KillSwitchActions:
    """What the OMS must do when the kill switch fires: cancel these orders, then send these flattening orders.

    The flattening orders close every non-zero position given; they are the kill switch's own orders and must
    not be run through :meth:`RiskEngine.check` (which denies everything once halted).
    """

    cancel: IntArray
    """Order ids to cancel."""
    flatten_symbol: IntArray
    """Universe index of each flattening order."""
    flatten_quantity: FloatArray
    """Signed quantity of each flattening order (minus the position)."""
    reason: str = ""
    """Why the kill switch fired."""

    def __len__(self) -> int:
        """Number of actions: cancels plus flattening orders."""
        return int(self.cancel.size + self.flatten_symbol.size)


def kill_switch(open_orders: IntArray, position: FloatArray, flatten: bool, reason: str = "") -> KillSwitchActions:
    """The cancels of all ``open_orders`` and, when ``flatten``, the orders that close every position.

    ``position`` is the signed quantity per symbol of the universe. Pure: nothing is sent or changed.
    """
    cancel = np.unique(np.asarray(open_orders, dtype=np.int64))
    if flatten:
        pos = np.asarray(position, dtype=np.float64)
        symbol = np.flatnonzero(np.isfinite(pos) & (pos != 0.0)).astype(np.int64)
        quantity = -pos[symbol]
    else:
        symbol = np.zeros(0, dtype=np.int64)
        quantity = np.zeros(0, dtype=np.float64)
    return KillSwitchActions(cancel, symbol, quantity, reason)


@numba.njit(cache=True)
def _running_limits(reason: np.ndarray, symbol: np.ndarray, qty: np.ndarray, position: np.ndarray,
                    price: np.ndarray, limit: np.ndarray, slip: np.ndarray, fee_rate: float, per_share: float,
                    min_fee: float, max_fee_pct: float, buying_power: float, gross: float, gross_limit: float,
                    net: float, net_limit: float, orders_left: int) -> None:
    """Walk the passing orders in batch order; deny those that break a running limit (NaN / −1: limit off).

    Buys cost, and sells free, what the plan's cash check says (price ± slippage, fees); limit orders are
    costed at their limit without slippage.
    """
    use_bp = not np.isnan(buying_power)
    use_gross = not np.isnan(gross_limit)
    use_net = not np.isnan(net_limit)
    use_count = orders_left >= 0
    has_limit = limit.shape[0] > 0
    one_slip = slip.shape[0] == 1
    spent = 0.0
    sent = 0
    for k in range(reason.shape[0]):
        if reason[k] != 0:
            continue
        q = qty[k]
        cost = 0.0
        if use_bp:
            if has_limit and not np.isnan(limit[k]):
                unit, sl = limit[k], 0.0
            else:
                unit, sl = price[k], slip[0] if one_slip else slip[symbol[k]]
            value = abs(q) * unit * (1.0 + sl if q > 0.0 else 1.0 - sl)
            fee = value * fee_rate
            if per_share > 0.0:
                fee += min(max(min_fee, abs(q) * per_share), max_fee_pct * value)
            cost = value + fee if q > 0.0 else fee - value
            if cost > 0.0 and cost > (buying_power - spent) * (1.0 + 1e-12) + 1e-9:
                reason[k] = _BUYING_POWER
                continue
        d_gross = (abs(position[k] + q) - abs(position[k])) * price[k]
        if use_gross and d_gross > 0.0 and gross + d_gross > gross_limit * (1.0 + 1e-12) + 1e-9:
            reason[k] = _MAX_GROSS
            continue
        d_net = q * price[k]
        if use_net:
            after = abs(net + d_net)
            if after > net_limit * (1.0 + 1e-12) + 1e-9 and after > abs(net):
                reason[k] = _MAX_NET
                continue
        if use_count and sent >= orders_left:
            reason[k] = _MAX_DAILY
            continue
        spent += cost
        gross += d_gross
        net += d_net
        sent += 1


def _positive(a: FloatArray) -> npt.NDArray[np.bool_]:
    ok: npt.NDArray[np.bool_] = (a > 0.0) & (a < np.inf)
    return ok


@numba.njit(cache=True)
def _prices_ok(a: np.ndarray) -> bool:
    ok = True
    for k in range(a.shape[0]):
        if not (a[k] > 0.0 and a[k] < np.inf):
            ok = False
            break
    return ok


@numba.njit(cache=True)
def _all_valid(qty: np.ndarray, position: np.ndarray, price: np.ndarray, order_price: np.ndarray,
               last: np.ndarray, adv: np.ndarray) -> bool:
    """Whether every input is usable: finite quantities and positions, positive finite prices, ADV ≥ 0
    (an empty array is not checked)."""
    for k in range(qty.shape[0]):
        if not (np.isfinite(qty[k]) and np.isfinite(position[k])):
            return False
    for k in range(adv.shape[0]):
        if not adv[k] >= 0.0:
            return False
    return _prices_ok(price) and _prices_ok(order_price) and _prices_ok(last)


def _finite(x: float) -> bool:
    return math.isfinite(x)


class RiskEngine:
    """Pre-trade checks over a batch, and the trading state (active, reducing-only, halted) they run under.

    ``universe`` names the symbols that :attr:`RiskContext.symbol` indexes; ``allow_short`` is the plan's.
    """

    def __init__(self, config: RiskConfig, universe: Sequence[str], allow_short: bool):
        self.config = config
        self.universe = tuple(universe)
        self.allow_short = allow_short
        restricted = set(config.restricted)
        self._restricted = np.array([s in restricted for s in self.universe], dtype=np.bool_)
        self._any_restricted = bool(self._restricted.any())
        self._state: TradingState = config.trading_state
        self._halt_code = RiskReason.HALTED
        self._halt_day: int | None = None
        self._before_halt: TradingState = "active"
        self._log: list[StateChange] = []
        if config.trading_state != "active":
            self._log.append(StateChange(_now(), "active", config.trading_state, "config risk.trading_state"))
        c = config
        self._needs_price = any(x is not None for x in (c.max_order_value, c.price_band_pct, c.max_position_pct,
                                                        c.max_gross_exposure, c.max_net_exposure))
        self._needs_equity = any(x is not None for x in (c.max_position_pct, c.max_gross_exposure,
                                                         c.max_net_exposure, c.daily_loss_limit))
        self._per_order = (self._any_restricted or not allow_short or self._needs_price or self._needs_equity
                           or c.max_order_quantity is not None or c.max_adv_pct is not None)
        self._batch = (c.max_gross_exposure is not None or c.max_net_exposure is not None
                       or c.max_daily_orders is not None)

    # --- trading state -------------------------------------------------------------------------------------

    @property
    def state(self) -> TradingState:
        """The trading state now: ``active``, ``reducing_only`` or ``halted``."""
        return self._state

    @property
    def halt_code(self) -> RiskReason | None:
        """Why trading is halted (``HALTED`` or ``DAILY_LOSS_LIMIT``), or ``None`` when it is not."""
        return self._halt_code if self._state == "halted" else None

    @property
    def state_log(self) -> tuple[StateChange, ...]:
        """Every state change so far, oldest first."""
        return tuple(self._log)

    def state_changes(self) -> pd.DataFrame:
        """The state changes as a table: ``timestamp``, ``previous``, ``state``, ``reason``."""
        return pd.DataFrame(
            {
                "timestamp": [c.timestamp for c in self._log],
                "previous": pd.Series([c.previous for c in self._log], dtype=object),
                "state": pd.Series([c.state for c in self._log], dtype=object),
                "reason": pd.Series([c.reason for c in self._log], dtype=object),
            }
        )

    def halt(self, reason: str, at: datetime | None = None) -> None:
        """Stop all trading until :meth:`resume` or :meth:`set_reducing_only`; every order is denied ``HALTED``."""
        self._halt(RiskReason.HALTED, reason, at)

    def set_reducing_only(self, reason: str, at: datetime | None = None) -> None:
        """Allow only orders that shrink a position without flipping it."""
        self._change("reducing_only", reason, at)

    def resume(self, reason: str = "resumed", at: datetime | None = None) -> None:
        """Return to normal (``active``) trading."""
        self._change("active", reason, at)

    def kill_switch(self, open_orders: IntArray, position: FloatArray, reason: str = "kill switch",
                    at: datetime | None = None) -> KillSwitchActions:
        """Halt trading and return what the OMS must do: cancel every open order and, when the config's
        ``emergency_flatten`` is set, close every position (``position`` is per symbol of the universe)."""
        self._halt(RiskReason.HALTED, reason, at)
        return kill_switch(open_orders, position, self.config.emergency_flatten, reason)

    def _halt(self, code: RiskReason, reason: str, at: datetime | None, day: int | None = None) -> None:
        if self._state != "halted":
            self._before_halt = self._state
        self._halt_code = code
        self._halt_day = day
        self._change("halted", reason, at)

    def _change(self, state: TradingState, reason: str, at: datetime | None) -> None:
        self._log.append(StateChange(at if at is not None else _now(), self._state, state, reason))
        self._state = state
        if state != "halted":
            self._halt_code = RiskReason.HALTED
            self._halt_day = None

    # --- checks --------------------------------------------------------------------------------------------

    def check(self, ctx: RiskContext) -> ReasonArray:
        """Reason code per order of the batch (``RiskReason.OK`` where it may be sent).

        May change the trading state: a breached ``daily_loss_limit`` halts trading (recorded), and a new
        ``trading_day`` lifts that halt.
        """
        n = ctx.quantity.shape[0]
        cfg = self.config
        if (self._state == "halted" and self._halt_code == RiskReason.DAILY_LOSS_LIMIT
                and ctx.trading_day is not None and ctx.trading_day != self._halt_day):
            self._change(self._before_halt, "new trading day: daily loss halt lifted", ctx.timestamp)
        if self._state == "halted":
            return np.full(n, self._halt_code, dtype=np.int8)
        limit = cfg.daily_loss_limit
        if limit is not None and _finite(ctx.equity) and _finite(ctx.day_start_equity):
            pnl = ctx.equity - ctx.day_start_equity
            if pnl <= -limit:
                self._halt(RiskReason.DAILY_LOSS_LIMIT, f"daily loss limit: P&L {pnl:,.2f} <= -{limit:,.2f}",
                           ctx.timestamp, ctx.trading_day)
                return np.full(n, RiskReason.DAILY_LOSS_LIMIT, dtype=np.int8)
        reason = np.zeros(n, dtype=np.int8)
        if n == 0:
            return reason
        reducing = self._state == "reducing_only"
        use_bp = cfg.check_buying_power and ctx.buying_power != np.inf
        if not (reducing or self._per_order or self._batch or use_bp):
            return reason
        order_price = ctx.price
        if ctx.limit_price is not None:
            is_limit = ~np.isnan(ctx.limit_price)
            if is_limit.any():
                order_price = np.where(is_limit, ctx.limit_price, ctx.price)
        invalid = self._invalid(ctx, order_price, use_bp)
        if invalid is None:
            self._order_checks(ctx, reason, order_price, reducing, invalid)
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                self._order_checks(ctx, reason, order_price, reducing, invalid)
        if self._batch or use_bp:
            self._batch_checks(ctx, reason, use_bp)
        return reason

    def _order_checks(self, ctx: RiskContext, reason: ReasonArray, order_price: FloatArray, reducing: bool,
                      invalid: npt.NDArray[np.bool_] | None) -> None:
        """The checks that look at each order alone; the first failing one (lowest code) wins."""
        cfg = self.config
        q, pos, price = ctx.quantity, ctx.position, ctx.price
        checks: list[tuple[npt.NDArray[np.bool_], RiskReason]] = []
        if reducing:
            shrinks = (q * pos < 0.0) & (np.abs(q) <= np.abs(pos) + _TOL)
            checks.append((~shrinks, RiskReason.REDUCING_ONLY))
        if self._any_restricted:
            checks.append((self._restricted[ctx.symbol], RiskReason.RESTRICTED))
        if invalid is not None:
            checks.append((invalid, RiskReason.INVALID_INPUT))
        if not self.allow_short:
            checks.append((pos + q < -_TOL, RiskReason.SHORTING_NOT_ALLOWED))
        if cfg.max_order_quantity is not None:
            checks.append((np.abs(q) > cfg.max_order_quantity, RiskReason.MAX_ORDER_QUANTITY))
        if cfg.max_order_value is not None:
            checks.append((np.abs(q) * order_price > cfg.max_order_value, RiskReason.MAX_ORDER_VALUE))
        if cfg.price_band_pct is not None:
            last = price if ctx.last_price is None else ctx.last_price
            checks.append((np.abs(order_price - last) > cfg.price_band_pct * last * (1.0 + 1e-12),
                           RiskReason.PRICE_BAND))
        if cfg.max_adv_pct is not None and ctx.adv is not None:
            # a zero limit is checked without multiplying (0 × infinite volume is NaN)
            room = cfg.max_adv_pct * ctx.adv if cfg.max_adv_pct > 0 else 0.0
            checks.append((np.abs(q) > room, RiskReason.MAX_ADV_PCT))
        if cfg.max_position_pct is not None:
            after = np.abs(pos + q)
            over = after * price > cfg.max_position_pct * max(ctx.equity, 0.0)
            checks.append((over & (after > np.abs(pos)), RiskReason.MAX_POSITION_PCT))
        for hit, code in reversed(checks):
            if hit.any():
                reason[hit] = code

    def _invalid(self, ctx: RiskContext, order_price: FloatArray, use_bp: bool) -> npt.NDArray[np.bool_] | None:
        """Orders whose inputs to a configured check are missing, or ``None`` when all are present."""
        cfg = self.config
        n = ctx.quantity.shape[0]
        if ((self._needs_equity and not _finite(ctx.equity))
                or (cfg.daily_loss_limit is not None and not _finite(ctx.day_start_equity))
                or (cfg.max_gross_exposure is not None and not _finite(ctx.gross_exposure))
                or (cfg.max_net_exposure is not None and not _finite(ctx.net_exposure))
                or (cfg.check_buying_power and math.isnan(ctx.buying_power))
                or (cfg.max_adv_pct is not None and ctx.adv is None)):
            return np.ones(n, dtype=np.bool_)
        needs_price = self._needs_price or use_bp
        last = ctx.last_price if cfg.price_band_pct is not None else None
        adv = ctx.adv if cfg.max_adv_pct is not None else None
        # One cheap pass first; the masks only when something is off.
        if _all_valid(ctx.quantity, ctx.position, ctx.price if needs_price else _EMPTY,
                      order_price if needs_price and order_price is not ctx.price else _EMPTY,
                      _EMPTY if last is None else last, _EMPTY if adv is None else adv):
            return None
        ok = np.isfinite(ctx.quantity) & np.isfinite(ctx.position)
        if needs_price:
            ok &= _positive(ctx.price) & _positive(order_price)
        if last is not None:
            ok &= _positive(last)
        if adv is not None:
            ok &= adv >= 0.0
        return ~ok

    def _batch_checks(self, ctx: RiskContext, reason: ReasonArray, use_bp: bool) -> None:
        cfg = self.config
        equity = max(ctx.equity, 0.0)
        gross_limit = np.nan if cfg.max_gross_exposure is None else cfg.max_gross_exposure * equity
        net_limit = np.nan if cfg.max_net_exposure is None else cfg.max_net_exposure * equity
        orders_left = -1 if cfg.max_daily_orders is None else max(cfg.max_daily_orders - ctx.orders_today, 0)
        costs = ctx.costs if ctx.costs is not None and use_bp else _NO_COSTS
        slip = np.asarray(costs.slippage, dtype=np.float64).reshape(-1)
        limit = _EMPTY if ctx.limit_price is None else ctx.limit_price
        _running_limits(reason, ctx.symbol, ctx.quantity, ctx.position, ctx.price, limit, slip, costs.fee_rate,
                        costs.per_share, costs.min_fee, costs.max_fee_pct,
                        float(ctx.buying_power) if use_bp else np.nan, float(ctx.gross_exposure), float(gross_limit),
                        float(ctx.net_exposure), float(net_limit), orders_left)


def _now() -> datetime:
    return datetime.now(UTC)
