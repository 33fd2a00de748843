"""Every child of an execution algorithm passes the run's risk engine in every mode: on the real minute bars (SPY,
IBM, AIG, BAC), a TWAP rebalance with a risk limit gives the same child table — the same children denied, with the
same reason — in the backtest and through alpaca-py at the local Alpaca venue on its clock; ``risk.max_adv_pct``
gives children the parent symbol's ADV (the mean volume of the 20 minute bars before the child, as an ordinary order
on these bars gets), and the kill switch stops a schedule at the next tick, saying what was left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from brokers.algo_replay import (
    KEY,
    MINUTES,
    SECRET,
    SYMBOLS,
    _schedule,
    events_of,
    journaled_orders,
    run_schedule,
    start_venue,
)

import execlab as xl
from execlab._brokers.kill_switch import halt_trading
from execlab._core.ids import rebalance_key
from execlab._oms.journal import Journal
from execlab._runs.live import TradingHaltedError
from execlab._runs.minute_market import MinuteMarket

pytestmark = [pytest.mark.local_venue, pytest.mark.shared_data,
              pytest.mark.skipif(not MINUTES.exists(), reason="../shared/data is absent")]

START = pd.Timestamp("2013-10-10 14:00", tz="UTC")
TARGETS = {"SPY": 3_000.0, "IBM": 1_000.0, "AIG": 4_000.0, "BAC": 20_000.0}
CASH = 2_000_000.0
VENUE = {"fill_price": "next_open", "slippage": {"model": "half_spread"}}
EXECUTION = {"algo": "twap", "horizon": "8min", "slices": 4}
COLUMNS = ["client_order_id", "timestamp", "parent_id", "symbol", "side", "quantity", "order_type", "limit_price",
           "algo", "status", "reason", "filled_quantity", "avg_fill_price"]
RUN_ID = "child-risk"


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    """The four symbols' minute bars from 13:30 (the ADV window before the start) to 14:12."""
    rows = pd.read_parquet(MINUTES)
    rows = rows[rows["symbol"].isin(SYMBOLS) & (rows["ts"] >= START - pd.Timedelta("30min"))
                & (rows["ts"] < START + pd.Timedelta("12min"))]
    return rows[["ts", "symbol", "open", "high", "low", "close", "volume", "bid_close", "ask_close"]].reset_index(
        drop=True)


def _config(mode: str, risk: dict[str, Any], **more: Any) -> xl.Config:
    return xl.Config.from_mapping({"mode": mode, "run_id": RUN_ID, "initial_cash": CASH, "venue": VENUE,
                                   "execution": EXECUTION, "risk": risk, **more})


def _table(orders: pd.DataFrame) -> pd.DataFrame:
    """Every order of the run: the children, and the parents the risk engine denied (booked, never worked)."""
    return orders[COLUMNS].sort_values(["timestamp", "parent_id", "client_order_id"]).reset_index(drop=True)


def _broker(bars: pd.DataFrame, risk: dict[str, Any], folder: Path) -> pd.DataFrame:
    events = events_of(bars[bars["ts"] >= START])
    with start_venue(VENUE, cash=CASH) as venue:
        config = _config("paper", risk, broker={"name": "alpaca", "api_key": KEY, "api_secret": SECRET,
                                                "base_url": venue.base_url})
        run = run_schedule(venue, config, folder / "journal.sqlite", TARGETS, events, MinuteMarket(bars), 0,
                           as_of=rebalance_key(START))
    assert set(run.attempts.values()) == {1}
    orders = journaled_orders(folder / "journal.sqlite", RUN_ID)
    return _table(orders)


@pytest.mark.parametrize("risk", [{"max_daily_orders": 10}, {"max_adv_pct": 10.0}, {"max_order_value": 300_000}],
                         ids=["daily-orders", "adv", "order-value"])
def test_the_backtest_and_the_broker_deny_the_same_children(bars: pd.DataFrame, tmp_path: Path,
                                                            risk: dict[str, Any]) -> None:
    backtest = _table(xl.run_backtest(pd.DataFrame(TARGETS, index=[START]), bars, _config("backtest", risk)).orders)
    broker = _broker(bars, risk, tmp_path)
    children = backtest[backtest["parent_id"].notna()]
    assert len(children) > len(TARGETS) and (children["algo"] == "twap").all()
    if "max_daily_orders" in risk:  # the first ten children pass, every later one is denied
        assert (backtest["status"] != "denied").sum() == 10
        assert (backtest.loc[backtest["status"] == "denied", "reason"] == "max_daily_orders").all()
        assert (backtest["status"] == "denied").sum() >= 4
    elif "max_adv_pct" in risk:  # each child is checked against its symbol's ADV (before: invalid_input for each)
        assert (backtest["reason"] == "").all() and (backtest["filled_quantity"] > 0).all()
    else:  # the SPY parent (3000 × ~$168) is denied and never worked; every other child passes
        denied = backtest[backtest["status"] == "denied"]
        assert list(denied["symbol"]) == ["SPY"] and denied["parent_id"].isna().all()
        assert list(denied["reason"]) == ["max_order_value"]
        assert "SPY" not in set(backtest.loc[backtest["parent_id"].notna(), "symbol"])
    pd.testing.assert_frame_equal(broker, backtest, check_dtype=False)


