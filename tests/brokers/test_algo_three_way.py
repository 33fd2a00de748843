"""Done-when of issue 16: on the real minute bars (SPY, IBM, AIG, BAC, LEAN demo data in ``../shared/data``), a
TWAP, VWAP and POV rebalance gives the same child order table in the backtest, in paper trading on the replayed feed,
and through alpaca-py against the local Alpaca venue replaying the same bars on its own clock (the schedule ticks at
the broker after each bar).

The table compared: each child's client id, decision time, parent, symbol, side, quantity, order type, limit price,
algorithm, and what it filled (quantity and average price) — so the fills agree too, not only the decisions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from brokers.algo_replay import KEY, MINUTES, SECRET, SYMBOLS, events_of, journaled_orders, run_schedule, start_venue

import execlab as xl
from execlab._core.ids import rebalance_key
from execlab._oms.journal import Journal
from execlab._runs.minute_market import MinuteMarket

pytestmark = [pytest.mark.local_venue, pytest.mark.shared_data, pytest.mark.slow,
              pytest.mark.skipif(not MINUTES.exists(), reason="../shared/data is absent")]

START = pd.Timestamp("2013-10-10 14:00", tz="UTC")
TARGETS = {"SPY": 50_000.0, "IBM": 20_000.0, "AIG": 60_000.0, "BAC": 200_000.0}
CASH = 18_500_000.0
VENUE = {"fill_price": "next_open", "slippage": {"model": "half_spread"}}
ALGOS: dict[str, dict[str, Any]] = {
    "twap": {"algo": "twap", "slices": 10},
    "vwap": {"algo": "vwap", "slices": 10},
    "pov": {"algo": "pov", "participation": 0.05},
}
COLUMNS = ["client_order_id", "timestamp", "parent_id", "symbol", "side", "quantity", "order_type", "limit_price",
           "algo", "filled_quantity", "avg_fill_price"]
RUN_ID = "three-way"


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """Regular-hours minute bars of the four symbols, 2013-10-04 .. 2013-10-10 14:45 (the VWAP profile reads the
    days before the rebalance)."""
    rows = pd.read_parquet(MINUTES)
    rows = rows[rows["symbol"].isin(SYMBOLS) & (rows["ts"] < START + pd.Timedelta("45min"))]
    local = rows["ts"].dt.tz_convert("America/New_York").dt.time
    rows = rows[(local >= pd.Timestamp("09:30").time()) & (local < pd.Timestamp("16:00").time())]
    return rows[["ts", "symbol", "open", "high", "low", "close", "volume", "bid_close", "ask_close"]].reset_index(
        drop=True)


def _config(mode: str, execution: dict[str, Any], **more: Any) -> xl.Config:
    return xl.Config.from_mapping({"mode": mode, "run_id": RUN_ID, "initial_cash": CASH, "venue": VENUE,
                           "execution": {"horizon": "30min", **execution}, **more})


def _table(orders: pd.DataFrame) -> pd.DataFrame:
    children = orders[orders["parent_id"].notna()]
    return children[COLUMNS].sort_values(["timestamp", "parent_id", "client_order_id"]).reset_index(drop=True)


def _backtest(bars: pd.DataFrame, execution: dict[str, Any]) -> pd.DataFrame:
    return _table(xl.run_backtest(pd.DataFrame(TARGETS, index=[START]), bars, _config("backtest", execution)).orders)


def _paper(bars: pd.DataFrame, execution: dict[str, Any]) -> pd.DataFrame:
    result = xl.run_paper(pd.DataFrame(TARGETS, index=[START]), bars, _config("paper", execution),
                          journal=Journal(":memory:"))
    return _table(result.orders)


def _broker(bars: pd.DataFrame, execution: dict[str, Any], folder: Path) -> pd.DataFrame:
    events = events_of(bars[bars["ts"] >= START])
    with start_venue(VENUE, cash=CASH) as venue:
        config = _config("paper", execution, broker={"name": "alpaca", "api_key": KEY, "api_secret": SECRET,
                                                     "base_url": venue.base_url})
        run = run_schedule(venue, config, folder / "journal.sqlite", TARGETS, events, MinuteMarket(bars), 0,
                           as_of=rebalance_key(START))
    assert run.held == TARGETS
    assert set(run.attempts.values()) == {1}
    orders = journaled_orders(folder / "journal.sqlite", RUN_ID)
    return _table(orders)


@pytest.mark.parametrize("name", list(ALGOS))
def test_backtest_paper_and_alpaca_venue_send_the_same_children(bars: pd.DataFrame, tmp_path: Path,
                                                                name: str) -> None:
    backtest = _backtest(bars, ALGOS[name])
    paper = _paper(bars, ALGOS[name])
    broker = _broker(bars, ALGOS[name], tmp_path)
    assert len(backtest) > 2 * len(TARGETS) and (backtest["algo"] == name).all()
    assert (backtest["filled_quantity"] > 0).all()
    pd.testing.assert_frame_equal(paper, backtest, check_dtype=False)
    pd.testing.assert_frame_equal(broker, backtest, check_dtype=False)
