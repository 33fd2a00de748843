"""Ready-made strategies that turn bars into target positions for the execlab pipeline, and benchmarks."""

from execlab.strategies._benchmarks import equal_weight_index
from execlab.strategies._momentum import momentum_targets

__all__ = ["equal_weight_index", "momentum_targets"]
