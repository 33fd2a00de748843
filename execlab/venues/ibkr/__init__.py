"""A local Interactive Brokers venue: the TWS API socket protocol (what ib_async speaks) on 127.0.0.1, in front of
the broker kit's venue account.

The protocol is pure code: framing and handshake (:mod:`._wire`), the requests a client sends (:mod:`._requests`),
the messages the venue answers with (:mod:`._messages`) and the contract catalogue (:mod:`._contracts`);
:mod:`._book` maps IB's orders onto the neutral account, :mod:`._session` serves one connection and
:mod:`._server` is :class:`IBVenue`.
"""

from execlab.venues.ibkr._cli import make_venue, serve
from execlab.venues.ibkr._contracts import (
    DEFAULT_CONTRACTS,
    ContractCatalogue,
    ContractSpec,
    WireContract,
    cash_pair,
    future,
    stock,
)
from execlab.venues.ibkr._faults import IBFaults
from execlab.venues.ibkr._server import DEFAULT_ACCOUNT_ID, DEFAULT_IB_VENUE_CONFIG, IBVenue
from execlab.venues.ibkr._wire import DEFAULT_SERVER_VERSION, SUPPORTED_SERVER_VERSIONS

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_CONTRACTS",
    "DEFAULT_IB_VENUE_CONFIG",
    "DEFAULT_SERVER_VERSION",
    "SUPPORTED_SERVER_VERSIONS",
    "ContractCatalogue",
    "ContractSpec",
    "IBFaults",
    "IBVenue",
    "WireContract",
    "cash_pair",
    "future",
    "make_venue",
    "serve",
    "stock",
]
