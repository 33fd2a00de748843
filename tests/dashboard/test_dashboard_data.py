"""The dashboard's frames, read from a real journal: two rebalances through alpaca-py against the local Alpaca venue.

The journal has several symbols, partial fills, an order still working at the venue and a risk-denied order.
The journal is written by ``helpers.dashboard_run.build_run``, shared with the browser test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from execlab._analysis.tca import tca_from_journal
from execlab._brokers.kill_switch import engage_kill_switch, halt_trading, journaled_halt, resume_trading
from execlab._oms.journal import Journal
from execlab._runs.live import TradingHaltedError, run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.dashboard import load_dashboard_data, risk_status
from execlab.dashboard._data import FILL_COLUMNS, equity_over_time
from execlab.venues import AlpacaVenue

from helpers.alpaca import StartVenue, held
from helpers.dashboard_run import (
    DAY1,
    DAY2,
    DENIED,
    KEY,
    RUN_ID,
    SECRET,
    STILL_WORKING,
    TARGETS2,
    VOLUME,
    DashboardRun,
    build_run,
    config,
    copy_journal,
    executor,
    quotes,
)


@pytest.fixture(scope="module")
def venue(local_venue_module: StartVenue) -> AlpacaVenue:
    return local_venue_module(KEY, SECRET, initial_cash=100_000.0, rate_limit=10_000)


@pytest.fixture(scope="module")
def run(venue: AlpacaVenue, tmp_path_factory: pytest.TempPathFactory) -> DashboardRun:
    return build_run(venue, tmp_path_factory.mktemp("dashboard-journal"))


@pytest.fixture
def journal(run: DashboardRun) -> Iterator[Journal]:
    book = Journal(run.journal)
    yield book
    book.close()


def test_the_fixture_journal_is_realistic(run: DashboardRun, journal: Journal, venue: AlpacaVenue) -> None:
    orders = journal.orders(run.run_id)
    assert set(orders["symbol"]) == set(DAY1) | set(DAY2)
    denied = orders[orders["risk_reason"] != ""]
    assert list(denied["symbol"]) == [DENIED] and (denied["status"] == "denied").all()
    working = orders[orders["status"] == "partially_filled"]
    assert list(working["symbol"]) == [STILL_WORKING]
    assert len(AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)._open_orders()) == 1
    assert len(journal.fills(run.run_id)) > len(orders[orders["status"] == "filled"])  # partial fills


def test_fills_table_has_every_fill_with_tca_slippage(run: DashboardRun, journal: Journal) -> None:
    data = load_dashboard_data(journal, run.run_id, run.bars)
    fills = journal.fills(run.run_id)
    table = data.fills
    assert list(table.columns) == list(FILL_COLUMNS)
    assert len(table) == len(fills) and set(table["fill_id"]) == set(fills["fill_id"])
    assert table["at"].is_monotonic_decreasing
    assert np.allclose(table["notional"], table["quantity"] * table["price"])
    tca = tca_from_journal(journal, run.run_id).fills.set_index("fill_id")
    got = table.set_index("fill_id")
    assert np.allclose(got.loc[tca.index, "slippage_decision_bps"], tca["slippage_decision_bps"])
    # A buy that paid above its decision price shows a positive (costly) slippage.
    buy = got[(got["side"] == "buy") & (got["price"] > got["decision_price"])].iloc[0]
    assert buy["slippage_decision_bps"] == pytest.approx((buy["price"] / buy["decision_price"] - 1) * 1e4)
    assert set(table["rebalance"]) == {"2024-01-02", "2024-01-03"}


def test_order_slippage_and_participation_come_from_tca(run: DashboardRun, journal: Journal) -> None:
    with_bars = load_dashboard_data(journal, run.run_id, run.bars)
    expected = tca_from_journal(journal, run.run_id, bars=run.bars).orders
    pd.testing.assert_series_equal(with_bars.orders["shortfall_bps"], expected["shortfall_bps"])
    traded = with_bars.orders[with_bars.orders["filled_quantity"] > 0]
    assert traded["participation"].notna().all() and (traded["participation"] > 0).all()
    # Participation is the filled quantity over the volume of the minute bars the order spanned.
    for row in traded.itertuples():
        bars_spanned = row.filled_quantity / row.participation / VOLUME[str(row.symbol)]
        assert bars_spanned == pytest.approx(round(bars_spanned)) and round(bars_spanned) >= 1
    without = load_dashboard_data(journal, run.run_id)
    assert without.orders["participation"].isna().all()


def test_positions_match_the_broker_and_targets_the_latest_rebalance(run: DashboardRun, journal: Journal,
                                                                     venue: AlpacaVenue) -> None:
    positions = load_dashboard_data(journal, run.run_id).positions
    broker = held(venue)
    assert positions["position"][positions["position"] != 0].to_dict() == broker
    nonzero_targets = {s: q for s, q in TARGETS2.items() if q}
    assert positions["target"][positions["target"] != 0].to_dict() == nonzero_targets
    short = TARGETS2[STILL_WORKING] - broker[STILL_WORKING]
    assert short > 0 and positions.loc[STILL_WORKING, "difference"] == pytest.approx(short)
    assert positions.loc[DENIED, "position"] == 0 and positions.loc[DENIED, "target"] == TARGETS2[DENIED]
    # What the latest rebalance was given, journaled before planning: every target, including any without an order.
    assert positions["journaled_target"].dropna().to_dict() == {s: float(q) for s, q in TARGETS2.items()}


def _reference_pnl(journal: Journal, run_id: str) -> float:
    """Value change by brute force: replay fills, mark every holding at its latest decision or fill price."""
    events = []
    for row in journal.orders(run_id).itertuples():
        if row.decision_price == row.decision_price:
            events.append((pd.Timestamp(row.created_at), 0, row.symbol, 0.0, float(row.decision_price), 0.0))
    for row in journal.fills(run_id).itertuples():
        signed = row.quantity if row.side == "buy" else -row.quantity
        events.append((pd.Timestamp(row.at), 1, row.symbol, float(signed), float(row.price), float(row.fee)))
    cash, position, mark = 0.0, dict[str, float](), dict[str, float]()
    for _at, _kind, symbol, qty, price, fee in sorted(events, key=lambda e: (e[0], e[1])):
        cash -= qty * price + fee
        position[symbol] = position.get(symbol, 0.0) + qty
        mark[symbol] = price
    return cash + sum(q * mark[s] for s, q in position.items())


def test_equity_over_time_marks_holdings_at_the_latest_known_price(run: DashboardRun, journal: Journal) -> None:
    equity = equity_over_time(journal, run.run_id)
    assert equity["at"].is_monotonic_increasing
    assert equity["pnl"].iloc[0] == 0.0
    assert equity["pnl"].iloc[-1] == pytest.approx(_reference_pnl(journal, run.run_id))
    assert equity["gross_exposure"].iloc[-1] > 0
    orders, fills = journal.orders(run.run_id), journal.fills(run.run_id)
    times = set(pd.to_datetime(orders.dropna(subset=["decision_price"])["created_at"], utc=True)) \
        | set(pd.to_datetime(fills["at"], utc=True))
    assert len(times) > 1 and len(equity) == 1 + len(times)  # the start, then one point per event time


def test_costs_over_time_add_up_to_the_tca_shortfall(run: DashboardRun, journal: Journal) -> None:
    data = load_dashboard_data(journal, run.run_id, run.bars)
    costs = data.costs
    assert costs["at"].is_monotonic_increasing
    last = costs.iloc[-1]
    assert last["total"] == pytest.approx(data.orders["shortfall"].sum())
    assert last["slippage"] == pytest.approx((data.orders["delay_cost"] + data.orders["execution_cost"]).sum())
    assert last["fees"] == pytest.approx(data.orders["fees"].sum())


def test_risk_state_follows_the_journal(run: DashboardRun, tmp_path: Path, venue: AlpacaVenue) -> None:
    copy = copy_journal(run, tmp_path)
    book = Journal(copy.journal)
    status = risk_status(book, run.run_id)
    assert status.state == "active" and status.source == "reconcile"
    halt_trading(book, run.run_id, "desk says stop")
    status = risk_status(book, run.run_id)
    assert (status.state, status.source) == ("halted", "kill_switch") and "desk says stop" in status.reason
    assert load_dashboard_data(book, run.run_id).risk == status
    resume_trading(book, run.run_id, "desk says go")
    assert risk_status(book, run.run_id).state == "active"
    book.close()


@pytest.mark.local_venue
def test_the_done_row_of_an_engaged_kill_switch_does_not_lift_the_halt(tmp_path: Path) -> None:
    with AlpacaVenue(KEY, SECRET, initial_cash=10_000.0, rate_limit=10_000) as v:
        v.set_quotes(quotes(DAY1, 1.0, 0.01))
        book = Journal(tmp_path / "j.sqlite")
        engage_kill_switch(executor(v, book), book, RUN_ID, reason="test")
    assert list(book.events(RUN_ID, "kill_switch")["status"]) == ["halted", "done"]
    halt = journaled_halt(book, RUN_ID)
    assert halt is not None and halt.reason == "test"
    assert risk_status(book, RUN_ID).state == "halted"


@pytest.mark.local_venue
def test_a_journaled_halt_stops_every_rebalance_until_resumed(tmp_path: Path) -> None:
    with AlpacaVenue(KEY, SECRET, initial_cash=100_000.0, rate_limit=10_000) as v:
        v.set_quotes(quotes(DAY1, 1.0, 0.01))
        book = Journal(tmp_path / "j.sqlite")
        halt_trading(book, RUN_ID, "dashboard kill switch")
        with pytest.raises(TradingHaltedError, match="dashboard kill switch"):
            run_live_rebalance({"AAA": 10}, DAY1, config(), executor(v, book), book, "k", timeout=5)
        assert v.stats()["order_attempts"] == {} and book.orders(RUN_ID).empty
        resume_trading(book, RUN_ID)
        done = run_live_rebalance({"AAA": 10}, DAY1, config(), executor(v, book), book, "k", timeout=5)
        assert done.complete and held(v) == {"AAA": 10}
        # A halt also stops the resumption of a rebalance already journaled.
        halt_trading(book, RUN_ID)
        with pytest.raises(TradingHaltedError):
            run_live_rebalance({"AAA": 10}, DAY1, config(), executor(v, book), book, "k", timeout=5)


def test_an_empty_journal_gives_empty_frames(tmp_path: Path) -> None:
    book = Journal(tmp_path / "empty.sqlite")
    data = load_dashboard_data(book, "nothing")
    assert data.fills.empty and data.orders.empty and data.positions.empty and data.costs.empty
    assert data.equity.empty and data.working_orders == 0
    assert data.risk.state == "active" and data.risk.source == "none"


@pytest.mark.slow
def test_reading_the_data_does_not_import_panel() -> None:
    code = ("import sys, execlab.dashboard; "
            "print(json.dumps(sorted(m for m in ('panel', 'hvplot', 'bokeh') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                         check=True, timeout=300)
    assert json.loads(out.stdout) == []
