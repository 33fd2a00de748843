"""Price feeds: bars and quotes replayed from tables (paced on an injected clock), a live queue fed by a thread, and
clear errors for bad feeds."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import polars as pl
import pytest

import execlab as xl
from execlab._data.feeds import FeedError, FeedEvent, PriceFeed, QueueFeed, ReplayFeed


def _bars() -> pd.DataFrame:
    """Two symbols, three days; BBB has no bar on the second day and no open on the third."""
    return pd.DataFrame({
        "date": pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-04"]),
        "symbol": ["AAA", "BBB", "AAA", "AAA", "BBB"],
        "open": [10.0, 20.0, 10.5, 11.0, np.nan],
        "high": [10.8, 20.5, 10.9, 11.2, 21.5],
        "low": [9.9, 19.5, 10.1, 10.7, 20.5],
        "close": [10.4, 20.1, 10.6, 11.1, 21.0],
        "volume": [1000.0, 500.0, np.nan, 1200.0, 800.0],
    })


class FakeClock:
    """A clock that only moves when ``sleep`` is called."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# -- replayed bars --------------------------------------------------------------------------------------------
def test_from_bars_groups_rows_into_events_in_time_order() -> None:
    shuffled = _bars().iloc[[4, 2, 0, 3, 1]]
    feed = ReplayFeed.from_bars(shuffled)
    assert isinstance(feed, PriceFeed)
    assert feed.symbols == ("AAA", "BBB")
    assert len(feed) == 3
    events = list(feed)
    assert [e.timestamp for e in events] == list(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]))
    assert [e.symbols for e in events] == [("AAA", "BBB"), ("AAA",), ("AAA", "BBB")]
    first, second, third = events
    assert first.is_bar and first.bid is None and first.ask is None
    np.testing.assert_array_equal(first.close, [10.4, 20.1])
    np.testing.assert_array_equal(first.open, [10.0, 20.0])
    np.testing.assert_array_equal(second.volume, [0.0])  # a missing volume traded nothing
    assert third.open is not None
    np.testing.assert_array_equal(third.open, [11.0, 21.0])  # a missing open falls back to the close


