"""The simulated venue shared by the backtest, the paper executor and the local broker venues."""

from execlab._sim.bar_venue import SimulatedVenue
from execlab._sim.costs import CostModel

__all__ = ["CostModel", "SimulatedVenue"]
