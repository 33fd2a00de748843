"""The local OANDA v20 venue, driven by the real oandapyV20 over loopback HTTP (no mocks).

oandapyV20 is strict about status codes (``OrderCreate`` expects 201, everything else 200, a ValueError otherwise)
and raises ``V20Error`` for any status >= 400; these tests go through exactly that code.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from oandapyV20 import API
from oandapyV20.endpoints import accounts, orders, positions, pricing, transactions
from oandapyV20.exceptions import StreamTerminated, V20Error

from execlab.venues.oanda import OandaVenue

from helpers.oanda import sdk_client, venues

pytestmark = pytest.mark.local_venue


@pytest.fixture
def start() -> Iterator[Any]:
    yield from venues()


@pytest.fixture
def venue(start: Any) -> OandaVenue:
    return start()


@pytest.fixture
def api(venue: OandaVenue) -> API:
    return sdk_client(venue)


def market(instrument: str, units: str, cid: str | None = None, **extra: Any) -> dict[str, Any]:
    order: dict[str, Any] = {"type": "MARKET", "instrument": instrument, "units": units, **extra}
    if cid is not None:
        order["clientExtensions"] = {"id": cid}
    return {"order": order}


def create(api: API, venue: OandaVenue, body: dict[str, Any]) -> dict[str, Any]:
    r = orders.OrderCreate(venue.account_id, data=body)
    answer = api.request(r)
    assert r.status_code == 201
    return answer


def v20_error(api: API, endpoint: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(V20Error) as caught:
        api.request(endpoint)
    return int(caught.value.code), json.loads(caught.value.msg)


def test_accounts_instruments_and_summary_out_of_the_box(venue: OandaVenue, api: API) -> None:
    listed = api.request(accounts.AccountList())["accounts"]
    assert [a["id"] for a in listed] == [venue.account_id]
    names = {i["name"]: i for i in api.request(accounts.AccountInstruments(venue.account_id))["instruments"]}
    assert {"EUR_USD", "GBP_USD", "NZD_USD", "EUR_GBP"} <= set(names)
    eur = names["EUR_USD"]
    assert (eur["displayPrecision"], eur["pipLocation"], eur["tradeUnitsPrecision"], eur["minimumTradeSize"]) == \
        (5, -4, 0, "1")
    assert float(eur["marginRate"]) > 0
    summary = api.request(accounts.AccountSummary(venue.account_id))["account"]
    assert summary["currency"] == "USD"
    assert summary["balance"] == summary["NAV"] == "100000.0000"
    details = api.request(accounts.AccountDetails(venue.account_id))["account"]
    assert details["orders"] == [] and details["trades"] == []
    prices = api.request(pricing.PricingInfo(venue.account_id, params={"instruments": "EUR_USD,EUR_GBP"}))
    assert [(p["instrument"], p["bids"][0]["price"], p["asks"][0]["price"]) for p in prices["prices"]] == \
        [("EUR_USD", "1.08010", "1.08024"), ("EUR_GBP", "0.85380", "0.85398")]


def test_market_order_answers_201_with_its_fill_and_is_found_by_id_and_client_id(venue: OandaVenue, api: API) -> None:
    answer = create(api, venue, market("EUR_USD", "10000", "xl-a"))
    created, fill = answer["orderCreateTransaction"], answer["orderFillTransaction"]
    assert created["type"] == "MARKET_ORDER" and created["timeInForce"] == "FOK"
    assert fill["type"] == "ORDER_FILL" and fill["orderID"] == created["id"] and fill["clientOrderID"] == "xl-a"
    assert (fill["units"], fill["price"]) == ("10000", "1.08024")  # a buy pays the ask
    assert {"pl", "financing", "commission", "halfSpreadCost", "accountBalance", "tradeOpened"} <= set(fill)
    assert fill["halfSpreadCost"] == "0.7000"  # 10000 × 0.00014 / 2, quote = home
    assert answer["relatedTransactionIDs"] == [created["id"], fill["id"]]
    by_id = api.request(orders.OrderDetails(venue.account_id, created["id"]))["order"]
    by_client = api.request(orders.OrderDetails(venue.account_id, "@xl-a"))["order"]
    assert by_id == by_client
    assert by_id["state"] == "FILLED" and by_id["fillingTransactionID"] == fill["id"]
    status, body = v20_error(api, orders.OrderDetails(venue.account_id, "@xl-unknown"))
    assert status == 404 and body["errorCode"] == "NO_SUCH_ORDER"


def test_a_200_for_order_create_would_break_oandapyv20(venue: OandaVenue, api: API) -> None:
    """What the strict check guards against: the venue must answer 201 (and does; see above)."""
    r = orders.OrderCreate(venue.account_id, data=market("EUR_USD", "1"))
    with pytest.raises(ValueError, match="POST 200"):
        r.status_code = 200


@pytest.mark.parametrize(("setup", "units", "reason"), [
    (lambda v: v.set_liquidity("GBP_USD", 5_000), "10000", "INSUFFICIENT_LIQUIDITY"),
    (lambda v: v.set_halted("GBP_USD"), "10000", "MARKET_HALTED"),
    (lambda v: None, "9000000", "INSUFFICIENT_MARGIN"),  # 9M × 1.265 × 2% margin > 100k NAV
])
def test_market_order_that_cannot_fill_is_a_201_with_its_cancel(venue: OandaVenue, api: API, setup: Any,
                                                                units: str, reason: str) -> None:
    setup(venue)
    answer = create(api, venue, market("GBP_USD", units, "xl-c"))
    assert "orderFillTransaction" not in answer
    cancel = answer["orderCancelTransaction"]
    assert (cancel["type"], cancel["reason"], cancel["clientOrderID"]) == ("ORDER_CANCEL", reason, "xl-c")
    assert api.request(orders.OrderDetails(venue.account_id, "@xl-c"))["order"]["state"] == "CANCELLED"
    assert api.request(positions.OpenPositions(venue.account_id))["positions"] == []


@pytest.mark.parametrize(("order", "reason"), [
    ({"type": "MARKET", "instrument": "EUR_USD", "units": "1.5"}, "UNITS_PRECISION_EXCEEDED"),
    ({"type": "MARKET", "instrument": "XAU_USD", "units": "1"}, "INSTRUMENT_UNKNOWN"),
    ({"type": "MARKET", "instrument": "EUR_USD", "units": "0"}, "UNITS_INVALID"),
    ({"type": "MARKET", "instrument": "EUR_USD", "units": "10", "timeInForce": "GTC"}, "TIME_IN_FORCE_INVALID"),
    ({"type": "LIMIT", "instrument": "EUR_USD", "units": "10", "price": "1.080001"}, "PRICE_PRECISION_EXCEEDED"),
    ({"type": "LIMIT", "instrument": "EUR_USD", "units": "10"}, "PRICE_MISSING"),
])
def test_validation_errors_are_400_with_an_order_reject_transaction(venue: OandaVenue, api: API,
                                                                    order: dict[str, Any], reason: str) -> None:
    status, body = v20_error(api, orders.OrderCreate(venue.account_id, data={"order": order}))
    assert status == 400
    assert body["errorCode"] == reason
    reject = body["orderRejectTransaction"]
    assert reject["rejectReason"] == reason and reject["type"] == f"{order['type']}_ORDER_REJECT"
    assert body["lastTransactionID"] == reject["id"]


def test_pending_limit_duplicate_client_id_cancel_and_fill_on_touch(venue: OandaVenue, api: API) -> None:
    acct = venue.account_id
    limit = {"order": {"type": "LIMIT", "instrument": "EUR_USD", "units": "-2000", "price": "1.08100",
                       "clientExtensions": {"id": "xl-l1"}}}
    answer = create(api, venue, limit)
    assert set(answer) == {"orderCreateTransaction", "relatedTransactionIDs", "lastTransactionID"}
    pending = api.request(orders.OrdersPending(acct))["orders"]
    assert [(o["id"], o["state"], o["price"], o["units"]) for o in pending] == \
        [(answer["orderCreateTransaction"]["id"], "PENDING", "1.08100", "-2000")]
    status, body = v20_error(api, orders.OrderCreate(acct, data=limit))
    assert (status, body["errorCode"]) == (400, "CLIENT_ORDER_ID_ALREADY_EXISTS")
    cancelled = api.request(orders.OrderCancel(acct, "@xl-l1"))["orderCancelTransaction"]
    assert cancelled["reason"] == "CLIENT_REQUEST"
    status, _ = v20_error(api, orders.OrderCancel(acct, "@xl-l1"))
    assert status == 404
    # Once the first is no longer pending the client id may be used again (OANDA's check covers pending only).
    second = create(api, venue, {"order": {**limit["order"], "clientExtensions": {"id": "xl-l1"}}})
    venue.set_quote("EUR_USD", 1.08105, 1.08119)  # the bid reaches the sell limit
    order = api.request(orders.OrderDetails(acct, "@xl-l1"))["order"]
    assert order["id"] == second["orderCreateTransaction"]["id"] and order["state"] == "FILLED"
    fill = api.request(transactions.TransactionDetails(acct, order["fillingTransactionID"]))["transaction"]
    assert (fill["units"], fill["price"], fill["reason"]) == ("-2000", "1.08105", "LIMIT_ORDER")
    assert venue.stats()["placements"] == {"xl-l1": 2}


def test_positions_have_long_and_short_legs_and_cross_pl_is_in_home_currency(venue: OandaVenue, api: API) -> None:
    acct = venue.account_id
    create(api, venue, market("EUR_USD", "-3000"))
    create(api, venue, market("EUR_GBP", "10000"))  # buys EUR at the ask 0.85398 GBP
    legs = {p["instrument"]: p for p in api.request(positions.OpenPositions(acct))["positions"]}
    assert legs["EUR_USD"]["short"]["units"] == "-3000" and legs["EUR_USD"]["long"]["units"] == "0"
    assert legs["EUR_GBP"]["long"]["units"] == "10000" and legs["EUR_GBP"]["long"]["averagePrice"] == "0.85398"
    venue.set_quote("EUR_GBP", 0.85500, 0.85518)
    fill = create(api, venue, market("EUR_GBP", "-10000"))["orderFillTransaction"]
    gbp_usd = (1.26480 + 1.26500) / 2
    assert float(fill["quotePL"]) == pytest.approx(10000 * (0.85500 - 0.85398), abs=1e-4)  # in GBP
    assert float(fill["pl"]) == pytest.approx(10000 * (0.85500 - 0.85398) * gbp_usd, abs=1e-4)  # in USD
    assert fill["tradesClosed"][0]["units"] == "-10000"
    listed = {p["instrument"]: p for p in api.request(positions.PositionList(acct))["positions"]}
    assert listed["EUR_GBP"]["long"]["units"] == "0" and float(listed["EUR_GBP"]["pl"]) == float(fill["pl"])
    one = api.request(positions.PositionDetails(acct, "EUR_USD"))["position"]
    assert one["short"]["units"] == "-3000"


def test_transactions_since_and_account_changes(venue: OandaVenue, api: API) -> None:
    acct = venue.account_id
    start = api.request(accounts.AccountSummary(acct))["lastTransactionID"]
    assert start == "2"  # 1 CREATE, 2 TRANSFER_FUNDS
    answer = create(api, venue, market("NZD_USD", "5000", "xl-n"))
    since = api.request(transactions.TransactionsSinceID(acct, params={"id": start}))
    assert [t["type"] for t in since["transactions"]] == ["MARKET_ORDER", "ORDER_FILL"]
    assert since["lastTransactionID"] == answer["lastTransactionID"]
    changes = api.request(accounts.AccountChanges(acct, params={"sinceTransactionID": start}))
    assert [o["clientExtensions"]["id"] for o in changes["changes"]["ordersFilled"]] == ["xl-n"]
    assert [p["instrument"] for p in changes["changes"]["positions"]] == ["NZD_USD"]
    assert changes["lastTransactionID"] == answer["lastTransactionID"]
    ids = [int(t["id"]) for t in venue.transactions()]
    assert ids == list(range(1, len(ids) + 1))


def read_stream(api: API, endpoint: Any, step: Any) -> list[dict[str, Any]]:
    """Messages of a stream until ``step(message, seen)`` returns True (then ``terminate``, as users do)."""
    seen: list[dict[str, Any]] = []
    with pytest.raises(StreamTerminated):
        for message in api.request(endpoint):
            seen.append(message)
            if step(message, seen):
                endpoint.terminate("done")
    return seen


def test_streams_are_newline_delimited_json_with_heartbeats(venue: OandaVenue, api: API) -> None:
    acct = venue.account_id

    def on_price(message: dict[str, Any], seen: list[dict[str, Any]]) -> bool:
        if len(seen) == 1:
            venue.set_quote("EUR_USD", 1.08000, 1.08012)
        kinds = [m["type"] for m in seen]
        return "HEARTBEAT" in kinds and kinds.count("PRICE") >= 2

    seen = read_stream(api, pricing.PricingStream(acct, params={"instruments": "EUR_USD"}), on_price)
    assert [m["type"] for m in seen[:2]] == ["PRICE", "PRICE"]
    assert (seen[0]["bids"][0]["price"], seen[1]["bids"][0]["price"]) == ("1.08010", "1.08000")

    def on_transaction(message: dict[str, Any], seen: list[dict[str, Any]]) -> bool:
        if message["type"] == "HEARTBEAT" and len(seen) == 1:
            assert message["lastTransactionID"] == "2"
            create(api, venue, market("EUR_USD", "100", "xl-s"))
        return bool(message["type"] == "ORDER_FILL")

    got = read_stream(api, transactions.TransactionsStream(acct), on_transaction)
    assert [m["type"] for m in got] == ["HEARTBEAT", "MARKET_ORDER", "ORDER_FILL"]
    assert got[2]["clientOrderID"] == "xl-s"


def test_a_silent_stream_sends_no_heartbeat(venue: OandaVenue) -> None:
    venue.set_stream_silence(True)
    api = sdk_client(venue, timeout=(2.0, 0.6))  # read timeout: what a client's silence window is
    with pytest.raises(requests.ConnectionError):
        for _message in api.request(transactions.TransactionsStream(venue.account_id)):
            pytest.fail("a silent stream sent something")
    venue.set_stream_silence(False)
    heard = read_stream(api, transactions.TransactionsStream(venue.account_id), lambda m, seen: True)
    assert [m["type"] for m in heard] == ["HEARTBEAT"]


def test_bearer_token_account_and_rate_limit(start: Any) -> None:
    venue = start(rate_limit=5, rate_window=60.0)
    status, body = v20_error(sdk_client(venue, token="wrong"), accounts.AccountList())
    assert status == 401 and "authorization" in body["errorMessage"]
    api = sdk_client(venue)
    status, _ = v20_error(api, accounts.AccountSummary("101-001-9999999-001"))
    assert status == 403
    for _ in range(5):  # the limit; refused (401, 403) requests do not count
        api.request(accounts.AccountList())
    status, body = v20_error(api, accounts.AccountList())
    assert status == 429
    assert venue.stats()["rate_limited"] == 1
    default = OandaVenue()
    assert (default.limiter.limit, default.limiter.window) == (100, 1.0)


def test_faults_5xx_after_the_order_took_effect(venue: OandaVenue, api: API) -> None:
    venue.faults.update({"next_errors": 1, "error_status": 503, "error_after_apply": True,
                         "error_match": f"POST /v3/accounts/{venue.account_id}/orders"})
    status, _ = v20_error(api, orders.OrderCreate(venue.account_id, data=market("EUR_USD", "10", "xl-5")))
    assert status == 503
    assert api.request(orders.OrderDetails(venue.account_id, "@xl-5"))["order"]["state"] == "FILLED"
    assert venue.stats()["placements"] == {"xl-5": 1}


def test_harness_routes_need_the_token(venue: OandaVenue) -> None:
    refused = requests.post(venue.base_url + "/_quotes", json={"symbol": "EUR_USD", "bid": 1.1, "ask": 1.1002},
                            timeout=5)
    assert refused.status_code == 401
    ok = requests.post(venue.base_url + "/_quotes", json={"symbol": "EUR_USD", "bid": 1.1, "ask": 1.1002},
                       headers=venue.harness_headers, timeout=5)
    assert ok.status_code == 200 and venue.state.quote("EUR_USD") == (1.1, 1.1002)
    faults = requests.post(venue.base_url + "/_faults", json={"stream_silent": True},
                           headers=venue.harness_headers, timeout=5)
    assert faults.json()["stream_silent"] is True
    stats = requests.get(venue.base_url + "/_stats", headers=venue.harness_headers, timeout=5).json()
    assert stats["requests"] == 0  # harness calls are not v20 requests


@pytest.mark.slow  # a fresh interpreter imports execlab (seconds on a loaded machine)
def test_command_line_venue_serves_a_users_oandapyv20_script_out_of_the_box(tmp_path: Any) -> None:
    import os
    import signal
    import subprocess
    import sys

    import oandapyV20
    from oandapyV20.oandapyV20 import TRADING_ENVIRONMENTS

    env = {k: v for k, v in os.environ.items() if k not in ("OANDA_ACCESS_TOKEN", "EXECLAB_VENUE_TOKEN")}
    proc = subprocess.Popen([sys.executable, "-m", "execlab.venues.oanda", "--port", "0", "--key", "user-token"],
                            stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("OANDA v20 venue listening on http://127.0.0.1:"), first
        url = first.split()[5]
        TRADING_ENVIRONMENTS["cli-venue"] = {"api": url, "stream": url}
        api = oandapyV20.API(access_token="user-token", environment="cli-venue")
        account = api.request(accounts.AccountList())["accounts"][0]["id"]
        listed = {i["name"] for i in api.request(accounts.AccountInstruments(account))["instruments"]}
        assert {"EUR_USD", "GBP_USD", "NZD_USD", "EUR_GBP"} <= listed
        r = orders.OrderCreate(account, data=market("EUR_GBP", "-1000"))
        assert api.request(r)["orderFillTransaction"]["units"] == "-1000" and r.status_code == 201
        assert api.request(accounts.AccountSummary(account))["account"]["currency"] == "USD"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
