"""The broker-neutral half of every local venue: account over the matching kernel, faults, rate limit, server
lifecycle and harness routes, websocket hub, and the common command-line options."""

from execlab.venues._base.account import (
    Balance,
    VenueAccount,
    VenueEvent,
    VenueExecution,
    VenueInstrument,
    VenueOrder,
    VenueOrderRequest,
    VenueReject,
)
from execlab.venues._base.cli import VenueOptions
from execlab.venues._base.faults import FaultInjector, FaultKnobs, Injection
from execlab.venues._base.rate_limit import RateDecision, RateLimiter
from execlab.venues._base.server import VenueServer, harness_routes
from execlab.venues._base.ws import WebsocketHub

__all__ = [
    "Balance",
    "FaultInjector",
    "FaultKnobs",
    "Injection",
    "RateDecision",
    "RateLimiter",
    "VenueAccount",
    "VenueEvent",
    "VenueExecution",
    "VenueInstrument",
    "VenueOptions",
    "VenueOrder",
    "VenueOrderRequest",
    "VenueReject",
    "VenueServer",
    "WebsocketHub",
    "harness_routes",
]