def test_from_bars_without_volume_is_unlimited_and_accepts_polars_and_market_data() -> None:
    bars = _bars().drop(columns="volume")
    events = list(ReplayFeed.from_bars(pl.from_pandas(bars)))
    assert all(np.isinf(e.volume).all() for e in events)
    from_market = list(ReplayFeed.from_bars(xl.MarketData.from_bars(_bars())))
    from_table = list(ReplayFeed.from_bars(_bars()))
    assert len(from_market) == len(from_table)
    for a, b in zip(from_market, from_table, strict=True):
        assert a.timestamp == b.timestamp and a.symbols == b.symbols
        for name in ("open", "high", "low", "close", "volume"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_from_bars_with_quote_columns_and_quote_only_rows() -> None:
    bars = pd.DataFrame({
        "ts": pd.to_datetime(["2024-01-02 14:30", "2024-01-02 14:30", "2024-01-02 14:31"], utc=True),
        "symbol": ["AAA", "BBB", "AAA"],
        "close": [10.0, np.nan, 10.1],  # BBB printed a quote but no trade
        "volume": [100.0, np.nan, 50.0],
        "bid_close": [9.99, 19.9, np.nan],  # the second AAA row printed a trade but no quote
        "ask_close": [10.01, 20.1, np.nan],
    })
    first, second = ReplayFeed.from_bars(bars)
    assert first.timestamp == pd.Timestamp("2024-01-02 14:30", tz="UTC")
    assert first.bid is not None and first.ask is not None
    np.testing.assert_array_equal(first.bid, [9.99, 19.9])
    np.testing.assert_array_equal(first.volume, [100.0, 0.0])
    assert np.isnan(first.close[1])
    assert second.bid is not None and np.isnan(second.bid[0])


def test_from_quotes() -> None:
    quotes = pd.DataFrame({
        "timestamp": [pd.Timestamp("2024-01-02 14:30:00.5"), pd.Timestamp("2024-01-02 14:30:01")],
        "symbol": ["AAA", "AAA"],
        "bid": [9.99, 10.0],
        "ask": [10.01, np.nan],
        "last": [10.0, np.nan],
    })
    first, second = ReplayFeed.from_quotes(quotes)
    assert not first.is_bar and first.open is None
    np.testing.assert_array_equal(first.close, [10.0])  # the last trade
    assert np.isinf(first.volume).all()
    assert second.ask is not None and np.isnan(second.ask[0])


# -- pacing ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("speed", "expected"), [(None, []), (1.0, [86_400.0, 86_400.0]), (60.0, [1440.0, 1440.0])])
def test_replay_pacing_on_an_injected_clock(speed: float | None, expected: list[float]) -> None:
    clock = FakeClock()
    feed = ReplayFeed.from_bars(_bars(), speed=speed, clock=clock, sleep=clock.sleep)
    seen = []
    for event in feed:
        seen.append((event.timestamp, clock.now))
    assert clock.sleeps == pytest.approx(expected)
    if speed is not None:
        # each event is released (t - t0) / speed seconds after the replay started
        start = seen[0][1]
        for ts, at in seen:
            assert at - start == pytest.approx((ts - seen[0][0]).total_seconds() / speed)


def test_replay_pacing_does_not_sleep_when_the_consumer_is_late() -> None:
    clock = FakeClock()
    feed = ReplayFeed.from_bars(_bars()).paced(86_400.0, clock=clock, sleep=clock.sleep)
    for _event in feed:
        clock.now += 5.0  # the consumer takes 5 s per event, more than the 1 s the pace allows
    assert clock.sleeps == []


@pytest.mark.parametrize("speed", [0.0, -1.0, float("inf"), float("nan")])
def test_replay_speed_must_be_positive(speed: float) -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplayFeed.from_bars(_bars(), speed=speed)


# -- bad tables -----------------------------------------------------------------------------------------------
def _bad(**changes: object) -> pd.DataFrame:
    bars = _bars()
    for key, value in changes.items():
        column, row = key.rsplit("_", 1)
        bars.loc[int(row), column] = value
    return bars


@pytest.mark.parametrize(("bars", "message"), [
    (_bars().drop(columns="close"), r"missing columns \['close'\]"),
    (_bars().drop(columns="date"), r"missing columns \['timestamp'\]"),
    (_bad(close_2=-1.0), r"close price -1.0 at row 2 \(symbol 'AAA' at 2024-01-03.*must be positive and finite"),
    (_bad(high_4=np.inf), r"high price inf at row 4 \(symbol 'BBB' at 2024-01-04"),
    (_bad(volume_1=-5.0), r"negative volume -5.0 at row 1 \(symbol 'BBB'"),
    (_bad(symbol_3="AAA", date_3=pd.Timestamp("2024-01-03")), r"duplicate rows 2 and 3 for symbol 'AAA' at 2024-01-03"),
    (_bad(close_1=np.nan), r"row 1 \(symbol 'BBB' at 2024-01-02.*has no price \(close is missing\)"),
    (_bars().iloc[:0], "no rows"),
])
def test_bad_bars_name_the_row(bars: pd.DataFrame, message: str) -> None:
    with pytest.raises(FeedError, match=message):
        ReplayFeed.from_bars(bars)


def test_bad_table_values() -> None:
    bars = _bars().astype({"close": object, "date": object, "symbol": object})
    bars.loc[2, "close"] = "ten"
    with pytest.raises(FeedError, match=r"close 'ten' at row 2 \(symbol 'AAA'.*is not a number"):
        ReplayFeed.from_bars(bars)
    bars = _bars().astype({"date": object})
    bars.loc[3, "date"] = "not a date"
    with pytest.raises(FeedError, match="row 3 has a missing or unreadable time 'not a date'"):
        ReplayFeed.from_bars(bars)
    bars = _bars().astype({"symbol": object})
    bars.loc[4, "symbol"] = None
    with pytest.raises(FeedError, match=r"row 4 at 2024-01-04.* has no symbol"):
        ReplayFeed.from_bars(bars)
    with pytest.raises(FeedError, match="pandas or polars DataFrame, got list"):
        ReplayFeed.from_bars([1, 2, 3])
    # FeedError is a BarsError: the command line reports it as bad input
    assert issubclass(FeedError, xl.BarsError)


def test_crossed_quote_is_refused() -> None:
    quotes = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-02 14:30"] * 2), "symbol": ["AAA", "BBB"],
                           "bid": [9.99, 20.2], "ask": [10.01, 20.1]})
    with pytest.raises(FeedError, match=r"crossed quote at row 1 \(symbol 'BBB'.*bid 20.2 is above ask 20.1"):
        ReplayFeed.from_quotes(quotes)


