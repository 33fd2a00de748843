"""The scheduler's values: a parent order, its progress, the market it sees, the children it sends, its skips."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

import pandas as pd

__all__ = ["ALGO_NAMES", "AlgoName", "AlgoParams", "AtEnd", "ChildOrder", "MarketSlice", "ParentOrder",
           "ParentProgress", "SkipReason"]

AlgoName = Literal["none", "twap", "vwap", "pov", "iceberg"]
AtEnd = Literal["sweep", "leave"]
ALGO_NAMES: Final[tuple[str, ...]] = ("none", "twap", "vwap", "pov", "iceberg")
_THIRTY_MINUTES: Final = pd.Timedelta("30min")


@dataclass(frozen=True, slots=True)
class AlgoParams:
    """How one parent is worked (the ``execution:`` config resolved for its symbol).

    ``profile`` is the VWAP volume curve: one weight per slice (normalised here); ``None`` means equal weights.
    ``participation`` caps every child at that fraction of the volume traded since the previous child (POV's ρ).
    """

    algo: AlgoName = "twap"
    horizon: pd.Timedelta = _THIRTY_MINUTES
    slices: int = 10
    participation: float | None = None
    display_size: float = 100.0
    min_child: float = 1.0
    limit_bps: float | None = None
    max_spread_bps: float | None = None
    at_end: AtEnd = "sweep"
    profile: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.algo not in ALGO_NAMES:
            raise ValueError(f"algo: {self.algo!r} is not one of {ALGO_NAMES}")
        if self.horizon <= pd.Timedelta(0):
            raise ValueError(f"horizon must be positive, got {self.horizon}")
        if self.slices < 1:
            raise ValueError(f"slices must be >= 1, got {self.slices}")
        if self.participation is not None and not 0 < self.participation <= 1:
            raise ValueError(f"participation must be in (0, 1], got {self.participation}")
        if self.algo == "pov" and self.participation is None:
            raise ValueError("participation: the pov algorithm needs a participation rate")
        if self.display_size <= 0:
            raise ValueError(f"display_size must be > 0, got {self.display_size}")
        if self.min_child < 0:
            raise ValueError(f"min_child must be >= 0, got {self.min_child}")
        if self.profile is not None:
            if len(self.profile) != self.slices:
                raise ValueError(f"profile has {len(self.profile)} weights for {self.slices} slices")
            if any(not w >= 0 for w in self.profile) or sum(self.profile) <= 0:
                raise ValueError("profile weights must be >= 0 with a positive sum")


@dataclass(frozen=True, slots=True)
class ParentOrder:
    """One row of a rebalance's order table, to be worked by children (journaled once, never sent itself).

    ``start`` is when the schedule begins (the decision time; the horizon runs from it).
    """

    client_id: str
    symbol: str
    side: str
    quantity: float
    arrival_price: float
    params: AlgoParams
    start: pd.Timestamp

    def __post_init__(self) -> None:
        if self.side not in ("buy", "sell"):
            raise ValueError(f"parent {self.client_id}: side must be 'buy' or 'sell', got {self.side!r}")
        if not self.quantity > 0:
            raise ValueError(f"parent {self.client_id}: quantity must be > 0, got {self.quantity}")
        if not self.arrival_price > 0:
            raise ValueError(f"parent {self.client_id}: arrival_price must be > 0, got {self.arrival_price}")

    @property
    def end(self) -> pd.Timestamp:
        """When the horizon ends."""
        return self.start + self.params.horizon


@dataclass(frozen=True, slots=True)
class ParentProgress:
    """A parent's state, rebuilt from the OMS book or journal each tick: filled and working quantities, children
    created so far (the next child's sequence number)."""

    filled: float = 0.0
    open: float = 0.0
    children_sent: int = 0


@dataclass(frozen=True, slots=True)
class MarketSlice:
    """What the scheduler sees of one symbol at a time: last trade, quotes and the volume since the last child."""

    last: float
    bid: float | None = None
    ask: float | None = None
    volume_since_last_child: float = 0.0
    timestamp: pd.Timestamp | None = None


@dataclass(frozen=True, slots=True)
class ChildOrder:
    """One child order to send: a market order, or a limit order when ``limit_price`` is set."""

    client_id: str
    parent_id: str
    seq: int
    symbol: str
    side: str
    quantity: float
    limit_price: float | None
    reason: str
    algo: str = "twap"


@dataclass(frozen=True, slots=True)
class SkipReason:
    """Why a parent sent nothing (or less than its schedule) at a tick; ``quantity`` is what was held back."""

    parent_id: str
    symbol: str
    reason: str
    quantity: float = 0.0
