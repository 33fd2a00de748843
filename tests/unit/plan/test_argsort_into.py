"""The plan's allocation-free sort: numpy's stable argsort, by insertion (up to 96 values) and by radix (more)."""

from __future__ import annotations

import numpy as np
import pytest

from execlab._plan.diff import argsort_into, sort_scratch


@pytest.mark.parametrize("n", [0, 1, 7, 96, 97, 300, 470])
def test_argsort_into_is_numpys_stable_argsort(n: int) -> None:
    rng = np.random.default_rng(n)
    values = np.round(rng.normal(0.0, 2e4, n), 0) * (rng.random(n) < 0.8)  # ties, zeros
    values[n - n // 10:] = -0.0  # signed zeros (after the zeros) sort with zero, in index order
    if n > 2:
        values[1] = values[n - 1]
    idx = np.full(n, -1, np.int64)
    argsort_into(values, n, idx, sort_scratch(n))
    assert idx.tolist() == np.argsort(values, kind="stable").tolist()


def test_argsort_into_sorts_the_first_n_values_only() -> None:
    values = np.array([3.0, -1.0, 2.0, -5.0, 9.0, 0.0])
    idx = np.full(6, -1, np.int64)
    argsort_into(values, 4, idx, sort_scratch(6))
    assert idx[:4].tolist() == [3, 1, 2, 0]
    assert idx[4:].tolist() == [-1, -1]
