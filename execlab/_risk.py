"""Pre-trade risk over a whole batch at once: every check returns a reason code per order, never raises."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from execlab._config import RiskConfig

__all__ = ["RiskContext", "RiskEngine", "RiskReason"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class RiskReason(IntEnum):
    """Why pre-trade risk denied an order (0 means it passed)."""

    OK = 0
    HALTED = 1
    REDUCING_ONLY = 2
    RESTRICTED = 3
    MAX_ORDER_VALUE = 4
    MAX_ORDER_QUANTITY = 5
    MAX_POSITION_PCT = 6
    SHORTING_NOT_ALLOWED = 7


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What the checks see: the batch (symbol index, signed quantity, price) and the account."""

    symbol: IntArray
    quantity: FloatArray
    price: FloatArray
    position: FloatArray
    """Current position of each order's symbol."""
    equity: float


class RiskEngine:
    """Runs the configured checks in order; an order keeps the first reason that denies it."""

    def __init__(self, config: RiskConfig, universe: Sequence[str], allow_short: bool):
        self.config = config
        self.allow_short = allow_short
        self.state = config.trading_state
        restricted = set(config.restricted)
        self._restricted = np.array([s in restricted for s in universe], dtype=np.bool_)

    def check(self, ctx: RiskContext) -> npt.NDArray[np.int8]:
        """Reason code per order (``RiskReason.OK`` where it may be sent)."""
        n = ctx.quantity.shape[0]
        reason = np.zeros(n, dtype=np.int8)
        if n == 0:
            return reason
        if self.state == "halted":
            reason[:] = RiskReason.HALTED
            return reason
        cfg = self.config
        after = ctx.position + ctx.quantity
        checks: list[tuple[npt.NDArray[np.bool_], RiskReason]] = []
        if self.state == "reducing_only":
            checks.append((np.abs(after) > np.abs(ctx.position) + 1e-12, RiskReason.REDUCING_ONLY))
        if self._restricted.any():
            checks.append((self._restricted[ctx.symbol], RiskReason.RESTRICTED))
        if cfg.max_order_value is not None:
            checks.append((np.abs(ctx.quantity) * ctx.price > cfg.max_order_value, RiskReason.MAX_ORDER_VALUE))
        if cfg.max_order_quantity is not None:
            checks.append((np.abs(ctx.quantity) > cfg.max_order_quantity, RiskReason.MAX_ORDER_QUANTITY))
        if cfg.max_position_pct is not None:
            over = np.abs(after) * ctx.price > cfg.max_position_pct * max(ctx.equity, 0.0)
            checks.append((over & (np.abs(after) > np.abs(ctx.position)), RiskReason.MAX_POSITION_PCT))
        if not self.allow_short:
            checks.append((after < -1e-9, RiskReason.SHORTING_NOT_ALLOWED))
        for hit, code in reversed(checks):
            if hit.any():
                reason[hit] = code
        return reason
