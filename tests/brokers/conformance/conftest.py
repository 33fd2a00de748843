"""The conformance suite runs every case once per broker harness (tests/brokers/harnesses)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from brokers.harnesses.alpaca import HARNESS as ALPACA
from brokers.harnesses.base import BrokerHarness, VenueHandle

HARNESSES: list[BrokerHarness] = [ALPACA]
"""Each broker adds its harness here."""

StartHarnessVenue = Callable[..., VenueHandle]


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
