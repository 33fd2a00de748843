"""A local OANDA v20 venue (REST and the pricing and transaction streams) for one practice account."""

from execlab.venues.oanda._cli import serve
from execlab.venues.oanda._instruments import DEFAULT_INSTRUMENTS, DEFAULT_QUOTES, V20Instrument
from execlab.venues.oanda._server import DEFAULT_TOKEN, OandaVenue
from execlab.venues.oanda._state import DEFAULT_ACCOUNT_ID

__all__ = ["DEFAULT_ACCOUNT_ID", "DEFAULT_INSTRUMENTS", "DEFAULT_QUOTES", "DEFAULT_TOKEN", "OandaVenue",
           "V20Instrument", "serve"]
