"""``OrderExecutor``: the one interface through which orders reach a simulation, a paper account or a broker."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from execlab._core.arrays import FloatArray, IntArray
from execlab._core.batches import FillBatch, OrderBatch, OrderEvents
from execlab._core.models import AccountSnapshot
from execlab._plan.diff import CostEstimate

__all__ = ["OrderExecutor"]


class OrderExecutor(ABC):
    """Submit orders, cancel them, ask their status, read positions and account, and receive fills.

    Quantities and symbols are columns over the executor's symbol universe (``symbols``); order keys (``oid``)
    are the OMS's ids. Which implementation runs is chosen by configuration.
    """

    @property
    @abstractmethod
    def symbols(self) -> tuple[str, ...]:
        """The symbol universe that ``symbol`` indices refer to."""

    @abstractmethod
    def submit(self, orders: OrderBatch) -> None:
        """Send new orders; their fate arrives through :meth:`poll`."""

    @abstractmethod
    def cancel(self, oids: IntArray) -> None:
        """Ask to cancel working orders; the cancellations arrive through :meth:`poll`."""

    @abstractmethod
    def order_status(self, oids: IntArray) -> OrderEvents:
        """The executor's current view of the given orders (status code per order)."""

    @abstractmethod
    def positions(self) -> FloatArray:
        """Signed quantity held per symbol of the universe."""

    @abstractmethod
    def account(self) -> AccountSnapshot:
        """Cash, equity and buying power now."""

    @abstractmethod
    def poll(self) -> tuple[FillBatch, OrderEvents]:
        """Fills and order state changes since the last call (the fill stream)."""

    def cost_estimate(self, quantity: FloatArray, price: FloatArray) -> CostEstimate:
        """Expected slippage and fees of orders, for the plan's cash check (default: none)."""
        return CostEstimate()

    def cash_floor(self) -> float | None:
        """Lowest cash the plan may leave (``None``: the executor does not limit cash)."""
        return 0.0

    def find(self, symbols: Sequence[str]) -> IntArray:
        """Universe indices of ``symbols``."""
        index = {s: i for i, s in enumerate(self.symbols)}
        return np.array([index[s] for s in symbols], dtype=np.int64)
