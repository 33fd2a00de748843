"""A local Interactive Brokers venue: the TWS API socket protocol (what ib_async speaks) on 127.0.0.1.

Stage one holds the protocol as pure code: framing and handshake (:mod:`._wire`), the requests a client sends
(:mod:`._requests`), the messages the venue answers with (:mod:`._messages`) and the contract catalogue
(:mod:`._contracts`).
"""

from execlab.venues.ibkr._contracts import DEFAULT_CONTRACTS, ContractCatalogue, ContractSpec, WireContract
from execlab.venues.ibkr._wire import DEFAULT_SERVER_VERSION, SUPPORTED_SERVER_VERSIONS

__all__ = [
    "DEFAULT_CONTRACTS",
    "DEFAULT_SERVER_VERSION",
    "SUPPORTED_SERVER_VERSIONS",
    "ContractCatalogue",
    "ContractSpec",
    "WireContract",
]
