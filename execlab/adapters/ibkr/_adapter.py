"""``IBAdapter``: Interactive Brokers through ib_async, behind the broker kit's hooks.

ib_async is asyncio; the adapter owns one :class:`LoopThread` and runs every ib_async call on it. One ``IB`` object
holds the connection: the startup sync that ib_async does on every (re)connect (positions, open and completed
orders, account values, then ``reqExecutions``) is the reconciliation, and trades are found again by ``orderRef``
(execlab's client order id) or ``permId``, never by order id: a gateway restart may roll order ids back. A
``placeOrder`` refused with 103 (duplicate order id) is sent again with an id past every id seen. ib_async's own
throttle paces every message (``max_messages_per_second``, under IB's 50).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Final, TypeVar

from ib_async import IB, Contract, ExecutionFilter, Trade

from execlab._brokers.async_bridge import LoopThread
from execlab._brokers.client_ids import ClientIdStyle
from execlab._brokers.contract import (
    BrokerAdapter,
    BrokerFill,
    BrokerOrder,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    Capability,
    DuplicateClientOrderIdError,
)
from execlab._core.instruments import Instrument
from execlab._core.models import AccountSnapshot, Balance, Order
from execlab.adapters.ibkr._endpoints import check_ib_endpoint
from execlab.adapters.ibkr._mapping import (
    ORDER_REF,
    IBSymbols,
    instrument_of,
    never_placed,
    to_broker_fill,
    to_broker_order,
    to_ib_order,
)
from execlab.adapters.ibkr._stream import IBOrderStream

__all__ = ["IBAdapter"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Errors that refuse an order for good (the trade ends; nothing was placed).
_FINAL_ERRORS: Final = frozenset({110, 200, 201, 203, 321, 382, 383, 387, 10147, 10148})
_DUPLICATE_ID: Final = 103
_PACING: Final = 100


class IBAdapter(BrokerAdapter):
    """Orders, executions, positions and account of one IB account through ib_async (TWS, IB Gateway or the local
    :class:`execlab.venues.ibkr.IBVenue`).

    Args:
        host, port: the gateway (paper TWS 7497 / IB Gateway 4002; live 7496 / 4001 only with ``paper=False``).
        client_id: the API client id (unique per connection; a clash is refused with 326).
        account: the account to trade (default: the only managed one).
        paper: refuse live ports (``False``: the live mode, which refuses the paper ports).
        timeout: seconds for a connect and for each request's answer.
        symbols: execlab symbols ↔ IB contracts.
        max_messages_per_second: ib_async's own throttle (IB allows 50).
    """

    name = "ibkr"
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.ORDER_STREAM, Capability.FILL_STREAM, Capability.FILLS, Capability.INSTRUMENTS,
        Capability.BULK_REFRESH})
    client_ids: ClassVar[ClientIdStyle] = ORDER_REF

    def __init__(self, host: str = "127.0.0.1", port: int = 7497, client_id: int = 1, account: str = "", *,
                 paper: bool = True, timeout: float = 10.0, symbols: IBSymbols | None = None,
                 max_messages_per_second: int = 40) -> None:
        check_ib_endpoint(host, port, "paper" if paper else "live")
        if not 0 < max_messages_per_second <= 50:
            raise ValueError(f"max_messages_per_second must be in 1..50 (IB's limit), got {max_messages_per_second}")
        self.host, self.port, self.client_id, self.account = host, int(port), int(client_id), account
        self.timeout = float(timeout)
        self.symbols = symbols or IBSymbols()
        self.symbol_map = self.symbols
        self._max_rate = max_messages_per_second
        self._loop = LoopThread(f"ibkr-{client_id}").start()
        self._contracts: dict[str, Contract] = {}
        self._connect_lock: asyncio.Lock | None = None
        self.ib: IB = self._loop.run(self._make_ib(), self.timeout)
        self.stream: IBOrderStream | None = None
        self.reconnects = 0

    async def _make_ib(self) -> IB:
        ib = IB()
        ib.client.MaxRequests = self._max_rate
        ib.client.RequestsInterval = 1
        ib.RaiseRequestErrors = False
        self._connect_lock = asyncio.Lock()
        return ib

    # -- the loop ------------------------------------------------------------------------------------------------
    def _run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        try:
            return self._loop.run(coro, self.timeout * 3 if timeout is None else timeout)
        except OSError as exc:  # ib_async fails a request in flight with ConnectionError when the socket drops
            raise BrokerUnavailableError(f"ibkr: the connection dropped during the request: {exc!r} (it may have "
                                         "taken effect)") from exc

    async def ensure_connected(self) -> IB:
        """Connect (with ib_async's full startup sync) unless connected; after a restart, bump the order ids past
        every id the gateway reported."""
        assert self._connect_lock is not None
        async with self._connect_lock:
            ib = self.ib
            if ib.isConnected():
                return ib
            try:
                await ib.connectAsync(self.host, self.port, clientId=self.client_id, timeout=self.timeout,
                                      account=self.account)
            except (OSError, TimeoutError, ConnectionError) as exc:
                raise BrokerUnavailableError(f"ibkr: cannot connect to {self.host}:{self.port} as client "
                                             f"{self.client_id}: {exc!r}") from exc
            if not self.account:
                accounts = ib.managedAccounts()
                self.account = accounts[0] if len(accounts) == 1 else ""
            seen = [f.execution.orderId for f in ib.fills()] + [t.order.orderId for t in ib.trades()]
            if seen:
                ib.client.updateReqId(max(seen) + 1)  # type: ignore[no-untyped-call]
            self.reconnects += 1
            return ib

    # -- orders --------------------------------------------------------------------------------------------------
    async def _contract(self, symbol: str) -> Contract:
        found = self._contracts.get(symbol)
        if found is not None:
            return found
        ib = await self.ensure_connected()
        contract = self.symbols.contract(symbol)
        (qualified,) = await asyncio.wait_for(ib.qualifyContractsAsync(contract), self.timeout)
        if qualified is None or not isinstance(qualified, Contract):
            raise BrokerRejectedError(f"ibkr: no contract (or an ambiguous one) for {symbol!r}")
        self._contracts[symbol] = qualified
        return qualified

    async def _await_ack(self, trade: Trade) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while trade.orderStatus.status == "PendingSubmit" and not trade.log[-1].errorCode:
            if not self.ib.isConnected():
                raise BrokerUnavailableError("ibkr: the connection dropped before the order was acknowledged")
            if loop.time() > deadline:
                raise BrokerTimeoutError(f"ibkr: order {trade.order.orderRef} not acknowledged within "
                                         f"{self.timeout:g} s (it may have been placed)")
            await asyncio.sleep(0.005)

    async def _place(self, order: Order) -> Trade:
        contract = await self._contract(order.symbol)
        ib = await self.ensure_connected()
        wire = self.client_ids.render(order.client_order_id)
        # IB keeps no unique client order id: an orderRef this connection already knows (placed, or synced at
        # connect from open and completed orders) is refused here, before a second order could exist.
        if any(t.order.orderRef == wire and not never_placed(t) for t in ib.trades()):
            raise DuplicateClientOrderIdError(f"ibkr: an order with orderRef {wire} exists already")
        for _attempt in range(5):
            trade = ib.placeOrder(contract, to_ib_order(order, wire, self.account))
            await self._await_ack(trade)
            code = trade.log[-1].errorCode
            if code == _DUPLICATE_ID:  # the gateway rolled its ids back: jump past the refused one
                ib.client.updateReqId(trade.order.orderId + 1)  # type: ignore[no-untyped-call]
                continue
            if code == _PACING:  # dropped over IB's message rate: not placed, send again after a second
                raise BrokerRateLimitedError(f"ibkr: order {wire}: {trade.log[-1].message}", retry_after=1.0)
            if code in _FINAL_ERRORS or (code and trade.orderStatus.status in ("Cancelled", "Inactive")):
                raise BrokerRejectedError(f"ibkr: order {wire} refused: {trade.log[-1].message}")
            return trade
        raise BrokerRejectedError(f"ibkr: order {wire}: the gateway refused five order ids as duplicates")

    def _submit(self, order: Order) -> BrokerOrder:
        trade = self._run(self._place(order))
        out = to_broker_order(trade, self.symbols)
        assert out is not None
        return out

    async def _cancel_async(self, broker_order_id: str) -> None:
        ib = await self.ensure_connected()
        trade = self._find(lambda t: str(t.order.permId) == broker_order_id
                           or f"{t.order.clientId}:{t.order.orderId}" == broker_order_id)
        if trade is None:
            raise BrokerRejectedError(f"ibkr: no order {broker_order_id} to cancel")
        if trade.isDone():
            return
        ib.cancelOrder(trade.order)

    def _cancel(self, broker_order_id: str) -> None:
        self._run(self._cancel_async(broker_order_id))

    def _find(self, match: Callable[[Trade], bool]) -> Trade | None:
        found = [t for t in self.ib.trades() if match(t)]
        if not found:
            return None
        live = [t for t in found if not t.isDone()]
        return (live or found)[-1]

    async def _lookup(self, client_order_id: str) -> BrokerOrder | None:
        await self.ensure_connected()
        wire = self.client_ids.render(client_order_id)
        trade = self._find(lambda t: t.order.orderRef == wire and not never_placed(t))
        if trade is None:  # placed by another client id or an earlier session: ask the gateway
            await asyncio.wait_for(self.ib.reqCompletedOrdersAsync(False), self.timeout)
            await asyncio.wait_for(self.ib.reqAllOpenOrdersAsync(), self.timeout)
            trade = self._find(lambda t: t.order.orderRef == wire and not never_placed(t))
        return None if trade is None else to_broker_order(trade, self.symbols)

    def _order(self, client_order_id: str) -> BrokerOrder | None:
        return self._run(self._lookup(client_order_id))

    async def _trades(self, open_only: bool) -> list[BrokerOrder]:
        ib = await self.ensure_connected()
        trades = ib.openTrades() if open_only else ib.trades()
        out = [to_broker_order(t, self.symbols) for t in trades]
        return [o for o in out if o is not None]

    def _open_orders(self) -> list[BrokerOrder]:
        return self._run(self._trades(open_only=True))

    def _recent_orders(self) -> list[BrokerOrder]:
        return self._run(self._trades(open_only=False))

    # -- account -------------------------------------------------------------------------------------------------
    async def _positions_async(self) -> dict[str, float]:
        ib = await self.ensure_connected()
        out: dict[str, float] = {}
        for p in ib.positions(self.account) if self.account else ib.positions():
            if p.position:
                symbol = self.symbols.symbol_of(p.contract)
                out[symbol] = out.get(symbol, 0.0) + float(p.position)
        return out

    def _positions(self) -> dict[str, float]:
        return self._run(self._positions_async())

    async def _account_async(self) -> AccountSnapshot:
        ib = await self.ensure_connected()
        values = [v for v in ib.accountValues(self.account) if not v.modelCode]
        by_tag: dict[tuple[str, str], str] = {(v.tag, v.currency): v.value for v in values}
        base = by_tag.get(("Currency", next((v.currency for v in values if v.tag == "Currency"), "USD")), "USD")

        def number(tag: str) -> float:
            text = by_tag.get((tag, base), "")
            try:
                return float(text)
            except ValueError:
                return math.nan

        balances = tuple(Balance(currency=cur, free=float(val)) for (tag, cur), val in sorted(by_tag.items())
                         if tag == "CashBalance" and cur not in ("", "BASE"))
        equity, cash, power = number("NetLiquidation"), number("TotalCashValue"), number("BuyingPower")
        if math.isnan(equity) or math.isnan(cash):
            raise BrokerUnavailableError("ibkr: the account values have not arrived (NetLiquidation, "
                                         "TotalCashValue)")
        day_start = number("PreviousDayEquityWithLoanValue")
        return AccountSnapshot(timestamp=datetime.now(UTC), cash=cash, equity=equity,
                               buying_power=cash if math.isnan(power) else power, currency=base,
                               day_start_equity=None if math.isnan(day_start) else day_start, balances=balances)

    def _account(self) -> AccountSnapshot:
        return self._run(self._account_async())

    # -- executions, instruments ---------------------------------------------------------------------------------
    async def _fills_async(self, since: datetime | None) -> list[BrokerFill]:
        ib = await self.ensure_connected()
        when = "" if since is None else since.astimezone(UTC).strftime("%Y%m%d-%H:%M:%S")
        fills = await asyncio.wait_for(ib.reqExecutionsAsync(ExecutionFilter(time=when)), self.timeout)
        out = []
        for fill in fills:
            stored = ib.wrapper.fills.get(fill.execution.execId, fill)  # the one the commission report updated
            mapped = to_broker_fill(stored, self.symbols)
            if mapped is not None:
                out.append(mapped)
        return out

    def _fills(self, since: datetime | None) -> list[BrokerFill]:
        return self._run(self._fills_async(since))

    async def _instruments_async(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        ib = await self.ensure_connected()
        out: dict[str, Instrument] = {}
        for symbol in symbols:
            details = await asyncio.wait_for(ib.reqContractDetailsAsync(self.symbols.contract(symbol)),
                                             self.timeout)
            if len(details) == 1:
                out[symbol] = instrument_of(symbol, details[0])
        return out

    def _instruments(self, symbols: Sequence[str]) -> dict[str, Instrument]:
        return self._run(self._instruments_async(symbols))

    # -- stream and life cycle -----------------------------------------------------------------------------------
    def _stream(self, on_order: Callable[[BrokerOrder], None], on_fill: Callable[[BrokerFill], None],
                on_gap: Callable[[], None], timeout: float = 10.0) -> IBOrderStream:
        stream = IBOrderStream(self, on_order, on_fill, on_gap=on_gap, loop=self._loop)
        stream.start_until_live(timeout)
        self.stream = stream
        return stream

    def close(self) -> None:
        """Stop the stream, disconnect, end the loop thread (safe to call twice)."""
        if self.stream is not None:
            self.stream.stop()
            self.stream = None
        if self._loop.running:
            try:
                self._loop.run(self._disconnect(), 5.0)
            except BrokerTimeoutError:
                log.warning("ibkr: disconnect did not finish in time")
            self._loop.stop()
            self._loop.join(5.0)

    async def _disconnect(self) -> None:
        if self.ib.isConnected():
            self.ib.disconnect()
