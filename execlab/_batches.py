"""Columnar batches that cross the executor interface: new orders, fills and order events."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FillBatch", "OrderBatch", "OrderEvents"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


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

    @staticmethod
    def empty() -> OrderEvents:
        """No events."""
        return OrderEvents(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.int8))
