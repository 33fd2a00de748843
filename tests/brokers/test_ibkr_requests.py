"""The IB venue's framing, handshake and request decoders, fed by the real ib_async ``Client`` over loopback.

A small recording server (the venue's own framing and handshake) answers the handshake and the two messages that
make the client ready, then records every frame the unmodified client writes; the decoders must read each one back
to the values the client was given, at every server version the venue speaks.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from decimal import Decimal

import pytest
from ib_async import Contract, ExecutionFilter, Forex, Future, LimitOrder, MarketOrder, Order, Stock
from ib_async.client import Client
from ib_async.contract import ComboLeg, TagValue
from ib_async.order import PriceCondition, TimeCondition
from ib_async.wrapper import Wrapper

from execlab.venues.ibkr import _messages as m
from execlab.venues.ibkr import _requests as rq
from execlab.venues.ibkr._wire import (
    FrameReader,
    Handshake,
    HandshakeError,
    frame,
    handshake_reply,
    negotiate_version,
    parse_handshake,
)

VERSIONS = (157, 176, 178)


async def _record(version: int, act: Callable[[Client], None], n: int) -> list[list[str]]:
    """Connect a real client to a recording server at ``version``, run ``act``, return the first ``n`` frames the
    client sent after the handshake (startApi first)."""
    frames: list[list[str]] = []
    got_enough = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = b""
        parsed = None
        while parsed is None:
            data += await reader.read(4096)
            parsed = parse_handshake(data)
        offer, rest = parsed
        writer.write(handshake_reply(negotiate_version(offer, version)))
        writer.write(frame(m.managed_accounts(["DU1"])) + frame(m.next_valid_id(1)))
        frames_reader = FrameReader()
        frames.extend(frames_reader.feed(rest))
        while len(frames) < n:
            chunk = await reader.read(65536)
            if not chunk:
                break
            frames.extend(frames_reader.feed(chunk))
        got_enough.set()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = Client(Wrapper(None))  # type: ignore[arg-type]
    try:
        await client.connectAsync("127.0.0.1", port, 7, timeout=5)
        assert client.serverVersion() == version
        act(client)
        await asyncio.wait_for(got_enough.wait(), 5)
    finally:
        client.disconnect()
        server.close()
        await server.wait_closed()
    return frames[:n]


def _sent(version: int, act: Callable[[Client], None], n: int = 1) -> list[rq.Request]:
    frames = asyncio.run(_record(version, act, n + 1))
    assert rq.decode_request(frames[0], version) == rq.StartApi(7, "")
    return [rq.decode_request(f, version) for f in frames[1:]]


def test_handshake_parsing_and_negotiation() -> None:
    opening = b"API\0" + len(b"v157..178").to_bytes(4, "big") + b"v157..178" + b"rest"
    assert parse_handshake(opening[:3]) is None and parse_handshake(opening[:9]) is None
    offer, rest = parse_handshake(opening)  # type: ignore[misc]
    assert offer == Handshake(157, 178, "") and rest == b"rest"
    assert negotiate_version(offer) == 178 and negotiate_version(offer, 176) == 176
    assert negotiate_version(Handshake(100, 175)) == 157  # the highest supported inside the client's range
    with pytest.raises(HandshakeError):
        negotiate_version(Handshake(100, 150))
    with pytest.raises(HandshakeError):
        parse_handshake(b"GET / HTTP/1.1\r\n")
    paced = b"API\0" + len(b"v157..178 +PACEAPI").to_bytes(4, "big") + b"v157..178 +PACEAPI"
    assert parse_handshake(paced) == (Handshake(157, 178, "+PACEAPI"), b"")
    reply = handshake_reply(178)
    assert reply[4:].count(b"\0") == 2 and reply[4:].startswith(b"178\0")


def test_frame_reader_splits_a_stream_at_any_cut() -> None:
    stream = frame([3, 1, "AAPL", ""]) + frame([5, 1]) + frame(["x" * 300])
    for cut in range(len(stream) + 1):
        reader = FrameReader()
        out = reader.feed(stream[:cut]) + reader.feed(stream[cut:])
        assert out == [["3", "1", "AAPL", ""], ["5", "1"], ["x" * 300]]
    with pytest.raises(ValueError, match="longer"):
        FrameReader(max_bytes=10).feed(frame(["y" * 20]))


@pytest.mark.parametrize("version", VERSIONS)
def test_startup_requests(version: int) -> None:
    def act(c: Client) -> None:
        c.reqPositions()
        c.reqOpenOrders()
        c.reqCompletedOrders(False)
        c.reqAccountUpdates(True, "DU1")
        c.reqAccountUpdatesMulti(3, "DU1", "", False)
        c.reqExecutions(4, ExecutionFilter())
        c.reqAutoOpenOrders(True)
        c.reqAllOpenOrders()
        c.reqIds(1)
        c.reqCurrentTime()
        c.reqManagedAccts()
        c.reqGlobalCancel()
        c.reqAccountSummary(5, "All", "NetLiquidation,$LEDGER:ALL")
        c.cancelAccountSummary(5)
        c.cancelAccountUpdatesMulti(3)
        c.cancelPositions()
        c.cancelOrder(12)
        c.reqExecutions(6, ExecutionFilter(clientId=7, acctCode="DU1", time="20261130 09:30:00", symbol="AAPL",
                                           secType="STK", exchange="SMART", side="BUY"))
        c.reqMarketDataType(3)

    assert _sent(version, act, 19) == [
        rq.ReqPositions(), rq.ReqOpenOrders(), rq.ReqCompletedOrders(False), rq.ReqAccountUpdates(True, "DU1"),
        rq.ReqAccountUpdatesMulti(3, "DU1", "", False), rq.ReqExecutions(4, rq.ExecutionFilter()),
        rq.ReqAutoOpenOrders(True), rq.ReqAllOpenOrders(), rq.ReqIds(1), rq.ReqCurrentTime(), rq.ReqManagedAccts(),
        rq.ReqGlobalCancel(), rq.ReqAccountSummary(5, "All", "NetLiquidation,$LEDGER:ALL"),
        rq.CancelAccountSummary(5), rq.CancelAccountUpdatesMulti(3), rq.CancelPositions(), rq.CancelOrder(12),
        rq.ReqExecutions(6, rq.ExecutionFilter(7, "DU1", "20261130 09:30:00", "AAPL", "STK", "SMART", "BUY")),
        rq.UnhandledRequest(59, ("59", "1", "3")),
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_contract_details_requests(version: int) -> None:
    contracts = [Stock("AAPL", "SMART", "USD", primaryExchange="NASDAQ"), Forex("EURUSD"),
                 Future("ES", "202612", "CME"), Contract(conId=272093)]

    def act(client: Client) -> None:
        for i, contract in enumerate(contracts):
            client.reqContractDetails(i, contract)

    (a, b, c, d) = _sent(version, act, 4)
    assert isinstance(a, rq.ReqContractDetails) and a.req_id == 0
    assert (a.contract.symbol, a.contract.sec_type, a.contract.exchange, a.contract.primary_exchange,
            a.contract.currency) == ("AAPL", "STK", "SMART", "NASDAQ", "USD")
    assert isinstance(b, rq.ReqContractDetails)
    assert (b.contract.symbol, b.contract.sec_type, b.contract.exchange, b.contract.currency) == ("EUR", "CASH",
                                                                                                 "IDEALPRO", "USD")
    assert isinstance(c, rq.ReqContractDetails)
    assert (c.contract.symbol, c.contract.sec_type, c.contract.last_trade_date) == ("ES", "FUT", "202612")
    assert isinstance(d, rq.ReqContractDetails) and d.contract.con_id == 272093 and d.contract.symbol == ""


def _placed(version: int, contract: Contract, order: Order, order_id: int = 12) -> rq.PlaceOrder:
    (placed,) = _sent(version, lambda c: c.placeOrder(order_id, contract, order))
    assert isinstance(placed, rq.PlaceOrder)
    return placed


@pytest.mark.parametrize("version", VERSIONS)
def test_a_plain_market_order(version: int) -> None:
    order = MarketOrder("BUY", 100, orderRef="xl-0123456789abcdef0123456789abcdef", account="DU1")
    placed = _placed(version, Stock("AAPL", "SMART", "USD", primaryExchange="NASDAQ"), order)
    assert placed.field_count == {157: 110, 176: 115, 178: 114}[version]
    assert (placed.order_id, placed.action, placed.total_quantity, placed.order_type) == (12, "BUY", 100.0, "MKT")
    assert placed.order_ref == "xl-0123456789abcdef0123456789abcdef" and placed.account == "DU1"
    assert placed.lmt_price is None and placed.aux_price is None and placed.transmit and not placed.what_if
    assert placed.contract.symbol == "AAPL" and placed.contract.primary_exchange == "NASDAQ"


@pytest.mark.parametrize("version", VERSIONS)
def test_limit_stop_and_trailing_orders(version: int) -> None:
    limit = _placed(version, Forex("EURUSD"), LimitOrder("SELL", 25000, 1.0831, tif="GTC", outsideRth=True))
    assert (limit.action, limit.total_quantity, limit.lmt_price, limit.tif) == ("SELL", 25000.0, 1.0831, "GTC")
    assert limit.outside_rth and limit.contract.sec_type == "CASH"
    stop = _placed(version, Stock("MSFT", "SMART", "USD"),
                   Order(action="SELL", totalQuantity=5, orderType="STP LMT", lmtPrice=Decimal("401.5"),
                         auxPrice=402.0, parentId=11, transmit=False))
    assert (stop.order_type, stop.lmt_price, stop.aux_price, stop.parent_id, stop.transmit) == (
        "STP LMT", 401.5, 402.0, 11, False)
    trail = _placed(version, Stock("MSFT", "SMART", "USD"),
                    Order(action="SELL", totalQuantity=5, orderType="TRAIL", trailingPercent=1.5,
                          trailStopPrice=390.0))
    assert (trail.order_type, trail.trailing_percent, trail.trail_stop_price, trail.aux_price) == (
        "TRAIL", 1.5, 390.0, None)


@pytest.mark.parametrize("version", VERSIONS)
def test_orders_with_every_optional_part_stay_aligned(version: int) -> None:
    """Combo legs, delta-neutral, scale, hedge, algo, conditions and pegged parts: the cursor must end exactly at
    the last field (the decoder refuses a message it did not read to the end)."""
    bag = Contract(secType="BAG", symbol="SPY", exchange="SMART", currency="USD",
                   comboLegs=[ComboLeg(conId=1, ratio=1, action="BUY", exchange="SMART"),
                              ComboLeg(conId=2, ratio=1, action="SELL", exchange="SMART")])
    order = LimitOrder("BUY", 1, 1.25, orderRef="xl-bag", smartComboRoutingParams=[TagValue("NonGuaranteed", "1")])
    order.orderComboLegs = []
    order.deltaNeutralOrderType = "LMT"
    order.scalePriceIncrement = 0.05
    order.hedgeType = "D"
    order.hedgeParam = "0.5"
    order.algoStrategy = "Adaptive"
    order.algoParams = [TagValue("adaptivePriority", "Normal")]
    order.conditions = [PriceCondition(price=400.0, conId=265598, exch="SMART"), TimeCondition(time="20261130")]
    order.cashQty = 1000.0
    placed = _placed(version, bag, order)
    assert placed.order_ref == "xl-bag" and placed.algo_strategy == "Adaptive" and placed.conditions == 2
    assert placed.cash_qty == 1000.0 and placed.lmt_price == 1.25
    peg = Order(action="BUY", totalQuantity=1, orderType="PEG BEST", competeAgainstBestOffset=math.inf,
                midOffsetAtWhole=0.01, midOffsetAtHalf=0.005, orderRef="xl-peg")
    assert _placed(version, Contract(symbol="AAPL", secType="STK", exchange="IBKRATS", currency="USD"),
                   peg).order_ref == "xl-peg"
    bench = Order(action="BUY", totalQuantity=1, orderType="PEG BENCH", referenceContractId=1, orderRef="xl-b")
    assert _placed(version, Stock("AAPL", "SMART", "USD"), bench).order_ref == "xl-b"


def test_a_truncated_place_order_is_refused() -> None:
    with pytest.raises(rq.RequestDecodeError):
        rq.decode_request(["3", "12", "0", "AAPL"], 178)
    with pytest.raises(rq.RequestDecodeError):
        rq.decode_request(["x"], 178)
