"""The margin rule of the simulated venue: how far cash may go below zero and how large gross exposure may grow."""

from __future__ import annotations

import math

from execlab._config import MarginConfig

__all__ = ["cash_floor", "leverage", "max_gross"]


def leverage(margin: MarginConfig) -> float:
    """Gross exposure allowed per unit of equity: ``max_leverage`` with margin, 1 without."""
    return margin.max_leverage if margin.enabled else 1.0


def cash_floor(margin: MarginConfig, equity: float) -> float:
    """Lowest cash allowed: −(leverage − 1) × equity with margin (none below zero equity), zero without."""
    return -(margin.max_leverage - 1.0) * max(equity, 0.0) if margin.enabled else 0.0


def max_gross(margin: MarginConfig, equity: float) -> float:
    """Largest gross exposure allowed: leverage × equity with margin, unbounded without (the cash rule binds)."""
    return margin.max_leverage * max(equity, 0.0) if margin.enabled else math.inf