# -- events ---------------------------------------------------------------------------------------------------
def test_event_constructors_check_their_input() -> None:
    event = FeedEvent.quotes("2024-01-02 14:30", ["AAA"], 9.99, 10.01)
    assert event.timestamp == pd.Timestamp("2024-01-02 14:30") and len(event) == 1
    bar = FeedEvent.bars("2024-01-02", ["AAA", "BBB"], [10.0, 20.0], volume=[5.0, np.nan])
    np.testing.assert_array_equal(bar.volume, [5.0, 0.0])
    assert bar.open is not None
    np.testing.assert_array_equal(bar.open, bar.close)
    with pytest.raises(FeedError, match="has 3 values for 2 symbols"):
        FeedEvent.bars("2024-01-02", ["AAA", "BBB"], [1.0, 2.0, 3.0])
    with pytest.raises(FeedError, match="symbol 'AAA' appears twice"):
        FeedEvent.quotes("2024-01-02", ["AAA", "AAA"], [1.0, 1.0], [1.1, 1.1])
    with pytest.raises(FeedError, match="not a time"):
        FeedEvent.quotes("yesterday-ish", ["AAA"], 1.0, 1.1)
    with pytest.raises(FeedError, match="no timestamp"):
        FeedEvent.quotes(pd.NaT, ["AAA"], 1.0, 1.1)
    with pytest.raises(FeedError, match=r"bid price 0.0 for symbol 'AAA' at 2024-01-02 00:00:00 must be positive"):
        FeedEvent.quotes("2024-01-02", ["AAA"], 0.0, 1.1)
    with pytest.raises(FeedError, match="crossed quote for symbol 'AAA'"):
        FeedEvent.quotes("2024-01-02", ["AAA"], 1.2, 1.1)
    with pytest.raises(FeedError, match="symbol 'AAA' at 2024-01-02 00:00:00 has no price"):
        FeedEvent.quotes("2024-01-02", ["AAA"], np.nan, np.nan)
    with pytest.raises(FeedError, match="negative volume"):
        FeedEvent.bars("2024-01-02", ["AAA"], 1.0, volume=-1.0)


def test_replay_refuses_events_out_of_order() -> None:
    later = FeedEvent.quotes("2024-01-02 14:31", ["AAA"], 1.0, 1.1)
    earlier = FeedEvent.quotes("2024-01-02 14:30", ["AAA"], 1.0, 1.1)
    with pytest.raises(FeedError, match="time went backwards"):
        ReplayFeed([later, earlier])


# -- live -----------------------------------------------------------------------------------------------------
def test_queue_feed_from_a_thread() -> None:
    feed = QueueFeed(["AAA", "BBB"], timeout=30.0)
    times = pd.date_range("2024-01-02 14:30", periods=50, freq="s", tz="UTC")

    def produce() -> None:
        for k, ts in enumerate(times):
            feed.push_quotes({"AAA": (10.0 + k / 100, 10.02 + k / 100)}, timestamp=ts, volume={"AAA": 100.0})
        feed.close()

    thread = threading.Thread(target=produce)
    thread.start()
    events = list(feed)
    thread.join()
    assert [e.timestamp for e in events] == list(times)
    assert events[7].bid is not None and events[7].bid[0] == pytest.approx(10.07)
    assert feed.closed


def test_queue_feed_producer_errors_reach_the_consumer() -> None:
    feed = QueueFeed()
    feed.push_quotes({"AAA": (1.0, 1.1)}, timestamp="2024-01-02 14:30")
    feed.close(RuntimeError("socket closed"))
    seen = []
    with pytest.raises(FeedError, match="the producer failed: socket closed"):
        for event in feed:
            seen.append(event)
    assert len(seen) == 1


def test_queue_feed_rejects_bad_pushes_in_the_pushing_thread() -> None:
    feed = QueueFeed(["AAA"])
    feed.push_quotes({"AAA": (1.0, 1.1)}, timestamp="2024-01-02 14:30")
    with pytest.raises(FeedError, match="time went backwards"):
        feed.push_quotes({"AAA": (1.0, 1.1)}, timestamp="2024-01-02 14:29")
    with pytest.raises(FeedError, match=r"symbols \['ZZZ'\].*not in the feed's symbols"):
        feed.push_quotes({"ZZZ": (1.0, 1.1)}, timestamp="2024-01-02 14:31")
    with pytest.raises(FeedError, match="mixes time-zone-aware and naive"):
        feed.push_quotes({"AAA": (1.0, 1.1)}, timestamp=pd.Timestamp("2024-01-02 14:32", tz="UTC"))
    feed.close()
    with pytest.raises(FeedError, match="push after close"):
        feed.push_quotes({"AAA": (1.0, 1.1)}, timestamp="2024-01-02 14:33")
    assert len(list(feed)) == 1  # only the good push was queued


def test_queue_feed_timeout_when_the_producer_is_silent() -> None:
    feed = QueueFeed(timeout=0.01)
    with pytest.raises(FeedError, match=r"no event for 0\.01 s"):
        next(iter(feed))
