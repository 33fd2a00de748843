"""A sweep without kept results summarises its variants from the compiled loop's arrays, all at once: every figure is
bit for bit what ``BacktestResult.summary()`` gives the same variant run alone (fees, a no-trade band, margin, a
participation cap leaving orders working, limit orders; pairs valued in a home currency go through the result)."""

from __future__ import annotations

import math
import struct

import numpy as np
import pandas as pd
import pytest

import execlab as xl
from execlab._data.fx import quote_bars
from execlab._runs.sweep import variant_config
from execlab._runs.sweep_summary import pairwise_sum

from helpers.paths import SHARED_DATA


def _bits(x: float) -> int:
    return int(struct.unpack("<q", struct.pack("<d", x))[0])


def _assert_bit_equal(got: dict[str, float], want: dict[str, float]) -> None:
    assert list(got) == list(want)
    for key, value in want.items():
        if math.isnan(value):
            assert math.isnan(got[key]), key
        else:
            assert _bits(float(got[key])) == _bits(float(value)), (key, got[key], value)


def test_pairwise_sum_adds_up_in_numpys_order() -> None:
    rng = np.random.default_rng(4)
    for n in [*range(0, 300), 511, 1290, 4097]:
        x = rng.normal(size=n) * rng.choice([1.0, 1e-9, 1e9], size=n)
        assert _bits(pairwise_sum(x, 0, n)) == _bits(float(np.sum(x))), n


def _market(n_bars: int = 90, symbols: tuple[str, ...] = ("A", "B", "C", "D", "E", "F", "G", "H", "I")
            ) -> xl.MarketData:
    rng = np.random.default_rng(3)
    times = pd.bdate_range("2023-01-02", periods=n_bars)
    rows = []
    for k, sym in enumerate(symbols):
        close = 40 * np.exp(np.cumsum(rng.normal(0, 0.02, n_bars)))
        for t, (ts, c) in enumerate(zip(times, close, strict=True)):
            if sym == "I" and t < 15:
                continue  # listed later: no mark (NaN) before its first bar
            rows.append({"timestamp": ts, "symbol": sym, "open": c * 1.001, "high": c * 1.02, "low": c * 0.98,
                         "close": c, "volume": 2e4 * (k + 1)})
    return xl.MarketData.from_bars(pd.DataFrame(rows))


def _frames(market: xl.MarketData) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(8)
    out = {}
    for name, step, start in (("every", 1, 20), ("third", 3, 25)):
        idx = market.timestamps[start::step]
        values = rng.integers(-200, 600, size=(len(idx), len(market.symbols))).astype(float)
        out[name] = pd.DataFrame(values, index=idx, columns=list(market.symbols))
    return out


BASE = xl.Config.from_mapping({
    "initial_cash": 120_000.0,
    "plan": {"allow_short": True},
    "venue": {"fill_price": "close", "slippage": {"model": "fixed_bps", "bps": 4.0},
              "fees": {"model": "bps", "bps": 2.0}}})
GRID = {
    "venue.fees.bps": [0.0, 7.5],
    "plan.no_trade_band": [0.0, 0.05],
    "venue.margin.enabled": [False, True],
    "venue.participation_cap": [None, 0.02],
}


def test_summaries_from_arrays_equal_each_variants_own_summary_bit_for_bit() -> None:
    market = _market()
    frames = _frames(market)
    sweep = xl.run_sweep(frames, market, BASE, GRID, keep_results=False)
    assert sweep.failures.empty and len(sweep.summary) == 32 and sweep.results == {}
    params = list(GRID)
    for k, row in sweep.summary.iterrows():
        cfg = variant_config(BASE, sweep.variants[k].params)
        single = xl.run_backtest(frames[row["targets"]], market, cfg)
        got = {key: float(v) for key, v in row.drop(["targets", *params]).items()}
        _assert_bit_equal(got, single.summary())
        np.testing.assert_array_equal(sweep.equity[k].to_numpy(), single.equity.to_numpy())
    # the grid reached the figures: fees, margin and the cap changed them
    s = sweep.summary
    assert s.loc[s["venue.fees.bps"] == 0.0, "fees"].eq(0.0).all()
    assert s.loc[s["venue.fees.bps"] > 0, "fees"].gt(0).all()
    assert s["final_value"].nunique() > 16
    assert s.loc[s["venue.participation_cap"].notna(), "fills"].sum() > s.loc[s["venue.participation_cap"].isna(),
                                                                              "fills"].sum()
    capped = s[s["venue.participation_cap"].notna()]
    assert (capped["fills"] > capped["orders"]).any()  # partial fills over several bars


def test_limit_orders_and_a_kept_sweep_give_the_same_table() -> None:
    market = _market()
    frames = _frames(market)
    data = BASE.model_dump()
    data["plan"].update(order_type="limit", limit_offset_bps=5.0, time_in_force="gtc", cancel_open_orders=False)
    data["venue"]["fill_price"] = "next_open"
    cfg = xl.Config.from_mapping(data)
    grid = {"venue.fees.bps": [1.0, 3.0], "venue.margin.max_leverage": [1.0, 2.0]}
    arrays = xl.run_sweep(frames, market, cfg, grid, keep_results=False)
    kept = xl.run_sweep(frames, market, cfg, grid)
    assert arrays.failures.empty and kept.failures.empty
    for k in kept.summary.index:
        _assert_bit_equal(arrays.summary.loc[k].drop(["targets", *grid]).to_dict(),
                          kept[k].summary(periods_per_year=252.0))
    s = arrays.summary
    assert (s["orders_filled"] < s["orders"] - s["orders_denied"]).all()  # limits left unfilled: working or expired


def test_pairs_valued_in_a_home_currency_are_summarised_through_their_result() -> None:
    path = SHARED_DATA / "fx_daily_oanda.parquet"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    frame = pd.read_parquet(path)
    bars = quote_bars(frame[(frame["date"] >= "2018-06-01") & (frame["date"] < "2018-08-01")])
    days = sorted(bars["timestamp"].unique())
    targets = pd.DataFrame({"EUR/USD": [1e5, 5e4], "GBP/USD": [-5e4, 0.0], "EUR/GBP": [3e5, 0.0],
                            "NZD/USD": [8e4, 8e4]}, index=pd.DatetimeIndex([days[5], days[25]]))
    cfg = xl.Config.from_mapping({"initial_cash": 1e6, "plan": {"allow_short": True},
                                  "venue": {"fill_price": "quote", "slippage": {"model": "half_spread"}}})
    sweep = xl.run_sweep({"fx": targets}, bars, cfg, {"venue.fees.bps": [0.0, 3.0]}, keep_results=False)
    assert sweep.failures.empty and len(sweep.summary) == 2
    for k, row in sweep.summary.iterrows():
        single = xl.run_backtest(targets, bars, variant_config(cfg, sweep.variants[k].params))
        _assert_bit_equal(row.drop(["targets", "venue.fees.bps"]).to_dict(), single.summary())
