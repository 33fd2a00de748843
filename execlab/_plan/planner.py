"""``make_plan``: one rebalance's plan as a readable table, from pandas or polars inputs, before anything is sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from execlab._config import Config
from execlab._core.instruments import InstrumentTable
from execlab._data.targets import TargetError, check_unit
from execlab._plan.diff import CostEstimate, Plan, PlanReason, PlanSettings, plan_orders

__all__ = ["make_plan", "symbol_series"]


def symbol_series(values: Any, name: str) -> pd.Series:
    """One value per symbol from a Series, mapping or one-row frame; duplicates and non-finite values raise."""
    if isinstance(values, pd.Series):
        series = values
    elif isinstance(values, Mapping):
        series = pd.Series(dict(values), dtype=float)
    elif hasattr(values, "to_pandas"):
        frame = values.to_pandas()
        if {"symbol"} <= set(frame.columns) and frame.shape[1] == 2:
            series = frame.set_index("symbol").iloc[:, 0]
        else:
            series = frame.iloc[0]
    elif isinstance(values, pd.DataFrame):
        if len(values) != 1:
            raise TargetError(f"{name}: expected one row, got {len(values)}")
        series = values.iloc[0]
    else:
        raise TargetError(f"{name}: expected a Series, mapping or one-row frame, got {type(values).__name__}")
    series = series.astype(float)
    series.index = [str(s) for s in series.index]
    if series.index.duplicated().any():
        raise TargetError(f"{name}: duplicate symbol {series.index[series.index.duplicated()][0]!r}")
    bad = ~np.isfinite(series.to_numpy())
    if bad.any():
        raise TargetError(f"{name}: {series.iloc[int(np.flatnonzero(bad)[0])]} for symbol "
                          f"{series.index[int(np.flatnonzero(bad)[0])]!r} is not a finite number")
    return series


def make_plan(
    targets: Any,
    positions: Any,
    prices: Any,
    cash: float,
    config: Config | None = None,
    instruments: InstrumentTable | None = None,
    costs: CostEstimate | None = None,
    timestamp: pd.Timestamp | None = None,
) -> Plan:
    """Plan one rebalance: targets (in ``config.plan.target_unit``), current positions and prices per symbol."""
    cfg = config or Config()
    tgt = symbol_series(targets, "targets")
    pos = symbol_series(positions, "positions") if positions is not None else pd.Series(dtype=float)
    px = symbol_series(prices, "prices")
    if not cfg.plan.allow_short and (tgt < 0).any():
        raise TargetError(f"targets: negative target for symbol {tgt[tgt < 0].index[0]!r} but plan.allow_short "
                          f"is false")
    symbols = sorted(set(tgt.index) | set(pos.index))
    missing = [s for s in symbols if s not in px.index and (tgt.get(s, 0.0) != 0 or pos.get(s, 0.0) != 0)]
    if missing:
        raise TargetError(f"prices: no price for symbols {missing[:10]}")
    bad_px = [s for s in symbols if s in px.index and px[s] <= 0]
    if bad_px:
        raise TargetError(f"prices: price for symbol {bad_px[0]!r} must be positive, got {px[bad_px[0]]}")
    leverage = cfg.venue.margin.max_leverage if cfg.venue.margin.enabled else 1.0
    inst = instruments if instruments is not None else InstrumentTable()
    check_unit(tgt.to_frame().T.rename(index={tgt.name: timestamp}), tgt.to_numpy()[None, :], cfg.plan.target_unit,
               leverage, inst)
    t = tgt.reindex(symbols, fill_value=0.0).to_numpy()
    p = pos.reindex(symbols, fill_value=0.0).to_numpy()
    price = px.reindex(symbols).to_numpy()
    equity = cash + float(np.nansum(p * price))
    rules = inst.arrays(symbols)
    settings = PlanSettings(cfg.plan.target_unit, cfg.plan.no_trade_band, cfg.plan.cash_buffer,
                            -(leverage - 1.0) * max(equity, 0.0) if cfg.venue.margin.enabled else 0.0)
    shares, qty, reason, seq = plan_orders(t, p, price, cash, equity, rules, settings, costs or CostEstimate())
    sequence = np.full(len(symbols), -1)
    sequence[seq] = np.arange(seq.size)
    table = pd.DataFrame({
        "price": price, "current": p, "target": t, "target_shares": shares, "order_qty": qty,
        "side": np.where(qty > 0, "buy", np.where(qty < 0, "sell", "")), "notional": np.abs(qty) * price,
        "reason": [PlanReason(r).name.lower() for r in reason], "sequence": sequence,
    }, index=pd.Index(symbols, name="symbol"))
    return Plan(table, timestamp, cash, equity)
