"""The fault matrix, per broker: one rebalance through the real SDK against the broker's local venue per fault.

Every case must end with the positions the fills explain (the targets, unless the venue refused an order), each
intent placed at most once at the venue, and the journal agreeing with the venue.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from brokers.conformance.conftest import StartHarnessVenue
from brokers.conformance.test_conformance_orders import resting
from brokers.harnesses.base import BrokerHarness, VenueHandle

from execlab._brokers.executor import BrokerExecutor
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance

TARGETS = {"AAA": 100.0, "BBB": 50.0, "CCC": 10.0, "DDD": 200.0}


@dataclass(frozen=True)
class Case:
    """A fault (knobs, with ``ORDERS`` standing for the broker's order placement path), and how many orders the venue
    refuses (those end short of target)."""

    name: str
    knobs: dict[str, Any] = field(default_factory=dict)
    refused: int = 0
    rate_limit: int = 10_000
    rate_window: float = 60.0
    requote: bool = False
    """Keep sending fresh quotes during the run (what fills the rest of a partial fill)."""
    burn: bool = False
    """Another client on the same key uses up the rolling window just before the rebalance starts."""


ORDERS = "<orders>"
CASES = [
    Case("no_fault"),
    Case("rate_limited_429", burn=True, rate_limit=30, rate_window=2.0),
    Case("server_error_before_apply", {"next_errors": 2, "error_match": ORDERS, "error_status": 503}),
    Case("server_error_after_apply", {"next_errors": 2, "error_match": ORDERS, "error_after_apply": True}),
    Case("timeout_after_apply", {"next_hangs": 1, "hang_seconds": 2.5, "hang_match": ORDERS, "hang_apply": "before"}),
    Case("timeout_before_apply", {"next_hangs": 1, "hang_seconds": 2.5, "hang_match": ORDERS, "hang_apply": "after"}),
    Case("venue_reject", {"next_rejects": 1}, refused=1),
    Case("partial_fill", {"partial_fill_ratio": 0.5}, requote=True),
    Case("dropped_stream", {"stream_drop_after": 2, "partial_fill_ratio": 0.5}, requote=True),
]


def _requote(harness: BrokerHarness, venue: VenueHandle, stop: threading.Event) -> Callable[[], None]:
    def run() -> None:
        while not stop.wait(0.2):
            for sym, px in harness.symbols.items():
                venue.set_quote(sym, px - 0.01, px + 0.01, px)
    return run


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault_ends_with_the_right_positions_and_no_duplicate(case: Case, harness: BrokerHarness,
                                                               start_venue: StartHarnessVenue, tmp_path: Path) -> None:
    venue = start_venue(rate_limit=case.rate_limit, rate_window=case.rate_window)
    knobs = {k: harness.order_match if v == ORDERS else v for k, v in case.knobs.items()}
    venue.injector.update(knobs)
    if case.burn:
        harness.burn_rate_limit(venue)
    prices = dict(harness.symbols)
    journal = Journal(tmp_path / "journal.sqlite", secrets=harness.journal_secrets())
    # The client paces to the venue's (scaled) limit, as a configured client would: with the defaults (200 a
    # minute) a refused request would hold it a whole 60 s window, and a stated limit of 30 would pace it per minute.
    config = harness.config(venue, f"fault-{case.name}", rate_limit_per_minute=case.rate_limit,
                            rate_window_seconds=case.rate_window)
    if case.requote:  # the orders rest partly filled until the next quote
        config = resting(harness, config)
    executor = BrokerExecutor(harness.make_adapter(venue, timeout=1.0), journal, config.run_id, (),
                              backoff_seconds=0.05, config=config.broker)
    stop = threading.Event()
    feeder = threading.Thread(target=_requote(harness, venue, stop), daemon=True) if case.requote else None
    if feeder is not None:
        feeder.start()
    try:
        done = run_live_rebalance(TARGETS, prices, config, executor, journal, "2024-01-02", timeout=20)
    finally:
        stop.set()
        if feeder is not None:
            feeder.join(5)
        executor.close()

    held = harness.held(venue)
    status = dict(zip(done.orders["symbol"], done.orders["status"], strict=True))
    refused = {s for s, st in status.items() if st == "rejected"}
    assert len(refused) == case.refused
    expected = {s: q for s, q in TARGETS.items() if s not in refused}
    assert held == expected
    # Each intent reached the venue as exactly one order; nothing was placed twice under any id.
    orders = venue.account.all_orders()
    placed = Counter(o.client_id for o in orders)
    assert placed and max(placed.values()) == 1
    assert sorted(o.symbol for o in orders) == sorted(TARGETS)
    wire = {type(executor.adapter).client_ids.parse(c) for c in placed}
    assert wire == set(done.orders["client_order_id"])
    # The journal agrees with the venue: statuses, and fills summing to the positions.
    assert all(status[s] == "filled" for s in expected)
    assert journal.positions_from_fills(config.run_id).to_dict() == pytest.approx(expected)
    assert done.complete
    stats = venue.stats()
    if case.name.endswith("after_apply"):
        # The order existed although the client saw an error: it was looked up, never posted again.
        assert max(stats["order_attempts"].values()) == 1
        assert stats["faults_injected"]["errors"] + stats["faults_injected"]["hangs"] >= 1
    if case.name == "rate_limited_429":
        assert stats["rate_limited"] >= 1  # the fault really happened (the burning client met it)
    if case.name == "dropped_stream":
        assert stats["streams"]["drops"] >= 1  # the stream really went down mid-rebalance
    if case.name in ("partial_fill", "dropped_stream"):
        fills = journal.fills(config.run_id)
        assert (fills.groupby("client_order_id").size() >= 2).any()
    raw = (tmp_path / "journal.sqlite").read_bytes() + (tmp_path / "journal.sqlite-wal").read_bytes()
    for secret in harness.journal_secrets():
        assert secret.encode() not in raw
