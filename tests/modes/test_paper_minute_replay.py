"""Paper trading on replayed real minute trade and quote bars (SPY, IBM, AIG, BAC on 2013-10-07/08, LEAN demo data in
``../shared/data``): fills at the touch, resting limits, IOC / FOK / DAY, participation-capped partial fills and
latency.

Every expected price below was read off the file's rows (``ask_close`` / ``bid_close`` / ``volume`` of the minute
named in the comment; times are UTC, the session opens at 13:30) and is also looked up in the data by ``_row``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pytest

import execlab as xl
from execlab import PaperExecutor, compare_orders, run_paper
from execlab._core.codes import CANCELLED, DAY, FILLED, FOK, GTC, IOC, LIMIT, VenueReason
from execlab._data.feeds import ReplayFeed
from execlab._oms.journal import Journal

from helpers.orders import order_batch
from helpers.paths import SHARED_DATA

pytestmark = pytest.mark.shared_data

DATA = SHARED_DATA / "us_equity_minute_lean.parquet"
SYMBOLS = ("AIG", "BAC", "IBM", "SPY")


def utc(hhmm: str, day: str = "2013-10-07") -> pd.Timestamp:
    return pd.Timestamp(f"{day} {hhmm}", tz="UTC")


@pytest.fixture(scope="module")
def minutes() -> pd.DataFrame:
    """The four symbols' minute rows from the 2013-10-07 open to the 2013-10-08 open, times in New York (so a DAY
    order's session is the exchange's date)."""
    if not DATA.is_file():
        pytest.skip(f"{DATA} is absent")
    rows = pd.read_parquet(DATA)
    rows = rows[rows["symbol"].isin(SYMBOLS) & rows["ts"].between(utc("13:30"), utc("13:45", "2013-10-08"))]
    return rows.assign(ts=rows["ts"].dt.tz_convert("America/New_York")).reset_index(drop=True)


@pytest.fixture(scope="module")
def feed(minutes: pd.DataFrame) -> ReplayFeed:
    return ReplayFeed.from_bars(minutes)


def _row(minutes: pd.DataFrame, symbol: str, at: pd.Timestamp) -> pd.Series:
    hit = minutes[(minutes["symbol"] == symbol) & (minutes["ts"] == at)]
    assert len(hit) == 1
    row: pd.Series = hit.iloc[0]
    return row


def _paper(**venue: Any) -> dict[str, Any]:
    return {"mode": "paper", "run_id": "minutes", "initial_cash": 200_000,
            "venue": {"fill_price": "quote", "fees": {"model": "bps", "bps": 1}, **venue}}


def _shares(rows: dict[pd.Timestamp, dict[str, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index").set_axis(pd.DatetimeIndex(list(rows)), axis=0)


def _run_until(ex: PaperExecutor, feed: ReplayFeed, until: pd.Timestamp) -> None:
    for event in feed:
        if event.timestamp > until:
            break
        if ex.timestamp is None or event.timestamp > ex.timestamp:
            ex.on_event(event)


def test_the_file_has_quote_only_and_trade_only_minutes(minutes: pd.DataFrame, feed: ReplayFeed) -> None:
    assert minutes["close"].isna().any() and minutes["bid_close"].isna().any()
    assert feed.symbols == SYMBOLS
    assert len(feed) == minutes["ts"].nunique()
    same = list(ReplayFeed.from_bars(pl.from_pandas(minutes)))
    assert [e.timestamp for e in same] == [e.timestamp for e in feed]


def test_intraday_rebalance_trades_at_the_touch(minutes: pd.DataFrame, feed: ReplayFeed) -> None:
    journal = Journal(":memory:")
    targets = _shares({utc("14:00"): {"SPY": 300, "IBM": 100, "AIG": 500, "BAC": 2000},
                       utc("15:00"): {"SPY": 100, "IBM": 100, "AIG": 0, "BAC": 2000}})
    result = run_paper(targets, feed, xl.Config.from_mapping(_paper()), journal=journal)
    orders = result.orders.set_index("symbol", append=True)
    assert orders["status"].eq("filled").all()
    # 14:00 buys lift the asks: IBM 182.35, AIG 48.91, BAC 13.92, SPY 167.74 (sent smallest first);
    # 15:00 sells hit the bids: SPY 168.16, AIG 48.96
    expected = [("IBM", "buy", 100, 182.35, 182.32), ("AIG", "buy", 500, 48.91, 48.90),
                ("BAC", "buy", 2000, 13.92, 13.91), ("SPY", "buy", 300, 167.74, 167.73),
                ("SPY", "sell", 200, 168.16, 168.17), ("AIG", "sell", 500, 48.96, 48.97)]
    got = result.orders
    assert got["symbol"].tolist() == [e[0] for e in expected]
    assert got["side"].tolist() == [e[1] for e in expected]
    assert got["filled_quantity"].tolist() == [e[2] for e in expected]
    np.testing.assert_allclose(got["avg_fill_price"], [e[3] for e in expected])
    for (sym, side, _, price, other), ts in zip(expected, got["timestamp"], strict=True):
        row = _row(minutes, sym, ts)
        touch, away = (row["ask_close"], row["bid_close"]) if side == "buy" else (row["bid_close"], row["ask_close"])
        assert (touch, away) == (price, other)
    # arrival price: the mid when the order was sent, e.g. SPY (167.73 + 167.74) / 2
    np.testing.assert_allclose(got["arrival_price"], [(e[3] + e[4]) / 2 for e in expected])
    notional = np.array([e[2] * e[3] for e in expected])
    np.testing.assert_allclose(got["fees"], notional * 1e-4)
    sign = np.where(got["side"] == "buy", -1.0, 1.0)
    assert result.cash.iloc[-1] == pytest.approx(200_000 + float(sign @ notional) - notional.sum() * 1e-4)
    assert result.final_positions.to_dict() == {"AIG": 0.0, "BAC": 2000.0, "IBM": 100.0, "SPY": 100.0}
    # the journal has what a dashboard needs: intents, states, fills and each order's arrival price
    journaled = journal.orders("minutes")
    assert journaled["client_order_id"].tolist() == got["client_order_id"].tolist()
    assert journaled["status"].tolist() == ["filled"] * 6
    np.testing.assert_allclose(journaled["avg_fill_price"], got["avg_fill_price"])
    requests = journal.events("minutes", "request")
    arrival = [json.loads(p)["arrival_price"] for p in requests["payload"]]
    np.testing.assert_allclose(arrival, got["arrival_price"])
    assert journal.fills("minutes")["at"].iloc[0] == utc("14:00").tz_convert("America/New_York").isoformat()


def test_limit_orders_rest_until_the_touch_reaches_them(minutes: pd.DataFrame, feed: ReplayFeed) -> None:
    ex = PaperExecutor(SYMBOLS, xl.VenueConfig(fill_price="quote"), 1_000_000.0, np.ones(4), allow_short=True)
    _run_until(ex, feed, utc("14:00"))
    # SPY ask at 14:00 is 167.74, IBM bid 182.32: neither limit is marketable, both rest
    ex.submit(order_batch({"oid": 0, "sym": 3, "qty": 100, "type": LIMIT, "limit": 167.63},
                          {"oid": 1, "sym": 2, "qty": -50, "type": LIMIT, "limit": 182.70}))
    assert len(ex.poll()[0]) == 0
    fills_at: dict[int, tuple[pd.Timestamp, float]] = {}
    for event in feed:
        if event.timestamp <= utc("14:00"):
            continue
        ex.on_event(event)
        fills, _ = ex.poll()
        for oid, price in zip(fills.oid.tolist(), fills.price.tolist(), strict=True):
            fills_at[oid] = (event.timestamp, price)
        if len(fills_at) == 2 or event.timestamp > utc("14:30"):
            break
    # SPY asks 14:01 167.65, 14:02 167.67, 14:03 167.63 → filled at 14:03 at 167.63
    # IBM bids 182.28, 182.60, 182.49, 182.60, 182.56, 182.56, 182.64, 182.56, then 182.78 at 14:09 → filled there
    assert fills_at[0] == (utc("14:03"), 167.63)
    assert fills_at[1] == (utc("14:09"), 182.78)
    assert _row(minutes, "SPY", utc("14:03"))["ask_close"] == 167.63
    assert _row(minutes, "IBM", utc("14:09"))["bid_close"] == 182.78


def test_ioc_and_fok_under_a_participation_cap(minutes: pd.DataFrame, feed: ReplayFeed) -> None:
    ex = PaperExecutor(SYMBOLS, xl.VenueConfig(fill_price="quote", participation_cap=0.01), 10_000_000.0, np.ones(4))
    _run_until(ex, feed, utc("14:00"))
    # 14:00 volumes: SPY 337,771, AIG 11,549, BAC 42,974 → 1% caps of 3,377.71, 115.49 and 429.74 shares
    assert [_row(minutes, s, utc("14:00"))["volume"] for s in ("SPY", "AIG", "BAC")] == [337_771, 11_549, 42_974]
    ex.submit(order_batch({"oid": 0, "sym": 3, "qty": 5000, "tif": IOC}, {"oid": 1, "sym": 0, "qty": 300, "tif": FOK},
                          {"oid": 2, "sym": 1, "qty": 100, "tif": FOK}))
    fills, events = ex.poll()
    assert fills.oid.tolist() == [0, 2]
    assert fills.quantity.tolist() == [3377.0, 100.0]  # whole shares of the cap; the FOK that fits fills whole
    assert fills.price.tolist() == [167.74, 13.92]
    ended = dict(zip(events.oid.tolist(), zip(events.status.tolist(), events.reason.tolist(), strict=True),
                     strict=True))
    assert ended == {0: (CANCELLED, VenueReason.IOC_REMAINDER), 1: (CANCELLED, VenueReason.FOK_NOT_FILLABLE),
                     2: (FILLED, VenueReason.NONE)}


def test_day_orders_expire_with_the_session_gtc_orders_keep_working(feed: ReplayFeed) -> None:
    ex = PaperExecutor(SYMBOLS, xl.VenueConfig(fill_price="quote"), 1_000_000.0, np.ones(4))
    _run_until(ex, feed, utc("19:55"))
    ex.submit(order_batch({"oid": 0, "sym": 3, "qty": 10, "type": LIMIT, "limit": 150.0, "tif": DAY},
                          {"oid": 1, "sym": 3, "qty": 10, "type": LIMIT, "limit": 150.0, "tif": GTC}))
    expired_at = None
    for event in feed:
        if event.timestamp <= utc("19:55"):
            continue
        ex.on_event(event)
        _, events = ex.poll()
        if len(events):
            assert events.oid.tolist() == [0]
            assert events.reason.tolist() == [VenueReason.DAY_EXPIRED]
            expired_at = event.timestamp
            break
    # the after-hours minutes up to 20:00 New York time still belong to 2013-10-07; the first minute of the 8th
    # (04:00 New York, 08:00 UTC) ends the DAY order
    assert expired_at == utc("08:00", "2013-10-08")
    assert ex.order_status(np.array([0, 1])).status.tolist() == [-1, 1]


def test_partial_fills_under_a_participation_cap(minutes: pd.DataFrame, feed: ReplayFeed) -> None:
    journal = Journal(":memory:")
    config = xl.Config.from_mapping({**_paper(participation_cap=0.05, fees={"model": "none"}),
                                     "initial_cash": 1_000_000})
    result = run_paper(_shares({utc("14:00"): {"IBM": 2000}}), feed, config, journal=journal)
    fills = result.fills
    # IBM volume 14:00-14:05: 4,792, 8,380, 9,951, 6,836, 5,410, 7,932; 5% of each, in whole shares:
    # 239, 419, 497, 341, 270, then the 234 left (of 396 allowed) — at the asks 182.35, 182.36, 182.71, 182.55,
    # 182.65, 182.63
    minutes_at = [utc(f"14:0{k}") for k in range(6)]
    assert fills["timestamp"].tolist() == minutes_at
    assert fills["quantity"].tolist() == [239.0, 419.0, 497.0, 341.0, 270.0, 234.0]
    assert fills["price"].tolist() == [182.35, 182.36, 182.71, 182.55, 182.65, 182.63]
    assert fills["price"].tolist() == [_row(minutes, "IBM", t)["ask_close"] for t in minutes_at]
    assert [np.floor(0.05 * _row(minutes, "IBM", t)["volume"]) for t in minutes_at[:5]] == [239, 419, 497, 341, 270]
    order = result.orders.iloc[0]
    assert (order["status"], order["filled_quantity"]) == ("filled", 2000.0)
    assert order["avg_fill_price"] == pytest.approx(float(fills["price"] @ fills["quantity"]) / 2000)
    states = journal.events("minutes", "state")["status"].tolist()
    assert states == ["submitted"] + ["partially_filled"] * 5 + ["filled"]


def test_latency_delays_the_fill_to_a_later_quote(minutes: pd.DataFrame, feed: ReplayFeed) -> None:
    config = xl.Config.from_mapping(_paper(latency_bars=2))
    result = run_paper(_shares({utc("14:00"): {"SPY": 100}}), feed, config)
    fill = result.fills.iloc[0]
    # sent at 14:00 (mid 167.735), reaches the venue two minutes later and lifts the 14:02 ask, 167.67
    assert (fill["timestamp"], fill["price"]) == (utc("14:02"), 167.67)
    assert result.orders["arrival_price"].iloc[0] == pytest.approx(167.735)
    # a wall-clock latency of 150 s on the feed's clock: due at 14:02:30, first matched at the 14:03 quote (167.63)
    ex = PaperExecutor(SYMBOLS, xl.VenueConfig(fill_price="quote"), 1_000_000.0, np.ones(4), latency_seconds=150.0)
    _run_until(ex, feed, utc("14:00"))
    ex.submit(order_batch({"oid": 0, "sym": 3, "qty": 100}))
    _run_until(ex, feed, utc("14:02"))
    assert len(ex.poll()[0]) == 0
    _run_until(ex, feed, utc("14:03"))
    fills, _ = ex.poll()
    assert fills.price.tolist() == [167.63] and fills.bar.tolist() == [ex.step]


def test_quote_fills_equal_the_backtest_quote_model_one_event_later(minutes: pd.DataFrame, feed: ReplayFeed) -> None:
    """The backtest's ``quote`` model fills at the next bar's mid ± half the spread (the touch); paper trades at the
    touch when the order arrives, so with one event of latency both fill at the same quotes."""
    targets = _shares({utc("14:00"): {"SPY": 300, "IBM": 100, "AIG": 500, "BAC": 2000},
                       utc("15:00"): {"SPY": 100, "IBM": 100, "AIG": 0, "BAC": 2000}})
    venue = {"fill_price": "quote", "fees": {"model": "bps", "bps": 1}}
    backtest = xl.run_backtest(targets, minutes, xl.Config.from_mapping(
        {"run_id": "minutes", "initial_cash": 200_000, "venue": {**venue, "slippage": {"model": "half_spread"}}}))
    paper = run_paper(targets, feed, xl.Config.from_mapping(
        {"mode": "paper", "run_id": "minutes", "initial_cash": 200_000, "venue": {**venue, "latency_bars": 1}}))
    assert compare_orders(backtest.orders, paper.orders, rtol=1e-12).empty
    assert paper.orders["avg_fill_price"].tolist()[:2] == [182.36, 48.84]  # the 14:01 asks of IBM and AIG


def test_minute_bars_with_next_open_match_the_backtest(minutes: pd.DataFrame, feed: ReplayFeed) -> None:
    """Bars (not quotes) on minute data, quote-only minutes included: the backtest's matching, event by event."""
    times = pd.date_range(utc("14:00"), utc("19:00"), freq="30min")
    weights = pd.DataFrame({s: np.linspace(0.05, 0.3, len(times))[:: 1 if k % 2 else -1]
                            for k, s in enumerate(SYMBOLS)}, index=times)
    sections: dict[str, Any] = {"run_id": "minutes", "plan": {"target_unit": "weight"},
                                "venue": {"fill_price": "next_open", "participation_cap": 0.02,
                                          "slippage": {"model": "fixed_bps", "bps": 1},
                                          "fees": {"model": "per_share"}}}
    backtest = xl.run_backtest(weights, minutes, xl.Config.from_mapping(sections))
    paper = run_paper(weights, feed, xl.Config.from_mapping({**sections, "mode": "paper"}))
    assert paper.fills["client_order_id"].duplicated().any()
    assert compare_orders(backtest.orders, paper.orders, rtol=1e-12).empty
    pd.testing.assert_frame_equal(backtest.fills, paper.fills, check_exact=False, rtol=1e-12)
