"""Shared by the venue tests: a columnar order batch from a few readable specs."""

from __future__ import annotations

from typing import Any

import numpy as np

from execlab._core.batches import OrderBatch
from execlab._core.codes import GTC, MARKET


def order_batch(*specs: dict[str, Any]) -> OrderBatch:
    """One order per spec: oid, qty and optionally sym (0), type (market), tif (gtc), limit, stop, trail_amt,
    trail_pct."""

    def col(key: str, default: float) -> np.ndarray:
        return np.array([s.get(key, default) for s in specs], dtype=np.float64)

    return OrderBatch(
        oid=np.array([s["oid"] for s in specs], dtype=np.int64),
        symbol=np.array([s.get("sym", 0) for s in specs], dtype=np.int64),
        quantity=col("qty", 0.0),
        order_type=np.array([s.get("type", MARKET) for s in specs], dtype=np.int8),
        time_in_force=np.array([s.get("tif", GTC) for s in specs], dtype=np.int8),
        limit_price=col("limit", np.nan),
        stop_price=col("stop", np.nan),
        trail_amount=col("trail_amt", np.nan),
        trail_percent=col("trail_pct", np.nan),
    )
