"""The σ/ADV estimator: fed one bar at a time it gives what it gives over the whole history, and both are pandas'
rolling std of close-to-close returns and rolling mean of volume, shifted one bar, to the last bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execlab._sim.estimators import ADV_RISK_WINDOW, RollingStats, adv_before, sigma_before


def _pandas_sigma(close: np.ndarray, window: int) -> np.ndarray:
    returns = pd.DataFrame(close).ffill().pct_change(fill_method=None)
    out: np.ndarray = returns.rolling(window, min_periods=2).std().shift(1).to_numpy()
    return out


def _pandas_adv(volume: np.ndarray, window: int) -> np.ndarray:
    out: np.ndarray = pd.DataFrame(volume).rolling(window, min_periods=1).mean().shift(1).to_numpy()
    return out


def _history(seed: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    rng = np.random.default_rng(seed)
    n_t, n_s = int(rng.integers(1, 300)), int(rng.integers(1, 7))
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_t, n_s)), axis=0))
    close[rng.random((n_t, n_s)) < 0.15] = np.nan  # bars without a trade
    close[: int(rng.integers(0, 10)), 0] = np.nan  # a symbol that starts late
    if n_s > 1:
        close[5:40, 1] = 50.0  # a flat stretch: σ exactly 0
        close[60:62, 1] = 5e4  # a jump that leaves the window later (ill-conditioned update)
    volume = rng.integers(0, 1000, (n_t, n_s)).astype(float)
    volume[rng.random((n_t, n_s)) < 0.2] = 0.0
    if n_s > 2:
        volume[rng.random(n_t) < 0.3, 2] = np.inf  # unknown volume counts as missing
    return close, volume, int(rng.integers(2, 30)), int(rng.integers(1, 30))


@pytest.mark.parametrize("seed", range(25))
def test_batch_and_incremental_equal_pandas(seed: int) -> None:
    close, volume, vol_window, adv_window = _history(seed)
    sigma, adv = _pandas_sigma(close, vol_window), _pandas_adv(volume, adv_window)
    np.testing.assert_array_equal(sigma_before(close, vol_window), sigma)
    np.testing.assert_array_equal(adv_before(volume, adv_window), adv)
    stats = RollingStats(close.shape[1], vol_window, (adv_window, ADV_RISK_WINDOW))
    inc_sigma, inc_adv, inc_risk = (np.empty_like(close) for _ in range(3))
    for t in range(close.shape[0]):  # what is known before bar t, then bar t
        inc_sigma[t], inc_adv[t], inc_risk[t] = stats.sigma(), stats.adv(adv_window), stats.adv(ADV_RISK_WINDOW)
        stats.update(close[t], volume[t])
    np.testing.assert_array_equal(inc_sigma, sigma)
    np.testing.assert_array_equal(inc_adv, adv)
    np.testing.assert_array_equal(inc_risk, _pandas_adv(volume, ADV_RISK_WINDOW))


def test_known_values() -> None:
    close = np.array([[100.0], [110.0], [np.nan], [99.0], [99.0]])
    sigma = sigma_before(close, 3)
    assert np.isnan(sigma[:3, 0]).all()  # before bar 2 there is one return only
    r = np.array([0.1, 0.0, -0.1])  # the missing close carries 110 forward
    assert sigma[3, 0] == pytest.approx(r[:2].std(ddof=1))
    assert sigma[4, 0] == pytest.approx(r.std(ddof=1))
    adv = adv_before(np.array([[10.0], [20.0], [0.0], [30.0]]), 2)
    np.testing.assert_array_equal(adv[:, 0], [np.nan, 10.0, 15.0, 10.0])
    empty = np.zeros((0, 2))
    assert sigma_before(empty, 5).shape == adv_before(empty, 5).shape == (0, 2)
