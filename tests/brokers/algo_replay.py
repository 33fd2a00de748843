"""A schedule worked through alpaca-py against the local Alpaca venue replaying the real minute bars, on the venue's
clock (a test steps it bar by bar), with restarts of the client in between if asked."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import execlab as xl
from execlab._brokers.executor import BrokerExecutor
from execlab._config import VenueConfig
from execlab._data.feeds import FeedEvent, ReplayFeed
from execlab._oms.journal import Journal
from execlab._runs.live_algo import AlgoTick, BrokerSchedule, child_table, open_schedule
from execlab._runs.minute_market import MinuteMarket
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue

from helpers.paths import SHARED_DATA

MINUTES = SHARED_DATA / "us_equity_minute_lean.parquet"
SYMBOLS = ("AIG", "BAC", "IBM", "SPY")
KEY, SECRET = "PKALGOLIVE00000001", "algo-live-secret-not-for-logs"


def minute_bars(start: str = "2013-10-07 13:30", end: str = "2013-10-07 15:30") -> pd.DataFrame:
    """The four symbols' real minute trade and quote bars between ``start`` and ``end`` (UTC)."""
    rows = pd.read_parquet(MINUTES)
    rows = rows[rows["symbol"].isin(SYMBOLS)]
    return rows[(rows["ts"] >= pd.Timestamp(start, tz="UTC"))
                & (rows["ts"] < pd.Timestamp(end, tz="UTC"))].reset_index(drop=True)


def algo_config(run_id: str, venue: AlpacaVenue, execution: dict[str, Any],
                venue_config: dict[str, Any]) -> xl.Config:
    return xl.Config.from_mapping({
        "mode": "paper", "run_id": run_id, "venue": venue_config, "execution": execution,
        "broker": {"name": "alpaca", "api_key": KEY, "api_secret": SECRET, "base_url": venue.base_url}})


@dataclass
class ReplayRun:
    """One schedule's run: the ticks, the journal's children, the venue's order attempts per client id."""

    ticks: list[AlgoTick]
    children: pd.DataFrame
    attempts: dict[str, int]
    held: dict[str, float]
    parents: list[Any]


def start_venue(venue_config: dict[str, Any], cash: float = 2_000_000.0) -> AlpacaVenue:
    return AlpacaVenue(KEY, SECRET, initial_cash=cash, venue_config=VenueConfig.model_validate(venue_config),
                       rate_limit=1_000_000)


def _schedule(config: xl.Config, venue: AlpacaVenue, journal: Journal, targets: dict[str, float],
              market: MinuteMarket, as_of: str, start: pd.Timestamp) -> tuple[BrokerSchedule, Any]:
    adapter = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url, timeout=10.0)
    executor = BrokerExecutor(adapter, journal, config.run_id, (), backoff_seconds=0.01, stream=False)
    prices = {s: q[0] for s in targets if (q := market.quote(s, start)) is not None}
    return open_schedule(targets, prices, config, executor, journal, as_of, market, start), executor


def run_schedule(venue: AlpacaVenue, config: xl.Config, journal_path: Path, targets: dict[str, float],
                 events: Sequence[FeedEvent], market: MinuteMarket, start_at: int, *,
                 restarts: Sequence[int] = (), as_of: str | None = None,
                 stop_after: int | None = None) -> ReplayRun:
    """Step the venue through ``events``; the schedule starts after event ``start_at`` and ticks after every later
    one until it is done (or ``stop_after`` ticks); before the ticks numbered in ``restarts`` the client is thrown
    away and a new one (new executor, new journal connection, same file) resumes from the journal."""
    journal = Journal(journal_path)
    as_of = as_of or "algo-" + events[start_at].timestamp.isoformat()
    schedule = executor = None
    ticks: list[AlgoTick] = []
    for i, event in enumerate(events):
        venue.step_bars(event)
        if i < start_at:
            continue
        if schedule is None or (i - start_at) in restarts:
            if executor is not None:
                executor.close()
                journal.close()
                journal = Journal(journal_path)
            schedule, executor = _schedule(config, venue, journal, targets, market, as_of,
                                           events[start_at].timestamp)
        tick = schedule.tick(event.timestamp)
        ticks.append(tick)
        if tick.finished or (stop_after is not None and len(ticks) >= stop_after):
            break
    assert schedule is not None and executor is not None
    children = child_table(schedule.children())
    parents = list(schedule.parents)
    executor.close()
    journal.close()
    adapter = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)
    held = {s: q for s, q in adapter._positions().items() if q}
    return ReplayRun(ticks, children, dict(venue.stats()["order_attempts"]), held, parents)


def events_of(bars: pd.DataFrame) -> list[FeedEvent]:
    return list(ReplayFeed.from_bars(bars))


def iter_events(bars: pd.DataFrame) -> Iterator[FeedEvent]:
    return iter(ReplayFeed.from_bars(bars))


def journaled_orders(path: Path, run_id: str) -> pd.DataFrame:
    """The journal's orders of ``run_id`` as the backtest's order table names them: the decision time as
    ``timestamp``, the risk engine's reason as ``reason``, prices and quantities as floats."""
    journal = Journal(path)
    orders = journal.orders(run_id)
    journal.close()
    orders = orders.drop(columns=["timestamp", "reason"], errors="ignore").rename(
        columns={"decided_at": "timestamp", "risk_reason": "reason"})
    orders["timestamp"] = pd.to_datetime(orders["timestamp"], utc=True)
    for name in ("filled_quantity", "limit_price", "avg_fill_price"):
        orders[name] = orders[name].astype(float)
    return orders
