"""Starting the local OANDA venue and pointing the real oandapyV20 at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import oandapyV20
from oandapyV20.oandapyV20 import TRADING_ENVIRONMENTS

from execlab.venues.oanda import OandaVenue


def venues() -> Iterator[Any]:
    """A factory of started venues (keyword options of :class:`OandaVenue`), all stopped afterwards."""
    with ExitStack() as running:
        def start(**options: Any) -> OandaVenue:
            return running.enter_context(OandaVenue(**{"heartbeat_seconds": 0.2, **options}))
        yield start


def sdk_client(venue: OandaVenue, token: str | None = None, **request_params: Any) -> oandapyV20.API:
    """An unmodified oandapyV20 client for ``venue``: its URLs come from a ``TRADING_ENVIRONMENTS`` entry."""
    name = f"local-{venue.port}"
    TRADING_ENVIRONMENTS[name] = venue.environment()
    return oandapyV20.API(access_token=token or venue.token, environment=name,
                          request_params=request_params or None)
