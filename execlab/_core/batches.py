"""Columnar batches that cross the executor interface: new orders, fills and order events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from execlab._core.arrays import FloatArray, IntArray

__all__ = ["NO_EVENTS", "NO_FILLS", "FillBatch", "OrderBatch", "OrderEvents", "concat_events", "concat_fills"]


@dataclass(frozen=True, slots=True)
class OrderBatch:
    """New orders as columns: ``oid`` is the OMS key, ``symbol`` an index into the run's symbol universe."""

    oid: IntArray
    symbol: IntArray
    quantity: FloatArray
    """Signed: positive buys, negative sells."""
    order_type: npt.NDArray[np.int8]
    time_in_force: npt.NDArray[np.int8]
    limit_price: FloatArray
    stop_price: FloatArray
    trail_amount: FloatArray
    trail_percent: FloatArray
    client_order_ids: tuple[str, ...] | None = None
    """Set when the OMS journals orders (paper and live); the backtest leaves it out."""

    def __len__(self) -> int:
        return len(self.oid)


@dataclass(frozen=True, slots=True)
class FillBatch:
    """Executions, as columns: order key, bar, signed quantity, price, model price before slippage, fee."""

    oid: IntArray
    bar: IntArray
    quantity: FloatArray
    price: FloatArray
    reference_price: FloatArray
    fee: FloatArray
    maker: npt.NDArray[np.bool_]

    def __len__(self) -> int:
        return len(self.oid)


@dataclass(frozen=True, slots=True)
class OrderEvents:
    """Order state changes reported by the venue: order key, status code, reason code."""

    oid: IntArray
    status: npt.NDArray[np.int8]
    reason: npt.NDArray[np.int8]

    def __len__(self) -> int:
        return len(self.oid)


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


#: An empty fill batch (read-only arrays).
NO_FILLS = FillBatch(*(_frozen(np.zeros(0, dtype=t)) for t in (np.int64, np.int64, float, float, float, float, bool)))
#: An empty event batch (read-only arrays).
NO_EVENTS = OrderEvents(*(_frozen(np.zeros(0, dtype=t)) for t in (np.int64, np.int8, np.int8)))


def concat_fills(parts: list[FillBatch]) -> FillBatch:
    """One batch from many, in order."""
    if not parts:
        return NO_FILLS
    if len(parts) == 1:
        return parts[0]
    return FillBatch(*(np.concatenate([getattr(p, f) for p in parts]) for f in FillBatch.__slots__))


def concat_events(parts: list[OrderEvents]) -> OrderEvents:
    """One batch from many, in order."""
    if not parts:
        return NO_EVENTS
    if len(parts) == 1:
        return parts[0]
    return OrderEvents(*(np.concatenate([getattr(p, f) for p in parts]) for f in OrderEvents.__slots__))
