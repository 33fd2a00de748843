"""Names of the broker kit (issue 12, ``/work/tools/KIT_SPEC.md`` §A) that the OANDA adapter needs before the kit
lands: defined here with the spec's names and fields, and deleted for the kit's own once it is on main.

- :class:`BrokerFill` (A1): one execution with its real fee;
- :class:`Capability` (A1): what an adapter declares;
- :class:`BrokerTimeoutError` and :class:`BrokerAuthError` (A4);
- :class:`SymbolMap` (A2) and :class:`ClientIdStyle` (A3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal, Protocol

from execlab._brokers.contract import BrokerError, BrokerUnavailableError
from execlab._core.models import Side

__all__ = ["BrokerAuthError", "BrokerFill", "BrokerTimeoutError", "Capability", "ClientIdStyle", "SymbolMap"]

_CANONICAL: Final = re.compile(r"xl-[0-9a-f]{32}\Z")


class Capability(StrEnum):
    """What an adapter can do beyond the required hooks."""

    ORDER_STREAM = "order_stream"
    FILL_STREAM = "fill_stream"
    FILLS = "fills"
    INSTRUMENTS = "instruments"
    TRADABLE = "tradable"
    BULK_REFRESH = "bulk_refresh"
    MODIFY = "modify"


class BrokerTimeoutError(BrokerUnavailableError):
    """The request timed out: it may have taken effect."""


class BrokerAuthError(BrokerError):
    """The broker refused the credentials: final."""


@dataclass(frozen=True, slots=True)
class BrokerFill:
    """One execution as the broker reports it."""

    execution_id: str
    client_order_id: str
    broker_order_id: str
    symbol: str
    side: Side
    quantity: float
    price: float
    fee: float = 0.0
    fee_currency: str | None = None
    liquidity: Literal["maker", "taker"] | None = None
    timestamp: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


class SymbolMap(Protocol):
    """execlab symbols ↔ the broker's."""

    def to_broker(self, symbol: str) -> str:
        """The broker's name for an execlab symbol."""

    def to_execlab(self, broker_symbol: str) -> str:
        """The execlab symbol for a broker's name."""


class ClientIdStyle:
    """The canonical ``xl-<32 hex>`` client id kept as is on the wire."""

    def render(self, canonical: str) -> str:
        """The wire form of a canonical id."""
        return canonical

    def parse(self, wire: str) -> str | None:
        """The canonical id, or None when the wire id is not one of execlab's."""
        return wire if _CANONICAL.match(wire) else None
