"""Alpaca's ``trade_updates`` websocket: the local venue's server side, driven by the real alpaca-py ``TradingStream``
(through :class:`AlpacaTradeStream`) and by a raw ``websockets`` client, over loopback. No mocks.

Every wait is a bounded poll (:func:`wait_until`); nothing asserts that something happened within a time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.models import Order, TradeUpdate
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from execlab._brokers.contract import BrokerError, BrokerUnavailableError
from execlab._core.models import OrderStatus, Side
from execlab.adapters.alpaca._stream import AlpacaTradeStream, StreamAuthError, TradeUpdateEvent
from execlab.venues import AlpacaVenue

from helpers import waiting
from helpers.alpaca import StartVenue

KEY, SECRET = "PKSTREAM000000000000", "stream-test-secret-0000"
WAIT = 15.0


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    waiting.wait_until(predicate, what, timeout)



def stream_counts(venue: AlpacaVenue, *names: str) -> dict[str, int]:
    counts: dict[str, int] = venue.stats()["streams"]
    return {name: counts[name] for name in names}


class Recorder:
    """Collects the updates a stream delivers (from the stream's thread)."""

    def __init__(self) -> None:
        self.events: list[TradeUpdateEvent] = []
        self.reconnects = 0
        self._lock = threading.Lock()

    def __call__(self, event: TradeUpdateEvent) -> None:
        with self._lock:
            self.events.append(event)

    def on_reconnect(self) -> None:
        self.reconnects += 1

    def of(self, coid: str) -> list[TradeUpdateEvent]:
        with self._lock:
            return [e for e in self.events if e.order.client_order_id == coid]

    def names(self, coid: str) -> list[str]:
        return [e.event for e in self.of(coid)]

    def wait_for(self, coid: str, names: list[str]) -> list[TradeUpdateEvent]:
        wait_until(lambda: self.names(coid) == names or len(self.of(coid)) > len(names),
                   f"{names} for {coid} (seen {self.names(coid)})")
        assert self.names(coid) == names
        return self.of(coid)


@pytest.fixture
def venue(local_venue: StartVenue) -> AlpacaVenue:
    v = local_venue(KEY, SECRET, initial_cash=100_000.0)
    v.set_quote("AAPL", 99.90, 100.10)
    return v


@pytest.fixture
def client(venue: AlpacaVenue) -> TradingClient:
    return TradingClient(KEY, SECRET, paper=True, url_override=venue.base_url)


StreamFactory = Callable[..., tuple[AlpacaTradeStream, Recorder]]


@pytest.fixture
def streams(venue: AlpacaVenue) -> Iterator[StreamFactory]:
    made: list[AlpacaTradeStream] = []

    def make(key: str = KEY, secret: str = SECRET, url: str | None = None, start: bool = True,
             timeout: float = WAIT) -> tuple[AlpacaTradeStream, Recorder]:
        rec = Recorder()
        stream = AlpacaTradeStream(key, secret, rec, url=url or venue.stream_url, on_reconnect=rec.on_reconnect,
                                   reconnect_min_backoff=0.05, reconnect_max_backoff=0.5)
        made.append(stream)
        if start:
            stream.start(timeout=timeout)
        return stream, rec

    yield make
    for stream in made:
        stream.stop()
        assert not stream.running


@pytest.fixture
def live(streams: StreamFactory) -> tuple[AlpacaTradeStream, Recorder]:
    return streams()


def market(qty: float, coid: str, tif: TimeInForce = TimeInForce.DAY) -> MarketOrderRequest:
    return MarketOrderRequest(symbol="AAPL", qty=qty, side=OrderSide.BUY, time_in_force=tif, client_order_id=coid)


def limit(qty: float, price: float, coid: str, tif: TimeInForce = TimeInForce.GTC) -> LimitOrderRequest:
    return LimitOrderRequest(symbol="AAPL", qty=qty, side=OrderSide.BUY, limit_price=price, time_in_force=tif,
                             client_order_id=coid)


# -- updates through alpaca-py's TradingStream -----------------------------------------------------------
def test_marketable_order_streams_new_then_fill(venue: AlpacaVenue, client: TradingClient,
                                                live: tuple[AlpacaTradeStream, Recorder]) -> None:
    stream, rec = live
    assert stream.connected and stream.reconnects == 0 and stream.running
    before = time.monotonic()
    ack = client.submit_order(market(10, "mkt-1"))
    assert isinstance(ack, Order)
    new, fill = rec.wait_for("mkt-1", ["new", "fill"])
    assert new.order.broker_order_id == str(ack.id) and new.order.symbol == "AAPL" and new.order.side is Side.BUY
    assert new.order.status is OrderStatus.SUBMITTED and new.order.quantity == 10
    assert new.price is None and new.qty is None and new.execution_id is None
    assert fill.order.status is OrderStatus.FILLED and fill.order.filled_quantity == 10
    assert fill.qty == 10 and fill.price == pytest.approx(100.10) and fill.position_qty == 10
    assert fill.order.avg_fill_price == pytest.approx(100.10) and fill.execution_id
    assert isinstance(fill.timestamp, datetime) and fill.timestamp.tzinfo is not None
    assert before <= new.received_at <= fill.received_at
    assert stream.updates_received == 2


def test_partial_fill_then_fill(venue: AlpacaVenue, client: TradingClient,
                                live: tuple[AlpacaTradeStream, Recorder]) -> None:
    _, rec = live
    venue.faults.partial_fill_ratio = 0.4
    client.submit_order(market(10, "part-1"))
    rec.wait_for("part-1", ["new", "partial_fill"])
    venue.set_quote("AAPL", 100.9, 101.1)  # the rest fills at the next quote
    _, part, fill = rec.wait_for("part-1", ["new", "partial_fill", "fill"])
    assert part.qty == 4 and part.price == pytest.approx(100.10) and part.position_qty == 4
    assert part.order.status is OrderStatus.PARTIALLY_FILLED and part.order.filled_quantity == 4
    assert fill.qty == 6 and fill.price == pytest.approx(101.10) and fill.position_qty == 10
    assert fill.order.status is OrderStatus.FILLED and fill.order.filled_quantity == 10
    assert fill.order.avg_fill_price == pytest.approx((4 * 100.10 + 6 * 101.10) / 10)
    assert part.execution_id != fill.execution_id


def test_canceled(client: TradingClient, live: tuple[AlpacaTradeStream, Recorder]) -> None:
    _, rec = live
    ack = client.submit_order(limit(3, 90.0, "cxl-1"))
    assert isinstance(ack, Order)
    rec.wait_for("cxl-1", ["new"])
    client.cancel_order_by_id(ack.id)
    _, canceled = rec.wait_for("cxl-1", ["new", "canceled"])
    assert canceled.order.status is OrderStatus.CANCELLED and canceled.order.filled_quantity == 0
    assert canceled.qty is None and canceled.price is None


def test_unfillable_ioc_is_canceled(client: TradingClient, live: tuple[AlpacaTradeStream, Recorder]) -> None:
    _, rec = live
    client.submit_order(limit(3, 90.0, "ioc-1", tif=TimeInForce.IOC))
    _, canceled = rec.wait_for("ioc-1", ["new", "canceled"])
    assert canceled.order.status is OrderStatus.CANCELLED


def test_rejected(venue: AlpacaVenue, client: TradingClient, live: tuple[AlpacaTradeStream, Recorder]) -> None:
    _, rec = live
    venue.faults.next_rejects = 1
    client.submit_order(market(2, "rej-1"))
    _, rejected = rec.wait_for("rej-1", ["new", "rejected"])
    assert rejected.order.status is OrderStatus.REJECTED and rejected.order.filled_quantity == 0


def test_day_order_expires_at_the_session_roll(streams: StreamFactory) -> None:
    with AlpacaVenue(KEY, SECRET, clock=lambda: datetime(2024, 3, 5, 15, 0, tzinfo=UTC)) as venue:
        venue.set_quote("AAPL", 99.9, 100.1)
        client = TradingClient(KEY, SECRET, paper=True, url_override=venue.base_url)
        stream, rec = streams(url=venue.stream_url)
        client.submit_order(limit(1, 90.0, "day-1", tif=TimeInForce.DAY))
        client.submit_order(limit(1, 90.0, "gtc-1", tif=TimeInForce.GTC))
        rec.wait_for("day-1", ["new"])
        venue.set_time(datetime(2024, 3, 6, 15, 0, tzinfo=UTC))  # the next New York session
        _, expired = rec.wait_for("day-1", ["new", "expired"])
        assert expired.order.status is OrderStatus.EXPIRED
        assert expired.timestamp == datetime(2024, 3, 6, 15, 0, tzinfo=UTC)
        assert rec.names("gtc-1") == ["new"]
        stream.stop()


def test_updates_keep_publication_order_across_many_orders(venue: AlpacaVenue, client: TradingClient,
                                                           live: tuple[AlpacaTradeStream, Recorder]) -> None:
    _, rec = live
    for i in range(15):
        client.submit_order(market(1, f"seq-{i}"))
    wait_until(lambda: len(rec.events) == 30, "30 updates")
    assert [(e.order.client_order_id, e.event) for e in rec.events] == [
        (f"seq-{i}", name) for i in range(15) for name in ("new", "fill")]
    assert [e.position_qty for e in rec.events if e.event == "fill"] == [float(i + 1) for i in range(15)]


def test_a_failing_callback_does_not_stop_the_stream(venue: AlpacaVenue, client: TradingClient,
                                                     streams: StreamFactory) -> None:
    seen: list[str] = []

    def on_update(event: TradeUpdateEvent) -> None:
        seen.append(event.event)
        if len(seen) == 1:
            raise RuntimeError("a bug in the user's callback")

    stream = AlpacaTradeStream(KEY, SECRET, on_update, url=venue.stream_url)
    try:
        stream.start(timeout=WAIT)
        client.submit_order(market(1, "cb-1"))
        wait_until(lambda: seen == ["new", "fill"], "both updates despite the failing callback")
        assert stream.connected
    finally:
        stream.stop()


# -- authentication, connection failures, life cycle -----------------------------------------------------
def test_wrong_keys_raise_stream_auth_error_and_end_the_thread(venue: AlpacaVenue, streams: StreamFactory) -> None:
    stream, _ = streams(secret="not-the-secret", start=False)
    with pytest.raises(StreamAuthError) as caught:
        stream.start(timeout=60)  # must not wait for the timeout: the refusal ends start() at once
    message = str(caught.value)
    assert venue.stream_url in message and "not-the-secret" not in message and SECRET not in message
    assert isinstance(caught.value, BrokerError)
    assert not stream.running and not stream.connected and stream.auth_refused
    counts = venue.stats()["streams"]
    assert counts["auth_failures"] == 1 and counts["connections"] == 1  # no reconnect loop
    stream.stop()  # harmless after the failure


def test_wrong_key_id_is_refused_too(venue: AlpacaVenue, streams: StreamFactory) -> None:
    stream, _ = streams(key="PKWRONG", start=False)
    with pytest.raises(StreamAuthError):
        stream.start(timeout=60)
    assert not stream.running


def test_nothing_listening_raises_unavailable(streams: StreamFactory) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stream, _ = streams(url=f"ws://127.0.0.1:{port}/stream", start=False)
    with pytest.raises(BrokerUnavailableError) as caught:
        stream.start(timeout=1.0)
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert not stream.running


def test_stop_ends_the_thread_and_is_idempotent(venue: AlpacaVenue, streams: StreamFactory) -> None:
    stream, _ = streams()
    assert venue.stats()["streams"]["open"] == 1
    stream.stop()
    assert not stream.running and not stream.connected
    stream.stop()
    wait_until(lambda: venue.stats()["streams"]["open"] == 0, "the server to see the connection closed")
    with pytest.raises(RuntimeError):
        stream.start()


def test_constructor_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="api_key"):
        AlpacaTradeStream("", SECRET, lambda e: None, url="ws://127.0.0.1:1/stream")
    with pytest.raises(ValueError, match="backoff"):
        AlpacaTradeStream(KEY, SECRET, lambda e: None, url="ws://127.0.0.1:1/stream", reconnect_min_backoff=0)


