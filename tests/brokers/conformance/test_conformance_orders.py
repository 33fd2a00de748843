"""Orders and fills, per broker: a duplicate client id, a refusal, fills with fees reaching the journal and TCA,
fills during a stream drop journaled once after the reconnect, and reconciliation after the venue restarts mid-run."""

from __future__ import annotations

from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest
from brokers.conformance.conftest import StartHarnessVenue
from brokers.harnesses.base import BrokerHarness, VenueHandle

import execlab as xl
from execlab._analysis.tca import tca_from_journal
from execlab._brokers.contract import BrokerError, BrokerRejectedError, DuplicateClientOrderIdError
from execlab._brokers.executor import BrokerExecutor
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance

from helpers.waiting import wait_until

TARGETS = {"AAA": 10.0, "BBB": 20.0}
FEE_BPS = 25.0


def resting(harness: BrokerHarness, config: xl.Config) -> xl.Config:
    """``config`` with the plan keys that let the broker's orders rest partly filled
    (:attr:`BrokerHarness.resting_plan`: marketable limit orders where market orders cannot rest)."""
    if not harness.resting_plan:
        return config
    return type(config).model_validate({**config.model_dump(),
                                        "plan": {**config.plan.model_dump(), **harness.resting_plan}})


def _executor(harness: BrokerHarness, venue: VenueHandle, journal: Journal, run_id: str) -> BrokerExecutor:
    return BrokerExecutor(harness.make_adapter(venue), journal, run_id, (), backoff_seconds=0.01)


def test_a_duplicate_client_id_is_refused_and_placed_once(harness: BrokerHarness,
                                                          start_venue: StartHarnessVenue) -> None:
    venue = start_venue()
    adapter = harness.make_adapter(venue)
    order = xl.Order(symbol="AAA", side=xl.Side.BUY, quantity=3, client_order_id="xl-" + "ab" * 16,
                     **harness.duplicate_order)
    adapter._submit(order)
    with pytest.raises(DuplicateClientOrderIdError):
        adapter._submit(order)
    adapter.close()
    placed = Counter(o.client_id for o in venue.account.all_orders())
    assert list(placed.values()) == [1]
    # Both reached the venue (one order exists), or the adapter refused the second before sending (IB).
    assert venue.stats()["order_attempts"] == {next(iter(placed)): harness.duplicate_attempts}


def test_an_order_beyond_the_funds_is_refused(harness: BrokerHarness, start_venue: StartHarnessVenue) -> None:
    venue = start_venue(cash=1_000.0)
    adapter = harness.make_adapter(venue)
    order = xl.Order(symbol="CCC", side=xl.Side.BUY, quantity=1_000, client_order_id="xl-" + "cd" * 16)
    try:
        if harness.funds_refusal == "rejected_order":  # the broker's answer is the order, refused with its reason
            placed = adapter._submit(order)
            assert placed.status is xl.OrderStatus.REJECTED, placed
            assert placed.filled_quantity == 0
            assert harness.funds_reason and harness.funds_reason in str(placed.raw)
            assert [o.status for o in venue.account.open_orders()] == []
            assert harness.held(venue) == {}
            return
        adapter._submit(order)
    except BrokerError as exc:
        assert isinstance(exc, BrokerRejectedError), f"{type(exc).__name__}: {exc}"
    else:
        raise AssertionError("the order beyond the funds was accepted")
    finally:
        adapter.close()
    assert venue.account.all_orders() == []


def test_fills_with_fees_reach_the_journal_and_tca(harness: BrokerHarness, start_venue: StartHarnessVenue,
                                                   journal: Journal) -> None:
    venue = start_venue(venue_config=xl.VenueConfig(fees={"model": "bps", "bps": FEE_BPS}))
    config = harness.config(venue, "fees")
    executor = _executor(harness, venue, journal, "fees")
    try:
        done = run_live_rebalance(TARGETS, dict(harness.symbols), config, executor, journal, "k", timeout=10)
    finally:
        executor.close()
    assert done.complete
    fills = journal.fills("fees")
    executions = {harness.execution_id(venue, e): e for e in venue.account.executions()}
    assert len(fills) == len(executions) == 2
    assert set(fills["fill_id"]) == set(executions)  # the venue's execution id is the journal's fill id
    for row in fills.itertuples():
        ex = executions[row.fill_id]
        assert row.fee == pytest.approx(ex.fee, rel=1e-6, abs=harness.fee_rounding) and row.fee > 0
        assert row.fee == pytest.approx(row.quantity * row.price * FEE_BPS / 1e4, rel=1e-6, abs=harness.fee_rounding)
        assert row.fee_currency == ex.fee_currency
    assert tca_from_journal(journal, "fees").summary()["fee_cost"] == pytest.approx(float(fills["fee"].sum()))


