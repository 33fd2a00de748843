"""Fills as Alpaca reports them, through alpaca-py against the local venue: executions with their ids and fees
(account activities FILL and FEE) reach the journal, ``execlab tca`` and the dashboard's data."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

import execlab as xl
from execlab._analysis.tca import tca_from_journal
from execlab._brokers.contract import Capability
from execlab._cli.main import app
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter, AlpacaTradeStream, TradeUpdateEvent
from execlab.venues import AlpacaVenue

from helpers.alpaca import StartVenue, broker_executor, paper_config
from helpers.waiting import wait_until

KEY, SECRET = "PKFILLSKEY000001", "fills-secret-do-not-log-01"
PRICES = {"AAA": 10.0, "BBB": 20.0}
TARGETS = {"AAA": 10.0, "BBB": 20.0}
FEE_BPS = 25.0



@pytest.fixture
def venue(local_venue: StartVenue) -> AlpacaVenue:
    fees = xl.VenueConfig(fees={"model": "bps", "bps": FEE_BPS})
    return local_venue(KEY, SECRET, initial_cash=100_000.0, rate_limit=10_000, prices=PRICES, venue_config=fees)


def _rebalance(venue: AlpacaVenue, journal: Journal, run_id: str = "fees") -> None:
    done = run_live_rebalance(TARGETS, PRICES, paper_config(run_id, KEY, SECRET),
                              broker_executor(venue, journal, run_id), journal, "k", timeout=10)
    assert done.complete


def test_alpaca_declares_fills_from_activities() -> None:
    assert Capability.FILLS in AlpacaAdapter.capabilities
    assert Capability.FILL_STREAM not in AlpacaAdapter.capabilities  # trade_updates carry no fee


def test_a_paper_rebalance_journals_the_venues_executions_with_their_fees(venue: AlpacaVenue,
                                                                          journal: Journal) -> None:
    _rebalance(venue, journal)
    fills = journal.fills("fees")
    activities = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url).client.get(
        "/account/activities", {"activity_types": "FILL", "direction": "asc"})
    executions = {a["id"].rpartition("::")[2]: a for a in activities}
    assert len(fills) == len(executions) == 2
    assert set(fills["fill_id"]) == set(executions)  # the broker's execution id is the journal's fill id
    for row in fills.itertuples():
        notional = row.quantity * row.price
        assert row.fee == pytest.approx(notional * FEE_BPS / 1e4, rel=1e-6) and row.fee > 0
        assert row.fee_currency == "USD"
        assert row.executed_at.startswith(executions[row.fill_id]["transaction_time"][:19])  # when it executed
    assert sorted(zip(fills["symbol"], fills["quantity"], strict=True)) == [("AAA", 10.0), ("BBB", 20.0)]


def test_tca_and_the_cli_show_the_fees(venue: AlpacaVenue, tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    try:
        _rebalance(venue, journal)
        paid = float(journal.fills("fees")["fee"].sum())
        result = tca_from_journal(journal, "fees")
    finally:
        journal.close()
    expected = (10 * 10.0 + 20 * 20.0) * FEE_BPS / 1e4  # fills at the ask may differ by a cent: approx
    assert paid == pytest.approx(expected, rel=0.01)
    assert result.summary()["fee_cost"] == pytest.approx(paid)
    printed = CliRunner().invoke(app, ["tca", "--journal", str(path), "--run-id", "fees"])
    assert printed.exit_code == 0, printed.output
    shown = re.search(r"fees ([0-9.,]+)", printed.output)
    assert shown is not None and float(shown.group(1).replace(",", "")) == pytest.approx(paid, abs=0.01)


def test_a_second_refresh_does_not_double_the_fills(venue: AlpacaVenue, journal: Journal) -> None:
    executor = broker_executor(venue, journal, "fees")
    done = run_live_rebalance(TARGETS, PRICES, paper_config("fees", KEY, SECRET), executor, journal, "k",
                              timeout=10)
    assert done.complete
    executor._fills_due.update(executor.known_orders())  # as if both orders filled again: list once more
    executor.refresh()
    assert len(journal.fills("fees")) == 2


def test_the_journals_fill_ids_are_the_streams_execution_ids(venue: AlpacaVenue, journal: Journal) -> None:
    seen: list[TradeUpdateEvent] = []
    with AlpacaTradeStream(KEY, SECRET, seen.append, url=venue.stream_url):
        _rebalance(venue, journal)
        wait_until(lambda: sum(e.event == "fill" for e in seen) == 2, "both fills on the stream")
    streamed = {e.execution_id for e in seen if e.event in ("fill", "partial_fill")}
    assert set(journal.fills("fees")["fill_id"]) == streamed


def test_instruments_come_from_the_assets(venue: AlpacaVenue) -> None:
    adapter = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)
    rules = adapter._instruments(["AAA", "ZZZ_NOT_LISTED"])
    assert set(rules) == {"AAA"}
    aaa = rules["AAA"]
    assert aaa.symbol == "AAA" and aaa.currency == "USD" and aaa.asset_class == "us_equity"
    assert aaa.tick_size > 0 and aaa.lot_size > 0
    adapter.close()
