"""A local Alpaca Trading API v2 venue (REST and the trade_updates websocket) backed by execlab's simulated venue."""

from execlab.venues.alpaca._cli import serve
from execlab.venues.alpaca._faults import AlpacaFaults
from execlab.venues.alpaca._server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, AlpacaVenue

__all__ = ["DEFAULT_API_KEY", "DEFAULT_SECRET_KEY", "AlpacaFaults", "AlpacaVenue", "serve"]
