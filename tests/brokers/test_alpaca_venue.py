"""The local Alpaca venue, driven by the real alpaca-py ``TradingClient`` over loopback HTTP (no mocks)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.models import TradeUpdate
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)
from requests.adapters import HTTPAdapter

from execlab import FeeConfig, MarginConfig, VenueConfig
from execlab.venues import AlpacaFaults, AlpacaVenue
from execlab.venues.alpaca import serve

from helpers.alpaca import StartVenue

KEY, SECRET = "PKTEST0000000000", "test-secret-0000"


@pytest.fixture
def venue(local_venue: StartVenue) -> AlpacaVenue:
    v = local_venue(KEY, SECRET, initial_cash=100_000.0)
    v.set_quote("AAPL", 99.90, 100.10)
    v.set_quote("MSFT", 399.0, 401.0)
    return v


def client_for(venue: AlpacaVenue, key: str = KEY, secret: str = SECRET, retry: int | None = None,
               timeout: float | None = None) -> TradingClient:
    client = TradingClient(key, secret, paper=True, url_override=venue.base_url)
    if retry is not None:
        assert hasattr(client, "_retry"), "alpaca-py no longer has RESTClient._retry"
        client._retry = retry
    if timeout is not None:
        # alpaca-py sends every request without a timeout; a transport adapter gives it one.
        client._session.mount("http://", _TimeoutAdapter(timeout))
    return client


class _TimeoutAdapter(HTTPAdapter):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(self, request: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout
        return super().send(request, **kwargs)


@pytest.fixture
def client(venue: AlpacaVenue) -> TradingClient:
    return client_for(venue)


def market(symbol: str, qty: float, side: OrderSide = OrderSide.BUY, coid: str | None = None,
           tif: TimeInForce = TimeInForce.DAY) -> MarketOrderRequest:
    return MarketOrderRequest(symbol=symbol, qty=qty, side=side, time_in_force=tif, client_order_id=coid)


def limit(symbol: str, qty: float, price: float, side: OrderSide = OrderSide.BUY, coid: str | None = None,
          tif: TimeInForce = TimeInForce.GTC) -> LimitOrderRequest:
    return LimitOrderRequest(symbol=symbol, qty=qty, side=side, limit_price=price, time_in_force=tif,
                             client_order_id=coid)


def raw(venue: AlpacaVenue, method: str, path: str, body: Any = None, **params: Any) -> requests.Response:
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
    return requests.request(method, venue.base_url + path, json=body, params=params or None, headers=headers,
                            timeout=5)


# -- orders, positions, account ---------------------------------------------------------------------------
def test_market_buy_fills_at_the_ask_and_moves_cash_and_position(venue: AlpacaVenue, client: TradingClient) -> None:
    ack = client.submit_order(market("AAPL", 10, coid="buy-1"))
    assert ack.status == OrderStatus.NEW  # acknowledged as accepted; the fill is seen on the next read
    assert ack.client_order_id == "buy-1" and ack.symbol == "AAPL" and ack.qty == "10"
    order = client.get_order_by_client_id("buy-1")
    assert order.id == ack.id
    assert order.status == OrderStatus.FILLED
    assert float(order.filled_qty) == 10 and float(order.filled_avg_price) == pytest.approx(100.10)
    assert order.filled_at is not None
    [pos] = client.get_all_positions()
    assert pos.symbol == "AAPL" and float(pos.qty) == 10 and pos.side == "long"
    assert float(pos.avg_entry_price) == pytest.approx(100.10)
    assert float(pos.current_price) == pytest.approx(100.0)  # marked at the mid when no last is given
    account = client.get_account()
    assert float(account.cash) == pytest.approx(100_000.0 - 1001.0)
    assert float(account.equity) == pytest.approx(100_000.0 - 1001.0 + 1000.0)
    assert float(account.long_market_value) == pytest.approx(1000.0)
    assert client.get_open_position("AAPL").qty == "10"


def test_market_sell_fills_at_the_bid(venue: AlpacaVenue, client: TradingClient) -> None:
    client.submit_order(market("MSFT", 3))
    client.submit_order(market("MSFT", 2, OrderSide.SELL, coid="sell-1"))
    sell = client.get_order_by_client_id("sell-1")
    assert sell.status == OrderStatus.FILLED and float(sell.filled_avg_price) == pytest.approx(399.0)
    assert float(client.get_open_position("MSFT").qty) == 1
    assert float(client.get_account().cash) == pytest.approx(100_000.0 - 3 * 401.0 + 2 * 399.0)


def test_limit_order_rests_until_the_quote_reaches_it(venue: AlpacaVenue, client: TradingClient) -> None:
    ack = client.submit_order(limit("AAPL", 5, 99.50, coid="lim-1"))
    assert client.get_order_by_id(ack.id).status == OrderStatus.NEW
    open_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN))
    assert [o.client_order_id for o in open_orders] == ["lim-1"]
    venue.set_quote("AAPL", 99.40, 99.60)  # ask above the limit still
    assert client.get_order_by_id(ack.id).status == OrderStatus.NEW
    venue.set_quote("AAPL", 99.30, 99.45)
    filled = client.get_order_by_id(ack.id)
    assert filled.status == OrderStatus.FILLED
    assert float(filled.filled_avg_price) == pytest.approx(99.45)  # at the touch, better than the limit
    assert client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN)) == []
    closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED, symbols=["AAPL"]))
    assert [o.client_order_id for o in closed] == ["lim-1"]


def test_marketable_limit_fills_at_once(venue: AlpacaVenue, client: TradingClient) -> None:
    client.submit_order(limit("AAPL", 1, 101.0, coid="lim-now"))
    order = client.get_order_by_client_id("lim-now")
    assert order.status == OrderStatus.FILLED and float(order.filled_avg_price) == pytest.approx(100.10)


def test_stop_and_trailing_stop_orders(venue: AlpacaVenue, client: TradingClient) -> None:
    client.submit_order(market("AAPL", 10))
    stop = client.submit_order(StopOrderRequest(symbol="AAPL", qty=4, side=OrderSide.SELL, stop_price=95.0,
                                                time_in_force=TimeInForce.GTC))
    trail = client.submit_order(TrailingStopOrderRequest(symbol="AAPL", qty=6, side=OrderSide.SELL,
                                                         trail_price=2.0, time_in_force=TimeInForce.GTC))
    venue.set_quote("AAPL", 104.0, 104.2)  # new high: the trailing stop moves to 102
    assert float(client.get_order_by_id(trail.id).hwm) == pytest.approx(104.0)
    venue.set_quote("AAPL", 101.5, 101.7)  # below 102: the trailing stop fires, the plain stop does not
    assert client.get_order_by_id(trail.id).status == OrderStatus.FILLED
    assert client.get_order_by_id(stop.id).status == OrderStatus.NEW
    venue.set_quote("AAPL", 94.0, 94.2)
    fired = client.get_order_by_id(stop.id)
    assert fired.status == OrderStatus.FILLED and float(fired.filled_avg_price) == pytest.approx(94.0)
    assert client.get_all_positions() == []


def test_notional_market_order_buys_fractional_shares(venue: AlpacaVenue, client: TradingClient) -> None:
    ack = client.submit_order(MarketOrderRequest(symbol="MSFT", notional=1000, side=OrderSide.BUY,
                                                 time_in_force=TimeInForce.DAY))
    assert ack.notional == "1000" and ack.qty is None
    order = client.get_order_by_id(ack.id)
    assert order.status == OrderStatus.FILLED
    assert float(order.filled_qty) == pytest.approx(1000 / 401.0, abs=1e-8)
    assert float(client.get_account().cash) == pytest.approx(100_000.0 - 1000.0, abs=1e-5)


def test_get_order_by_unknown_client_order_id_is_404(client: TradingClient) -> None:
    with pytest.raises(APIError) as err:
        client.get_order_by_client_id("nope")
    assert err.value.status_code == 404
    assert err.value.code == 40410000 and err.value.message == "order not found"


def test_cancel_open_order_then_cancel_again_is_422(venue: AlpacaVenue, client: TradingClient) -> None:
    ack = client.submit_order(limit("AAPL", 5, 90.0))
    client.cancel_order_by_id(ack.id)
    order = client.get_order_by_id(ack.id)
    assert order.status == OrderStatus.CANCELED and order.canceled_at is not None
    with pytest.raises(APIError) as err:
        client.cancel_order_by_id(ack.id)
    assert err.value.status_code == 422 and err.value.code == 42210000
    venue.set_quote("AAPL", 80.0, 80.1)  # a canceled order never fills
    assert client.get_order_by_id(ack.id).status == OrderStatus.CANCELED


def test_cancel_all_orders_is_multi_status(client: TradingClient) -> None:
    a = client.submit_order(limit("AAPL", 1, 90.0))
    b = client.submit_order(limit("MSFT", 1, 300.0))
    result = client.cancel_orders()
    assert {str(r.id) for r in result} == {str(a.id), str(b.id)}
    assert all(r.status == 200 for r in result)
    assert client.get_orders() == []


def test_close_position_and_close_all(venue: AlpacaVenue, client: TradingClient) -> None:
    client.submit_order(market("AAPL", 10))
    client.submit_order(market("MSFT", 2))
    partial = client.close_position("AAPL", ClosePositionRequest(percentage="50"))
    assert partial.side == OrderSide.SELL and float(partial.qty) == 5
    assert float(client.get_open_position("AAPL").qty) == 5
    closed = client.close_all_positions(cancel_orders=True)
    assert sorted(r.symbol for r in closed) == ["AAPL", "MSFT"] and all(r.status == 200 for r in closed)
    assert client.get_all_positions() == []
    with pytest.raises(APIError) as err:
        client.get_open_position("AAPL")
    assert err.value.status_code == 404 and err.value.code == 40410000


def test_clock_and_asset(client: TradingClient) -> None:
    clock = client.get_clock()
    assert clock.is_open and clock.next_close > clock.timestamp
    asset = client.get_asset("AAPL")
    assert asset.symbol == "AAPL" and asset.tradable and asset.fractionable


# -- refusals ---------------------------------------------------------------------------------------------
def test_duplicate_client_order_id_is_422_and_counted(venue: AlpacaVenue, client: TradingClient) -> None:
    client.submit_order(limit("AAPL", 1, 90.0, coid="dup-1"))
    with pytest.raises(APIError) as err:
        client.submit_order(limit("AAPL", 1, 90.0, coid="dup-1"))
    assert err.value.status_code == 422
    assert err.value.code == 40010001 and err.value.message == "client_order_id must be unique"
    assert venue.stats()["order_attempts"]["dup-1"] == 2
    assert len(client.get_orders()) == 1


def test_insufficient_buying_power_is_403(venue: AlpacaVenue, client: TradingClient) -> None:
    with pytest.raises(APIError) as err:
        client.submit_order(market("MSFT", 1000))
    assert err.value.status_code == 403 and err.value.code == 40310000
    assert err.value.message == "insufficient buying power"
    body = json.loads(str(err.value))
    assert float(body["cost_basis"]) == pytest.approx(401_000.0) and float(body["buying_power"]) == 100_000.0
    # Open buy orders hold buying power too.
    client.submit_order(limit("MSFT", 200, 390.0))
    with pytest.raises(APIError) as err:
        client.submit_order(limit("MSFT", 100, 390.0))
    assert err.value.code == 40310000
    assert float(client.get_account().buying_power) == pytest.approx(100_000.0 - 78_000.0)


def test_selling_more_than_held_is_403_without_shorting(client: TradingClient) -> None:
    client.submit_order(market("AAPL", 3))
    with pytest.raises(APIError) as err:
        client.submit_order(market("AAPL", 5, OrderSide.SELL))
    assert err.value.status_code == 403 and err.value.code == 40310000
    assert "insufficient qty available" in err.value.message


@pytest.mark.local_venue
def test_shorting_when_allowed() -> None:
    with AlpacaVenue(KEY, SECRET, allow_short=True,
                     venue_config=VenueConfig(margin=MarginConfig(enabled=True, max_leverage=2.0))) as venue:
        venue.set_quote("AAPL", 99.9, 100.1)
        client = client_for(venue)
        client.submit_order(market("AAPL", 10, OrderSide.SELL))
        pos = client.get_open_position("AAPL")
        assert float(pos.qty) == -10 and pos.side == "short"
        account = client.get_account()
        assert account.multiplier == "2" and account.shorting_enabled
        assert float(account.cash) == pytest.approx(100_000.0 + 999.0)


def test_wrong_keys_are_401(venue: AlpacaVenue) -> None:
    for key, secret in ((KEY, "wrong"), ("wrong", SECRET)):
        with pytest.raises(APIError) as err:
            client_for(venue, key, secret).get_account()
        assert err.value.status_code == 401
        assert err.value.code == 40110000 and err.value.message == "request is not authorized"
    reply = requests.get(venue.base_url + "/v2/account", timeout=5)
    assert reply.status_code == 401 and "X-Ratelimit-Limit" in reply.headers


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day"}, "limit_price"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "forever"},
         "time_in_force"),
        ({"symbol": "AAPL", "qty": "-1", "side": "buy", "type": "market", "time_in_force": "day"}, "qty"),
        ({"symbol": "AAPL", "qty": "1", "side": "long", "type": "market", "time_in_force": "day"}, "side"),
        ({"qty": "1", "side": "buy", "type": "market", "time_in_force": "day"}, "symbol"),
        ({"symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "day"}, "qty"),
        ({"symbol": "AAPL", "qty": "1.5", "side": "buy", "type": "market", "time_in_force": "gtc"}, "fractional"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "limit_price": "99.123",
          "time_in_force": "day"}, "limit_price"),
        ({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "trailing_stop", "time_in_force": "day"},
         "trail_price"),
    ],
)
def test_bad_order_input_is_422_naming_the_field(venue: AlpacaVenue, body: dict[str, Any], field: str) -> None:
    reply = raw(venue, "POST", "/v2/orders", body)
    assert reply.status_code == 422, reply.text
    error = reply.json()
    assert error["code"] == 40010001 and field in error["message"]


def test_malformed_json_body_is_400(venue: AlpacaVenue) -> None:
    headers = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET, "Content-Type": "application/json"}
    reply = requests.post(venue.base_url + "/v2/orders", data=b"{not json", headers=headers, timeout=5)
    assert reply.status_code == 400 and reply.json()["code"] == 40010000


# -- rate limit -------------------------------------------------------------------------------------------
@pytest.mark.local_venue
def test_rate_limit_headers_and_429() -> None:
    with AlpacaVenue(KEY, SECRET, rate_limit=5) as venue:
        replies = [raw(venue, "GET", "/v2/clock") for _ in range(5)]
        assert [r.status_code for r in replies] == [200] * 5
        assert [int(r.headers["X-Ratelimit-Remaining"]) for r in replies] == [4, 3, 2, 1, 0]
        assert all(r.headers["X-Ratelimit-Limit"] == "5" for r in replies)
        reset = int(replies[0].headers["X-Ratelimit-Reset"])
        assert time.time() < reset <= time.time() + 61
        refused = raw(venue, "GET", "/v2/clock")
        assert refused.status_code == 429
        assert refused.json() == {"code": 42910000, "message": "rate limit exceeded"}
        assert refused.headers["X-Ratelimit-Remaining"] == "0"
        # alpaca-py sleeps 3 s and retries a 429 three times by default; with retries off it raises at once.
        client = client_for(venue, retry=0)
        with pytest.raises(APIError) as err:
            client.get_account()
        assert err.value.status_code == 429 and err.value.code == 42910000
        assert venue.stats()["rate_limited"] == 2


@pytest.mark.local_venue
def test_rate_limit_window_rolls() -> None:
    with AlpacaVenue(KEY, SECRET, rate_limit=2, rate_window=0.3) as venue:
        assert [raw(venue, "GET", "/v2/clock").status_code for _ in range(3)] == [200, 200, 429]
        time.sleep(0.35)
        assert raw(venue, "GET", "/v2/clock").status_code == 200


# -- faults -----------------------------------------------------------------------------------------------
def test_timeout_fault_order_still_goes_through(venue: AlpacaVenue) -> None:
    venue.faults.update({"next_hangs": 1, "hang_seconds": 3.0})
    client = client_for(venue, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.submit_order(market("AAPL", 7, coid="hang-1"))
    assert time.monotonic() - started < 2.0
    # "Did my order go through?" Yes: find it by the client order id, then do not send it twice.
    order = client.get_order_by_client_id("hang-1")
    assert order.status == OrderStatus.FILLED and float(order.filled_qty) == 7
    with pytest.raises(APIError) as err:
        client.submit_order(market("AAPL", 7, coid="hang-1"))
    assert err.value.code == 40010001
    stats = venue.stats()
    assert stats["order_attempts"]["hang-1"] == 2 and stats["faults_injected"]["hangs"] == 1


def test_timeout_fault_applied_after_the_hang(venue: AlpacaVenue) -> None:
    venue.faults.update({"next_hangs": 1, "hang_seconds": 0.5, "hang_apply": "after"})
    client = client_for(venue, timeout=0.2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.submit_order(market("AAPL", 1, coid="late-1"))
    with pytest.raises(APIError):
        client.get_order_by_client_id("late-1")  # not yet
    time.sleep(0.6)
    assert client.get_order_by_client_id("late-1").status == OrderStatus.FILLED


def test_server_errors_next_n_and_after_apply(venue: AlpacaVenue, client: TradingClient) -> None:
    venue.faults.update({"next_errors": 1, "error_status": 503, "error_match": "POST /v2/orders"})
    with pytest.raises(APIError) as err:
        client.submit_order(market("AAPL", 1, coid="e-1"))
    assert err.value.status_code == 503 and err.value.code == 50310000
    with pytest.raises(APIError):
        client.get_order_by_client_id("e-1")  # refused before it was applied
    client.get_account()  # other routes unaffected
    venue.faults.update({"next_errors": 1, "error_status": 500, "error_after_apply": True})
    with pytest.raises(APIError) as err:
        client.submit_order(market("AAPL", 1, coid="e-2"))
    assert err.value.status_code == 500
    assert client.get_order_by_client_id("e-2").status == OrderStatus.FILLED  # applied despite the 500


@pytest.mark.local_venue
def test_error_rate_is_seeded_and_repeatable() -> None:
    def pattern() -> list[int]:
        with AlpacaVenue(KEY, SECRET, faults=AlpacaFaults(error_rate=0.5, seed=7)) as venue:
            return [raw(venue, "GET", "/v2/clock").status_code for _ in range(12)]

    first = pattern()
    assert first == pattern()
    assert 200 in first and 500 in first


def test_slow_responses(venue: AlpacaVenue, client: TradingClient) -> None:
    venue.faults.delay_seconds = 0.2
    started = time.monotonic()
    client.get_clock()
    assert time.monotonic() - started >= 0.2


def test_reject_knob_creates_then_rejects(venue: AlpacaVenue, client: TradingClient) -> None:
    venue.faults.next_rejects = 1
    ack = client.submit_order(market("AAPL", 2, coid="rej-1"))
    assert ack.status == OrderStatus.NEW
    order = client.get_order_by_id(ack.id)
    assert order.status == OrderStatus.REJECTED and order.failed_at is not None and order.filled_qty == "0"
    assert [e["event"] for e in venue.trade_updates() if e["order"]["client_order_id"] == "rej-1"] == \
        ["new", "rejected"]
    assert client.get_all_positions() == []
    assert client.submit_order(market("AAPL", 2)).status == OrderStatus.NEW  # only the next one was rejected


def test_partial_fill_knob(venue: AlpacaVenue, client: TradingClient) -> None:
    venue.faults.partial_fill_ratio = 0.4
    ack = client.submit_order(market("AAPL", 10, coid="part-1"))
    order = client.get_order_by_id(ack.id)
    assert order.status == OrderStatus.PARTIALLY_FILLED and float(order.filled_qty) == 4
    assert [o.client_order_id for o in client.get_orders()] == ["part-1"]  # still open
    venue.set_quote("AAPL", 100.9, 101.1)  # the rest fills at the next quote
    order = client.get_order_by_id(ack.id)
    assert order.status == OrderStatus.FILLED and float(order.filled_qty) == 10
    assert float(order.filled_avg_price) == pytest.approx((4 * 100.1 + 6 * 101.1) / 10)
    updates = [e for e in venue.trade_updates() if e["order"]["client_order_id"] == "part-1"]
    assert [(e["event"], e.get("qty"), e.get("position_qty")) for e in updates] == [
        ("new", None, None), ("partial_fill", "4", "4"), ("fill", "6", "10")]
    # An IOC order cancels the rest instead.
    ioc = client.submit_order(market("AAPL", 10, coid="part-ioc", tif=TimeInForce.IOC))
    order = client.get_order_by_id(ioc.id)
    assert order.status == OrderStatus.CANCELED and float(order.filled_qty) == 4


def test_faults_over_http(venue: AlpacaVenue, client: TradingClient) -> None:
    knobs = requests.post(venue.base_url + "/_faults", json={"next_rejects": 1, "partial_fill_ratio": 0.5},
                          timeout=5, headers=venue.harness_headers)
    assert knobs.status_code == 200 and knobs.json()["next_rejects"] == 1
    assert venue.faults.partial_fill_ratio == 0.5
    bad = requests.post(venue.base_url + "/_faults", json={"next_reject": 1}, timeout=5, headers=venue.harness_headers)
    assert bad.status_code == 400 and "next_reject" in bad.json()["message"]
    bad = requests.post(venue.base_url + "/_faults", json={"partial_fill_ratio": 2}, timeout=5,
                        headers=venue.harness_headers)
    assert bad.status_code == 400 and "partial_fill_ratio" in bad.json()["message"]
    assert requests.delete(venue.base_url + "/_faults", timeout=5,
                           headers=venue.harness_headers).json()["next_rejects"] == 0


def test_quotes_and_stats_over_http(venue: AlpacaVenue, client: TradingClient) -> None:
    client.submit_order(limit("TSLA", 2, 200.0, coid="q-1"))
    reply = requests.post(venue.base_url + "/_quotes", json={"symbol": "TSLA", "bid": 199.0, "ask": 199.5},
                          timeout=5, headers=venue.harness_headers)
    assert reply.status_code == 200
    assert client.get_order_by_client_id("q-1").status == OrderStatus.FILLED
    bad = requests.post(venue.base_url + "/_quotes", json={"symbol": "TSLA", "bid": 201.0, "ask": 199.5}, timeout=5,
                        headers=venue.harness_headers)
    assert bad.status_code == 400 and "bid" in bad.json()["message"]
    stats = requests.get(venue.base_url + "/_stats", timeout=5, headers=venue.harness_headers).json()
    assert stats["order_attempts"] == {"q-1": 1} and stats["requests"] == 2 and stats["responses"] == {"200": 2}


# -- time, replay, events ---------------------------------------------------------------------------------
@pytest.mark.local_venue
def test_day_orders_expire_at_the_next_session_gtc_orders_do_not() -> None:
    now = [datetime(2024, 3, 5, 15, 0, tzinfo=UTC)]
    with AlpacaVenue(KEY, SECRET, clock=lambda: now[0]) as venue:
        venue.set_quote("AAPL", 99.9, 100.1)
        client = client_for(venue)
        day = client.submit_order(limit("AAPL", 1, 90.0, tif=TimeInForce.DAY))
        gtc = client.submit_order(limit("AAPL", 1, 90.0, tif=TimeInForce.GTC))
        now[0] += timedelta(days=1)
        order = client.get_order_by_id(day.id)
        assert order.status == OrderStatus.EXPIRED and order.expired_at is not None
        assert client.get_order_by_id(gtc.id).status == OrderStatus.NEW
        assert order.created_at == datetime(2024, 3, 5, 15, 0, tzinfo=UTC)
        later = client.submit_order(limit("AAPL", 1, 90.0, tif=TimeInForce.GTC))
        window = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL,
                                                    after=datetime(2024, 3, 5, 16, 0, tzinfo=UTC)))
        assert [o.id for o in window] == [later.id]
        window = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, until=now[0] - timedelta(hours=1)))
        assert {o.id for o in window} == {day.id, gtc.id}


@pytest.mark.local_venue
def test_replay_bars_fills_between_bars() -> None:
    bars = pd.DataFrame({
        "timestamp": pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-03", "2024-01-03", "2024-01-04"]),
        "symbol": ["AAPL", "MSFT", "AAPL", "MSFT", "AAPL"],
        "close": [100.0, 400.0, 98.0, 405.0, 97.0],
        "volume": [1e6, 1e6, 1e6, 1e6, 1e6],
    })
    with AlpacaVenue(KEY, SECRET) as venue:
        client = client_for(venue)
        steps = venue.replay_bars(bars)
        assert next(steps) == pd.Timestamp("2024-01-02")
        ack = client.submit_order(limit("AAPL", 10, 98.5))
        assert client.get_order_by_id(ack.id).status == OrderStatus.NEW
        assert next(steps) == pd.Timestamp("2024-01-03")
        order = client.get_order_by_id(ack.id)
        assert order.status == OrderStatus.FILLED and float(order.filled_avg_price) == 98.0
        assert order.filled_at == datetime(2024, 1, 3, tzinfo=UTC)
        assert list(steps) == [pd.Timestamp("2024-01-04")]
        assert float(client.get_open_position("AAPL").current_price) == 97.0


@pytest.mark.local_venue
def test_fees_from_venue_config() -> None:
    config = VenueConfig(fees=FeeConfig(model="bps", bps=10.0))
    with AlpacaVenue(KEY, SECRET, venue_config=config) as venue:
        venue.set_quote("AAPL", 99.9, 100.0)
        client = client_for(venue)
        client.submit_order(market("AAPL", 10))
        account = client.get_account()
        assert float(account.cash) == pytest.approx(100_000.0 - 1000.0 - 1.0)
        assert float(account.accrued_fees) == pytest.approx(1.0)


def test_trade_updates_parse_as_alpaca_py_models(venue: AlpacaVenue, client: TradingClient) -> None:
    seen: list[dict[str, Any]] = []
    venue.add_trade_update_listener(seen.append)
    client.submit_order(market("AAPL", 3))
    ack = client.submit_order(limit("AAPL", 3, 90.0))
    client.cancel_order_by_id(ack.id)
    updates = [TradeUpdate(**e) for e in venue.trade_updates()]
    assert [u.event for u in updates] == ["new", "fill", "new", "canceled"]
    assert updates[1].price == pytest.approx(100.10) and updates[1].qty == 3 and updates[1].position_qty == 3
    assert updates[1].execution_id is not None
    assert seen == venue.trade_updates()
    over_http = requests.get(venue.base_url + "/_trade_updates", params={"since": 2}, timeout=5,
                             headers=venue.harness_headers).json()
    assert [e["event"] for e in over_http] == ["new", "canceled"]


@pytest.mark.local_venue
def test_ids_are_deterministic_per_seed() -> None:
    def ids() -> list[str]:
        with AlpacaVenue(KEY, SECRET, seed=3) as venue:
            venue.set_quote("AAPL", 99.9, 100.1)
            client = client_for(venue)
            order = client.submit_order(market("AAPL", 1))
            return [str(order.id), order.client_order_id, str(client.get_account().id)]

    assert ids() == ids()


@pytest.mark.local_venue
def test_binds_loopback_and_stops_cleanly() -> None:
    venue = AlpacaVenue(KEY, SECRET)
    with pytest.raises(RuntimeError):
        _ = venue.base_url
    venue.start()
    try:
        assert venue.base_url.startswith("http://127.0.0.1:") and venue.port > 0
        with pytest.raises(RuntimeError):
            venue.start()
    finally:
        venue.stop()
    venue.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(venue.base_url + "/v2/clock", timeout=1)


@pytest.mark.local_venue
def test_command_line_serves_until_interrupted(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # serve() blocks in this (main) thread; a helper thread drives it, then interrupts it like Ctrl-C would.
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    monkeypatch.delenv("APCA_API_SECRET_KEY", raising=False)
    outcome: dict[str, BaseException] = {}

    def drive() -> None:
        try:
            out, deadline = "", time.monotonic() + 20
            while "Ctrl-C" not in out and time.monotonic() < deadline:
                out += capsys.readouterr().out
                time.sleep(0.02)
            lines = out.splitlines()
            url = lines[0].split("listening on ")[1].split()[0]
            key = lines[1].strip().split("=", 1)[1]
            secret = lines[2].strip().split("=", 1)[1]
            assert url.startswith("http://127.0.0.1:")
            client = TradingClient(key, secret, paper=True, url_override=url)
            client.submit_order(market("AAPL", 1, coid="cli-1"))
            assert client.get_order_by_client_id("cli-1").status == OrderStatus.FILLED
            reply = requests.get(url + "/v2/clock", timeout=5,
                                 headers={"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret})
            assert reply.headers["X-Ratelimit-Limit"] == "50"
        except BaseException as exc:
            outcome["error"] = exc
        finally:
            os.kill(os.getpid(), signal.SIGINT)

    helper = threading.Thread(target=drive)
    helper.start()
    assert serve(["--port", "0", "--rate-limit", "50", "--quote", "AAPL=99.9,100.1"]) == 0
    helper.join(timeout=10)
    if "error" in outcome:
        raise outcome["error"]


def test_command_line_rejects_a_bad_quote(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        serve(["--quote", "AAPL=abc"])
    assert "SYMBOL=BID,ASK" in capsys.readouterr().err