# -- dropped streams ---------------------------------------------------------------------------------------
def test_dropped_stream_reconnects_and_later_updates_arrive(venue: AlpacaVenue, client: TradingClient,
                                                            live: tuple[AlpacaTradeStream, Recorder]) -> None:
    stream, rec = live
    client.submit_order(market(1, "pre-1"))
    rec.wait_for("pre-1", ["new", "fill"])
    reply = requests.post(venue.base_url + "/_streams/drop", json={}, timeout=5, headers=venue.harness_headers)
    assert reply.status_code == 200 and reply.json() == {"dropped": 1}
    wait_until(lambda: stream.reconnects == 1 and stream.connected, "the stream to reconnect")
    assert rec.reconnects == 1  # on_reconnect ran once
    client.submit_order(market(2, "post-1"))
    _, fill = rec.wait_for("post-1", ["new", "fill"])
    assert fill.qty == 2 and fill.position_qty == 3
    expected = {"drops": 1, "connections": 2, "open": 1}
    wait_until(lambda: stream_counts(venue, *expected) == expected, f"stream counts {expected}")


def test_drop_streams_in_process(venue: AlpacaVenue, live: tuple[AlpacaTradeStream, Recorder]) -> None:
    stream, _ = live
    assert venue.drop_streams() == 1
    wait_until(lambda: stream.reconnects == 1 and stream.connected, "the stream to reconnect")


