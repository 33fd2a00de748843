"""The conformance suite runs every case once per broker harness (tests/brokers/harnesses)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from brokers.harnesses.alpaca import HARNESS as ALPACA
from brokers.harnesses.base import NOT_RUN, BrokerHarness, VenueHandle
from brokers.harnesses.binance import HARNESS as BINANCE
from brokers.harnesses.ibkr import HARNESS as IBKR
from brokers.harnesses.oanda import HARNESS as OANDA
from brokers.harnesses.okx import HARNESS as OKX

HARNESSES: list[BrokerHarness] = [ALPACA, OANDA, IBKR, BINANCE, OKX]
"""Each broker adds its harness here."""

StartHarnessVenue = Callable[..., VenueHandle]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A harness's ``known_gaps`` (test id → reason) mark those cases xfail, not strict; a reason starting with
    :data:`NOT_RUN` marks the case xfail without running it (it could not finish in CI's time: said in the report
    as XFAIL, never as a pass)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params.values() if callspec is not None else ()
        harness = next((p for p in params if isinstance(p, BrokerHarness)), None)  # the harness or served fixtures
        reason = getattr(harness, "known_gaps", {}).get(item.name)
        if reason is not None:
            item.add_marker(pytest.mark.xfail(strict=False, run=not reason.startswith(NOT_RUN),
                                              reason=f"{harness.name}: {reason}"))


@pytest.fixture(params=HARNESSES, ids=[h.name for h in HARNESSES])
def harness(request: pytest.FixtureRequest) -> BrokerHarness:
    h: BrokerHarness = request.param
    return h


@pytest.fixture
def start_venue(harness: BrokerHarness) -> Iterator[StartHarnessVenue]:
    """``start_venue(**opts)``: a started venue of the harness's broker; all stop after the test."""
    started: list[VenueHandle] = []

    def start(**opts: Any) -> VenueHandle:
        venue = harness.start_venue(**opts)
        started.append(venue)
        return venue

    yield start
    for venue in started:
        venue.stop()
