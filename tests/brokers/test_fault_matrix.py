"""The fault matrix: one rebalance through the real alpaca-py against the local Alpaca venue per fault.

Every case must end with the positions the fills explain (the targets, unless the venue refused an order), each
intent placed at most once at the venue, and the journal agreeing with the venue.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from execlab._brokers.contract import BrokerError
from execlab._brokers.executor import BrokerExecutor
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue

from helpers.alpaca import StartVenue, paper_config

KEY, SECRET = "PKFAULTMATRIX00001", "fault-matrix-secret-0001"
PRICES = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0, "DDD": 5.0}
TARGETS = {"AAA": 100.0, "BBB": 50.0, "CCC": 10.0, "DDD": 200.0}


@dataclass(frozen=True)
class Case:
    """A fault, how to set it up on the venue, and how many orders the venue refuses (those end short of target)."""

    name: str
    setup: Callable[[AlpacaVenue], None]
    refused: int = 0
    rate_limit: int = 10_000
    rate_window: float = 60.0
    requote: bool = False
    """Keep sending fresh quotes during the run (what fills the rest of a partial fill)."""


def _faults(**knobs: Any) -> Callable[[AlpacaVenue], None]:
    def apply(venue: AlpacaVenue) -> None:
        venue.injector.update(knobs)
    return apply


def _burn_rate_limit(venue: AlpacaVenue) -> None:
    """Another client on the same key uses up the rolling window just before the rebalance starts."""
    other = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url, timeout=5.0)
    for _ in range(40):
        try:
            other._account()
        except BrokerError:
            break


CASES = [
    Case("no_fault", lambda v: None),
    Case("rate_limited_429", _burn_rate_limit, rate_limit=30, rate_window=2.0),
    Case("server_error_before_apply", _faults(next_errors=2, error_match="POST /v2/orders", error_status=503)),
    Case("server_error_after_apply", _faults(next_errors=2, error_match="POST /v2/orders", error_after_apply=True)),
    Case("timeout_after_apply", _faults(next_hangs=1, hang_seconds=2.5, hang_match="POST /v2/orders",
                                        hang_apply="before")),
    Case("timeout_before_apply", _faults(next_hangs=1, hang_seconds=2.5, hang_match="POST /v2/orders",
                                         hang_apply="after")),
    Case("venue_reject", _faults(next_rejects=1), refused=1),
    Case("partial_fill", _faults(partial_fill_ratio=0.5), requote=True),
    Case("dropped_stream", _faults(stream_drop_after=2, partial_fill_ratio=0.5), requote=True),
]


@pytest.fixture
def make_venue(local_venue: StartVenue) -> Callable[[Case], AlpacaVenue]:
    def make(case: Case) -> AlpacaVenue:
        return local_venue(KEY, SECRET, initial_cash=100_000.0, rate_limit=case.rate_limit,
                           rate_window=case.rate_window, prices=PRICES)

    return make


def _requote(venue: AlpacaVenue, stop: threading.Event) -> None:
    while not stop.wait(0.2):
        for sym, px in PRICES.items():
            venue.set_quote(sym, px - 0.01, px + 0.01, px)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault_ends_with_the_right_positions_and_no_duplicate(case: Case, make_venue: Callable[[Case], AlpacaVenue],
                                                               tmp_path: Path) -> None:
    venue = make_venue(case)
    case.setup(venue)
    journal = Journal(tmp_path / "journal.sqlite", secrets=[SECRET])
    config = paper_config(f"fault-{case.name}", KEY, SECRET)
    adapter = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url, timeout=1.0)
    executor = BrokerExecutor(adapter, journal, config.run_id, (), backoff_seconds=0.05)
    stop = threading.Event()
    feeder = threading.Thread(target=_requote, args=(venue, stop), daemon=True) if case.requote else None
    if feeder is not None:
        feeder.start()
    try:
        done = run_live_rebalance(TARGETS, PRICES, config, executor, journal, "2024-01-02", timeout=20)
    finally:
        stop.set()
        if feeder is not None:
            feeder.join(5)

    held = {s: q for s, q in AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)._positions().items() if q}
    status = dict(zip(done.orders["symbol"], done.orders["status"], strict=True))
    refused = {s for s, st in status.items() if st == "rejected"}
    assert len(refused) == case.refused
    expected = {s: q for s, q in TARGETS.items() if s not in refused}
    assert held == expected
    # Each intent reached the venue as exactly one order; nothing was placed twice under any id.
    placed = Counter(o.client_order_id for o in venue.state.orders)
    assert placed and max(placed.values()) == 1
    assert sorted(o.symbol for o in venue.state.orders) == sorted(TARGETS)
    assert set(placed) == set(done.orders["client_order_id"])
    # The journal agrees with the venue: statuses, and fills summing to the positions.
    assert all(status[s] == "filled" for s in expected)
    assert journal.positions_from_fills(config.run_id).to_dict() == pytest.approx(expected)
    assert done.complete
    if case.name.endswith("after_apply"):
        # The order existed although the client saw an error: it was looked up, never posted again.
        assert max(venue.stats()["order_attempts"].values()) == 1
        assert venue.stats()["faults_injected"]["errors"] + venue.stats()["faults_injected"]["hangs"] >= 1
    if case.name == "rate_limited_429":
        assert venue.stats()["rate_limited"] >= 1  # the fault really happened
    if case.name == "dropped_stream":
        assert venue.stats()["streams"]["drops"] >= 1  # the stream really went down mid-rebalance
    if case.name in ("partial_fill", "dropped_stream"):
        fills = journal.fills(config.run_id)
        assert (fills.groupby("client_order_id").size() >= 2).any()
    raw = (tmp_path / "journal.sqlite").read_bytes() + (tmp_path / "journal.sqlite-wal").read_bytes()
    assert SECRET.encode() not in raw