def test_stream_drop_after_knob(venue: AlpacaVenue, client: TradingClient,
                                live: tuple[AlpacaTradeStream, Recorder]) -> None:
    stream, rec = live
    knobs = requests.post(venue.base_url + "/_faults", json={"stream_drop_after": 2}, timeout=5,
                          headers=venue.harness_headers).json()
    assert knobs["stream_drop_after"] == 2
    client.submit_order(market(1, "knob-1"))
    rec.wait_for("knob-1", ["new", "fill"])  # both were sent, then the connection was dropped
    wait_until(lambda: stream.reconnects == 1 and stream.connected, "the stream to reconnect")
    venue.faults.stream_drop_after = 0
    client.submit_order(market(1, "knob-2"))
    rec.wait_for("knob-2", ["new", "fill"])
    expected = {"drops": 1, "messages": 4}  # the server counts a message once it is sent: poll
    wait_until(lambda: stream_counts(venue, *expected) == expected, f"stream counts {expected}")


def test_updates_missed_while_down_are_found_by_polling_rest_on_reconnect(venue: AlpacaVenue,
                                                                          client: TradingClient) -> None:
    polled: list[str] = []
    seen: list[TradeUpdateEvent] = []

    def poll() -> None:  # what an executor does on reconnect: ask REST about what it may have missed
        order = client.get_order_by_client_id("gap-1")
        assert isinstance(order, Order)
        polled.append(order.status.value)

    stream = AlpacaTradeStream(KEY, SECRET, seen.append, url=venue.stream_url, on_reconnect=poll,
                               reconnect_min_backoff=0.05)
    try:
        stream.start(timeout=WAIT)
        venue.faults.stream_drop_after = 1
        client.submit_order(market(1, "gap-1"))  # "new" is sent, the connection dropped, "fill" never sent
        wait_until(lambda: stream.reconnects == 1 and stream.connected, "the stream to reconnect")
        assert [e.event for e in seen] == ["new"]  # no replay on the new connection
        assert polled == ["filled"]
        venue.faults.stream_drop_after = 0
        client.submit_order(market(1, "gap-2"))
        wait_until(lambda: [e.event for e in seen] == ["new", "new", "fill"], "gap-2's updates")
    finally:
        stream.stop()


