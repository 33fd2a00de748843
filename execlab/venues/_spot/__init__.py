"""Stage-1 stand-in for the broker kit's ``venues/_base`` (issue 12), used by the Binance and OKX venues until the kit
lands: one spot account (balances per currency, orders, executions with fees, listeners), a rolling request-weight
counter and the background-thread lifecycle of an aiohttp server. Broker-neutral; the venues import only the names
the kit spec (``KIT_SPEC.md`` §B) gives, so moving them onto ``venues/_base`` changes imports, not code.
"""

from __future__ import annotations

from execlab.venues._spot.account import (
    Execution,
    VenueAccount,
    VenueEvent,
    VenueInstrument,
    VenueOrder,
    VenueOrderRequest,
    VenueReject,
)
from execlab.venues._spot.faults import FaultKnobs
from execlab.venues._spot.rate_limit import RateDecision, RateLimiter
from execlab.venues._spot.server import VenueServer

__all__ = [
    "Execution",
    "FaultKnobs",
    "RateDecision",
    "RateLimiter",
    "VenueAccount",
    "VenueEvent",
    "VenueInstrument",
    "VenueOrder",
    "VenueOrderRequest",
    "VenueReject",
    "VenueServer",
]
