"""The local Binance spot venue, driven by the real, unmodified ccxt / ccxt.pro 4.5.90 over loopback (no mocks)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import ccxt
import pytest
import requests

from execlab.adapters.ccxt import make_exchange
from execlab.venues.binance import BinanceVenue
from execlab.venues.binance._auth import sign
from execlab.venues.binance._rules import spot_market

pytestmark = pytest.mark.local_venue
CID = "xl-" + "0123456789abcdef" * 2


@pytest.fixture
def venue() -> Iterator[BinanceVenue]:
    with BinanceVenue(balances={"USDT": 10_000.0}) as v:
        v.set_quote("BTC/USDT", 50_000.0, 50_001.0)
        v.set_quote("ETH/USDT", 3_000.0, 3_000.5)
        yield v


def _ex(venue: BinanceVenue, secret: str | None = None) -> Any:
    return make_exchange("binance", api_key=venue.api_key, secret=secret or venue.secret, base_url=venue.base_url)


def test_load_markets_is_one_request_and_filters_become_precision_and_limits(venue: BinanceVenue) -> None:
    ex = _ex(venue)
    markets = ex.load_markets()
    assert venue.stats()["requests"] == 1
    assert sorted(markets) == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    btc = markets["BTC/USDT"]
    assert (btc["id"], btc["spot"], btc["active"]) == ("BTCUSDT", True, True)
    assert btc["precision"]["amount"] == 0.00001 and btc["precision"]["price"] == 0.01
    assert btc["limits"]["cost"]["min"] == 5.0 and btc["limits"]["amount"]["min"] == 0.00001


def test_market_order_fills_with_commission_and_is_found_by_id_and_client_id(venue: BinanceVenue) -> None:
    ex = _ex(venue)
    order = ex.create_order("BTC/USDT", "market", "buy", 0.01, None, {"clientOrderId": CID})
    assert (order["status"], order["filled"], order["clientOrderId"]) == ("closed", 0.01, CID)
    assert order["fee"] == {"currency": "BTC", "cost": pytest.approx(0.00001)}
    by_id = ex.fetch_order(order["id"], "BTC/USDT")
    by_cid = ex.fetch_order(None, "BTC/USDT", {"clientOrderId": CID})
    assert by_id["id"] == by_cid["id"] == order["id"] and by_cid["average"] == 50_001.0
    trades = ex.fetch_my_trades("BTC/USDT")
    assert [(t["order"], t["amount"], t["price"], t["fee"]["currency"], t["fee"]["cost"], t["takerOrMaker"])
            for t in trades] == [(order["id"], 0.01, 50_001.0, "BTC", pytest.approx(0.00001), "taker")]
    balance = ex.fetch_balance()
    assert balance["BTC"]["free"] == pytest.approx(0.00999)
    assert balance["USDT"]["free"] == pytest.approx(10_000 - 500.01)
    assert venue.stats()["order_attempts"] == {CID: 1}


def test_resting_limit_locks_quote_and_cancel_releases_it(venue: BinanceVenue) -> None:
    ex = _ex(venue)
    order = ex.create_order("BTC/USDT", "limit", "buy", 0.1, 40_000.0)
    balance = ex.fetch_balance()
    assert (balance["USDT"]["free"], balance["USDT"]["used"]) == (6_000.0, 4_000.0)
    assert [o["id"] for o in ex.fetch_open_orders("BTC/USDT")] == [order["id"]]
    assert ex.cancel_order(order["id"], "BTC/USDT")["status"] == "canceled"
    assert ex.fetch_open_orders("BTC/USDT") == []
    assert ex.fetch_balance()["USDT"]["free"] == 10_000.0


def test_resting_limit_fills_when_the_market_reaches_it(venue: BinanceVenue) -> None:
    # The shared kernel fills a resting limit at the quote that reaches it (no worse than the limit).
    ex = _ex(venue)
    order = ex.create_order("ETH/USDT", "limit", "buy", 1.0, 2_900.0)
    assert ex.fetch_order(order["id"], "ETH/USDT")["status"] == "open"
    venue.set_quote("ETH/USDT", 2_899.0, 2_899.5)
    fetched = ex.fetch_order(order["id"], "ETH/USDT")
    assert (fetched["status"], fetched["average"]) == ("closed", 2_899.5)
    [trade] = ex.fetch_my_trades("ETH/USDT")
    assert (trade["price"], trade["fee"]["currency"]) == (2_899.5, "ETH")


@pytest.mark.parametrize(("amount", "price", "error", "code"), [
    (0.000015, None, ccxt.InvalidOrder, "LOT_SIZE"),       # ccxt rounds to the step itself: raw request below
    (0.00001, None, ccxt.BadRequest, "NOTIONAL"),           # 0.50 USDT < 5 USDT
    (1.0, None, ccxt.InsufficientFunds, "insufficient balance"),  # 50,001 USDT > 10,000
])
def test_order_errors_reach_ccxt_as_its_exception_classes(venue: BinanceVenue, amount: float,
                                                           price: float | None, error: type, code: str) -> None:
    ex = _ex(venue)
    ex.load_markets()
    with pytest.raises(error, match=code):
        if code == "LOT_SIZE":
            ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.000015"})
        else:
            ex.create_order("BTC/USDT", "market", "buy", amount, price)
    assert venue.account.all_orders() == []


def test_price_off_tick_is_a_price_filter_failure(venue: BinanceVenue) -> None:
    ex = _ex(venue)
    ex.load_markets()
    with pytest.raises(ccxt.InvalidOrder, match="PRICE_FILTER"):
        ex.private_post_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                               "quantity": "0.01", "price": "40000.005"})


def test_duplicate_client_id_unknown_order_and_bad_symbol(venue: BinanceVenue) -> None:
    ex = _ex(venue)
    ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": CID})
    with pytest.raises(ccxt.InvalidOrder, match="Duplicate order sent"):
        ex.create_order("BTC/USDT", "market", "buy", 0.001, None, {"clientOrderId": CID})
    assert venue.stats()["order_attempts"] == {CID: 2} and len(venue.account.all_orders()) == 1
    with pytest.raises(ccxt.OrderNotFound, match="-2013"):
        ex.fetch_order("999", "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound, match="-2011"):
        ex.cancel_order("999", "BTC/USDT")
    with pytest.raises(ccxt.BadSymbol, match="-1121"):
        ex.private_get_order({"symbol": "DOGEUSDT", "orderId": "1"})


def test_signature_key_and_clock_are_checked(venue: BinanceVenue) -> None:
    with pytest.raises(ccxt.AuthenticationError, match="-1022"):
        _ex(venue, secret="wrong").fetch_balance()
    other = make_exchange("binance", api_key="someone-else", secret=venue.secret, base_url=venue.base_url)
    with pytest.raises(ccxt.AuthenticationError, match="-2015"):
        other.fetch_balance()
    venue.set_clock_skew(-30_000)  # the client is 30 s ahead of the venue: beyond the 1 s tolerance
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        _ex(venue).fetch_balance()
    venue.set_clock_skew(+30_000)  # the client is 30 s behind: outside ccxt's recvWindow of 10 s
    with pytest.raises(ccxt.InvalidNonce, match="recvWindow"):
        _ex(venue).fetch_balance()
    venue.set_clock_skew(+5_000)  # within the window
    assert _ex(venue).fetch_balance()["USDT"]["free"] == 10_000.0


def test_signature_covers_the_parameters_as_sent(venue: BinanceVenue) -> None:
    import time
    query = f"symbol=BTCUSDT&orderId=1&timestamp={int(time.time() * 1000)}"
    good = requests.get(f"{venue.base_url}/api/v3/order?{query}&signature={sign(query, venue.secret)}",
                        headers={"X-MBX-APIKEY": venue.api_key}, timeout=5)
    assert good.json()["code"] == -2013  # signed correctly: the order is simply unknown
    tampered = query.replace("orderId=1", "orderId=2")
    bad = requests.get(f"{venue.base_url}/api/v3/order?{tampered}&signature={sign(query, venue.secret)}",
                       headers={"X-MBX-APIKEY": venue.api_key}, timeout=5)
    assert (bad.status_code, bad.json()["code"]) == (400, -1022)


def test_weight_headers_then_429_with_retry_after_then_418_ban() -> None:
    with BinanceVenue(weight_limit=50) as venue:
        ex = _ex(venue)
        ex.load_markets()  # weight 20
        assert ex.last_response_headers["X-MBX-USED-WEIGHT-1M"] == "20"
        ex.fetch_balance()  # weight 20
        assert ex.last_response_headers["X-MBX-USED-WEIGHT-1M"] == "40"
        with pytest.raises(ccxt.DDoSProtection, match="429"):
            ex.fetch_balance()
        retry_after = int(ex.last_response_headers["Retry-After"])
        assert 1 <= retry_after <= 60
        with pytest.raises(ccxt.DDoSProtection, match="429"):
            ex.fetch_balance()  # before Retry-After: told again (another client on the IP may not have known)
        assert 1 <= int(ex.last_response_headers["Retry-After"]) <= retry_after
        with pytest.raises(ccxt.DDoSProtection, match=r"418.*IP banned until"):
            ex.fetch_balance()  # before Retry-After once more: banned
        assert int(ex.last_response_headers["Retry-After"]) >= 110
        stats = venue.stats()
        assert (stats["answered_429"], stats["answered_418"]) == (2, 1)


def test_order_answers_carry_order_counts(venue: BinanceVenue) -> None:
    ex = _ex(venue)
    ex.create_order("BTC/USDT", "market", "buy", 0.001)
    ex.create_order("BTC/USDT", "market", "buy", 0.001)
    assert ex.last_response_headers["X-MBX-ORDER-COUNT-10S"] == "2"
    assert ex.last_response_headers["X-MBX-ORDER-COUNT-1D"] == "2"


def test_ccxt_pro_watch_orders_and_my_trades_over_the_websocket_api(venue: BinanceVenue) -> None:
    rest = _ex(venue)
    rest.load_markets()

    async def scenario() -> tuple[list[tuple[str, str]], list[Any]]:
        pro = make_exchange("binance", api_key=venue.api_key, secret=venue.secret, base_url=venue.base_url,
                            pro=True)
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
    assert [(t["amount"], t["price"], t["fee"]["currency"], t["fee"]["cost"], t["info"]["c"]) for t in trades] \
        == [(0.01, 48_950.0, "BTC", pytest.approx(0.00001), CID)]


def test_websocket_subscription_with_a_wrong_signature_is_refused(venue: BinanceVenue) -> None:
    async def scenario() -> None:
        pro = make_exchange("binance", api_key=venue.api_key, secret="wrong", base_url=venue.base_url, pro=True)
        try:
            await pro.load_markets()
            await asyncio.wait_for(pro.watch_orders(), 10)
        finally:
            await pro.close()

    # ccxt.pro 4.5.90 raises AuthenticationError for the -1022 answer, then its own clean-up deletes the
    # subscription a second time and a KeyError('spot') replaces it (the AuthenticationError is its __context__).
    with pytest.raises((ccxt.AuthenticationError, KeyError)) as raised:
        asyncio.run(scenario())
    chain = [raised.value, raised.value.__context__]
    assert any(isinstance(e, ccxt.AuthenticationError) and "-1022" in str(e) for e in chain)


def test_harness_routes_need_the_token(venue: BinanceVenue) -> None:
    url = venue.base_url + "/_faults"
    assert requests.post(url, json={"next_rejects": 1}, timeout=5).status_code == 401
    answer = requests.post(url, json={"next_rejects": 1}, headers=venue.harness_headers, timeout=5)
    assert answer.json()["next_rejects"] == 1
    with pytest.raises(ccxt.InvalidOrder, match="-2010"):
        _ex(venue).create_order("BTC/USDT", "market", "buy", 0.001)
    stats = requests.get(venue.base_url + "/_stats", headers=venue.harness_headers, timeout=5).json()
    assert (stats["orders"], stats["order_attempts_without_client_order_id"]) == (1, 0)
    assert [o.status for o in venue.account.all_orders()] == ["rejected"]  # recorded, never traded
    assert sum(json.loads(json.dumps(stats))["order_attempts"].values()) == 1


def test_custom_markets_and_balances() -> None:
    doge = spot_market("DOGE/USDT", lot=1.0, tick=0.00001, min_qty=1.0, min_notional=1.0)
    with BinanceVenue(markets=[doge], balances={"USDT": 50.0, "DOGE": 10.0}) as venue:
        ex = _ex(venue)
        assert list(ex.load_markets()) == ["DOGE/USDT"]
        assert ex.fetch_balance()["DOGE"]["free"] == 10.0
