"""The pre-trade check of an execution algorithm's child orders, the one every mode runs (the backtest and paper
worker, and the schedule at a broker): the children of one step go through the run's :class:`RiskEngine` as one
batch, with the same inputs an ordinary order gets (ADV, the day's order count and start equity, buying power)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from execlab._algos import ChildOrder
from execlab._core.arrays import FloatArray
from execlab._plan.diff import CostEstimate
from execlab._risk.engine import RiskContext, RiskEngine
from execlab._sim.valuation import exposures

__all__ = ["CheckedChildren", "ChildAccount", "check_children", "check_orders"]


@dataclass(frozen=True, slots=True)
class ChildAccount:
    """What the check knows of the account and the market at the step (arrays per symbol of the universe)."""

    last: FloatArray
    """Each symbol's last trade (the children's decision price)."""
    position: FloatArray
    equity: float
    buying_power: float = np.inf
    costs: CostEstimate | None = None
    adv: FloatArray | None = None
    """Each symbol's ADV known before the step (``risk.max_adv_pct``), by the estimator ordinary orders use."""
    orders_today: int = 0
    day_start_equity: float = math.nan
    day: int | None = None
    timestamp: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckedChildren:
    """The children as order columns (symbol index, signed quantity, decision and limit price) and the risk
    engine's reason code per child (0: may be sent)."""

    symbol: npt.NDArray[np.int64]
    quantity: FloatArray
    price: FloatArray
    limit_price: FloatArray
    reason: npt.NDArray[np.int8]


def check_children(risk: RiskEngine, symbols: Sequence[str], children: Sequence[ChildOrder],
                   account: ChildAccount) -> CheckedChildren:
    """Run ``children`` (in the scheduler's order) through ``risk`` as one batch over the universe ``symbols``."""
    index = {s: k for k, s in enumerate(symbols)}
    seq = np.array([index[c.symbol] for c in children], dtype=np.int64)
    q = np.array([c.quantity if c.side == "buy" else -c.quantity for c in children], dtype=np.float64)
    limit = np.array([math.nan if c.limit_price is None else c.limit_price for c in children], dtype=np.float64)
    return check_orders(risk, seq, q, limit, account)


def check_orders(risk: RiskEngine, seq: npt.NDArray[np.int64], q: FloatArray, limit: FloatArray,
                 account: ChildAccount) -> CheckedChildren:
    """Run the orders (symbol index, signed quantity, limit price or NaN) through ``risk`` as one batch, decided at
    each symbol's last trade; the book's exposure is valued at those prices when an exposure limit needs it."""
    last = np.asarray(account.last, dtype=np.float64)
    position = np.asarray(account.position, dtype=np.float64)
    px = last[seq].copy()
    gross = net = math.nan
    if risk.config.max_gross_exposure is not None or risk.config.max_net_exposure is not None:
        gross, net = exposures(position, last)
    reason = risk.check(RiskContext(
        seq, q, px, position[seq], account.equity, limit_price=limit,
        adv=None if account.adv is None else np.asarray(account.adv, dtype=np.float64)[seq],
        buying_power=account.buying_power, costs=account.costs, gross_exposure=gross, net_exposure=net,
        orders_today=account.orders_today, day_start_equity=account.day_start_equity, trading_day=account.day,
        timestamp=account.timestamp))
    return CheckedChildren(seq, q, px, limit, np.asarray(reason, dtype=np.int8))
