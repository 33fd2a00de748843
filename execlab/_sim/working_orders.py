"""The working orders of the simulated venue: one column per field, one row per order in submission order.

Both fronts of the matching kernel (:class:`execlab.SimulatedVenue` for bars, :class:`execlab.venues.QuoteVenue`
for quotes) keep their orders here; the kernel reads and updates the columns in place.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from execlab._core.arrays import IntArray

__all__ = ["COLUMNS", "WorkingOrders"]

COLUMNS: Final[dict[str, type]] = {
    "oid": np.int64, "sym": np.int64, "qty": np.float64, "type": np.int8, "tif": np.int8,
    "limit": np.float64, "stop": np.float64, "trail_amt": np.float64, "trail_pct": np.float64,
    "extreme": np.float64, "triggered": np.bool_, "eligible": np.int64, "day": np.int64,
    "submit": np.int64, "filled": np.float64, "active": np.bool_,
}
"""Column names and types, in the order of the kernel's working-order record."""

_COMPACT_FROM: Final = 4096  # rows in use before dropping finished rows is worth a copy


class WorkingOrders:
    """Working orders as columns: signed quantity left (``qty``), order type and time in force codes, limit and stop
    prices, trailing amount or percent and watermark (``extreme``), whether the stop triggered, the first step it may
    trade at (``eligible``), its session (``day``), the step it was sent at (``submit``), the quantity filled and
    whether it still works (``active``).

    Rows ``[0, n)`` are in use; finished rows stay until :meth:`compact` or :meth:`clear`.
    """

    oid: IntArray
    sym: IntArray
    qty: np.ndarray
    type: np.ndarray
    tif: np.ndarray
    limit: np.ndarray
    stop: np.ndarray
    trail_amt: np.ndarray
    trail_pct: np.ndarray
    extreme: np.ndarray
    triggered: np.ndarray
    eligible: IntArray
    day: IntArray
    submit: IntArray
    filled: np.ndarray
    active: np.ndarray

    def __init__(self, capacity: int = 64):
        self.n = 0
        """Rows in use."""
        self._set_columns([np.zeros(max(int(capacity), 1), dtype=t) for t in COLUMNS.values()])

    def _set_columns(self, arrays: list[np.ndarray]) -> None:
        for name, arr in zip(COLUMNS, arrays, strict=True):
            setattr(self, name, arr)
        self.record: tuple[np.ndarray, ...] = tuple(arrays)
        """Every column, in :data:`COLUMNS` order: the kernel's working-order record."""

    @property
    def capacity(self) -> int:
        """Rows allocated."""
        return int(self.oid.size)

    def add(self, oid: Any, sym: Any, qty: Any, order_type: Any, tif: Any, *, limit: Any, stop: Any,
            trail_amount: Any, trail_percent: Any, extreme: Any, eligible: Any, day: Any, submit: Any,
            active: Any = True, count: int = 1) -> int:
        """Append ``count`` orders (each argument one value, or one per order); returns the first new row.

        New orders start untriggered and unfilled.
        """
        start = self.n
        need = start + count
        if need > self.capacity:
            size = max(need, 2 * self.capacity)
            grown = []
            for arr in self.record:
                new = np.zeros(size, dtype=arr.dtype)
                new[:start] = arr[:start]
                grown.append(new)
            self._set_columns(grown)
        r = slice(start, need)
        self.oid[r] = oid
        self.sym[r] = sym
        self.qty[r] = qty
        self.type[r] = order_type
        self.tif[r] = tif
        self.limit[r] = limit
        self.stop[r] = stop
        self.trail_amt[r] = trail_amount
        self.trail_pct[r] = trail_percent
        self.extreme[r] = extreme
        self.triggered[r] = False
        self.eligible[r] = eligible
        self.day[r] = day
        self.submit[r] = submit
        self.filled[r] = 0.0
        self.active[r] = active
        self.n = need
        return start

    def clear(self) -> None:
        """Forget every row."""
        self.n = 0

    def worth_compacting(self, live: int | None = None) -> bool:
        """Whether so many rows are finished that dropping them pays (``live``: rows still needed, by default the
        working orders)."""
        if self.n <= _COMPACT_FROM:
            return False
        return 2 * (self.active_count() if live is None else live) < self.n

    def compact(self, keep: np.ndarray) -> IntArray:
        """Keep only the rows where ``keep`` (a mask over the rows in use) is True, in order; returns their old rows
        (row ``k`` now holds what was at ``returned[k]``)."""
        rows: IntArray = np.flatnonzero(keep)
        for arr in self.record:
            arr[: rows.size] = arr[rows]
        self.n = int(rows.size)
        return rows

    def active_count(self) -> int:
        """Orders still working."""
        return int(self.active[: self.n].sum())

    def working_oids(self) -> IntArray:
        """Keys of the orders still working, in submission order."""
        out: IntArray = self.oid[: self.n][self.active[: self.n]].copy()
        return out

    def cancel(self, oids: IntArray) -> IntArray:
        """Stop the working orders among ``oids``; returns the keys that were still working."""
        act = self.active[: self.n]
        hit = act & np.isin(self.oid[: self.n], oids)
        act[hit] = False
        out: IntArray = self.oid[: self.n][hit].copy()
        return out
