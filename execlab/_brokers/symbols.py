"""Symbol maps: execlab's symbol (upper case, ``BTC/USDT``, ``EUR_USD``, ``AAPL``) ↔ the broker's instrument name."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["IdentityMap", "PairMap", "SymbolMap", "TableMap"]


class SymbolMap(Protocol):
    """Both directions of one broker's naming."""

    def to_broker(self, symbol: str) -> str:
        """The broker's name for execlab's ``symbol``."""

    def to_execlab(self, broker_symbol: str) -> str:
        """execlab's symbol for the broker's name."""


class IdentityMap:
    """The broker names instruments as execlab does (Alpaca's US equities)."""

    def to_broker(self, symbol: str) -> str:
        return symbol

    def to_execlab(self, broker_symbol: str) -> str:
        return broker_symbol.upper()

    def __repr__(self) -> str:
        return "IdentityMap()"


@dataclass(frozen=True)
class TableMap:
    """An explicit table ``{execlab symbol: broker symbol}``; symbols not in it pass through ``fallback``."""

    mapping: Mapping[str, str]
    fallback: SymbolMap = field(default_factory=IdentityMap)

    def __post_init__(self) -> None:
        reverse = {v: k for k, v in self.mapping.items()}
        if len(reverse) != len(self.mapping):
            raise ValueError("TableMap: two execlab symbols map to one broker symbol")
        object.__setattr__(self, "_reverse", reverse)

    def to_broker(self, symbol: str) -> str:
        found = self.mapping.get(symbol)
        return found if found is not None else self.fallback.to_broker(symbol)

    def to_execlab(self, broker_symbol: str) -> str:
        found: str | None = self._reverse.get(broker_symbol)  # type: ignore[attr-defined]
        return found if found is not None else self.fallback.to_execlab(broker_symbol)


@dataclass(frozen=True)
class PairMap:
    """Currency pairs: execlab writes ``BASE<sep>QUOTE`` with ``execlab_sep`` (``/`` for crypto, ``_`` for FX), the
    broker with ``broker_sep`` (``-`` for OKX, ``""`` for Binance's ``BTCUSDT``, ``.`` for IB's ``EUR.USD``).

    Joined broker names (``broker_sep=""``) are split by the longest known quote currency of ``quotes``; a name
    that is not a pair passes through unchanged.
    """

    execlab_sep: str = "/"
    broker_sep: str = ""
    quotes: tuple[str, ...] = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "EUR", "GBP", "JPY", "BTC", "ETH", "BNB",
                               "TRY", "CHF", "AUD", "CAD", "NZD")

    def to_broker(self, symbol: str) -> str:
        base, sep, quote = symbol.partition(self.execlab_sep)
        return f"{base}{self.broker_sep}{quote}" if sep else symbol

    def to_execlab(self, broker_symbol: str) -> str:
        name = broker_symbol.upper()
        if self.broker_sep:
            base, sep, quote = name.partition(self.broker_sep)
            return f"{base}{self.execlab_sep}{quote}" if sep else name
        for quote in sorted(self.quotes, key=len, reverse=True):
            if name.endswith(quote) and len(name) > len(quote):
                return f"{name[:-len(quote)]}{self.execlab_sep}{quote}"
        return name