def test_a_venue_restart_mid_run_is_reconciled_without_resending(harness: BrokerHarness,
                                                                  start_venue: StartHarnessVenue,
                                                                  tmp_path: Path) -> None:
    venue = start_venue()
    venue.injector.update({"partial_fill_ratio": 0.5})  # the orders rest half filled when the venue goes away
    config = resting(harness, harness.config(venue, "restart"))
    with closing(Journal(tmp_path / "journal.sqlite")) as journal:
        executor = _executor(harness, venue, journal, "restart")
        try:
            first = run_live_rebalance(TARGETS, dict(harness.symbols), config, executor, journal, "k", timeout=2)
        finally:
            executor.close()
        assert not first.complete
        venue.restart()
        venue.injector.update({"partial_fill_ratio": None})
        for s, p in harness.symbols.items():  # the next quote fills the rest
            venue.set_quote(s, p - 0.01, p + 0.01, p)
        executor = _executor(harness, venue, journal, "restart")
        try:
            done = run_live_rebalance(TARGETS, dict(harness.symbols), config, executor, journal, "k", timeout=10)
        finally:
            executor.close()
        assert done.complete
        assert journal.positions_from_fills("restart").to_dict() == pytest.approx(TARGETS)
    assert harness.held(venue) == TARGETS
    assert set(venue.stats()["order_attempts"].values()) == {1}  # reconciled, never placed again


def test_fills_during_a_stream_drop_are_journaled_once_with_ids_and_fees_after_the_reconnect(
        harness: BrokerHarness, start_venue: StartHarnessVenue, journal: Journal) -> None:
    venue = start_venue(venue_config=xl.VenueConfig(fees={"model": "bps", "bps": FEE_BPS}))
    venue.injector.update({"partial_fill_ratio": 0.5})  # each order fills in two executions, one per quote
    executor = _executor(harness, venue, journal, "gap")
    try:
        assert executor.start_stream()
        resting = {s: harness.symbols[s] - 1.0 for s in TARGETS}
        orders = [xl.Order(symbol=s, side=xl.Side.BUY, quantity=q, order_type=xl.OrderType.LIMIT,
                           limit_price=resting[s], client_order_id=f"xl-{i:032x}")
                  for i, (s, q) in enumerate(TARGETS.items())]
        for order in orders:
            assert executor.place(order) is not None
        wait_until(lambda: venue.stats()["streams"]["messages"] >= len(orders), "the stream to report the new orders")
        executor.refresh()
        assert journal.fills("gap").empty
        before = venue.stats()["streams"]
        assert venue.drop_streams() >= 1
        for step in (0.0, 0.01):  # the quotes cross the limits twice: half of each order, then the rest
            for s, limit in resting.items():
                venue.set_quote(s, limit - 0.02 - step, limit - 0.01 - step, limit - 0.015 - step)
        executions = venue.account.executions()
        assert len(executions) == 2 * len(orders)
        gap = venue.stats()["streams"]
        assert gap["messages"] == before["messages"]  # no client heard of these fills: they happened in the gap
        assert gap["drops"] > before["drops"]
        assert executor.wait(timeout=30)
        wait_until(lambda: venue.stats()["streams"]["authorized"] > before["authorized"], "the stream to reconnect")
        wait_until(lambda: executor.streaming, "the executor's stream to be live again")
        executor.refresh()
        executor.sync_fills()
    finally:
        executor.close()
    fills = journal.fills("gap")
    by_id = {harness.execution_id(venue, e): e for e in executions}
    assert sorted(fills["fill_id"]) == sorted(by_id)  # every execution once, by its own id (nothing derived)
    for row in fills.itertuples():
        ex = by_id[row.fill_id]
        assert row.fee == pytest.approx(ex.fee, rel=1e-6, abs=harness.fee_rounding) and row.fee > 0
        assert row.fee_currency == ex.fee_currency
        assert row.quantity == pytest.approx(ex.qty) and row.price == pytest.approx(ex.price)
    assert journal.positions_from_fills("gap").to_dict() == pytest.approx(TARGETS)
    assert harness.held(venue) == TARGETS
    assert set(venue.stats()["order_attempts"].values()) == {1}
