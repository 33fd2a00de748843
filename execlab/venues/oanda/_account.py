"""The local OANDA venue's account for stage 1 of issue 15: a v20-style margin account in one home currency.

Interim: the broker kit's ``execlab.venues._base.VenueAccount`` (balances per currency over the shared matching
kernel) replaces it once the kit lands; only the v20 numbers derived here (NAV, margin used, P&L converted to the home
currency) stay with the OANDA venue.

Positions are net units per instrument with their average price. A fill that reduces a position realises
``closed units × (fill price − average price)`` in the instrument's quote currency, converted to the home currency at
the mid of the current quotes (directly, inverted, or through USD).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from execlab._core.fx import FxRates
from execlab.venues.oanda._instruments import V20Instrument

__all__ = ["FillEffect", "FxMarginAccount", "PositionLegs"]

Quote = tuple[float, float]
"""(bid, ask)"""


@dataclass(frozen=True, slots=True)
class FillEffect:
    """What one fill did to the account, in home-currency amounts."""

    pl: float
    """Realised P&L of the units it closed."""
    half_spread_cost: float
    opened: float
    """Signed units it opened (0 when it only reduced)."""
    closed: float
    """Signed units of the position it closed (same sign as the position was)."""
    average_price_before: float
    balance: float
    """The balance after the fill."""


@dataclass(slots=True)
class PositionLegs:
    """One instrument's position: net units (positive long, negative short) and their average price."""

    units: float = 0.0
    average_price: float = 0.0
    realized_pl: float = 0.0
    """Home-currency P&L realised on this instrument so far."""


class FxMarginAccount:
    """Balance in ``home`` currency, net positions per instrument, and the v20 margin figures.

    ``quotes`` returns an instrument's current (bid, ask), or None when it has none.
    """

    def __init__(self, home: str, balance: float, instruments: Mapping[str, V20Instrument],
                 quotes: Callable[[str], Quote | None]) -> None:
        if not (math.isfinite(balance) and balance >= 0):
            raise ValueError(f"balance must be a finite amount >= 0, got {balance!r}")
        self.home = home
        self.balance = float(balance)
        self.instruments = instruments
        self._quotes = quotes
        self.positions: dict[str, PositionLegs] = {}
        self.financing = 0.0
        self.commission = 0.0

    # -- conversion ----------------------------------------------------------------------------------------
    def rate(self, currency: str) -> float:
        """Home-currency value of one unit of ``currency`` at the current mids (raises when no pair links them)."""
        mids = {}
        for name in self.instruments:
            quote = self._quotes(name)
            if quote is not None:
                mids[name] = (quote[0] + quote[1]) / 2
        return FxRates(mids, self.home).rate(currency)

    # -- fills ---------------------------------------------------------------------------------------------
    def fill(self, instrument: str, units: float, price: float, bid: float, ask: float) -> FillEffect:
        """Book a fill of signed ``units`` at ``price`` (the touch was ``bid``/``ask``)."""
        spec = self.instruments[instrument]
        pos = self.positions.setdefault(instrument, PositionLegs())
        before = pos.average_price
        closed = 0.0
        if pos.units and (pos.units > 0) != (units > 0):
            closed = math.copysign(min(abs(units), abs(pos.units)), pos.units)
        pl = closed * (price - pos.average_price) * self.rate(spec.quote) if closed else 0.0
        opened = units + closed  # the part of the fill beyond what it closed
        remaining = pos.units - closed
        if opened and remaining and (remaining > 0) == (opened > 0):
            pos.average_price = (remaining * pos.average_price + opened * price) / (remaining + opened)
        elif opened:
            pos.average_price = price
        pos.units = remaining + opened
        if abs(pos.units) < 1e-9:
            pos.units = 0.0
            pos.average_price = 0.0
        pos.realized_pl += pl
        self.balance += pl
        cost = abs(units) * (ask - bid) / 2 * self.rate(spec.quote)
        return FillEffect(pl=pl, half_spread_cost=cost, opened=opened, closed=closed, average_price_before=before,
                          balance=self.balance)

    # -- v20 figures ---------------------------------------------------------------------------------------
    def unrealized_pl(self, instrument: str | None = None) -> float:
        """Home-currency P&L of open positions at their closeout prices (bid for longs, ask for shorts)."""
        total = 0.0
        for name, pos in self.positions.items():
            if not pos.units or (instrument is not None and name != instrument):
                continue
            quote = self._quotes(name)
            if quote is None:
                continue
            mark = quote[0] if pos.units > 0 else quote[1]
            total += pos.units * (mark - pos.average_price) * self.rate(self.instruments[name].quote)
        return total

    def position_value(self, extra: Mapping[str, float] | None = None) -> float:
        """Home-currency value of the gross open units (plus ``extra`` signed units per instrument)."""
        total = 0.0
        names = set(self.positions) | set(extra or {})
        for name in names:
            units = self.positions.get(name, PositionLegs()).units + (extra or {}).get(name, 0.0)
            if units:
                total += abs(units) * self.rate(self.instruments[name].base)
        return total

    def margin_used(self, extra: Mapping[str, float] | None = None) -> float:
        """Margin the open positions (plus ``extra`` units) hold: value × the instrument's ``marginRate``."""
        total = 0.0
        names = set(self.positions) | set(extra or {})
        for name in names:
            units = self.positions.get(name, PositionLegs()).units + (extra or {}).get(name, 0.0)
            if units:
                spec = self.instruments[name]
                total += abs(units) * self.rate(spec.base) * float(spec.margin_rate)
        return total

    def nav(self) -> float:
        """Net asset value: balance plus unrealised P&L."""
        return self.balance + self.unrealized_pl()

    def margin_available(self) -> float:
        """NAV less the margin used, never below zero."""
        return max(self.nav() - self.margin_used(), 0.0)
