"""Interim copies of the broker kit's ``BrokerFill`` and client id style (KIT_SPEC.md A1, A3), used until the kit
lands on main; then the adapter imports them from ``execlab._brokers`` and this module goes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from execlab._core.models import Side

__all__ = ["BrokerFill", "parse_client_id"]

_CANONICAL: Final = re.compile(r"xl-[0-9a-f]{32}")


@dataclass(frozen=True, slots=True)
class BrokerFill:
    """One execution as the broker reported it (KIT_SPEC.md A1)."""

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


def parse_client_id(wire: str | None) -> str | None:
    """execlab's canonical id in an ``orderRef``, or None when it is not one of execlab's."""
    return wire if wire and _CANONICAL.fullmatch(wire) else None
