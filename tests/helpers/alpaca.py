"""Trading through alpaca-py against a local Alpaca venue: the paper config, the broker executor, the positions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._oms.journal import Journal
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue

StartVenue = Callable[..., AlpacaVenue]
"""The ``local_venue`` fixture: ``local_venue(key, secret, prices={...}, **AlpacaVenue options)`` -> a started venue."""


def paper_config(run_id: str, key: str, secret: str, broker: dict[str, Any] | None = None,
                 **sections: Any) -> xl.Config:
    """A paper config of ``run_id`` trading through Alpaca with ``key`` / ``secret`` (more ``broker`` keys and
    other sections merged in)."""
    return xl.Config.from_mapping({"mode": "paper", "run_id": run_id, "broker": {
        "name": "alpaca", "api_key": key, "api_secret": secret, **(broker or {})}, **sections})


def broker_executor(venue: AlpacaVenue, journal: Journal, run_id: str, timeout: float = 5.0,
                    **options: Any) -> BrokerExecutor:
    """A broker executor on the venue, with the venue's keys; quick backoff unless ``options`` say otherwise."""
    adapter = AlpacaAdapter(venue.api_key, venue.secret_key, base_url=venue.base_url, timeout=timeout)
    return BrokerExecutor(adapter, journal, run_id, (), **{"backoff_seconds": 0.01, **options})


def held(venue: AlpacaVenue) -> dict[str, float]:
    """The venue's non-zero positions, read over REST."""
    adapter = AlpacaAdapter(venue.api_key, venue.secret_key, base_url=venue.base_url)
    return {s: q for s, q in adapter._positions().items() if q}
