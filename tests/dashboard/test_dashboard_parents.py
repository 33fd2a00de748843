"""The dashboard shows a working parent's progress: a TWAP worked through alpaca-py at the local Alpaca venue
replaying the real minute bars, read from its journal mid-schedule and at the end (on the broker's clock: the
children's requests carry the venue's replay time, so "scheduled" is measured at the schedule's time, not today's)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from brokers.algo_replay import MINUTES, algo_config, events_of, minute_bars, run_schedule, start_venue

from execlab._algos import scheduled_fraction
from execlab._oms.journal import Journal
from execlab._runs.minute_market import MinuteMarket
from execlab.dashboard import load_dashboard_data

pytestmark = [pytest.mark.local_venue, pytest.mark.skipif(not MINUTES.exists(), reason="../shared/data is absent")]

VENUE = {"fill_price": "next_open", "participation_cap": 0.25}
TARGETS = {"SPY": 3000.0, "IBM": 800.0, "AIG": 2500.0, "BAC": 9000.0}


def _run(tmp_path: Path, stop_after: int | None) -> tuple[Journal, list[object]]:
    bars = minute_bars()
    with start_venue(VENUE) as venue:
        config = algo_config("dash-algo", venue, {"algo": "twap", "horizon": "20min", "slices": 5}, VENUE)
        run = run_schedule(venue, config, tmp_path / "journal.sqlite", TARGETS, events_of(bars), MinuteMarket(bars),
                           5, stop_after=stop_after)
    return Journal(tmp_path / "journal.sqlite"), list(run.parents)


def test_a_working_parent_shows_filled_working_and_scheduled(tmp_path: Path) -> None:
    journal, parents = _run(tmp_path, stop_after=6)
    table = load_dashboard_data(journal, "dash-algo").parents
    assert len(table) == len(TARGETS) and set(table["state"]) == {"working"}
    orders = journal.orders("dash-algo")
    clock = pd.to_datetime(orders["decided_at"].dropna(), utc=True).max()
    by_id = {p.client_id: p for p in parents}  # type: ignore[attr-defined]
    for row in table.to_dict("records"):
        kids = orders[orders["parent_id"] == row["parent_id"]]
        assert row["filled_quantity"] == pytest.approx(kids["filled_quantity"].sum())
        working = kids[kids["status"].isin(["submitted", "partially_filled"])]
        assert row["working_quantity"] == pytest.approx((working["quantity"] - working["filled_quantity"]).sum())
        assert 0 < row["filled_quantity"] < row["quantity"] and row["children"] == len(kids)
        assert row["scheduled_pct"] == pytest.approx(scheduled_fraction(by_id[row["parent_id"]], clock) * 100)
        assert 0 < row["scheduled_pct"] < 100


def test_a_finished_schedule_shows_every_parent_done(tmp_path: Path) -> None:
    journal, _ = _run(tmp_path, stop_after=None)
    table = load_dashboard_data(journal, "dash-algo").parents
    assert set(table["state"]) == {"done"}
    assert (table["filled_quantity"] == table["quantity"]).all() and (table["working_quantity"] == 0).all()


def test_the_dashboard_lists_the_parents(tmp_path: Path) -> None:
    from execlab.dashboard import dashboard

    journal, _ = _run(tmp_path, stop_after=3)
    layout = dashboard(journal, "dash-algo", refresh_seconds=0)
    tables = [o for o in layout.objects if type(o).__name__ == "Tabulator" and "scheduled_pct" in o.value.columns]
    assert len(tables) == 1 and tables[0].visible and len(tables[0].value) == len(TARGETS)