def test_the_kill_switch_stops_a_schedule_at_the_next_tick(bars: pd.DataFrame, tmp_path: Path) -> None:
    events = events_of(bars[bars["ts"] >= START])
    market = MinuteMarket(bars)
    journal = Journal(tmp_path / "journal.sqlite")
    with start_venue(VENUE, cash=CASH) as venue:
        config = _config("paper", {}, broker={"name": "alpaca", "api_key": KEY, "api_secret": SECRET,
                                              "base_url": venue.base_url})
        venue.step_bars(events[0])  # the venue lists the symbols once their first bar printed
        schedule, executor = _schedule(config, venue, journal, TARGETS, market, rebalance_key(START), START)
        for k, event in enumerate(events[:3]):
            if k:
                venue.step_bars(event)
            assert not schedule.tick(event.timestamp).finished
        sent = dict(venue.stats()["order_attempts"])
        halt_trading(journal, RUN_ID, "operator")
        venue.step_bars(events[3])
        with pytest.raises(TradingHaltedError, match=r"kill switch \(operator.*left: .*buy \d+ SPY of 3000"):
            schedule.tick(events[3].timestamp)
        assert dict(venue.stats()["order_attempts"]) == sent  # nothing sent after the halt
        assert 0 < len(sent) < 4 * EXECUTION["slices"]  # type: ignore[operator]
        executor.close()
    journal.close()


def test_a_new_schedule_cancels_what_an_earlier_rebalance_left_working(bars: pd.DataFrame, tmp_path: Path) -> None:
    events = events_of(bars[bars["ts"] >= START])
    market = MinuteMarket(bars)
    with start_venue(VENUE, cash=CASH) as venue:
        config = _config("paper", {}, broker={"name": "alpaca", "api_key": KEY, "api_secret": SECRET,
                                              "base_url": venue.base_url})
        first = run_schedule(venue, config, tmp_path / "journal.sqlite", TARGETS, events, market, 0, as_of="first",
                             stop_after=1)  # its four children wait for the next bar
        journal = Journal(tmp_path / "journal.sqlite")
        assert set(journal.orders(RUN_ID, "first")["status"]) == {"submitted"}
        schedule, executor = _schedule(config, venue, journal, TARGETS, market, "second", START)
        executor.close()
        left = journal.orders(RUN_ID, "first")
        assert len(left) == len(first.children) == len(TARGETS)
        assert set(left["status"]) == {"cancelled"}
        assert {p.symbol: p.quantity for p in schedule.parents} == TARGETS  # nothing of the first filled
        journal.close()


def test_supersede_is_refused_for_an_algorithm_naming_the_option(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from execlab._cli.main import app

    (tmp_path / "config.yaml").write_text("mode: paper\nexecution: {algo: twap}\nbroker: {name: alpaca}\n")
    (tmp_path / "targets.csv").write_text("symbol,value\nSPY,10\n")
    (tmp_path / "prices.csv").write_text("symbol,value\nSPY,100\n")
    run = CliRunner().invoke(app, ["rebalance", "--config", str(tmp_path / "config.yaml"), "--targets",
                                   str(tmp_path / "targets.csv"), "--prices", str(tmp_path / "prices.csv"),
                                   "--journal", str(tmp_path / "journal.sqlite"), "--as-of", "2013-10-10",
                                   "--supersede"])
    assert run.exit_code != 0
    assert "--supersede" in run.output and "execution.algo" in run.output
    assert not (tmp_path / "journal.sqlite").exists()


def test_children_on_the_next_day_count_toward_that_days_orders() -> None:
    rows = pd.read_parquet(MINUTES)
    start = pd.Timestamp("2013-10-10 19:50", tz="UTC")
    rows = rows[rows["symbol"].isin(SYMBOLS) & (rows["ts"] >= start - pd.Timedelta("30min"))
                & (rows["ts"] < pd.Timestamp("2013-10-11 14:00", tz="UTC"))]
    local = rows["ts"].dt.tz_convert("America/New_York").dt.time
    rows = rows[(local >= pd.Timestamp("09:30").time()) & (local < pd.Timestamp("16:00").time())]
    config = xl.Config.from_mapping({"mode": "backtest", "initial_cash": CASH, "venue": VENUE,
                                     "execution": {"algo": "twap", "horizon": "18h", "slices": 2},
                                     "risk": {"max_daily_orders": 4}})
    orders = xl.run_backtest(pd.DataFrame(TARGETS, index=[start]), rows, config).orders
    days = orders["timestamp"].dt.date
    first, second = orders[days == start.date()], orders[days > start.date()]
    assert len(first) == len(second) == len(TARGETS) and (first["status"] == "filled").all()
    assert (second["status"] == "filled").all()  # a new day's count starts at 0
