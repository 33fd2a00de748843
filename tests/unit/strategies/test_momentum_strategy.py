"""The demo momentum strategy: weight contract, schedule, selection, weighting and no look-ahead."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import execlab.strategies as strategies
from execlab.strategies import momentum_targets

TOL = 1e-12
LOOKBACK, SKIP, VOL_WINDOW = 126, 21, 60


@pytest.fixture(scope="module")
def weights(bars: pd.DataFrame) -> pd.DataFrame:
    return momentum_targets(bars)


def synthetic_bars(seed: int = 7, days: int = 400) -> pd.DataFrame:
    """Random-walk closes for five symbols with different drifts and volatilities."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=days)
    drifts = {"AAA": 0.0015, "BBB": 0.0010, "CCC": 0.0005, "DDD": -0.0010, "EEE": 0.0002}
    vols = {"AAA": 0.02, "BBB": 0.01, "CCC": 0.005, "DDD": 0.015, "EEE": 0.03}
    frames = []
    for symbol, mu in drifts.items():
        close = 100.0 * np.exp(np.cumsum(mu + vols[symbol] * rng.standard_normal(days)))
        frames.append(pd.DataFrame({"timestamp": dates, "symbol": symbol, "close": close}))
    return pd.concat(frames, ignore_index=True)


def held_counts(w: pd.DataFrame) -> pd.Series:
    return (w > 0).sum(axis=1)


def largest_holding(w: pd.DataFrame) -> tuple[pd.Timestamp, str]:
    row, col = np.unravel_index(int(np.argmax(w.to_numpy())), w.shape)
    return pd.Timestamp(w.index[int(row)]), str(w.columns[int(col)])


def test_public_surface() -> None:
    assert strategies.__all__ == ["equal_weight_index", "momentum_targets"]


def test_shape_and_types(bars: pd.DataFrame, weights: pd.DataFrame) -> None:
    assert list(weights.columns) == sorted(bars["symbol"].unique())
    assert (weights.dtypes == np.float64).all()
    assert not weights.isna().any().any()
    assert weights.index.is_monotonic_increasing and weights.index.is_unique


def test_index_is_last_bar_of_each_month(bars: pd.DataFrame, weights: pd.DataFrame) -> None:
    stamps = pd.Series(bars["timestamp"].unique())
    month_ends = stamps.groupby(stamps.dt.to_period("M")).max()
    assert list(weights.index) == list(month_ends)
    assert set(weights.index) <= set(bars["timestamp"])


def test_weight_bounds(weights: pd.DataFrame) -> None:
    assert (weights >= 0).all().all()
    assert (weights <= 0.4 + TOL).all().all()
    assert (weights.sum(axis=1) <= 0.95 + TOL).all()
    assert (held_counts(weights) <= 3).all()


def test_rows_invest_gross_unless_caps_bind(weights: pd.DataFrame) -> None:
    held = held_counts(weights)
    expected = np.minimum(0.95, held * 0.4)
    np.testing.assert_allclose(weights.sum(axis=1), expected, atol=1e-9)
    assert (held == 3).any(), "the sample should have fully invested months"


def test_fb_zero_until_it_has_history(bars: pd.DataFrame, weights: pd.DataFrame) -> None:
    fb_dates = bars.loc[bars["symbol"] == "FB", "timestamp"].sort_values()
    assert fb_dates.iloc[0] == pd.Timestamp("2012-05-18")
    assert (weights.loc[weights.index < fb_dates.iloc[0], "FB"] == 0.0).all()
    # The calendar is shared, so FB needs LOOKBACK bars before a date to have a momentum there.
    first_possible = fb_dates.iloc[LOOKBACK]
    assert (weights.loc[weights.index < first_possible, "FB"] == 0.0).all()
    assert (weights["FB"] > 0).any(), "FB should be held once it has history"


def test_selection_and_inverse_vol_weights_match_a_direct_computation(
    bars: pd.DataFrame, weights: pd.DataFrame
) -> None:
    close = bars.pivot(index="timestamp", columns="symbol", values="close")
    checked = 0
    for date, row in weights.iterrows():
        hist = close.loc[:date]
        if len(hist) <= LOOKBACK:
            continue
        mom = hist.iloc[-1 - SKIP] / hist.iloc[-1 - LOOKBACK] - 1.0
        vol = hist.pct_change(fill_method=None).iloc[-VOL_WINDOW:].std()
        eligible = mom[(mom > 0) & hist.iloc[-1].notna() & vol.notna()]
        top = set(eligible.sort_values(ascending=False).index[:3])
        assert set(row[row > 0].index) == top, date
        uncapped = [s for s in top if row[s] < 0.4 - 1e-9]
        if len(uncapped) >= 2:
            scaled = row[uncapped] * vol[uncapped]
            np.testing.assert_allclose(scaled, scaled.iloc[0], rtol=1e-9)
            checked += 1
    assert checked > 10


