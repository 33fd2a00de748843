"""Execution algorithms on real minute bars (SPY, IBM, AIG, BAC, 2013-10-04..11, LEAN demo data in
``../shared/data``): a two-rebalance basket worked by TWAP, VWAP, POV and iceberg gives the same child order table in
the backtest and in paper trading on the replayed feed, and the children keep the algorithms' promises."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import execlab as xl
from execlab._oms.journal import Journal

from helpers.paths import SHARED_DATA

pytestmark = pytest.mark.shared_data

DATA = SHARED_DATA / "us_equity_minute_lean.parquet"
SYMBOLS = ("AIG", "BAC", "IBM", "SPY")
FIRST = pd.Timestamp("2013-10-10 14:00", tz="UTC")
SECOND = pd.Timestamp("2013-10-11 14:00", tz="UTC")
TARGETS = pd.DataFrame({"SPY": [50_000.0, 20_000.0], "IBM": [20_000.0, 20_000.0], "AIG": [60_000.0, 60_000.0],
                        "BAC": [200_000.0, 500_000.0]}, index=[FIRST, SECOND])
COLUMNS = ["client_order_id", "timestamp", "symbol", "side", "quantity", "order_type", "limit_price", "status",
           "filled_quantity", "avg_fill_price", "parent_id", "algo"]
ALGOS: dict[str, dict[str, Any]] = {
    "twap": {"algo": "twap", "slices": 10},
    "vwap": {"algo": "vwap", "slices": 10},
    "pov": {"algo": "pov", "participation": 0.05},
    "iceberg": {"algo": "iceberg", "display_size": 5_000, "limit_bps": 20},
}


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """Regular-hours minute bars of the four symbols (trades joined with the close of the quote bars)."""
    if not DATA.is_file():
        pytest.skip(f"{DATA} is absent")
    rows = pd.read_parquet(DATA)
    rows = rows[rows["symbol"].isin(SYMBOLS) & (rows["ts"] < pd.Timestamp("2013-10-12", tz="UTC"))]
    local = rows["ts"].dt.tz_convert("America/New_York").dt.time
    rows = rows[(local >= pd.Timestamp("09:30").time()) & (local < pd.Timestamp("16:00").time())]
    return rows[["ts", "symbol", "open", "high", "low", "close", "volume", "bid_close", "ask_close"]].reset_index(
        drop=True)


def config(mode: str, execution: dict[str, Any]) -> xl.Config:
    return xl.load_config({"mode": mode, "initial_cash": 18_500_000, "venue": {
        "fill_price": "next_open", "slippage": {"model": "half_spread"}},
        "execution": {"horizon": "30min", **execution}})


@pytest.fixture(scope="module", params=list(ALGOS))
def runs(request: pytest.FixtureRequest, bars: pd.DataFrame) -> tuple[str, Any, Any]:
    name = request.param
    backtest = xl.run_backtest(TARGETS, bars, config("backtest", ALGOS[name]))
    paper = xl.run_paper(TARGETS, bars, config("paper", ALGOS[name]), journal=Journal(":memory:"))
    return name, backtest, paper


def test_the_child_order_table_is_the_same_in_backtest_and_paper(runs: tuple[str, Any, Any]) -> None:
    name, backtest, paper = runs
    b, p = backtest.orders[COLUMNS].reset_index(drop=True), paper.orders[COLUMNS].reset_index(drop=True)
    assert len(b) > 8 and (b["algo"] == name).all()
    pd.testing.assert_frame_equal(b, p)
    pd.testing.assert_frame_equal(backtest.parents, paper.parents)


def test_parents_are_worked_to_the_end_and_cash_never_goes_negative(runs: tuple[str, Any, Any]) -> None:
    _, backtest, _ = runs
    parents = backtest.parents
    assert len(parents) == 6  # four buys, then a sell (SPY) and a buy (BAC)
    orders = backtest.orders
    for _, parent in parents.iterrows():
        kids = orders[orders["parent_id"] == parent["parent_id"]]
        assert kids["filled_quantity"].sum() == pytest.approx(parent["quantity"])  # at_end: sweep
        late = kids[kids["timestamp"] > parent["end"]]  # only a sweep the limit guard held back comes late
        assert late.empty or (late["limit_price"].notna().all() and len(late) == 1)
        assert kids["timestamp"].iloc[0] == parent["start"]
    assert backtest.cash.min() >= 0
    assert backtest.final_positions.to_dict() == TARGETS.iloc[-1].to_dict()


def test_the_second_rebalance_sells_before_it_buys(runs: tuple[str, Any, Any]) -> None:
    _, backtest, _ = runs
    orders = backtest.orders
    second = orders[orders["timestamp"] >= SECOND]
    first_sell = second.index[second["side"] == "sell"][0]
    first_buy = second.index[second["side"] == "buy"][0]
    assert first_sell < first_buy


def test_pov_children_stay_within_the_participation_cap(bars: pd.DataFrame) -> None:
    result = xl.run_backtest(TARGETS, bars, config("backtest", ALGOS["pov"]))
    volume = bars.pivot_table(index="ts", columns="symbol", values="volume", aggfunc="sum").fillna(0.0)
    orders = result.orders
    for pid, kids in orders.groupby("parent_id"):
        sent = kids[kids["order_type"] == "market"]
        prev = None
        for _, child in sent.iterrows():
            start = result.parents.set_index("parent_id").loc[pid, "start"]
            window = volume[child["symbol"]]
            lo = start if prev is None else prev
            traded = window[(window.index > lo) | ((window.index == lo) & (prev is None))]
            traded = traded[traded.index <= child["timestamp"]].sum()
            end = result.parents.set_index("parent_id").loc[pid, "end"]
            if child["timestamp"] < end:  # the sweep at the end is not capped
                assert child["quantity"] <= 0.05 * traded + 1e-9
            prev = child["timestamp"]
    assert (orders.groupby("parent_id").size() > 1).any()  # the cap binds on this basket


def test_algo_none_keeps_one_order_per_symbol(bars: pd.DataFrame) -> None:
    result = xl.run_backtest(TARGETS, bars, config("backtest", {"algo": "none"}))
    assert "parent_id" not in result.orders.columns and result.parents.empty
    assert len(result.orders) == 6
    assert np.isfinite(result.final_value)
