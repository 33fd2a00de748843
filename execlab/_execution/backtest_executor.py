"""``BacktestExecutor``: the simulated venue stepped through historical bars."""

from __future__ import annotations

import numpy as np

from execlab._config import VenueConfig
from execlab._core.arrays import FloatArray, IntArray
from execlab._core.batches import FillBatch, OrderBatch, OrderEvents, concat_events, concat_fills
from execlab._core.codes import CANCELLED, VenueReason
from execlab._core.models import AccountSnapshot
from execlab._data.bars import MarketData
from execlab._execution.executor import OrderExecutor
from execlab._plan.diff import CostEstimate
from execlab._sim import SimulatedVenue

__all__ = ["BacktestExecutor"]


class BacktestExecutor(OrderExecutor):
    """Fills from historical bars through :class:`SimulatedVenue`; :meth:`on_bar` moves its clock."""

    def __init__(self, market: MarketData, venue: VenueConfig, initial_cash: float, lot_size: FloatArray,
                 allow_short: bool = False):
        self.market = market
        self.venue = SimulatedVenue(market, venue, initial_cash, lot_size, allow_short)
        self.bar = 0
        self._fills: list[FillBatch] = []
        self._events: list[OrderEvents] = []
        self._fills_now = venue.fill_price == "close" and venue.latency_bars == 0

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.market.symbols

    def on_bar(self, i: int) -> None:
        """Advance the clock to bar ``i`` and match working orders against it."""
        self.bar = i
        self._collect(*self.venue.process(i))

    def _collect(self, fills: FillBatch, events: OrderEvents) -> None:
        if len(fills):
            self._fills.append(fills)
        if len(events):
            self._events.append(events)

    def submit(self, orders: OrderBatch) -> None:
        self.venue.submit(orders, self.bar)
        if self._fills_now:
            self._collect(*self.venue.process(self.bar))

    def cancel(self, oids: IntArray) -> None:
        done = self.venue.cancel(oids)
        if done.size:
            self._events.append(OrderEvents(done, np.full(done.size, CANCELLED, np.int8),
                                            np.full(done.size, VenueReason.CANCELLED_BY_CLIENT, np.int8)))

    def order_status(self, oids: IntArray) -> OrderEvents:
        working = np.isin(oids, self.venue.working_oids())
        return OrderEvents(oids, np.where(working, 1, -1).astype(np.int8), np.zeros(oids.size, np.int8))

    def positions(self) -> FloatArray:
        return self.venue.position

    def account(self) -> AccountSnapshot:
        equity = self.venue.equity(self.bar)
        floor = self.venue.cash_floor(self.bar)
        return AccountSnapshot(timestamp=self.market.timestamps[self.bar].to_pydatetime(), cash=self.venue.cash,
                               equity=equity, buying_power=self.venue.cash - floor)

    def equity(self) -> float:
        """Equity at the current bar, without building a snapshot."""
        return self.venue.equity(self.bar)

    def cash(self) -> float:
        """Cash now."""
        return self.venue.cash

    def poll(self) -> tuple[FillBatch, OrderEvents]:
        fills, events = self._fills, self._events
        self._fills, self._events = [], []
        return concat_fills(fills), concat_events(events)

    def cost_estimate(self, quantity: FloatArray, price: FloatArray) -> CostEstimate:
        return self.venue.cost_estimate(self.bar, quantity, price)

    def cash_floor(self) -> float | None:
        return self.venue.cash_floor(self.bar)

