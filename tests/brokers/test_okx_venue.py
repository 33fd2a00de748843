"""The local OKX v5 venue, driven by the real, unmodified ccxt / ccxt.pro 4.5.90 over loopback (no mocks)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import ccxt
import pytest
import requests

from execlab.adapters.ccxt import make_exchange
from execlab.venues.okx import OkxVenue

pytestmark = pytest.mark.local_venue
CID = "0123456789abcdef" * 2  # 32 alphanumerics: the longest clOrdId OKX takes


@pytest.fixture
def venue() -> Iterator[OkxVenue]:
    with OkxVenue(balances={"USDT": 10_000.0}) as v:
        v.set_quote("BTC/USDT", 50_000.0, 50_001.0)
        v.set_quote("ETH/USDT", 3_000.0, 3_000.5)
        yield v


def _ex(venue: OkxVenue, **overrides: Any) -> Any:
    creds = {"api_key": venue.api_key, "secret": venue.secret, "password": venue.passphrase, **overrides}
    return make_exchange("okx", base_url=venue.base_url, **creds)


def test_load_markets_is_one_request_with_lot_tick_and_min_size(venue: OkxVenue) -> None:
    markets = _ex(venue).load_markets()
    assert venue.stats()["requests"] == 1
    btc = markets["BTC/USDT"]
    assert (btc["id"], btc["spot"], btc["active"]) == ("BTC-USDT", True, True)
    assert (btc["precision"]["amount"], btc["precision"]["price"], btc["limits"]["amount"]["min"]) == \
        (0.00000001, 0.1, 0.00001)


def test_market_order_by_clordid_fills_with_fee_and_fee_currency(venue: OkxVenue) -> None:
    ex = _ex(venue)
    placed = ex.create_order("BTC/USDT", "market", "buy", 0.01, None, {"clientOrderId": CID})
    assert (placed["clientOrderId"], placed["status"]) == (CID, None)  # OKX answers only ids: fetch the order
    order = ex.fetch_order(None, "BTC/USDT", {"clientOrderId": CID})
    assert (order["id"], order["status"], order["filled"], order["average"]) == (placed["id"], "closed", 0.01,
                                                                               50_001.0)
    assert order["fee"] == {"currency": "BTC", "cost": pytest.approx(0.00001)}
    trades = ex.fetch_my_trades("BTC/USDT")
    assert [(t["order"], t["amount"], t["fee"]["currency"], t["fee"]["cost"], t["takerOrMaker"]) for t in trades] \
        == [(placed["id"], 0.01, "BTC", pytest.approx(0.00001), "taker")]
    balance = ex.fetch_balance()
    assert balance["BTC"]["free"] == pytest.approx(0.00999)
    assert balance["USDT"]["total"] == pytest.approx(10_000 - 500.01)


def test_batch_orders_route_places_each_and_reports_each(venue: OkxVenue) -> None:
    ex = _ex(venue, extra_options={"createOrder": "privatePostTradeBatchOrders"})
    ex.load_markets()
    answer = ex.private_post_trade_batch_orders([
        {"instId": "ETH-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit", "px": "2900", "sz": "1",
         "clOrdId": "a1"},
        {"instId": "ETH-USDT", "tdMode": "cash", "side": "buy", "ordType": "limit", "px": "2900", "sz": "1",
         "clOrdId": "a1"},
    ])
    assert answer["code"] == "2"
    assert [d["sCode"] for d in answer["data"]] == ["0", "51016"]
    assert ex.create_order("ETH/USDT", "limit", "buy", 0.5, 2_800.0)["id"]  # ccxt's default route works too


def test_resting_limit_freezes_quote_cancel_releases(venue: OkxVenue) -> None:
    ex = _ex(venue)
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.1, 40_000.0)
    balance = ex.fetch_balance()
    assert (balance["USDT"]["free"], balance["USDT"]["used"]) == (6_000.0, 4_000.0)
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [order["id"]]
    ex.cancel_order(order["id"], "BTC/USDT")
    assert ex.fetch_order(order["id"], "BTC/USDT")["status"] == "canceled"
    assert ex.fetch_balance()["USDT"]["free"] == 10_000.0


def test_errors_reach_ccxt_as_its_exception_classes(venue: OkxVenue) -> None:
    ex = _ex(venue)
    with pytest.raises(ccxt.InsufficientFunds, match="51008"):
        ex.create_order("BTC/USDT", "market", "buy", 1.0)
    with pytest.raises(ccxt.BadRequest, match="51000"):
        ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "xl-has-dashes"})
    with pytest.raises(ccxt.BadRequest, match="51000"):
        ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": "a" * 33})
    ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": CID})
    with pytest.raises(ccxt.InvalidOrder, match="51016"):
        ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": CID})
    with pytest.raises(ccxt.InvalidOrder, match="51020"):
        ex.create_order("BTC/USDT", "market", "buy", 0.000001)
    with pytest.raises(ccxt.OrderNotFound, match="51603"):
        ex.fetch_order("999", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound, match="51400"):
        ex.cancel_order("999", "BTC/USDT")
    assert venue.stats()["order_attempts"][CID] == 2 and len(venue.account.all_orders()) == 1


def test_signature_passphrase_and_clock_are_checked(venue: OkxVenue) -> None:
    with pytest.raises(ccxt.AuthenticationError, match="50113"):
        _ex(venue, secret="wrong").fetch_balance()
    with pytest.raises(ccxt.AuthenticationError, match="50105"):
        _ex(venue, password="wrong").fetch_balance()
    venue.set_clock_skew(60_000)
    with pytest.raises(ccxt.InvalidNonce, match="50102"):
        _ex(venue).fetch_balance()


def test_signature_covers_path_query_and_body(venue: OkxVenue) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def signed(path: str) -> str:
        mac = hmac.new(venue.secret.encode(), (stamp + "GET" + path).encode(), hashlib.sha256).digest()
        return base64.b64encode(mac).decode()

    def get(path: str, signed_path: str) -> Any:
        headers = {"OK-ACCESS-KEY": venue.api_key, "OK-ACCESS-PASSPHRASE": venue.passphrase,
                   "OK-ACCESS-TIMESTAMP": stamp, "OK-ACCESS-SIGN": signed(signed_path)}
        return requests.get(venue.base_url + path, headers=headers, timeout=5)

    good = get("/api/v5/account/balance?ccy=USDT", "/api/v5/account/balance?ccy=USDT")
    assert good.json()["code"] == "0"
    bad = get("/api/v5/account/balance?ccy=BTC", "/api/v5/account/balance?ccy=USDT")
    assert (bad.status_code, bad.json()["code"]) == (401, "50113")


def test_endpoint_rate_limit_answers_429_with_50011() -> None:
    with OkxVenue(limit_scale=0.05) as venue:  # 10 balance requests per 2 s → 1 (rounded up)
        ex = _ex(venue)
        ex.fetch_balance()
        with pytest.raises(ccxt.RateLimitExceeded, match="50011"):
            ex.fetch_balance()
        assert venue.stats()["rate_limited"] == 1


def test_ccxt_pro_private_websocket_login_orders_and_trades(venue: OkxVenue) -> None:
    rest = _ex(venue)
    rest.load_markets()

    async def scenario() -> tuple[list[tuple[str, str]], list[Any]]:
        pro = make_exchange("okx", api_key=venue.api_key, secret=venue.secret, password=venue.passphrase,
                            base_url=venue.base_url, pro=True)
        try:
            await pro.load_markets()
            loop = asyncio.get_running_loop()
            orders_task = asyncio.ensure_future(pro.watch_orders())
            assert venue.ctx.hub is not None
            while not any(c.topics for c in venue.ctx.hub.connections):
                await asyncio.sleep(0.02)
            await loop.run_in_executor(None, lambda: rest.create_order(
                "BTC/USDT", "limit", "buy", 0.01, 49_000.0, {"clientOrderId": CID}))
            first = [(o["clientOrderId"], o["status"]) for o in await asyncio.wait_for(orders_task, 10)]
            trades_task = asyncio.ensure_future(pro.watch_my_trades())
            await asyncio.sleep(0.05)
            venue.set_quote("BTC/USDT", 48_900.0, 48_950.0)
            trades = await asyncio.wait_for(trades_task, 10)
            return first, trades
        finally:
            await pro.close()

    orders, trades = asyncio.run(scenario())
    assert orders == [(CID, "open")]
    # ccxt.pro passes OKX's fillFee through unsigned: a charge arrives as a negative cost (REST negates it).
    assert [(t["amount"], t["price"], t["fee"]["currency"], t["fee"]["cost"]) for t in trades] \
        == [(0.01, 48_950.0, "BTC", pytest.approx(-0.00001))]


def test_websocket_login_with_a_wrong_signature_is_refused(venue: OkxVenue) -> None:
    async def scenario() -> None:
        pro = make_exchange("okx", api_key=venue.api_key, secret="wrong", password=venue.passphrase,
                            base_url=venue.base_url, pro=True)
        try:
            await pro.load_markets()
            await asyncio.wait_for(pro.watch_orders(), 10)
        finally:
            await pro.close()

    with pytest.raises(ccxt.AuthenticationError, match="60007"):
        asyncio.run(scenario())


def test_text_ping_is_answered_with_pong(venue: OkxVenue) -> None:
    async def scenario() -> str:
        import aiohttp
        async with aiohttp.ClientSession() as session, session.ws_connect(venue.private_ws_url) as ws:
            await ws.send_str("ping")
            return (await ws.receive(timeout=5)).data

    assert asyncio.run(scenario()) == "pong"


def test_harness_faults_and_stats(venue: OkxVenue) -> None:
    answer = requests.post(venue.base_url + "/_faults", json={"next_errors": 1, "error_status": 503,
                                                              "error_after_apply": True, "error_match": "POST"},
                           headers=venue.harness_headers, timeout=5)
    assert answer.json()["next_errors"] == 1
    with pytest.raises(ccxt.ExchangeNotAvailable):
        _ex(venue).create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": CID})
    stats = requests.get(venue.base_url + "/_stats", headers=venue.harness_headers, timeout=5).json()
    assert json.loads(json.dumps(stats))["order_attempts"] == {CID: 1}
    assert stats["orders"] == 1  # the order was taken before the 503
