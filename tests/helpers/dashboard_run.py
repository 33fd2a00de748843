"""A journal written by real rebalances (two days, partial fills, an order still working, a risk-denied order),
for the dashboard tests: ``build_run`` drives alpaca-py against the local Alpaca venue."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.venues import AlpacaVenue

from helpers.alpaca import broker_executor, paper_config

KEY, SECRET = "PKDASHBOARD00001", "dashboard-secret-do-not-log-01"
RUN_ID = "dash-run"
DAY1 = {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0, "DDD": 5.0}
TARGETS1 = {"AAA": 300.0, "BBB": 120.0, "CCC": 40.0, "DDD": 500.0}
DAY2 = {"AAA": 10.4, "BBB": 19.5, "CCC": 51.0, "DDD": 5.2, "EEE": 30.0, "FFF": 25.0}
TARGETS2 = {"AAA": 150.0, "BBB": 200.0, "CCC": 60.0, "DDD": 0.0, "EEE": 80.0, "FFF": 400.0}
VOLUME = {"AAA": 20_000.0, "BBB": 5_000.0, "CCC": 800.0, "DDD": 50_000.0, "EEE": 1_000.0, "FFF": 10_000.0}
STILL_WORKING = "CCC"
DENIED = "FFF"


@dataclass(frozen=True)
class DashboardRun:
    """A journal written by real rebalances, and what is known about it."""

    journal: Path
    bars: pd.DataFrame
    run_id: str
    key: str
    secret: str


def config(base_url: str | None = None) -> xl.Config:
    broker = {} if base_url is None else {"base_url": base_url}
    return paper_config(RUN_ID, KEY, SECRET, broker, risk={"max_order_value": 5_000.0})


def executor(venue: AlpacaVenue, journal: Journal) -> BrokerExecutor:
    return broker_executor(venue, journal, RUN_ID)


def quotes(prices: dict[str, float], drift: float, half_spread: float) -> dict[str, tuple[float, float, float,
                                                                                           float | None]]:
    return {s: (p * drift - half_spread, p * drift + half_spread, p * drift, None) for s, p in prices.items()}


def minute_bars(start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    stamps = pd.date_range(start.floor("min") - pd.Timedelta(minutes=1), end.ceil("min") + pd.Timedelta(minutes=1),
                           freq="1min")
    rows = [{"timestamp": t, "symbol": s, "open": DAY2[s], "high": DAY2[s] * 1.01, "low": DAY2[s] * 0.99,
             "close": DAY2[s], "volume": VOLUME[s]} for t in stamps for s in sorted(DAY2)]
    return pd.DataFrame(rows)


def build_run(venue: AlpacaVenue, directory: Path) -> DashboardRun:
    """Two rebalances of ``RUN_ID`` into ``directory/journal.sqlite``; the second leaves a partial fill working."""
    path = directory / "journal.sqlite"
    journal = Journal(path, secrets=[SECRET])
    started = pd.Timestamp.now(tz="UTC")
    # Day 1: the market moved 0.1 % up between decision and arrival; everything fills across a 2-cent spread.
    venue.set_quotes(quotes(DAY1, 1.001, 0.01))
    first = run_live_rebalance(TARGETS1, DAY1, config(), executor(venue, journal), journal, "2024-01-02", timeout=10)
    assert first.complete
    # Day 2: every order first fills half; the next quotes fill the rest of all but CCC, which stays working.
    venue.faults.partial_fill_ratio = 0.5
    venue.set_quotes(quotes({s: p for s, p in DAY2.items()}, 0.999, 0.02))
    second = run_live_rebalance(TARGETS2, DAY2, config(), executor(venue, journal), journal, "2024-01-03", timeout=1)
    assert not second.complete
    venue.set_quotes(quotes({s: p for s, p in DAY2.items() if s != STILL_WORKING}, 1.002, 0.02))
    again = run_live_rebalance(TARGETS2, DAY2, config(), executor(venue, journal), journal, "2024-01-03", timeout=1)
    assert again.resumed and not again.complete
    venue.faults.partial_fill_ratio = None
    journal.close()
    return DashboardRun(path, minute_bars(started, pd.Timestamp.now(tz="UTC")), RUN_ID, KEY, SECRET)


def copy_journal(run: DashboardRun, directory: Path) -> DashboardRun:
    """A private copy of the run's journal (the journal is append-only: a test that halts works on a copy)."""
    target = directory / "journal-copy.sqlite"
    with sqlite3.connect(run.journal) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return DashboardRun(target, run.bars, run.run_id, run.key, run.secret)

