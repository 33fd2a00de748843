"""Paper trading on the local simulated venue: the same targets give the backtest's order table, the executor's clock
moves with the feed (hand-made bars, hand-computed prices), a live feed from a thread, journaling, and the
executor factory."""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import numpy as np
import pandas as pd
import pytest

import execlab as xl
from execlab import PaperExecutor, PaperResult, compare_orders, run_paper
from execlab._brokers.executor import BrokerExecutor
from execlab._core.codes import CANCELLED, DAY, FILLED, LIMIT, PARTIALLY_FILLED, VenueReason
from execlab._data.feeds import FeedError, FeedEvent, QueueFeed, ReplayFeed
from execlab._execution.backtest_executor import BacktestExecutor
from execlab._execution.factory import make_executor
from execlab._oms.journal import Journal
from execlab.strategies import momentum_targets

from helpers.orders import order_batch
from helpers.paths import EXAMPLES

PAPER_CONFIG = EXAMPLES / "paper.yaml"
COMPARED = ["client_order_id", "timestamp", "symbol", "side", "quantity", "order_type", "time_in_force",
            "limit_price", "status", "filled_quantity", "avg_fill_price", "fees", "reason"]


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    sample = xl.sample_bars()
    return sample[sample["timestamp"] >= "2008-01-01"].reset_index(drop=True)


@pytest.fixture(scope="module")
def targets(bars: pd.DataFrame) -> pd.DataFrame:
    return momentum_targets(bars)


@pytest.fixture(scope="module")
def feed(bars: pd.DataFrame) -> ReplayFeed:
    return ReplayFeed.from_bars(bars)


def _config(mode: str, **sections: Any) -> xl.Config:
    data: dict[str, Any] = {"mode": mode, "run_id": "parity", "initial_cash": 1_000_000,
                            "plan": {"target_unit": "weight", "cash_buffer": 0.02, "no_trade_band": 0.001}}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value}
    return xl.Config.from_mapping(data)


def _both(targets: pd.DataFrame, bars: Any, feed: Any, **sections: Any) -> tuple[xl.BacktestResult, PaperResult]:
    backtest = xl.run_backtest(targets, bars, _config("backtest", **sections))
    paper = run_paper(targets, feed, _config("paper", **sections))
    return backtest, paper


