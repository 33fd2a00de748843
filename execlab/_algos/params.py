"""From the ``execution:`` config to one symbol's :class:`AlgoParams`."""

from __future__ import annotations

import pandas as pd

from execlab._algos.values import AlgoParams
from execlab._config import ExecutionConfig

__all__ = ["algo_params"]


def algo_params(execution: ExecutionConfig, symbol: str, profile: tuple[float, ...] | None = None) -> AlgoParams:
    """``execution`` resolved for ``symbol`` (its ``per_symbol`` overrides applied); ``profile`` is the VWAP curve to
    use when the config gives none."""
    cfg = execution.for_symbol(symbol)
    return AlgoParams(
        algo=cfg.algo, horizon=pd.Timedelta(cfg.horizon), slices=cfg.slices,
        participation=cfg.participation, display_size=cfg.display_size, min_child=cfg.min_child,
        limit_bps=cfg.limit_bps, max_spread_bps=cfg.max_spread_bps, at_end=cfg.at_end,
        profile=cfg.profile if cfg.profile is not None else (profile if cfg.algo == "vwap" else None),
    )
