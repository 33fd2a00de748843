"""Execution algorithms: a pure scheduler that works parent orders (TWAP, VWAP, POV, iceberg) with child orders."""

from execlab._algos.ids import child_client_id
from execlab._algos.params import algo_params
from execlab._algos.profile import volume_profile
from execlab._algos.scheduler import is_finished, next_children, scheduled_fraction, scheduled_quantity
from execlab._algos.values import (
    ALGO_NAMES,
    AlgoName,
    AlgoParams,
    AtEnd,
    ChildOrder,
    MarketSlice,
    ParentOrder,
    ParentProgress,
    SkipReason,
)

__all__ = ["ALGO_NAMES", "AlgoName", "AlgoParams", "AtEnd", "ChildOrder", "MarketSlice", "ParentOrder",
           "ParentProgress", "SkipReason", "algo_params", "child_client_id", "is_finished", "next_children",
           "scheduled_fraction", "scheduled_quantity", "volume_profile"]