def _assert_same_run(backtest: xl.BacktestResult, paper: PaperResult) -> None:
    pd.testing.assert_frame_equal(backtest.orders[COMPARED], paper.orders[COMPARED], check_exact=False, rtol=1e-12)
    assert compare_orders(backtest.orders, paper.orders).empty
    pd.testing.assert_frame_equal(backtest.fills, paper.fills, check_exact=False, rtol=1e-12)
    pd.testing.assert_series_equal(backtest.equity, paper.equity, check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(backtest.positions, paper.positions)
    assert backtest.summary() == pytest.approx(paper.summary(), rel=1e-12, nan_ok=True)


# -- (a) the same targets give the same order table ----------------------------------------------------------
PARITY = {
    "next_open, fixed bps, bps fees": {"venue": {"fill_price": "next_open",
                                                 "slippage": {"model": "fixed_bps", "bps": 5},
                                                 "fees": {"model": "bps", "bps": 1}}},
    "close, per-share fees": {"venue": {"fill_price": "close", "fees": {"model": "per_share"}}},
    "vwap, participation cap carried over bars": {"venue": {"fill_price": "vwap", "participation_cap": 0.0002,
                                                            "slippage": {"model": "fixed_bps", "bps": 2}}},
    "close, cap and two bars of latency": {"venue": {"fill_price": "close", "participation_cap": 0.0005,
                                                     "latency_bars": 2}},
    "day limit orders, maker/taker": {"plan": {"order_type": "limit", "limit_offset_bps": 20, "time_in_force": "day"},
                                      "venue": {"fill_price": "next_open",
                                                "fees": {"model": "maker_taker", "maker_bps": -1, "taker_bps": 3}}},
    "gtc limits kept across rebalances": {"plan": {"order_type": "limit", "cancel_open_orders": False},
                                          "venue": {"fill_price": "close"}},
    "opening auction": {"plan": {"time_in_force": "opg"}, "venue": {"fill_price": "close"}},
    "closing auction": {"plan": {"time_in_force": "cls"}, "venue": {"fill_price": "next_open"}},
    "ioc with a cap": {"plan": {"time_in_force": "ioc"}, "venue": {"fill_price": "next_open",
                                                                   "participation_cap": 0.0002}},
    "fok with a cap": {"plan": {"time_in_force": "fok"}, "venue": {"fill_price": "next_open",
                                                                   "participation_cap": 0.0005}},
    "risk limits deny orders": {"risk": {"max_adv_pct": 0.0001, "max_order_value": 300_000, "max_daily_orders": 2},
                                "venue": {"fill_price": "next_open"}},
}


@pytest.mark.parametrize("sections", list(PARITY.values()), ids=list(PARITY))
def test_backtest_and_paper_give_the_same_orders(targets: pd.DataFrame, bars: pd.DataFrame, feed: ReplayFeed,
                                                 sections: dict[str, Any]) -> None:
    backtest, paper = _both(targets, bars, feed, **sections)
    assert len(backtest.orders) > 100
    _assert_same_run(backtest, paper)
    statuses = set(paper.orders["status"])
    reasons = set(paper.orders["reason"])
    tif = sections.get("plan", {}).get("time_in_force")
    if "participation_cap" in sections["venue"] and tif not in ("ioc", "fok"):
        assert paper.fills["client_order_id"].duplicated().any()  # orders did fill over several bars
    if tif == "day":
        assert "expired" in statuses
    if tif in ("ioc", "fok"):
        assert f"{tif}_{'remainder' if tif == 'ioc' else 'not_fillable'}" in reasons
    if "risk" in sections:
        assert "denied" in statuses


def test_short_book_on_margin_gives_the_same_orders(targets: pd.DataFrame, bars: pd.DataFrame,
                                                    feed: ReplayFeed) -> None:
    short = targets.copy()
    short["IBM"] = -0.3
    backtest, paper = _both(short, bars, feed, plan={"allow_short": True},
                            venue={"fill_price": "next_open", "margin": {"enabled": True, "max_leverage": 2}})
    assert (paper.positions["IBM"] < 0).any()
    _assert_same_run(backtest, paper)


@pytest.mark.slow
def test_demo_config_gives_the_same_orders_with_square_root_impact() -> None:
    """The demo's config (next open, square-root impact, per-share fees, 5% cap) on all the sample bars: σ and
    ADV come from the bars the feed has already delivered, which is what the backtest uses too."""
    sample = xl.sample_bars()
    config = xl.load_config(PAPER_CONFIG)
    assert (config.mode, config.broker.name) == ("paper", "sim")
    targets = momentum_targets(sample)
    backtest = xl.run_backtest(targets, sample, config.model_copy(update={"mode": "backtest"}))
    paper = run_paper(targets, sample, config)  # a table is replayed through a ReplayFeed
    assert backtest.summary()["slippage"] > 0
    _assert_same_run(backtest, paper)
    # on daily bars the decision, arrival and reference prices are the bar's close
    np.testing.assert_array_equal(paper.orders["arrival_price"], paper.orders["decision_price"])


def test_journaled_paper_run(targets: pd.DataFrame, bars: pd.DataFrame, feed: ReplayFeed) -> None:
    journal = Journal(":memory:")
    sections: dict[str, Any] = {"venue": {"fill_price": "next_open", "participation_cap": 0.0002}}
    paper = run_paper(targets, feed, _config("paper", **sections), journal=journal)
    backtest = xl.run_backtest(targets, bars, _config("backtest", **sections))
    orders = paper.orders
    assert orders["client_order_id"].tolist() == backtest.orders["client_order_id"].tolist()
    journaled = journal.orders("parity")
    assert journaled["client_order_id"].tolist() == orders["client_order_id"].tolist()
    assert journaled["status"].tolist() == orders["status"].tolist()
    np.testing.assert_allclose(journaled["filled_quantity"], orders["filled_quantity"])
    np.testing.assert_allclose(journaled["avg_fill_price"], orders["avg_fill_price"], rtol=1e-12)
    fills = journal.fills("parity")
    assert len(fills) == len(paper.fills)
    np.testing.assert_allclose(fills["fee"], paper.fills["fee"])
    assert fills["at"].iloc[0] == paper.fills["timestamp"].iloc[0].isoformat()
    states = journal.events("parity", "state")
    assert (states["status"] == "partially_filled").any()
    requests = journal.events("parity", "request")
    submits = requests[requests["payload"].str.contains('"submit"')]
    assert submits["client_order_id"].tolist() == orders["client_order_id"].tolist()
    arrival = [json.loads(p)["arrival_price"] for p in submits["payload"]]
    np.testing.assert_allclose(arrival, orders["arrival_price"])
    cancels = requests[requests["payload"].str.contains('"cancel"')]
    assert set(cancels["client_order_id"]) <= set(orders.loc[orders["status"] == "cancelled", "client_order_id"])


# -- the executor's clock, on hand-made bars ------------------------------------------------------------------
DAYS = pd.date_range("2024-01-02", periods=4, freq="B")
#            open   high   low    close   (one symbol, AAA, volume 1e6 a day)
OHLC = [(10.0, 10.8, 9.9, 10.4), (10.5, 10.9, 10.1, 10.6), (11.0, 11.2, 10.7, 11.1), (11.2, 11.5, 11.0, 11.4)]


def _bar(k: int, volume: float = 1e6) -> FeedEvent:
    o, h, lo, c = OHLC[k]
    return FeedEvent.bars(DAYS[k], ["AAA"], c, open=o, high=h, low=lo, volume=volume)


def _executor(**venue: Any) -> PaperExecutor:
    return PaperExecutor(["AAA"], xl.VenueConfig(**venue), 100_000.0, np.ones(1))


def test_next_open_fills_at_the_next_bar_open_with_slippage_and_fees() -> None:
    ex = _executor(fill_price="next_open", slippage={"model": "fixed_bps", "bps": 10}, fees={"model": "bps", "bps": 1})
    ex.on_event(_bar(0))
    ex.submit(order_batch({"oid": 0, "qty": 100}, {"oid": 1, "qty": 50, "type": LIMIT, "limit": 10.2}))
    fills, events = ex.poll()
    assert len(fills) == 0 and len(events) == 0  # nothing trades at the close the orders were sent at
    assert ex.arrival_price(0) == 10.4  # no quotes: the last close
    ex.on_event(_bar(1))
    fills, events = ex.poll()
    # market: open 10.5 × (1 + 10 bps) = 10.5105; fee 1 bp of 1,051.05 = 0.105105
    # limit 10.2: the open (10.5) is above it, the low (10.1) reaches it → 10.2, no slippage (maker)
    assert fills.oid.tolist() == [0, 1]
    assert fills.bar.tolist() == [1, 1]
    np.testing.assert_allclose(fills.price, [10.5105, 10.2])
    np.testing.assert_allclose(fills.reference_price, [10.5, 10.2])
    np.testing.assert_allclose(fills.fee, [0.105105, 0.051])
    assert fills.maker.tolist() == [False, True]
    assert events.status.tolist() == [FILLED, FILLED]
    assert ex.cash() == pytest.approx(100_000 - 1051.05 - 0.105105 - 510.0 - 0.051)
    np.testing.assert_array_equal(ex.positions(), [150.0])
    assert ex.equity() == pytest.approx(ex.cash() + 150 * 10.6)  # marked at the close
    snapshot = ex.account()
    assert snapshot.timestamp == DAYS[1].to_pydatetime() and snapshot.buying_power == pytest.approx(ex.cash())


def test_close_fills_at_the_same_close_and_a_cap_carries_the_rest() -> None:
    ex = _executor(fill_price="close", participation_cap=0.0001)  # 100 shares of a 1e6-share bar
    ex.on_event(_bar(0))
    ex.submit(order_batch({"oid": 0, "qty": 250}))
    fills, events = ex.poll()
    assert fills.price.tolist() == [10.4] and fills.quantity.tolist() == [100.0]
    assert events.status.tolist() == [PARTIALLY_FILLED]
    for k in (1, 2):
        ex.on_event(_bar(k))
    fills, events = ex.poll()
    assert fills.quantity.tolist() == [100.0, 50.0] and fills.price.tolist() == [10.6, 11.1]
    assert events.status.tolist() == [PARTIALLY_FILLED, FILLED]


def test_latency_holds_orders_back_and_cancelling_them_on_the_way() -> None:
    ex = _executor(fill_price="next_open", latency_bars=1)
    ex.on_event(_bar(0))
    ex.submit(order_batch({"oid": 0, "qty": 10}, {"oid": 1, "qty": 20}))
    ex.on_event(_bar(1))
    assert len(ex.poll()[0]) == 0  # next open plus one bar of latency: not yet
    assert ex.order_status(np.array([0, 1, 9])).status.tolist() == [1, 1, -1]
    ex.cancel(np.array([1]))
    fills, events = ex.poll()
    assert events.oid.tolist() == [1] and events.status.tolist() == [CANCELLED]
    assert events.reason.tolist() == [VenueReason.CANCELLED_BY_CLIENT]
    ex.on_event(_bar(2))
    fills, events = ex.poll()
    assert fills.oid.tolist() == [0] and fills.price.tolist() == [11.0]  # the open two bars later


def test_day_orders_live_through_the_session_they_reach() -> None:
    ex = _executor(fill_price="next_open")
    ex.on_event(_bar(0))
    ex.submit(order_batch({"oid": 0, "qty": 10, "type": LIMIT, "limit": 9.0, "tif": DAY}))
    ex.on_event(_bar(1))  # the order's session: not touched, still working
    assert len(ex.poll()[1]) == 0
    ex.on_event(_bar(2))
    _, events = ex.poll()
    assert events.status.tolist() == [6] and events.reason.tolist() == [VenueReason.DAY_EXPIRED]


def test_executor_refuses_orders_before_the_first_event_and_time_going_backwards() -> None:
    ex = _executor()
    with pytest.raises(RuntimeError, match="no market yet"):
        ex.submit(order_batch({"oid": 0, "qty": 1}))
    ex.on_event(_bar(1))
    with pytest.raises(FeedError, match="time went backwards"):
        ex.on_event(_bar(0))
    with pytest.raises(ValueError, match="unique"):
        PaperExecutor(["AAA", "AAA"])


# -- run_paper: when targets trade, and bad input -------------------------------------------------------------
def _daily_feed(symbols: tuple[str, ...] = ("AAA", "BBB")) -> ReplayFeed:
    rows = [{"timestamp": d, "symbol": s, "open": o * m, "high": h * m, "low": lo * m, "close": c * m, "volume": 1e6}
            for d, (o, h, lo, c) in zip(DAYS, OHLC, strict=True) for s in symbols for m in [2 if s == "BBB" else 1]]
    return ReplayFeed.from_bars(pd.DataFrame(rows))


def _shares(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").set_axis(pd.DatetimeIndex(list(rows)), axis=0)


def test_a_target_row_trades_at_the_first_event_at_or_after_its_time() -> None:
    cfg = xl.Config.from_mapping({"mode": "paper", "run_id": "r", "venue": {"fill_price": "close"}})
    targets = _shares({"2024-01-02 12:00": {"AAA": 10, "BBB": 0}, "2024-01-02 18:00": {"AAA": 20, "BBB": 5},
                       "2024-01-04": {"AAA": 30, "BBB": 5}})
    result = run_paper(targets, _daily_feed(), cfg)
    orders = result.orders
    # the 12:00 row is overtaken by the 18:00 row before the next event (2024-01-03): only the latter trades
    assert result.skipped_rebalances == [pd.Timestamp("2024-01-02 12:00")]
    assert orders["timestamp"].tolist() == [DAYS[1], DAYS[1], DAYS[2]]
    assert orders["symbol"].tolist() == ["BBB", "AAA", "AAA"]  # buys by ascending value
    assert orders["quantity"].tolist() == [5.0, 20.0, 10.0]
    expected = [xl.client_order_id("r", "2024-01-02T18:00:00", "BBB", 0),
                xl.client_order_id("r", "2024-01-02T18:00:00", "AAA", 0),
                xl.client_order_id("r", "2024-01-04T00:00:00", "AAA", 0)]
    assert orders["client_order_id"].tolist() == expected
    assert orders["avg_fill_price"].tolist() == [21.2, 10.6, 11.1]
    assert result.rebalance_bars.tolist() == [1, 2]
    assert result.final_positions.to_dict() == {"AAA": 30.0, "BBB": 5.0}
    assert "PaperResult(" in repr(result)


def test_run_paper_bad_input() -> None:
    paper = xl.Config.from_mapping({"mode": "paper"})
    targets = _shares({"2024-01-03": {"AAA": 10}})
    with pytest.raises(xl.ConfigError, match="mode: run_paper needs mode 'paper'"):
        run_paper(targets, _daily_feed(), xl.Config())
    alpaca = xl.Config.from_mapping({"mode": "paper", "broker": {"name": "alpaca"}})
    with pytest.raises(xl.ConfigError, match=r"broker\.name: run_paper trades on the local simulated venue"):
        run_paper(targets, _daily_feed(), alpaca)
    with pytest.raises(xl.TargetError, match=r"no prices in the feed for symbols \['ZZZ'\]"):
        run_paper(_shares({"2024-01-03": {"AAA": 10, "ZZZ": 1}}), _daily_feed(), paper)
    with pytest.raises(xl.TargetError, match="symbol 'AAA' at 2024-01-03 00:00:00 is not a finite number"):
        run_paper(_shares({"2024-01-03": {"AAA": math.nan}}), _daily_feed(), paper)
    with pytest.raises(xl.TargetError, match="negative target for symbol 'AAA'"):
        run_paper(_shares({"2024-01-03": {"AAA": -1}}), _daily_feed(), paper)
    with pytest.raises(xl.TargetError, match="rebalance times are naive but the feed's are in UTC"):
        run_paper(targets, ReplayFeed([FeedEvent.quotes(pd.Timestamp("2024-01-03", tz="UTC"), ["AAA"], 1.0, 1.1)]),
                  paper)
    silent = QueueFeed()
    silent.close()
    with pytest.raises(FeedError, match="no events arrived"):
        run_paper(targets, silent, paper)
    with pytest.raises(xl.BarsError, match="duplicate rows"):
        run_paper(targets, pd.DataFrame({"date": [DAYS[0]] * 2, "symbol": ["AAA"] * 2, "close": [1.0, 1.0]}), paper)


# -- (c) a live feed pushed from another thread ---------------------------------------------------------------
def test_live_queue_feed_from_a_thread() -> None:
    feed = QueueFeed(timeout=60.0)  # symbols not known in advance
    times = pd.date_range("2024-01-02 14:30", periods=10, freq="s", tz="UTC")

    def quote(k: int) -> dict[str, tuple[float, float]]:
        return {"AAA": (100.0 + k, 100.02 + k), "BBB": (50.0 - k, 50.01 - k)}

    def produce() -> None:
        for k, ts in enumerate(times):
            feed.push_quotes(quote(k), timestamp=ts)
        feed.close()

    cfg = xl.Config.from_mapping({"mode": "paper", "run_id": "live", "initial_cash": 100_000,
                                  "venue": {"fill_price": "quote", "fees": {"model": "bps", "bps": 10}}})
    targets = _shares({"2024-01-02 14:30:03": {"AAA": 100, "BBB": 200},
                       "2024-01-02 14:30:06.500": {"AAA": 40, "BBB": 200}}).tz_localize("UTC")
    producer = threading.Thread(target=produce)
    producer.start()
    result = run_paper(targets, feed, cfg)
    producer.join()
    orders = result.orders
    assert orders["status"].tolist() == ["filled"] * 3
    # 14:30:03 buys (the smaller first) at the asks of quote 3; 14:30:06.5 sells 60 AAA at the bid of quote 7, the
    # first at or after it; arrival prices are the mids when the orders were sent
    assert orders["symbol"].tolist() == ["BBB", "AAA", "AAA"]
    assert orders["avg_fill_price"].tolist() == [pytest.approx(47.01), pytest.approx(103.02), pytest.approx(107.0)]
    assert orders["arrival_price"].tolist() == [pytest.approx(47.005), pytest.approx(103.01), pytest.approx(107.01)]
    assert orders["timestamp"].tolist() == [times[3], times[3], times[7]]
    assert orders["client_order_id"].iloc[2] == xl.client_order_id("live", "2024-01-02T14:30:06.500000", "AAA", 0)
    fees = 0.001 * (100 * 103.02 + 200 * 47.01 + 60 * 107.0)
    assert result.cash.iloc[-1] == pytest.approx(100_000 - 100 * 103.02 - 200 * 47.01 + 60 * 107.0 - fees)
    assert len(result.equity) == 10


def test_live_feed_without_a_price_for_a_target() -> None:
    feed = QueueFeed()
    feed.push_quotes({"AAA": (1.0, 1.1)}, timestamp="2024-01-02 14:30")
    feed.close()
    with pytest.raises(xl.TargetError, match=r"symbol 'BBB' has a target .* but the feed has given no price"):
        run_paper(_shares({"2024-01-02 14:30": {"AAA": 1, "BBB": 1}}), feed, xl.Config(mode="paper"))


# -- choosing the executor from the config ------------------------------------------------------------------
def test_make_executor_follows_the_config(bars: pd.DataFrame) -> None:
    symbols = ("AAPL", "IBM")
    market = xl.MarketData.from_bars(bars)
    assert isinstance(make_executor(xl.Config(), symbols, market=market), BacktestExecutor)
    paper = make_executor(xl.Config(mode="paper"), symbols)
    assert isinstance(paper, PaperExecutor) and paper.symbols == symbols
    journal = Journal(":memory:")
    keys = {"api_key": "key-id", "api_secret": "not-for-the-journal", "base_url": "http://127.0.0.1:9"}
    broker = make_executor(xl.Config.from_mapping({"mode": "paper", "broker": {"name": "alpaca", **keys}}), symbols,
                           journal=journal)
    assert isinstance(broker, BrokerExecutor) and broker.symbols == symbols
    live = xl.Config.from_mapping({"mode": "live", "live": {"opt_in": xl.LIVE_OPT_IN_PHRASE},
                                   "broker": {"name": "alpaca", **keys, "base_url": "https://api.alpaca.markets"}})
    assert isinstance(make_executor(live, symbols, journal=journal), BrokerExecutor)
    journal.record("r", "alert", None, None, {"text": "not-for-the-journal"})
    assert "not-for-the-journal" not in journal.events("r")["payload"].iloc[0]
    with pytest.raises(ValueError, match="needs the bars"):
        make_executor(xl.Config(), symbols)
    with pytest.raises(ValueError, match="pass journal="):
        make_executor(xl.Config.from_mapping({"mode": "paper", "broker": {"name": "alpaca", **keys}}), symbols)
    with pytest.raises(xl.ConfigError, match=r"broker\.api_key"):
        make_executor(xl.Config.from_mapping({"mode": "paper", "broker": {"name": "alpaca"}}), symbols,
                      journal=journal)
    with pytest.raises(xl.ConfigError, match=r"'schwab' is not a registered broker \(registered: .*alpaca.*sim"):
        xl.Config.from_mapping({"mode": "paper", "broker": {"name": "schwab"}})  # at load, not at make_executor
    with pytest.raises(xl.ConfigError, match=r"live\.opt_in"):
        xl.Config.from_mapping({"mode": "live", "broker": {"name": "alpaca", **keys}})
