"""Local broker venues: servers on 127.0.0.1 that speak a broker's real wire protocol in front of execlab's
simulated venue, with fault injection, so adapters are tested by driving the broker's real SDK."""

from execlab._sim.quote_venue import QuoteVenue
from execlab.venues.alpaca import AlpacaFaults, AlpacaVenue
from execlab.venues.ibkr import IBFaults, IBVenue

__all__ = ["AlpacaFaults", "AlpacaVenue", "IBFaults", "IBVenue", "QuoteVenue"]