def test_stream_delay_keeps_order(venue: AlpacaVenue, client: TradingClient,
                                  live: tuple[AlpacaTradeStream, Recorder]) -> None:
    _, rec = live
    venue.faults.stream_delay_seconds = 0.3
    sent = time.monotonic()
    client.submit_order(market(1, "slow-1"))
    new, fill = rec.wait_for("slow-1", ["new", "fill"])
    assert new.received_at - sent >= 0.3  # a lower bound the server guarantees, not a timing expectation
    assert fill.received_at >= new.received_at and fill.qty == 1


@pytest.mark.parametrize("knob,value", [("stream_drop_after", -1), ("stream_drop_after", 1.5),
                                        ("stream_delay_seconds", -1), ("stream_delay_seconds", "x")])
def test_stream_knobs_are_validated(venue: AlpacaVenue, knob: str, value: Any) -> None:
    reply = requests.post(venue.base_url + "/_faults", json={knob: value}, timeout=5, headers=venue.harness_headers)
    assert reply.status_code == 400 and knob in reply.json()["message"]


def test_venue_stop_closes_streams_with_going_away(streams: StreamFactory) -> None:
    venue = AlpacaVenue(KEY, SECRET).start()
    try:
        stream, _ = streams(url=venue.stream_url)
        with connect(venue.stream_url, open_timeout=WAIT) as ws:
            _authenticate(ws)
            venue.stop()
            with pytest.raises(ConnectionClosed) as caught:
                ws.recv(timeout=WAIT)
    finally:
        venue.stop()
    assert caught.value.rcvd is not None and caught.value.rcvd.code == 1001
    wait_until(lambda: not stream.connected, "the client to notice")
    stream.stop()
    assert not stream.running


# -- the wire, with a raw websocket client -----------------------------------------------------------------
def _recv(ws: ClientConnection) -> dict[str, Any]:
    frame = ws.recv(timeout=WAIT)
    assert isinstance(frame, bytes), "Alpaca's paper stream sends binary frames"
    parsed = json.loads(frame)
    assert isinstance(parsed, dict)
    return parsed


def _authenticate(ws: ClientConnection) -> None:
    ws.send(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}))
    assert _recv(ws)["data"]["status"] == "authorized"


