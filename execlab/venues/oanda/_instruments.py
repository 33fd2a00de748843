"""The v20 instruments the local OANDA venue lists, their precision and limits, and how it writes numbers.

Field names and meanings are OANDA's (``GET /v3/accounts/{id}/instruments``): prices carry ``displayPrecision``
decimals, units ``tradeUnitsPrecision`` decimals, a pip is ``10 ** pipLocation``, ``marginRate`` is the fraction of
the position's value held as margin. Every price and amount on the wire is a decimal string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from execlab.venues._base.account import VenueInstrument

__all__ = [
    "DEFAULT_INSTRUMENTS",
    "DEFAULT_QUOTES",
    "V20Instrument",
    "amount_text",
    "decimals_of",
    "test_cfd",
]


@dataclass(frozen=True, slots=True)
class V20Instrument:
    """One tradeable v20 instrument (a currency pair ``BASE_QUOTE``)."""

    name: str
    display_precision: int = 5
    pip_location: int = -4
    trade_units_precision: int = 0
    minimum_trade_size: Decimal = Decimal(1)
    margin_rate: Decimal = Decimal("0.02")
    maximum_order_units: Decimal = Decimal(100_000_000)
    liquidity: float = 10_000_000.0
    """Units available at the top of the book: a FOK market order for more is cancelled (INSUFFICIENT_LIQUIDITY)."""
    kind: str = "CURRENCY"
    """v20's instrument type: CURRENCY (a pair), CFD or METAL."""
    long_rate: float = -0.02
    """Annual financing rate of a long position (v20 ``financing.longRate``; negative: the holder pays)."""
    short_rate: float = -0.01
    """Annual financing rate of a short position (v20 ``financing.shortRate``)."""
    home: str = "USD"
    """The quote of a name without ``_`` (a test CFD listed by an open venue)."""

    @property
    def base(self) -> str:
        """The currency (or asset) bought by positive units."""
        return self.name.split("_", 1)[0]

    @property
    def quote(self) -> str:
        """The currency prices (and the P&L) are in."""
        _base, sep, quote = self.name.partition("_")
        return quote if sep else self.home

    def price_text(self, price: float) -> str:
        """``price`` as OANDA writes it: ``displayPrecision`` decimals."""
        return f"{price:.{self.display_precision}f}"

    def units_text(self, units: float | Decimal) -> str:
        """Signed ``units`` at ``tradeUnitsPrecision`` decimals."""
        return f"{Decimal(units):.{self.trade_units_precision}f}"

    def venue_instrument(self) -> VenueInstrument:
        """The broker kit's instrument: a position (margin) instrument, lot one unit step, tick one display step."""
        return VenueInstrument(self.name, self.base, self.quote, lot=10.0 ** -self.trade_units_precision,
                               tick=10.0 ** -self.display_precision, min_qty=float(self.minimum_trade_size),
                               asset_class="fx")

    def to_json(self) -> dict[str, Any]:
        """The ``Instrument`` object of ``GET /v3/accounts/{id}/instruments``."""
        return {
            "name": self.name, "type": self.kind, "displayName": self.name.replace("_", "/"),
            "pipLocation": self.pip_location, "displayPrecision": self.display_precision,
            "tradeUnitsPrecision": self.trade_units_precision, "minimumTradeSize": str(self.minimum_trade_size),
            "maximumTrailingStopDistance": "1.00000", "minimumTrailingStopDistance": "0.00050",
            "maximumPositionSize": "0", "maximumOrderUnits": str(self.maximum_order_units),
            "marginRate": str(self.margin_rate),
            "financing": {"longRate": f"{self.long_rate:.4f}", "shortRate": f"{self.short_rate:.4f}"},
        }


def test_cfd(name: str, home: str) -> V20Instrument:
    """The instrument an *open* venue lists for an unknown name at its first quote: a CFD in ``home`` with prices
    to 2 decimals and whole units (the conformance suite trades ``AAA``, ``BBB``, ... this way)."""
    return V20Instrument(name, display_precision=2, pip_location=-2, margin_rate=Decimal("0.05"), kind="CFD",
                         home=home)


def decimals_of(value: Decimal) -> int:
    """How many decimals a decimal string carries (``"1.50"`` → 2, ``"100"`` → 0)."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def amount_text(amount: float) -> str:
    """An account-currency amount as OANDA writes it (four decimals)."""
    return f"{amount + 0.0:.4f}"


#: Majors and one cross, with OANDA's precision (JPY pairs quote three decimals, pip 0.01).
DEFAULT_INSTRUMENTS: Final[Mapping[str, V20Instrument]] = {
    i.name: i for i in (
        V20Instrument("EUR_USD", margin_rate=Decimal("0.02")),
        V20Instrument("GBP_USD", margin_rate=Decimal("0.02")),
        V20Instrument("NZD_USD", margin_rate=Decimal("0.03")),
        V20Instrument("EUR_GBP", margin_rate=Decimal("0.02")),
        V20Instrument("USD_JPY", display_precision=3, pip_location=-2, margin_rate=Decimal("0.02")),
    )
}

#: Bid and ask each default instrument is priced at when the venue starts without prices.
DEFAULT_QUOTES: Final[Mapping[str, tuple[float, float]]] = {
    "EUR_USD": (1.08010, 1.08024),
    "GBP_USD": (1.26480, 1.26500),
    "NZD_USD": (0.60110, 0.60130),
    "EUR_GBP": (0.85380, 0.85398),
    "USD_JPY": (151.480, 151.496),
}
