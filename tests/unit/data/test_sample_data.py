"""The project's own sample bars: shape, types, order and the split/dividend back-adjustment."""

from __future__ import annotations

from pathlib import Path

import bokeh_sampledata
import numpy as np
import pandas as pd
import pytest

import execlab._data.sample as sample_data
from execlab._data.sample import write_sample_bars

COLUMNS = ["timestamp", "symbol", "open", "high", "low", "close", "volume"]
TICKERS = {"AAPL", "FB", "GOOG", "IBM", "MSFT"}


@pytest.fixture(scope="module")
def source() -> pd.DataFrame:
    """The unadjusted source file, read independently of the code under test."""
    raw = pd.read_csv(bokeh_sampledata.package_path("stocks.csv.gz"))
    raw["timestamp"] = pd.to_datetime(raw["Date"])
    return raw.rename(columns={"Ticker": "symbol"})


@pytest.fixture(scope="module")
def joined(bars: pd.DataFrame, source: pd.DataFrame) -> pd.DataFrame:
    out = bars.merge(source, on=["timestamp", "symbol"], how="outer", validate="one_to_one", indicator=True)
    assert (out["_merge"] == "both").all()
    return out


def test_public_surface() -> None:
    assert sorted(sample_data.__all__) == ["sample_bars", "write_sample_bars"]


def test_columns_and_dtypes(bars: pd.DataFrame) -> None:
    assert list(bars.columns) == COLUMNS
    assert pd.api.types.is_datetime64_dtype(bars["timestamp"])
    assert getattr(bars["timestamp"].dtype, "tz", None) is None
    assert (bars["timestamp"] == bars["timestamp"].dt.normalize()).all()
    assert pd.api.types.is_string_dtype(bars["symbol"])
    for col in COLUMNS[2:]:
        assert bars[col].dtype == np.float64, col


def test_symbols_dates_and_completeness(bars: pd.DataFrame, source: pd.DataFrame) -> None:
    assert set(bars["symbol"]) == TICKERS
    assert len(bars) == len(source)
    assert bars["timestamp"].min() == pd.Timestamp("2000-03-01")
    assert bars["timestamp"].max() == pd.Timestamp("2013-03-01")
    assert bars["close"].notna().all()
    assert np.isfinite(bars[COLUMNS[2:]].to_numpy()).all()
    assert (bars[["open", "high", "low", "close"]] > 0).all().all()


def test_sorted_by_timestamp_then_symbol_and_unique(bars: pd.DataFrame) -> None:
    expected = bars.sort_values(["timestamp", "symbol"], ignore_index=True)
    pd.testing.assert_frame_equal(bars, expected)
    assert not bars.duplicated(["timestamp", "symbol"]).any()
    assert bars.index.equals(pd.RangeIndex(len(bars)))


def test_fb_starts_at_its_listing(bars: pd.DataFrame) -> None:
    assert bars.loc[bars["symbol"] == "FB", "timestamp"].min() == pd.Timestamp("2012-05-18")


def test_close_is_the_source_adjusted_close(joined: pd.DataFrame) -> None:
    np.testing.assert_allclose(joined["close"], joined["Adj Close"], rtol=1e-12)


def test_every_price_scaled_by_the_rows_factor(joined: pd.DataFrame) -> None:
    factor = joined["Adj Close"] / joined["Close"]
    for adjusted, raw in [("open", "Open"), ("high", "High"), ("low", "Low")]:
        np.testing.assert_allclose(joined[adjusted], joined[raw] * factor, rtol=1e-12)


def test_bar_shape_kept(bars: pd.DataFrame) -> None:
    top = bars[["open", "close"]].max(axis=1)
    bottom = bars[["open", "close"]].min(axis=1)
    assert (bars["high"] >= top * (1 - 1e-12)).all()
    assert (bars["low"] <= bottom * (1 + 1e-12)).all()


def test_notional_preserved(joined: pd.DataFrame) -> None:
    np.testing.assert_allclose(
        joined["volume"] * joined["close"], joined["Volume"] * joined["Close"], rtol=1e-9
    )


@pytest.mark.parametrize(
    ("symbol", "split_day"),
    [("AAPL", "2005-02-28"), ("AAPL", "2000-06-21"), ("MSFT", "2003-02-18")],
)
def test_two_for_one_splits_are_smoothed(
    bars: pd.DataFrame, source: pd.DataFrame, symbol: str, split_day: str
) -> None:
    day = pd.Timestamp(split_day)
    raw = source[source["symbol"] == symbol].set_index("timestamp")["Close"].sort_index()
    adj = bars[bars["symbol"] == symbol].set_index("timestamp")["close"]
    pos = int(raw.index.searchsorted(day))
    assert raw.index[pos] == day
    before = raw.index[pos - 1]
    raw_ratio = raw[day] / raw[before]
    adj_ratio = adj[day] / adj[before]
    assert 0.4 < raw_ratio < 0.6, "the source should show the split as a halving"
    assert abs(adj_ratio - 1.0) < 0.15
    raw_volume = source[(source["symbol"] == symbol) & (source["timestamp"] == day)]["Volume"].iloc[0]
    adj_volume = bars[(bars["symbol"] == symbol) & (bars["timestamp"] == day)]["volume"].iloc[0]
    assert adj_volume > raw_volume, "back-adjusted volume before later splits is in today's (more) shares"


def test_write_sample_bars_round_trip(tmp_path: Path, bars: pd.DataFrame) -> None:
    target = tmp_path / "nested" / "deeper" / "sample_daily.parquet"
    written = write_sample_bars(str(target))
    assert isinstance(written, Path)
    assert written == target
    assert target.is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(target), bars)
