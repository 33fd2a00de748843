"""The simulated venue shared by the backtest, the paper executor and the local broker venues."""

from execlab._venue._costs import CostModel
from execlab._venue._simulated import SimulatedVenue

__all__ = ["CostModel", "SimulatedVenue"]
