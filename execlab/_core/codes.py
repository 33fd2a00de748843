"""Integer codes for enums in columnar tables (order type, time in force, status, reasons)."""

from __future__ import annotations

from enum import IntEnum
from typing import Final

import numpy as np

from execlab._core.models import OrderStatus, OrderType, TimeInForce

__all__ = [
    "STATUS",
    "STATUS_NAMES",
    "TIF",
    "TIF_NAMES",
    "TYPE",
    "TYPE_NAMES",
    "VenueReason",
]

TYPE: Final = {t: i for i, t in enumerate(OrderType)}
TIF: Final = {t: i for i, t in enumerate(TimeInForce)}
STATUS: Final = {s: i for i, s in enumerate(OrderStatus)}
TYPE_NAMES: Final = np.array([t.value for t in OrderType], dtype=object)
TIF_NAMES: Final = np.array([t.value for t in TimeInForce], dtype=object)
STATUS_NAMES: Final = np.array([s.value for s in OrderStatus], dtype=object)

# Mirrored as literals inside the numba kernels.
MARKET, LIMIT, STOP, STOP_LIMIT, TRAILING_STOP = range(5)
DAY, GTC, IOC, FOK, OPG, CLS = range(6)
PENDING, SUBMITTED, PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED, EXPIRED, DENIED = range(8)


class VenueReason(IntEnum):
    """Why the venue ended or cut an order."""

    NONE = 0
    INSUFFICIENT_CASH = 1
    NO_SHORTING = 2
    IOC_REMAINDER = 3
    FOK_NOT_FILLABLE = 4
    DAY_EXPIRED = 5
    CANCELLED_BY_CLIENT = 6
    SESSION_PRICE_MISSING = 7
    INVALID_ORDER = 8
    ONE_CANCELS_OTHER = 9
    """Another leg of its one-cancels-other group filled (or was cancelled)."""
    PARENT_ENDED = 10
    """A held leg whose entry ended without a fill."""
