"""``make_plan``: one rebalance's plan as a readable table, from pandas or polars inputs, before anything is sent."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from execlab._config import Config
from execlab._core.instruments import InstrumentTable
from execlab._plan.diff import CostEstimate, Plan, PlanReason, PlanSettings, plan_orders
from execlab._plan.inputs import RebalanceInputs, TradableLookup, gate_rebalance_inputs

__all__ = ["make_plan", "plan_table"]


def make_plan(
    targets: Any,
    positions: Any,
    prices: Any,
    cash: float,
    config: Config | None = None,
    instruments: InstrumentTable | None = None,
    costs: CostEstimate | None = None,
    timestamp: pd.Timestamp | None = None,
    tradable: TradableLookup | None = None,
    equity: float | None = None,
) -> Plan:
    """Plan one rebalance: targets (in ``config.plan.target_unit``), current positions and prices per symbol.

    The inputs pass the same gate as every rebalance (:func:`execlab._plan.inputs.gate_rebalance_inputs`); a held
    symbol the targets leave out is closed or kept as ``plan.untargeted`` says, and shown either way; ``equity`` (the
    broker's) values a kept symbol that has no price.
    """
    cfg = config or Config()
    inputs = gate_rebalance_inputs(targets, positions, prices, cash, cfg, instruments, tradable, equity)
    return plan_table(inputs, cfg, instruments, costs, timestamp)


def plan_table(inputs: RebalanceInputs, config: Config, instruments: InstrumentTable | None = None,
               costs: CostEstimate | None = None, timestamp: pd.Timestamp | None = None) -> Plan:
    """The readable plan of gated inputs (see :func:`make_plan`)."""
    symbols = list(inputs.symbols)
    equity = inputs.equity
    leverage = config.venue.margin.max_leverage if config.venue.margin.enabled else 1.0
    rules = (instruments if instruments is not None else InstrumentTable()).arrays(symbols)
    settings = PlanSettings(config.plan.target_unit, config.plan.no_trade_band, config.plan.cash_buffer,
                            -(leverage - 1.0) * max(equity, 0.0) if config.venue.margin.enabled else 0.0)
    value = inputs.value  # one unit's worth in the home currency (a cross: price × its quote currency's rate)
    shares, qty, reason, seq = plan_orders(inputs.target, inputs.current, value, inputs.cash, equity, rules,
                                           settings, costs or CostEstimate())
    sequence = np.full(len(symbols), -1)
    sequence[seq] = np.arange(seq.size)
    table = pd.DataFrame({
        "price": inputs.price, "current": inputs.current, "target": inputs.target, "target_shares": shares,
        "order_qty": qty, "side": np.where(qty > 0, "buy", np.where(qty < 0, "sell", "")),
        "notional": np.abs(qty) * value, "reason": [PlanReason(r).name.lower() for r in reason],
        "sequence": sequence,
    }, index=pd.Index(symbols, name="symbol"))
    kept = inputs.held_untargeted
    if len(kept):
        held_px = inputs.prices.reindex(kept.index).to_numpy(dtype=np.float64, na_value=np.nan)
        extra = pd.DataFrame({
            "price": held_px, "current": kept.to_numpy(), "target": np.nan, "target_shares": kept.to_numpy(),
            "order_qty": 0.0, "side": "", "notional": 0.0, "reason": PlanReason.UNTARGETED_HELD.name.lower(),
            "sequence": -1,
        }, index=pd.Index(list(kept.index), name="symbol"))
        table = pd.concat([table, extra]).sort_index()
    return Plan(table, timestamp, inputs.cash, equity)
