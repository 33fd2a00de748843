"""OANDA instrument names ↔ execlab symbols: ``EUR_USD`` ↔ ``EUR/USD`` (the form of execlab's FX data)."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["OandaSymbols"]

_PAIR: Final = re.compile(r"([A-Z0-9]{2,10})[/_.]?([A-Z]{3})\Z")


class OandaSymbols:
    """``EUR/USD``, ``EUR_USD``, ``EUR.USD`` and ``EURUSD`` all go to ``EUR_USD``; back they come as ``EUR/USD``."""

    def to_broker(self, symbol: str) -> str:
        """The v20 instrument name."""
        match = _PAIR.match(symbol.strip().upper())
        if match is None:
            raise ValueError(f"{symbol!r} is not a currency pair (BASE/QUOTE, e.g. EUR/USD)")
        return f"{match.group(1)}_{match.group(2)}"

    def to_execlab(self, broker_symbol: str) -> str:
        """The execlab symbol ``BASE/QUOTE``."""
        base, sep, quote = broker_symbol.partition("_")
        if not sep:
            raise ValueError(f"{broker_symbol!r} is not a v20 instrument name (BASE_QUOTE)")
        return f"{base}/{quote}"
