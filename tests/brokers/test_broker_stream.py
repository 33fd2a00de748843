"""Fills by the order-update stream, polling as the fallback, and refused stream keys surfaced: alpaca-py against
the local Alpaca venue."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import execlab as xl
from execlab._brokers.contract import BrokerError, BrokerOrder
from execlab._brokers.executor import BrokerExecutor, _older
from execlab._core.models import OrderStatus, Side
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter, StreamAuthError
from execlab.venues import AlpacaVenue

from helpers.alpaca import StartVenue, paper_config

KEY, SECRET = "PKSTREAMEXEC000001", "stream-exec-secret-0001"
PRICES = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0}
TARGETS = {"AAA": 100.0, "BBB": 50.0, "CCC": 10.0}


@pytest.fixture
def venue(local_venue: StartVenue) -> AlpacaVenue:
    return local_venue(KEY, SECRET, initial_cash=100_000.0, rate_limit=10_000, prices=PRICES)


def _config(run_id: str) -> xl.Config:
    return paper_config(run_id, KEY, SECRET)


def _order_lookups(venue: AlpacaVenue) -> int:
    return int(venue.stats()["requests"])


def test_fills_arrive_by_stream_not_by_polling(venue: AlpacaVenue, journal: Journal) -> None:
    adapter = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)
    assert adapter.stream_url == venue.stream_url
    executor = BrokerExecutor(adapter, journal, "stream-run", (), fallback_poll_seconds=60.0)
    done = run_live_rebalance(TARGETS, PRICES, _config("stream-run"), executor, journal, "d1", timeout=20)
    assert done.complete and set(done.orders["status"]) == {"filled"}
    assert set(journal.events("stream-run", "stream")["status"]) == {"live"}
    assert venue.stats()["streams"]["authorized"] == 1
    # Reconcile, positions, account, the tradable list and 3 submissions: the fills needed no order polling at all.
    assert _order_lookups(venue) <= 3 + 7
    assert journal.positions_from_fills("stream-run").to_dict() == TARGETS
    assert not executor.streaming  # stopped when the rebalance returned


@pytest.mark.slow
def test_without_a_stream_it_polls(venue: AlpacaVenue, journal: Journal) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{closed.getsockname()[1]}/stream"
    adapter = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url, stream_url=dead)
    executor = BrokerExecutor(adapter, journal, "poll-run", ())
    done = run_live_rebalance(TARGETS, PRICES, _config("poll-run"), executor, journal, "d1", timeout=20)
    assert done.complete and set(done.orders["status"]) == {"filled"}
    alerts = journal.events("poll-run", "alert")["payload"].str.cat()
    assert "unavailable, polling instead" in alerts
    assert journal.positions_from_fills("poll-run").to_dict() == TARGETS


def test_refused_stream_keys_stop_the_rebalance_before_any_order(venue: AlpacaVenue, tmp_path: Path) -> None:
    with AlpacaVenue("PKOTHERKEY00000001", "another-secret") as other:
        journal = Journal(tmp_path / "j.sqlite")
        adapter = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url, stream_url=other.stream_url)
        executor = BrokerExecutor(adapter, journal, "refused", ())
        with pytest.raises(StreamAuthError, match="refused") as info:
            run_live_rebalance(TARGETS, PRICES, _config("refused"), executor, journal, "d1", timeout=5)
        assert isinstance(info.value, BrokerError)
        assert SECRET not in str(info.value)
    assert venue.stats()["orders"] == 0


def _view(status: OrderStatus, filled: float) -> BrokerOrder:
    return BrokerOrder("c", "b", "AAA", Side.BUY, 10.0, filled, 10.0 if filled else None, status)


def test_an_older_view_never_replaces_a_newer_one() -> None:
    assert _older(_view(OrderStatus.PARTIALLY_FILLED, 5), _view(OrderStatus.FILLED, 10))
    assert _older(_view(OrderStatus.SUBMITTED, 0), _view(OrderStatus.CANCELLED, 0))
    assert not _older(_view(OrderStatus.FILLED, 10), _view(OrderStatus.PARTIALLY_FILLED, 5))
    assert not _older(_view(OrderStatus.PARTIALLY_FILLED, 5), _view(OrderStatus.SUBMITTED, 0))
