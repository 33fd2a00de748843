"""Where two order tables differ: a backtest's against a paper run's, paper against live."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import numpy as np
import pandas as pd

__all__ = ["compare_orders"]

_COMPARED: Final = ("client_order_id", "timestamp", "symbol", "side", "quantity", "order_type", "time_in_force",
                    "limit_price", "stop_price", "status", "filled_quantity", "avg_fill_price", "fees", "reason")


def compare_orders(left: pd.DataFrame, right: pd.DataFrame, rtol: float = 1e-9,
                   columns: Iterable[str] = _COMPARED) -> pd.DataFrame:
    """Where two order tables (e.g. a backtest's and a paper run's) differ: one row per order and column, with
    both values. Numbers compare within ``rtol`` (NaN equals NaN). Empty when the tables agree."""
    rows: list[tuple[int, str, object, object]] = []
    if len(left) != len(right):
        rows.append((min(len(left), len(right)), "<rows>", len(left), len(right)))
    m = min(len(left), len(right))
    for col in columns:
        a = left[col].to_numpy()[:m]
        b = right[col].to_numpy()[:m]
        if a.dtype.kind == "f" or b.dtype.kind == "f":
            a_f, b_f = a.astype(np.float64), b.astype(np.float64)
            same = np.isclose(a_f, b_f, rtol=rtol, atol=0.0, equal_nan=True)
        else:
            same = np.array([x == y for x, y in zip(a.tolist(), b.tolist(), strict=True)], dtype=np.bool_)
        for k in np.flatnonzero(~same).tolist():
            rows.append((k, col, a[k], b[k]))
    return pd.DataFrame(rows, columns=["oid", "column", "left", "right"])