def test_no_look_ahead(bars: pd.DataFrame, weights: pd.DataFrame) -> None:
    t = pd.Timestamp(weights.index[len(weights) // 2])
    later = bars["timestamp"] > t
    rng = np.random.default_rng(0)
    shocked = bars.copy()
    shocked.loc[later, "close"] *= rng.uniform(0.5, 1.5, size=int(later.sum()))
    truncated = bars.loc[~later]

    for changed in (shocked, truncated):
        again = momentum_targets(changed)
        # Symbols that list after t (FB) are absent from the truncated bars; they must hold zero at t.
        assert t in again.index
        pd.testing.assert_frame_equal(again.loc[:t], weights.loc[:t, list(again.columns)])
        assert (weights.loc[:t].drop(columns=again.columns) == 0.0).all().all()
    after = momentum_targets(shocked).loc[weights.index > t]
    assert not after.equals(weights.loc[weights.index > t]), "the shock should change later rows"


def test_input_row_order_does_not_matter(bars: pd.DataFrame, weights: pd.DataFrame) -> None:
    shuffled = bars.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(momentum_targets(shuffled), weights)


def test_negative_momentum_is_never_held() -> None:
    bars = synthetic_bars()
    w = momentum_targets(bars, lookback=60, skip=5)
    close = bars.pivot(index="timestamp", columns="symbol", values="close")
    mom = close.shift(5) / close.shift(60) - 1.0
    held = w > 0
    assert held.any().any()
    assert (~held | (mom.loc[w.index] > 0)).all().all()


def test_missing_price_on_the_date_gives_zero() -> None:
    bars = synthetic_bars()
    w = momentum_targets(bars, lookback=60, skip=5)
    date, symbol = largest_holding(w)
    assert w[symbol].loc[date] > 0
    gapped = bars[~((bars["timestamp"] == date) & (bars["symbol"] == symbol))]
    w2 = momentum_targets(gapped, lookback=60, skip=5)
    assert w2.loc[date, symbol] == 0.0
    assert w2.loc[date].sum() <= 0.95 + TOL
    assert not w2.isna().any().any()


def test_nan_close_is_treated_as_missing() -> None:
    bars = synthetic_bars()
    w = momentum_targets(bars, lookback=60, skip=5)
    date, symbol = largest_holding(w)
    holed = bars.copy()
    holed.loc[(holed["timestamp"] == date) & (holed["symbol"] == symbol), "close"] = np.nan
    assert momentum_targets(holed, lookback=60, skip=5).loc[date, symbol] == 0.0


def test_tight_caps_leave_cash() -> None:
    w = momentum_targets(synthetic_bars(), lookback=60, skip=5, top_n=3, max_weight=0.2, gross=0.95)
    held = held_counts(w)
    assert (w <= 0.2 + TOL).all().all()
    np.testing.assert_allclose(w.sum(axis=1), np.minimum(0.95, 0.2 * held), atol=1e-12)
    assert (held == 3).any()


def test_cap_redistributes_to_the_others() -> None:
    # CCC has by far the lowest volatility, so its uncapped inverse-vol share would exceed the cap.
    w = momentum_targets(synthetic_bars(), lookback=60, skip=5, top_n=3, max_weight=0.4, gross=0.95)
    full = w[held_counts(w) == 3]
    capped = full[(full == 0.4).any(axis=1)]
    assert len(capped) > 0
    np.testing.assert_allclose(capped.sum(axis=1), 0.95, atol=1e-12)


def test_weekly_schedule(bars: pd.DataFrame) -> None:
    w = momentum_targets(bars, rebalance="W-FRI")
    stamps = pd.Series(bars["timestamp"].unique())
    week_last = stamps.groupby(stamps.dt.to_period("W-FRI")).max()
    assert list(w.index) == list(week_last)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lookback": 21, "skip": 21},
        {"skip": -1},
        {"top_n": 0},
        {"max_weight": 0.0},
        {"max_weight": float("nan")},
        {"gross": -0.1},
    ],
)
def test_bad_parameters_raise(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        momentum_targets(synthetic_bars(days=200), **kwargs)


def test_bad_bars_raise_and_name_the_row() -> None:
    bars = synthetic_bars(days=200)
    with pytest.raises(ValueError, match="missing columns"):
        momentum_targets(bars.drop(columns="close"))
    with pytest.raises(ValueError, match="datetime64"):
        momentum_targets(bars.assign(timestamp=bars["timestamp"].dt.strftime("%Y-%m-%d")))
    with pytest.raises(ValueError, match="duplicate rows for AAA"):
        momentum_targets(pd.concat([bars, bars.iloc[[0]]]))
    bad = bars.copy()
    bad.loc[bad.index[-1], "close"] = -1.0
    with pytest.raises(ValueError, match=str(bad.loc[bad.index[-1], "symbol"])):
        momentum_targets(bad)
