"""Trading through ib_async against a local IB venue: the venue with quotes, the paper config, the executor."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._oms.journal import Journal
from execlab.adapters.ibkr import IBAdapter, IBSymbols
from execlab.venues.ibkr import IBVenue

#: Quotes of the default contracts (bid, ask).
QUOTES = {"AAPL": (189.90, 190.10), "MSFT": (399.80, 400.20), "SPY": (549.90, 550.10),
          "EUR.USD": (1.08300, 1.08320), "GBP.USD": (1.27000, 1.27020), "EUR.GBP": (0.85270, 0.85290)}


@contextmanager
def ib_venue(**options: Any) -> Iterator[IBVenue]:
    """A started venue (1,000,000 USD and 100,000 GBP unless ``cash`` says otherwise) with :data:`QUOTES`."""
    options.setdefault("cash", {"USD": 1_000_000.0, "GBP": 100_000.0})
    with IBVenue(**options) as venue:
        venue.set_quotes({s: (b, a, None, None) for s, (b, a) in QUOTES.items()})
        yield venue


def paper_config(venue: IBVenue, run_id: str, client_id: int = 1, **broker: Any) -> xl.Config:
    """A paper config of ``run_id`` trading through the venue as ``client_id``."""
    return xl.Config.from_mapping({"mode": "paper", "run_id": run_id, "broker": {
        "name": "ibkr", "host": "127.0.0.1", "port": venue.port, "client_id": client_id, "timeout_seconds": 5.0,
        **broker}})


def adapter(venue: IBVenue, client_id: int = 1, **options: Any) -> IBAdapter:
    """An adapter on the venue."""
    return IBAdapter("127.0.0.1", venue.port, client_id, timeout=options.pop("timeout", 5.0),
                     symbols=options.pop("symbols", IBSymbols()), **options)


def broker_executor(venue: IBVenue, journal: Journal, run_id: str, client_id: int = 1,
                    **options: Any) -> BrokerExecutor:
    """A broker executor over an :class:`IBAdapter` on the venue; quick backoff unless ``options`` say otherwise."""
    return BrokerExecutor(adapter(venue, client_id), journal, run_id, (), **{"backoff_seconds": 0.01, **options})


def held(venue: IBVenue) -> dict[str, float]:
    """The venue's non-zero positions (FX pairs as the base currency's net quantity), read from the account."""
    out = {key: qty for key, qty, _avg, _mark in venue._holdings() if qty}
    return out
