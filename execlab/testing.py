"""Local broker venues for tests and offline trials: servers on 127.0.0.1 that speak a broker's real wire protocol in
front of the simulated venue, with fault injection. Drive them with the broker's real SDK.

The venues need the runtime dependencies only (aiohttp); the SDK that talks to one comes with its extra. Other
brokers' venues are added to `_EXPORTS` below.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from execlab._core.lazy import lazy_exports

if TYPE_CHECKING:  # what type checkers and editors see; at run time each name is imported on first use
    from execlab.venues.alpaca import (
        AlpacaFaults as AlpacaFaults,
    )
    from execlab.venues.alpaca import (
        AlpacaVenue as AlpacaVenue,
    )
    from execlab.venues.binance import (
        BinanceVenue as BinanceVenue,
    )
    from execlab.venues.ibkr import (
        IBFaults as IBFaults,
    )
    from execlab.venues.ibkr import (
        IBVenue as IBVenue,
    )
    from execlab.venues.oanda import (
        OandaVenue as OandaVenue,
    )
    from execlab.venues.okx import (
        OkxVenue as OkxVenue,
    )

#: Each public name and the module it is defined in. Adding a name is one line here.
_EXPORTS: dict[str, str] = {
    "IBFaults": "execlab.venues.ibkr",
    "IBVenue": "execlab.venues.ibkr",
    "AlpacaFaults": "execlab.venues.alpaca",
    "AlpacaVenue": "execlab.venues.alpaca",
    "BinanceVenue": "execlab.venues.binance",
    "OkxVenue": "execlab.venues.okx",
    "OandaVenue": "execlab.venues.oanda",
}

__all__, __getattr__, __dir__ = lazy_exports('execlab.testing', _EXPORTS)

del annotations, TYPE_CHECKING, lazy_exports  # only the public names stay on the module
