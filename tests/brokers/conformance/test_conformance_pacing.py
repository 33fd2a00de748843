"""Pacing, per broker: to the venue's limit with zero 429s, for one client, for a client that restarts into a window
its previous process used, and for two clients polling on the same key at once (real time, a scaled window; only
counts are asserted)."""

from __future__ import annotations

import math
import threading
from contextlib import closing
from pathlib import Path

import pytest
from brokers.conformance.conftest import StartHarnessVenue
from brokers.harnesses.base import BrokerHarness, VenueHandle

from execlab._brokers.executor import BrokerExecutor
from execlab._brokers.pacing import RequestPacer
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance

pytestmark = pytest.mark.slow

LIMIT, WINDOW = 30, 1.0


def _universe(venue: VenueHandle, n: int, prefix: str) -> dict[str, float]:
    symbols = [f"{prefix}{i:03d}" for i in range(n)]
    for s in symbols:
        venue.set_quote(s, 9.99, 10.01, 10.0)
    return {s: float(1 + i % 5) for i, s in enumerate(symbols)}


def _rebalance(harness: BrokerHarness, venue: VenueHandle, journal: Journal, run_id: str,
               targets: dict[str, float]) -> BrokerExecutor:
    config = harness.config(venue, run_id, rate_limit_per_minute=LIMIT, rate_window_seconds=WINDOW)
    executor = BrokerExecutor(harness.make_adapter(venue), journal, run_id, (), backoff_seconds=0.01,
                              config=config.broker)
    try:
        done = run_live_rebalance(targets, dict.fromkeys(targets, 10.0), config, executor, journal, "k", timeout=60)
    finally:
        executor.close()
    assert done.complete
    return executor


def test_a_rebalance_is_paced_to_the_limit_with_no_429(harness: BrokerHarness, start_venue: StartHarnessVenue,
                                                       journal: Journal) -> None:
    venue = start_venue(rate_limit=LIMIT, rate_window=WINDOW, cash=1e9)
    targets = _universe(venue, 2 * LIMIT, "P")
    executor = _rebalance(harness, venue, journal, "paced", targets)
    stats = venue.stats()
    assert stats["requests"] > LIMIT  # the limit really bound
    assert stats["rate_limited"] == 0, stats["responses"]
    assert executor.pacer.stats.rate_limited == 0
    assert {s: q for s, q in harness.held(venue).items() if s in targets} == targets


def test_a_restarted_client_continues_its_window_with_no_429(harness: BrokerHarness,
                                                             start_venue: StartHarnessVenue, tmp_path: Path) -> None:
    venue = start_venue(rate_limit=LIMIT, rate_window=WINDOW, cash=1e9)
    first = _universe(venue, LIMIT, "F")
    second = _universe(venue, LIMIT, "G")
    with closing(Journal(tmp_path / "a.sqlite")) as journal:
        _rebalance(harness, venue, journal, "before", first)  # spends the window
    with closing(Journal(tmp_path / "b.sqlite")) as journal:  # a new process: a new executor and pacer on the same key
        again = _rebalance(harness, venue, journal, "after", second)
    stats = venue.stats()
    assert stats["rate_limited"] == 0, stats["responses"]
    assert again.pacer.stats.rate_limited == 0


def test_two_clients_polling_on_one_key_meet_no_429(harness: BrokerHarness, start_venue: StartHarnessVenue) -> None:
    venue = start_venue(rate_limit=LIMIT, rate_window=WINDOW)
    broker = harness.config(venue, "poll", rate_limit_per_minute=LIMIT, rate_window_seconds=WINDOW).broker
    per_client = math.ceil(2 * LIMIT / harness.poll_cost)  # two windows' worth each, however much a poll weighs
    refused: list[BaseException] = []

    def poll() -> None:
        adapter = harness.make_adapter(venue)
        pacer = RequestPacer.from_config(broker)  # each client its own pacer, as two processes would have
        adapter.pacer = pacer
        try:
            for _ in range(per_client):
                with pacer.request():
                    harness.poll(adapter)
        except BaseException as exc:
            refused.append(exc)
        finally:
            adapter.close()

    clients = [threading.Thread(target=poll) for _ in range(2)]
    for c in clients:
        c.start()
    for c in clients:
        c.join(120)
    stats = venue.stats()
    assert not refused, refused
    assert stats["requests"] == 2 * (per_client + harness.requests_per_connection)
    assert stats["rate_limited"] == 0, stats["responses"]