def test_wire_shapes_of_authorization_and_listening(venue: AlpacaVenue, client: TradingClient) -> None:
    assert venue.stream_url == f"ws://127.0.0.1:{venue.port}/stream"
    with connect(venue.stream_url, open_timeout=WAIT) as ws:
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}))
        assert _recv(ws) == {"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert _recv(ws) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}
        client.submit_order(market(1, "wire-1"))
        first, second = _recv(ws), _recv(ws)
        assert set(first) == {"stream", "data"} and first["stream"] == second["stream"] == "trade_updates"
        assert set(first["data"]) == {"event", "order", "timestamp"} and first["data"]["event"] == "new"
        assert set(second["data"]) == {"event", "order", "timestamp", "execution_id", "price", "qty",
                                       "position_qty"}
        assert second["data"] == venue.trade_updates()[1]
        update = TradeUpdate(**second["data"])
        assert update.event == "fill" and update.qty == 1 and update.order.client_order_id == "wire-1"
        ws.send(json.dumps({"action": "listen", "data": {"streams": []}}))  # stop listening
        assert _recv(ws) == {"stream": "listening", "data": {"streams": []}}
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates", "no_such_stream"]}}))
        assert _recv(ws) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}


def test_wire_newer_auth_message(venue: AlpacaVenue) -> None:
    with connect(venue.stream_url, open_timeout=WAIT) as ws:
        ws.send(json.dumps({"action": "auth", "key": KEY, "secret": SECRET}))
        assert _recv(ws) == {"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}}


@pytest.mark.parametrize("message", [
    {"action": "authenticate", "data": {"key_id": KEY, "secret_key": "wrong"}},
    {"action": "authenticate", "data": {"key_id": "wrong", "secret_key": SECRET}},
    {"action": "authenticate"},
    {"action": "auth", "key": KEY, "secret": "wrong"},
])
def test_wire_wrong_keys_are_unauthorized_then_closed(venue: AlpacaVenue, message: dict[str, Any]) -> None:
    with connect(venue.stream_url, open_timeout=WAIT) as ws:
        ws.send(json.dumps(message))
        assert _recv(ws) == {"stream": "authorization",
                             "data": {"status": "unauthorized", "action": "authenticate"}}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)
    counts = venue.stats()["streams"]
    assert counts["auth_failures"] == 1 and counts["authorized"] == 0


def test_wire_listen_before_auth_is_unauthorized(venue: AlpacaVenue) -> None:
    with connect(venue.stream_url, open_timeout=WAIT) as ws:
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert _recv(ws) == {"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=WAIT)


def test_wire_garbage_gets_an_error_and_the_connection_stays(venue: AlpacaVenue) -> None:
    with connect(venue.stream_url, open_timeout=WAIT) as ws:
        ws.send("not json")
        reply = _recv(ws)
        assert reply["stream"] == "error" and "action" in reply["data"]["error"]
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}}))
        assert _recv(ws)["data"]["status"] == "authorized"


def test_wire_no_updates_before_listen(venue: AlpacaVenue, client: TradingClient) -> None:
    with connect(venue.stream_url, open_timeout=WAIT) as ws:
        _authenticate(ws)
        client.submit_order(market(1, "quiet-1"))
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert _recv(ws) == {"stream": "listening", "data": {"streams": ["trade_updates"]}}
        client.submit_order(market(1, "loud-1"))
        assert [_recv(ws)["data"]["order"]["client_order_id"] for _ in range(2)] == ["loud-1", "loud-1"]


def test_plain_http_get_of_the_stream_is_400(venue: AlpacaVenue) -> None:
    reply = requests.get(venue.base_url + "/stream", timeout=5)
    assert reply.status_code == 400 and "websocket" in reply.json()["message"]


def test_stream_counts_in_stats(venue: AlpacaVenue, live: tuple[AlpacaTradeStream, Recorder]) -> None:
    counts = requests.get(venue.base_url + "/_stats", timeout=5, headers=venue.harness_headers).json()["streams"]
    assert counts == {"connections": 1, "open": 1, "authorized": 1, "auth_failures": 0, "drops": 0, "messages": 0}
    assert venue.stats()["requests"] == 0  # the websocket is not a REST request


def test_trade_update_event_is_frozen(venue: AlpacaVenue, client: TradingClient,
                                      live: tuple[AlpacaTradeStream, Recorder]) -> None:
    _, rec = live
    client.submit_order(market(1, "frozen-1"))
    new, _ = rec.wait_for("frozen-1", ["new", "fill"])
    with pytest.raises(AttributeError):
        new.event = "fill"  # type: ignore[misc]
    assert new.order.raw["client_order_id"] == "frozen-1"
