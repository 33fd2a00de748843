"""Rebalances through the real ib_async (``IBAdapter`` in the ``BrokerExecutor``) against the local IB venue: US
stocks and FX in base-currency units, journaled with IB's execution ids and commissions, resumable, never placing an
``orderRef`` twice, and recovered after a gateway restart that rolled the order ids back."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from execlab._brokers.contract import BrokerUnavailableError
from execlab._oms.journal import Journal
from execlab._runs.live import LiveRebalance, run_live_rebalance
from execlab.venues.ibkr import IBVenue

from helpers.ibkr import QUOTES, adapter, broker_executor, held, ib_venue, paper_config

PRICES = {s: (b + a) / 2 for s, (b, a) in QUOTES.items()}


@pytest.fixture
def venue() -> Iterator[IBVenue]:
    with ib_venue() as v:
        yield v


def _run(venue: IBVenue, journal: Journal, targets: dict[str, float], as_of: str, run_id: str = "ib-test",
         client_id: int = 1) -> LiveRebalance:
    executor = broker_executor(venue, journal, run_id, client_id)
    try:
        return run_live_rebalance(targets, PRICES, paper_config(venue, run_id, client_id), executor, journal, as_of,
                                  timeout=15)
    finally:
        executor.adapter.close()


def test_stock_and_fx_rebalances_reach_their_targets_with_fees_journaled(venue: IBVenue, journal: Journal) -> None:
    stocks = {"AAPL": 100.0, "MSFT": 50.0}
    done = _run(venue, journal, stocks, "2026-11-30")
    assert done.complete
    assert held(venue) == stocks
    fx = {"EUR.USD": 20_000.0, "GBP.USD": 10_000.0, "EUR.GBP": 5_000.0, **stocks}
    done = _run(venue, journal, fx, "2026-12-01")
    assert done.complete
    assert held(venue) == fx
    fills = journal.fills("ib-test")
    assert len(fills) == 5
    assert set(fills["fill_id"]) == {e.id for e in venue.account.executions()}  # IB's execId is the venue's id
    assert (fills["fee"] > 0).all()
    by_symbol = dict(zip(fills["symbol"], fills["fee_currency"], strict=True))
    assert by_symbol == {"AAPL": "USD", "MSFT": "USD", "EUR.USD": "USD", "GBP.USD": "USD", "EUR.GBP": "GBP"}
    assert all(n == 1 for n in venue.stats()["order_attempts"].values())


def test_a_rerun_sends_nothing_twice(venue: IBVenue, journal: Journal) -> None:
    targets = {"AAPL": 10.0, "EUR.USD": 25_000.0}
    _run(venue, journal, targets, "k1")
    again = _run(venue, journal, targets, "k1")
    assert again.resumed
    assert sorted(venue.stats()["order_attempts"].values()) == [1, 1]
    assert held(venue) == targets


def test_a_restarted_gateway_with_rolled_back_ids_is_reconciled_by_order_ref(venue: IBVenue,
                                                                            journal: Journal) -> None:
    _run(venue, journal, {"AAPL": 10.0}, "before")
    venue.restart(roll_back_ids=True)
    done = _run(venue, journal, {"AAPL": 10.0, "MSFT": 5.0}, "after")
    assert done.complete
    assert held(venue) == {"AAPL": 10.0, "MSFT": 5.0}
    assert sorted(venue.stats()["order_attempts"].values()) == [1, 1]
    assert venue.stats()["gateway"]["restarts"] == 1


def test_resting_orders_filled_while_disconnected_are_journaled_after_reconnect(venue: IBVenue,
                                                                                journal: Journal) -> None:
    """The limit buy rests (the ask is above it); the socket drops, the order fills while the client is away, and
    the fill reaches the journal with IB's execution id and commission after the adapter reconnects."""
    venue.set_quote("MSFT", 399.8, 420.0)
    executor = broker_executor(venue, journal, "gap", 1)
    cfg = paper_config(venue, "gap", 1)
    cfg = cfg.model_validate({**cfg.model_dump(), "plan": {"order_type": "limit", "limit_offset_bps": 10.0}})

    def drop_then_fill() -> None:
        venue.drop_connections()
        venue.set_quote("MSFT", 399.8, 400.2)

    timer = threading.Timer(1.0, drop_then_fill)
    timer.start()
    try:
        done = run_live_rebalance({"MSFT": 5.0}, PRICES, cfg, executor, journal, "gap", timeout=15)
    finally:
        timer.join()
        executor.adapter.close()
    assert done.complete
    assert held(venue) == {"MSFT": 5.0}
    fills = journal.fills("gap")
    assert list(fills["quantity"]) == [5.0] and fills["fee"].iloc[0] > 0 and list(fills["price"]) == [400.2]
    assert venue.stats()["gateway"]["drops"] == 1 and venue.stats()["order_attempts"] == {
        fills["client_order_id"].iloc[0]: 1}


def test_orders_refused_over_the_message_rate_are_sent_again_once(venue: IBVenue, journal: Journal) -> None:
    """The gateway drops the next two placeOrder messages with error 100 (over IB's message rate): the adapter
    reports them rate-limited, the executor waits and sends them again, and every orderRef is placed once."""
    venue.faults.next_pacing_errors = 2
    targets = {"AAPL": 10.0, "MSFT": 5.0, "EUR.USD": 20_000.0}
    done = _run(venue, journal, targets, "paced")
    assert done.complete
    assert held(venue) == targets
    stats = venue.stats()
    assert stats["rate_limited"] == 2 and stats["responses"] == {"100": 2}
    assert sorted(stats["order_attempts"].values()) == [1, 1, 1]
    events = journal.events("ib-test")
    assert sum("rate_limited" in str(p) for p in events["payload"]) == 2  # the refusals reached the journal


def test_a_client_id_in_use_is_refused_with_326_and_the_first_client_keeps_trading(venue: IBVenue,
                                                                                    journal: Journal) -> None:
    first = broker_executor(venue, journal, "first", client_id=7)
    second = adapter(venue, client_id=7)
    try:
        assert first.adapter._positions() == {}  # connected as client 7
        with pytest.raises(BrokerUnavailableError, match="as client 7"):
            second._positions()
        assert venue.stats()["gateway"]["client_id_clashes"] == 1
        assert venue.stats()["clients"] == [7]
    finally:
        second.close()
        first.adapter.close()
    done = _run(venue, journal, {"AAPL": 3.0}, "after-clash", client_id=7)  # the id is free again
    assert done.complete and held(venue) == {"AAPL": 3.0}


def test_a_request_in_flight_when_the_socket_drops_is_reported_unavailable(venue: IBVenue) -> None:
    """ib_async fails the pending request with ConnectionError; the executor needs the kit's error (it looks the
    order up before any resend)."""
    client = adapter(venue, client_id=3)
    try:
        assert client._positions() == {}  # connected
        venue.injector.update({"next_hangs": 1, "hang_seconds": 3.0, "hang_match": "API reqExecutions"})
        timer = threading.Timer(0.5, venue.drop_connections)
        timer.start()
        with pytest.raises(BrokerUnavailableError, match="connection dropped during the request"):
            client._fills(None)
        timer.join()
    finally:
        client.close()
