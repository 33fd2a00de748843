"""``CcxtStream``: order updates and fills from ccxt.pro's private websocket (Binance's websocket API user-data
stream, OKX's ``orders`` channel), on the kit's loop thread.

Markets come from the adapter's REST exchange when it has loaded them (``markets_from``): a stream's own
``load_markets`` would be an unpaced request (Binance's ``exchangeInfo`` weighs 20), on every reconnect.

Live once the exchange confirmed the subscription (Binance) or the login (OKX). A dropped connection is noticed
when a ``watch_*`` call raises: the stream is marked down, a new ccxt.pro exchange is made (its clients start clean)
and, once live again, ``on_gap`` lets the executor catch up by REST. Refused keys end the stream (no retry).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import ccxt

from execlab._brokers.async_bridge import AsyncStream, LoopThread
from execlab._brokers.client_ids import ClientIdStyle
from execlab._brokers.contract import BrokerFill, BrokerOrder
from execlab._brokers.symbols import IdentityMap, SymbolMap
from execlab.adapters.ccxt._exchange import make_exchange
from execlab.adapters.ccxt._mapping import broker_order, fill, wire_client_id

__all__ = ["CcxtStream"]

_RETRY_SECONDS = 0.5


def _refused(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it replaced: ccxt.pro 4.5.90 turns a refused Binance subscription into a KeyError)
    is a refusal of the keys."""
    return any(isinstance(e, ccxt.AuthenticationError) for e in (exc, exc.__context__, exc.__cause__))


class CcxtStream(AsyncStream):
    """Pushes every order update to ``on_order`` and every trade to ``on_fill`` (symbols are ccxt's unified ones,
    execlab's too)."""

    name = "ccxt-stream"

    def __init__(self, exchange_id: str, credentials: dict[str, Any], base_url: str | None, style: ClientIdStyle,
                 on_order: Callable[[BrokerOrder], None], on_fill: Callable[[BrokerFill], None], *,
                 on_gap: Callable[[], None] | None = None, loop: LoopThread | None = None,
                 symbols: SymbolMap | None = None, markets_from: Any = None) -> None:
        super().__init__(on_gap=on_gap, loop=loop)
        self.exchange_id = exchange_id
        self._credentials = credentials
        self._base_url = base_url
        self._style = style
        self._on_order, self._on_fill = on_order, on_fill
        self._exchange: Any = None
        self._closing = False
        self._fee_sign = -1.0 if exchange_id == "okx" else 1.0
        self._symbols: SymbolMap = symbols or IdentityMap()
        self._markets_from = markets_from

    def _describe(self) -> str:
        return f"{self.exchange_id} stream ({self._base_url or 'exchange'})"

    async def _run(self) -> None:
        while not self._closing and not self._halt.is_set():
            self._exchange = make_exchange(self.exchange_id, base_url=self._base_url, pro=True, **self._credentials)
            try:
                if self._markets_from is not None and self._markets_from.markets:
                    self._exchange.set_markets_from_exchange(self._markets_from)
                else:
                    await self._exchange.load_markets()
                if self.exchange_id == "binance":
                    await self._exchange.authenticate()
                else:
                    await self._exchange.authenticate({"access": "private"})
                orders = asyncio.ensure_future(self._orders())
                trades = asyncio.ensure_future(self._trades())
                await asyncio.sleep(0.05)  # let both subscriptions go out
                self._mark_live()
                done, pending = await asyncio.wait({orders, trades}, return_when=asyncio.FIRST_EXCEPTION)
                for task in pending:
                    task.cancel()
                for task in done:
                    task.result()
            except Exception as exc:
                if self._closing or self._halt.is_set():
                    break
                if _refused(exc):
                    self._mark_refused()
                    break
                self._mark_down()
            finally:
                with contextlib.suppress(Exception):
                    await self._exchange.close()
            if not self._closing:
                await asyncio.sleep(_RETRY_SECONDS)

    async def _orders(self) -> None:
        while True:
            for raw in await self._exchange.watch_orders():
                self._on_order(broker_order(raw, self._style, self._symbols.to_execlab(str(raw["symbol"]))))

    async def _trades(self) -> None:
        while True:
            for trade in await self._exchange.watch_my_trades():
                wire = wire_client_id(trade) or ""
                self._on_fill(fill(trade, self._symbols.to_execlab(str(trade["symbol"])),
                                   self._style.parse(wire) or wire, fee_sign=self._fee_sign))

    async def _close(self) -> None:
        self._closing = True
        if self._exchange is not None:
            with contextlib.suppress(Exception):
                await self._exchange.close()
