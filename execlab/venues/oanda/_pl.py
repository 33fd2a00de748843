"""v20's realised P&L per fill: net units and average price per instrument, and what a fill closes.

The matching and the money are the broker kit's :class:`~execlab.venues._base.account.VenueAccount`; this book only
says what a v20 ``ORDER_FILL`` reports: the units it closed (``tradeReduced``/``tradesClosed``), the units it opened
(``tradeOpened``) and the P&L of the closed units, in the quote currency (``quotePL``), converted at the current rate
(``pl``), as OANDA does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["FillEffect", "PositionBook", "PositionLegs"]


@dataclass(frozen=True, slots=True)
class FillEffect:
    """What one fill did to its instrument's position."""

    quote_pl: float
    """Realised P&L of the units it closed, in the quote currency."""
    opened: float
    """Signed units it opened (0 when it only reduced)."""
    closed: float
    """Signed units of the position it closed (the position's sign)."""
    held_before: float


@dataclass(slots=True)
class PositionLegs:
    """One instrument's net units (positive long) and their average price; realised P&L in the home currency."""

    units: float = 0.0
    average_price: float = 0.0
    realized_pl: float = 0.0


class PositionBook:
    """Net positions per instrument, as v20 reports them."""

    def __init__(self) -> None:
        self.positions: dict[str, PositionLegs] = {}

    def get(self, instrument: str) -> PositionLegs:
        """The instrument's legs (flat when never traded)."""
        return self.positions.get(instrument, PositionLegs())

    def fill(self, instrument: str, units: float, price: float) -> FillEffect:
        """Book a fill of signed ``units`` at ``price``."""
        pos = self.positions.setdefault(instrument, PositionLegs())
        held = pos.units
        closed = 0.0
        if held and (held > 0) != (units > 0):
            closed = math.copysign(min(abs(units), abs(held)), held)
        quote_pl = closed * (price - pos.average_price)
        opened = units + closed
        remaining = held - closed
        if opened and remaining and (remaining > 0) == (opened > 0):
            pos.average_price = (remaining * pos.average_price + opened * price) / (remaining + opened)
        elif opened:
            pos.average_price = price
        pos.units = remaining + opened
        if abs(pos.units) < 1e-9:
            pos.units, pos.average_price = 0.0, 0.0
        return FillEffect(quote_pl, opened, closed, held)
