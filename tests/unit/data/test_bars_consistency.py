"""Bars that contradict themselves are refused before anything trades on them: bid > ask, high < low, open or close
outside [low, high], negative volume, prices that are not positive. The error names the symbol and the time and
counts the bars at fault; the bars table, the replayed feed and a single feed event all apply the same rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import execlab as xl
from execlab import BarsError, FeedError, FeedEvent, MarketData, ReplayFeed
from execlab._cli.main import app

T0, T1, T2 = pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-04")


def _bars(**change: Any) -> pd.DataFrame:
    """Three days of consistent bars for AAA and BBB; ``change={column: value}`` alters BBB on 2024-01-03."""
    rows = []
    for ts in (T0, T1, T2):
        for sym, px in (("AAA", 10.0), ("BBB", 20.0)):
            rows.append({"timestamp": ts, "symbol": sym, "open": px, "high": px * 1.02, "low": px * 0.98,
                         "close": px * 1.01, "volume": 1000.0, "bid": px * 1.005, "ask": px * 1.015})
    frame = pd.DataFrame(rows)
    at = (frame["timestamp"] == T1) & (frame["symbol"] == "BBB")
    for column, value in change.items():
        frame.loc[at, column] = value
    return frame


BAD = [
    ("crossed_quote", {"bid": 21.0, "ask": 20.5}, "bid above ask"),
    ("high_below_low", {"high": 19.0, "low": 19.5, "open": 19.2, "close": 19.2}, "high below low"),
    ("open_above_high", {"open": 21.0}, "open above high"),
    ("open_below_low", {"open": 19.0}, "open below low"),
    ("close_above_high", {"close": 21.0, "bid": 20.9, "ask": 21.1}, "close above high"),
    ("close_below_low", {"close": 19.0, "bid": 18.9, "ask": 19.1}, "close below low"),
    ("negative_volume", {"volume": -5.0}, "negative volume"),
    ("zero_close", {"close": 0.0}, "must be positive"),
    ("negative_open", {"open": -20.0}, "must be positive"),
]


@pytest.mark.parametrize(("name", "change", "expected"), BAD, ids=[b[0] for b in BAD])
def test_market_data_refuses_inconsistent_bars(name: str, change: dict[str, float], expected: str) -> None:
    with pytest.raises(BarsError) as info:
        MarketData.from_bars(_bars(**change))
    message = str(info.value)
    assert expected in message and "'BBB'" in message and "2024-01-03" in message, message


@pytest.mark.parametrize(("name", "change", "expected"), BAD, ids=[b[0] for b in BAD])
def test_replayed_feed_refuses_inconsistent_bars(name: str, change: dict[str, float], expected: str) -> None:
    with pytest.raises(FeedError) as info:
        ReplayFeed.from_bars(_bars(**change))
    message = str(info.value)
    assert "'BBB'" in message and "2024-01-03" in message, message
    assert expected in message or (name == "crossed_quote" and "crossed quote" in message), message


@pytest.mark.parametrize(("name", "change", "expected"), BAD, ids=[b[0] for b in BAD])
def test_a_feed_event_refuses_an_inconsistent_bar(name: str, change: dict[str, float], expected: str) -> None:
    row = _bars(**change).query("symbol == 'BBB' and timestamp == @T1").iloc[0]
    with pytest.raises(FeedError) as info:
        FeedEvent.bars(T1, ["BBB"], row["close"], open=row["open"], high=row["high"], low=row["low"],
                       volume=row["volume"], bid=row["bid"], ask=row["ask"])
    message = str(info.value)
    assert "'BBB'" in message and "2024-01-03" in message, message


def test_the_count_of_bad_bars_is_given() -> None:
    frame = _bars()
    frame.loc[frame["symbol"] == "AAA", "high"] = 5.0  # below low on all three days
    with pytest.raises(BarsError, match=r"high below low for symbol 'AAA' at 2024-01-02.*3 such bars"):
        MarketData.from_bars(frame)
    with pytest.raises(FeedError, match=r"high below low at row 0 \(symbol 'AAA'.*3 such rows"):
        ReplayFeed.from_bars(frame)


def test_values_not_given_are_not_checked_against_the_fallbacks() -> None:
    # Open and close only: high and low fall back to the close, which the open may well be outside of.
    frame = _bars().drop(columns=["high", "low"])
    frame["open"] = frame["close"] * 0.9
    market = MarketData.from_bars(frame)
    assert np.isfinite(market.open).all()
    ReplayFeed.from_bars(frame)
    FeedEvent.bars(T0, ["AAA"], 10.0, open=9.0)
    # A missing high in one row only: the close stands in for it, the open above it is not a fault.
    partial = _bars()
    partial.loc[0, "high"] = np.nan
    partial.loc[0, "open"] = partial.loc[0, "close"] * 1.005
    MarketData.from_bars(partial)


def test_rounding_of_adjusted_prices_and_locked_quotes_pass() -> None:
    frame = _bars()
    frame.loc[0, "close"] = frame.loc[0, "high"] * (1 + 2e-16)
    frame.loc[1, "bid"] = frame.loc[1, "ask"]
    MarketData.from_bars(frame)
    ReplayFeed.from_bars(frame)


def test_the_sample_bars_are_consistent() -> None:
    MarketData.from_bars(xl.sample_bars())


def test_a_backtest_on_inconsistent_bars_stops_before_trading() -> None:
    targets = pd.DataFrame({"AAA": [10.0], "BBB": [5.0]}, index=[T0])
    with pytest.raises(BarsError, match="open above high for symbol 'BBB' at 2024-01-03"):
        xl.run_backtest(targets, _bars(open=21.0))


def test_cli_backtest_on_inconsistent_bars_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "run.yaml"
    config.write_text("mode: backtest\n")
    targets = tmp_path / "targets.csv"
    pd.DataFrame({"AAA": [10.0], "BBB": [5.0]}, index=pd.Index([T0], name="timestamp")).to_csv(targets)
    bars = tmp_path / "bars.csv"
    _bars(high=19.0, low=19.5, open=19.2, close=19.2).to_csv(bars, index=False)
    result = CliRunner().invoke(app, ["backtest", "--config", str(config), "--targets", str(targets),
                                      "--bars", str(bars)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "high below low for symbol 'BBB' at 2024-01-03" in lines[0], result.output


def test_widen_ranges_is_the_named_repair_for_vendor_ranges() -> None:
    bad = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-02", "2024-01-03"]), "symbol": ["AOS", "AOS"],
                        "open": [23.89, 24.0], "high": [23.595, 24.5], "low": [23.85, 23.9], "close": [24.445, 24.2],
                        "volume": [1e5, 1e5]})
    with pytest.raises(xl.BarsError, match=r"high below low .*widen_ranges"):
        xl.MarketData.from_bars(bad)
    fixed = xl.widen_ranges(bad)
    assert fixed.loc[0, "high"] == 24.445 and fixed.loc[0, "low"] == 23.595
    assert fixed.loc[1].equals(bad.loc[1])  # a consistent bar is left as it was
    assert xl.MarketData.from_bars(fixed).close[0, 0] == 24.445
    assert bad.loc[0, "high"] == 23.595  # a copy: the caller's table is untouched
