"""Ready-made strategies that turn bars into target positions for the execlab pipeline."""

from execlab.strategies._momentum import momentum_targets

__all__ = ["momentum_targets"]
