"""``IBOrderStream``: order updates and fills from ib_async's events, kept connected.

TWS pushes order updates (``openOrder``, ``orderStatus``) and executions (``execDetails``, then the
``commissionReport`` that prices it) on the API connection itself, so the stream is the adapter's one ``IB``
connection: while it is up, every status change goes to ``on_order`` and every commission report (with its
execution) to ``on_fill``; when the socket drops, the stream reconnects (ib_async's startup sync replays positions,
orders and today's executions) and calls ``on_gap`` so the executor refreshes what it may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ib_async import CommissionReport, Fill, Trade

from execlab._brokers.async_bridge import AsyncStream, LoopThread
from execlab._brokers.contract import BrokerFill, BrokerOrder, BrokerUnavailableError
from execlab.adapters.ibkr._mapping import to_broker_fill, to_broker_order

if TYPE_CHECKING:
    from execlab.adapters.ibkr._adapter import IBAdapter

__all__ = ["IBOrderStream"]

log = logging.getLogger(__name__)


class IBOrderStream(AsyncStream):
    """Order updates and fills of one :class:`IBAdapter`'s connection, reconnecting with a growing pause."""

    name = "ibkr-stream"

    def __init__(self, adapter: IBAdapter, on_order: Callable[[BrokerOrder], None],
                 on_fill: Callable[[BrokerFill], None], *, on_gap: Callable[[], None] | None = None,
                 loop: LoopThread | None = None, max_pause: float = 5.0) -> None:
        super().__init__(on_gap=on_gap, loop=loop)
        self.adapter = adapter
        self.on_order = on_order
        self.on_fill = on_fill
        self.max_pause = max_pause
        self._closing: asyncio.Event | None = None
        self._dropped: asyncio.Event | None = None

    def _describe(self) -> str:
        return f"ibkr stream {self.adapter.host}:{self.adapter.port} client {self.adapter.client_id}"

    def _status(self, trade: Trade) -> None:
        order = to_broker_order(trade, self.adapter.symbols)
        if order is not None:
            self.on_order(order)

    def _commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        mapped = to_broker_fill(fill, self.adapter.symbols)
        if mapped is not None:
            self.on_fill(mapped)
        self._status(trade)

    def _disconnected(self, *_: Any) -> None:
        if self._dropped is not None:
            self._dropped.set()

    async def _run(self) -> None:
        self._closing = asyncio.Event()
        ib = self.adapter.ib
        ib.orderStatusEvent += self._status
        ib.commissionReportEvent += self._commission
        ib.disconnectedEvent += self._disconnected
        pause = 0.1
        try:
            while not self._closing.is_set():
                self._dropped = asyncio.Event()
                try:
                    await self.adapter.ensure_connected()
                except BrokerUnavailableError as exc:
                    log.info("%s: %s", self._describe(), exc)
                    self._mark_down()
                    await self._pause(pause)
                    pause = min(pause * 2, self.max_pause)
                    continue
                pause = 0.1
                if not ib.isConnected():
                    continue
                self._mark_live()
                closing = asyncio.ensure_future(self._closing.wait())
                dropped = asyncio.ensure_future(self._dropped.wait())
                await asyncio.wait({closing, dropped}, return_when=asyncio.FIRST_COMPLETED)
                for waiter in (closing, dropped):
                    waiter.cancel()
                if not self._closing.is_set():
                    self._mark_down()
        finally:
            ib.orderStatusEvent -= self._status
            ib.commissionReportEvent -= self._commission
            ib.disconnectedEvent -= self._disconnected

    async def _pause(self, seconds: float) -> None:
        assert self._closing is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _close(self) -> None:
        if self._closing is not None:
            self._closing.set()
