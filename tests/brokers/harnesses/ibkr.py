"""The IB harness of the broker kit's conformance suite (KIT_SPEC.md C): a local IB venue, an execlab config that
trades through it with ib_async, the adapter, and a small universe with quotes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import execlab as xl
from execlab.adapters.ibkr import IBAdapter
from execlab.venues.ibkr import IBVenue

__all__ = ["HARNESS", "IBHarness"]


class IBHarness:
    """``start_venue`` → a started :class:`IBVenue` (``set_quote``, ``faults``, ``stats()``, ``restart()``,
    ``drop_streams()``); ``config`` → a paper config through it; ``make_adapter`` → an :class:`IBAdapter`."""

    name: Final = "ibkr"
    symbols: Final = ("AAPL", "MSFT", "SPY", "EUR.USD", "GBP.USD")
    quotes: Final = {"AAPL": (189.90, 190.10), "MSFT": (399.80, 400.20), "SPY": (549.90, 550.10),
                     "EUR.USD": (1.08300, 1.08320), "GBP.USD": (1.27000, 1.27020)}

    def start_venue(self, **options: Any) -> IBVenue:
        """A started venue (stop it with ``venue.stop()``) with :attr:`quotes`; ``options`` go to IBVenue."""
        options.setdefault("cash", {"USD": 10_000_000.0})
        venue = IBVenue(**options).start()
        venue.set_quotes({s: (b, a, None, None) for s, (b, a) in self.quotes.items()})
        return venue

    def config(self, venue: IBVenue, journal_path: Path, run_id: str = "conformance", client_id: int = 1,
               **sections: Any) -> xl.Config:
        """A paper config trading through ``venue`` (the journal path is the caller's, as ``execlab rebalance
        --journal`` takes it)."""
        _ = journal_path
        return xl.Config.from_mapping({"mode": "paper", "run_id": run_id, "broker": {
            "name": "ibkr", "host": venue.host, "port": venue.port, "client_id": client_id, "timeout_seconds": 5.0},
            **sections})

    def make_adapter(self, venue: IBVenue, client_id: int = 1) -> IBAdapter:
        """The real adapter over unmodified ib_async."""
        return IBAdapter(venue.host, venue.port, client_id, timeout=5.0)

    def held(self, venue: IBVenue) -> dict[str, float]:
        """Positions at the venue (FX pairs as net base-currency quantity)."""
        return {key: qty for key, qty, _avg, _mark in venue._holdings() if qty}


HARNESS: Final = IBHarness()
