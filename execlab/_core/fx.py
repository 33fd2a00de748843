"""Currency pairs and conversion into a home currency: the arithmetic every FX part of execlab shares.

A pair ``BASE/QUOTE`` (``EUR/GBP``; also written ``EUR_GBP``) is priced in QUOTE per unit of BASE; positive units are
long BASE and short QUOTE. Its P&L is in QUOTE and is worth ``pl × rate(QUOTE)`` in the home currency, at the rate of
the moment it is converted (OANDA's convention: a cross's P&L is converted at the current rate). A currency converts
directly (``GBP/USD``), inverted (``USD/JPY`` for JPY) or through USD.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np

from execlab._core.arrays import FloatArray

__all__ = ["FxRates", "fx_quote", "quote_rates", "split_pair"]

_SEPARATORS: Final = ("/", "_", ".")


def split_pair(symbol: str) -> tuple[str, str]:
    """``EUR/GBP`` (or ``EUR_GBP``, ``EUR.GBP``, ``EURGBP``) → ``("EUR", "GBP")``."""
    text = symbol.strip().upper()
    for sep in _SEPARATORS:
        base, found, quote = text.partition(sep)
        if found and base and quote:
            return base, quote
    if len(text) == 6 and text.isalpha():
        return text[:3], text[3:]
    raise ValueError(f"{symbol!r} is not a currency pair (BASE/QUOTE, e.g. EUR/USD)")


class FxRates:
    """Mid prices of pairs and what they say about converting currencies into ``home``.

    ``mids`` maps pairs (any spelling :func:`split_pair` reads) to mid prices; non-positive or non-finite ones are
    ignored.
    """

    def __init__(self, mids: Mapping[str, float], home: str = "USD") -> None:
        self.home = home.upper()
        self._mid: dict[tuple[str, str], float] = {}
        for pair, price in mids.items():
            if math.isfinite(price) and price > 0:
                self._mid[split_pair(pair)] = float(price)

    def _direct(self, currency: str, target: str) -> float | None:
        if currency == target:
            return 1.0
        price = self._mid.get((currency, target))
        if price is not None:
            return price
        inverse = self._mid.get((target, currency))
        return 1.0 / inverse if inverse is not None else None

    def rate(self, currency: str) -> float:
        """Home-currency value of one unit of ``currency``: directly, inverted, or through USD (ValueError when no
        priced pair links them)."""
        currency = currency.upper()
        direct = self._direct(currency, self.home)
        if direct is not None:
            return direct
        to_usd, usd_home = self._direct(currency, "USD"), self._direct("USD", self.home)
        if to_usd is not None and usd_home is not None:
            return to_usd * usd_home
        raise ValueError(f"no priced pair converts {currency} into the home currency {self.home}")

    def base_value(self, pair: str) -> float:
        """Home-currency value of one unit of the pair's base currency (what a home-currency notional buys)."""
        return self.rate(split_pair(pair)[0])

    def to_home(self, amount: float, currency: str) -> float:
        """``amount`` of ``currency`` in the home currency."""
        return amount * self.rate(currency)

    def pl(self, pair: str, units: float, entry: float, price: float) -> float:
        """Home-currency P&L of ``units`` of ``pair`` bought at ``entry`` and valued at ``price`` (computed in the
        quote currency, converted at the current rate)."""
        return units * (price - entry) * self.rate(split_pair(pair)[1])


def fx_quote(symbol: str) -> str | None:
    """The quote currency of a currency pair written ``BASE/QUOTE`` or ``BASE_QUOTE`` (three letters each), else
    None (``AAPL``, ``BTC/USDT``)."""
    for sep in ("/", "_"):
        base, found, quote = symbol.upper().partition(sep)
        if found and len(base) == len(quote) == 3 and base.isalpha() and quote.isalpha():
            return quote
    return None


def quote_rates(symbols: Sequence[str], mids: Mapping[str, float], home: str) -> FloatArray | None:
    """Per symbol, the home-currency value of one unit of its price currency at ``mids`` (1.0 for a symbol priced in
    ``home`` or not a pair), or None when every symbol is priced in ``home``. A quote currency no priced pair
    converts into ``home`` is left at 1.0, with a warning.

    A symbol's price times its rate is what one unit of it is worth in the home currency: the plan sizes a
    home-currency notional and checks cash with it (``EUR/GBP``: price × GBP/USD).
    """
    home = home.upper()
    quotes = [fx_quote(s) for s in symbols]
    if all(q is None or q == home for q in quotes):
        return None
    rates = FxRates({s: float(p) for s, p in mids.items() if fx_quote(s) is not None}, home)
    out = np.ones(len(symbols))
    missing: set[str] = set()
    for i, q in enumerate(quotes):
        if q is None or q == home:
            continue
        try:
            out[i] = rates.rate(q)
        except ValueError:
            missing.add(q)
    if missing:
        warnings.warn(f"no priced pair converts {sorted(missing)} into {home}: amounts in them are read as {home}",
                      stacklevel=2)
    return out
