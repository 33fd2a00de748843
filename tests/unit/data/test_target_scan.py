"""The compiled scan behind ``align_targets``: the same answers as the numpy checks it replaces on the common path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execlab._data.target_scan import scan_targets
from execlab._data.targets import bar_positions


@pytest.mark.parametrize("seed", range(5))
def test_bar_positions_match_get_indexer(seed: int) -> None:
    rng = np.random.default_rng(seed)
    stamps = pd.DatetimeIndex(np.sort(rng.choice(np.arange(1_000), 300, replace=False)).astype("datetime64[D]"))
    wanted = pd.DatetimeIndex(np.sort(rng.choice(np.arange(-5, 1_005), 80, replace=False)).astype("datetime64[D]"))
    assert np.array_equal(bar_positions(stamps, wanted), stamps.get_indexer(wanted))


def test_bar_positions_with_other_resolution_falls_back() -> None:
    stamps = pd.date_range("2024-01-01", periods=5, freq="D")  # nanoseconds
    wanted = pd.DatetimeIndex(np.array(["2024-01-03", "2024-02-01"], dtype="datetime64[s]"))
    assert bar_positions(stamps, wanted).tolist() == [2, -1]


@pytest.mark.parametrize("seed", range(8))
def test_scan_flags_match_numpy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_t, n_s, n_r = 40, 7, 12
    marks = rng.uniform(10, 20, (n_t, n_s))
    for j in range(n_s):  # late listings: no price before a random first bar
        marks[: rng.integers(0, 10), j] = np.nan
    bars = np.sort(rng.choice(n_t, n_r, replace=False)).astype(np.int64)
    values = rng.choice([0.0, 0.5, -0.3, 3.0, -7.0], (n_r, n_s), p=[0.5, 0.2, 0.1, 0.1, 0.1])
    values = np.asfortranarray(values)
    cols = rng.permutation(n_s).astype(np.int64)
    scan = scan_targets(values, marks, bars, cols)
    top = np.abs(values).max(axis=1)
    assert scan.values.flags.c_contiguous and np.array_equal(scan.values, values)
    assert scan.negative == bool((values < 0).any())
    assert scan.small_row == bool(((top > 0) & (top < 1)).any())
    assert scan.no_price == bool(((values != 0) & np.isnan(marks[bars][:, cols])).any())
