"""execlab's side of ccxt (stage 1 of issue 14): client ids per exchange, ccxt exceptions as error kinds, markets as
instruments, weight pacing, and the client against both local venues through the real ccxt (no mocks)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ccxt
import pytest

from execlab._core.ids import client_order_id
from execlab._core.models import OrderStatus
from execlab.adapters.ccxt._client import CcxtCallError, CcxtClient
from execlab.adapters.ccxt._errors import ErrorKind, error_kind
from execlab.adapters.ccxt._mapping import CLIENT_ID_STYLES, fill, order_status, wire_client_id
from execlab.adapters.ccxt._pacing import WeightPacer
from execlab.venues.binance import BinanceVenue
from execlab.venues.okx import OkxVenue

CANONICAL = client_order_id("run", "2026-11-30", "BTC/USDT", 0)
BINANCE_ID = re.compile(r"[a-zA-Z0-9_-]{1,36}\Z")
OKX_ID = re.compile(r"[A-Za-z0-9]{1,32}\Z")


# -- pure mapping ------------------------------------------------------------------------------------------
def test_client_ids_fit_each_exchange_and_parse_back() -> None:
    binance, okx = CLIENT_ID_STYLES["binance"], CLIENT_ID_STYLES["okx"]
    assert binance.render(CANONICAL) == CANONICAL and BINANCE_ID.match(CANONICAL)
    wire = okx.render(CANONICAL)
    assert (len(wire), wire) == (32, CANONICAL.removeprefix("xl-")) and OKX_ID.match(wire)
    assert binance.parse(CANONICAL) == okx.parse(wire) == CANONICAL
    assert okx.parse("6b9ad766b55dBCDE68707c875fc6ff69") is None  # ccxt's own id: not execlab's
    assert binance.parse("x-TKT5PX2F15b2d365945d51faa75afe") is None
    with pytest.raises(ValueError, match=r"1\.\.32"):
        okx.render("a" * 40)


@pytest.mark.parametrize(("exc", "kind"), [
    (ccxt.DDoSProtection("binance 429 Too Many Requests"), ErrorKind.RATE_LIMITED),
    (ccxt.DDoSProtection("binance 418 I'm a teapot"), ErrorKind.RATE_LIMITED),
    (ccxt.RateLimitExceeded('okx {"code":"50011"}'), ErrorKind.RATE_LIMITED),
    (ccxt.RequestTimeout("binance POST timed out"), ErrorKind.TIMEOUT),
    (ccxt.InvalidNonce('{"code":-1021}'), ErrorKind.CLOCK),
    (ccxt.AuthenticationError('{"code":-1022}'), ErrorKind.AUTH),
    (ccxt.InvalidOrder('binance {"code":-2010,"msg":"Duplicate order sent."}'), ErrorKind.DUPLICATE),
    (ccxt.InvalidOrder('okx {"sCode":"51016","sMsg":"Duplicated client order ID"}'), ErrorKind.DUPLICATE),
    (ccxt.OrderNotFound('{"code":-2013}'), ErrorKind.NOT_FOUND),
    (ccxt.InsufficientFunds('{"code":-2010}'), ErrorKind.REJECTED),
    (ccxt.BadRequest("Filter failure: NOTIONAL"), ErrorKind.REJECTED),
    (ccxt.InvalidOrder("Filter failure: LOT_SIZE"), ErrorKind.REJECTED),
    (ccxt.BadSymbol('{"code":-1121}'), ErrorKind.REJECTED),
    (ccxt.ExchangeNotAvailable("503"), ErrorKind.UNAVAILABLE),
    (ccxt.ExchangeError('binance {"code":-1008,"msg":"Server is currently overloaded"}'), ErrorKind.UNAVAILABLE),
    (ccxt.ExchangeError("binance something else"), ErrorKind.REJECTED),
])
def test_ccxt_exceptions_have_a_kind(exc: Exception, kind: ErrorKind) -> None:
    assert error_kind(exc) is kind


def test_order_status_of_ccxt_orders() -> None:
    assert order_status({"status": "open", "filled": 0.0}) is OrderStatus.SUBMITTED
    assert order_status({"status": "open", "filled": 0.5}) is OrderStatus.PARTIALLY_FILLED
    assert order_status({"status": "closed"}) is OrderStatus.FILLED
    assert order_status({"status": "canceled", "filled": 0.5}) is OrderStatus.CANCELLED
    assert order_status({"status": None, "filled": None}) is OrderStatus.SUBMITTED


class _FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_weight_pacer_keeps_to_the_limit_and_counts_foreign_weight() -> None:
    t = _FakeTime()
    pacer = WeightPacer(10, 60.0, clock=t.clock, sleep=t.sleep)
    for _ in range(2):
        with pacer.request(4):
            pass
    assert t.now == 0.0
    with pacer.request(4):  # 12 > 10: waits for the first to leave the window
        pass
    assert 60.0 <= t.now < 61.0
    with pacer.request(1) as report:
        report(10)  # the exchange counts 10 where this pacer counts 9: 1 is someone else's
    start = t.now
    with pacer.request(1):  # 9 own + 1 foreign + 1 > 10: waits
        pass
    assert t.now > start
    pacer.hold(30.0)
    before = t.now
    with pacer.request(1):
        pass
    assert t.now >= before + 30.0 and pacer.stats().holds == 2


def test_weight_pacer_state_is_rewritten_in_place_and_read_by_the_next_process(tmp_path: Path) -> None:
    t = _FakeTime()
    state = tmp_path / "weight.json"
    first = WeightPacer(10, 60.0, clock=t.clock, sleep=t.sleep, wall_clock=t.clock, state_path=state)
    with first.request(4):
        pass
    inode = state.stat().st_ino
    with first.request(4):
        pass
    # the same file, no temporary beside it (a file renamed over the state flushes to disk on ext4: ~3 ms)
    assert state.stat().st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["weight.json", "weight.json.lock"]
    restarted = WeightPacer(10, 60.0, clock=t.clock, sleep=t.sleep, wall_clock=t.clock, state_path=state)
    with restarted.request(4):  # 8 of the first + 4 > 10: waits for the first's weight to leave the window
        pass
    assert t.now >= 60.0


def test_weight_pacer_state_stays_small_however_many_requests_a_window_holds(tmp_path: Path) -> None:
    t = _FakeTime()
    state = tmp_path / "weight.json"
    pacer = WeightPacer(6000, 60.0, clock=t.clock, sleep=t.sleep, wall_clock=t.clock, state_path=state)
    for _ in range(3000):
        with pacer.request(1):
            t.now += 0.01
    (written,) = json.loads(state.read_text())["writers"].values()
    assert len(written) <= 200  # summed per 1/200 of the window, not one entry per request
    assert sum(w for _, w in written) == 3000  # all of it still counted


# -- against the venues ------------------------------------------------------------------------------------
@pytest.fixture(params=["binance", "okx"])
def venue_and_client(request: pytest.FixtureRequest) -> Iterator[tuple[Any, CcxtClient]]:
    venue: Any
    if request.param == "binance":
        venue = BinanceVenue(balances={"USDT": 10_000.0})
        creds: dict[str, Any] = {"api_key": venue.api_key, "secret": venue.secret}
    else:
        venue = OkxVenue(balances={"USDT": 10_000.0})
        creds = {"api_key": venue.api_key, "secret": venue.secret, "password": venue.passphrase}
    with venue:
        venue.set_quote("BTC/USDT", 50_000.0, 50_001.0)
        client = CcxtClient(request.param, base_url=venue.base_url, timeout=2.0, **creds)
        try:
            yield venue, client
        finally:
            client.close()


pytestmark = pytest.mark.local_venue


def test_instruments_from_markets(venue_and_client: tuple[Any, CcxtClient]) -> None:
    venue, client = venue_and_client
    inst = client.instruments(["BTC/USDT", "NOPE/USDT"])
    assert list(inst) == ["BTC/USDT"]
    btc, market = inst["BTC/USDT"], venue.account.instruments["BTC/USDT"]
    assert (btc.asset_class, btc.currency, btc.fractional) == ("crypto", "USDT", True)
    assert (btc.lot_size, btc.tick_size, btc.min_quantity) == (market.lot, market.tick, market.min_qty)
    assert btc.min_notional == market.min_notional


def test_place_find_duplicate_and_executions_with_fees(venue_and_client: tuple[Any, CcxtClient]) -> None:
    venue, client = venue_and_client
    order = client.place(CANONICAL, "BTC/USDT", "buy", 0.0100000001)  # rounded to the step by ccxt
    assert (order_status(order), order["filled"]) == (OrderStatus.FILLED, 0.01)
    assert client.client_ids.parse(order["clientOrderId"]) == CANONICAL
    found = client.order_by_client_id(CANONICAL, "BTC/USDT")
    assert found is not None and found["id"] == order["id"]
    assert client.order_by_client_id(client_order_id("run", "x", "BTC/USDT", 1), "BTC/USDT") is None
    with pytest.raises(CcxtCallError) as dup:
        client.place(CANONICAL, "BTC/USDT", "buy", 0.01)
    assert dup.value.kind is ErrorKind.DUPLICATE
    [trade] = client.trades(["BTC/USDT"])
    execution = fill(trade, "BTC/USDT", CANONICAL)
    assert (execution.broker_order_id, execution.quantity, execution.price, execution.fee_currency) == \
        (order["id"], 0.01, 50_001.0, "BTC")
    assert execution.fee == pytest.approx(0.01 * 0.001)
    btc = {b.currency: b for b in client.balances()}["BTC"]
    assert (btc.free, btc.locked) == (pytest.approx(0.00999), 0.0)
    assert venue.stats()["order_attempts"] == {client.client_ids.render(CANONICAL): 2}


def test_timeout_after_the_venue_accepted_is_a_timeout_and_the_lookup_finds_the_order(
        venue_and_client: tuple[Any, CcxtClient]) -> None:
    venue, client = venue_and_client
    venue.injector.update({"next_hangs": 1, "hang_seconds": 5.0, "hang_match": "POST", "hang_apply": "before"})
    with pytest.raises(CcxtCallError) as timed_out:
        client.place(CANONICAL, "BTC/USDT", "buy", 0.01)
    assert timed_out.value.kind is ErrorKind.TIMEOUT
    found = client.order_by_client_id(CANONICAL, "BTC/USDT")  # look up before any resend: it is there
    assert found is not None and order_status(found) is OrderStatus.FILLED
    assert list(venue.stats()["order_attempts"].values()) == [1]


def test_clock_skew_is_measured_once_and_the_request_sent_again(venue_and_client: tuple[Any, CcxtClient]) -> None:
    venue, client = venue_and_client
    venue.set_clock_skew(120_000)  # this machine is two minutes behind the venue
    usdt = {b.currency: b for b in client.balances()}["USDT"]
    assert (usdt.free, usdt.locked) == (10_000.0, 0.0)
    assert client.clock_resyncs == 1


def test_rejects_are_rejected(venue_and_client: tuple[Any, CcxtClient]) -> None:
    _, client = venue_and_client
    with pytest.raises(CcxtCallError) as funds:
        client.place(CANONICAL, "BTC/USDT", "buy", 1.0)
    assert funds.value.kind is ErrorKind.REJECTED


def test_binance_pacing_at_the_weight_limit_sends_no_request_into_a_429() -> None:
    with BinanceVenue(weight_limit=60, weight_window=1.0) as venue:  # a 1-second "minute" keeps it short
        venue.set_quote("BTC/USDT", 50_000.0, 50_001.0)
        client = CcxtClient("binance", api_key=venue.api_key, secret=venue.secret, base_url=venue.base_url,
                            weight_limit=60, weight_window=1.0)
        try:
            for i in range(8):  # 20 + 8 * (1 + 20) = 188 weight: three windows' worth
                client.place(client_order_id("run", "t", "BTC/USDT", i), "BTC/USDT", "buy", 0.001)
                client.balances()
        finally:
            client.close()
        stats = venue.stats()
        assert (stats["answered_429"], stats["answered_418"], stats["orders"]) == (0, 0, 8)


def test_binance_429_is_rate_limited_with_retry_after() -> None:
    with BinanceVenue(weight_limit=30) as venue:
        client = CcxtClient("binance", api_key=venue.api_key, secret=venue.secret, base_url=venue.base_url,
                            weight_limit=1000, follow_stated_limit=False)  # paced to the wrong limit on purpose
        try:
            client.markets()
            with pytest.raises(CcxtCallError) as limited:
                client.balances()
        finally:
            client.close()
        assert limited.value.kind is ErrorKind.RATE_LIMITED and limited.value.retry_after is not None


def test_okx_lists_the_trades_of_every_symbol_in_pages_of_100() -> None:
    with OkxVenue(balances={"USDT": 1_000_000.0}) as venue:
        venue.set_quote("BTC/USDT", 50_000.0, 50_001.0)
        venue.set_quote("ETH/USDT", 3_000.0, 3_000.1)
        client = CcxtClient("okx", base_url=venue.base_url, timeout=2.0, api_key=venue.api_key,
                            secret=venue.secret, password=venue.passphrase)
        try:
            placed = {client_order_id("pages", "2026-11-30", s, k): s
                      for k in range(105) for s in (("BTC/USDT", "ETH/USDT")[k % 2],)}
            for coid, symbol in placed.items():
                client.place(coid, symbol, "buy", 0.001)
            before = venue.stats()["requests"]
            trades = client.all_trades()
            asked = venue.stats()["requests"] - before
        finally:
            client.close()
    assert client.lists_all_trades()
    assert sorted(client.client_ids.parse(wire_client_id(t)) or "" for t in trades) == sorted(placed)
    assert {t["symbol"] for t in trades} == {"BTC/USDT", "ETH/USDT"}
    assert asked == 2  # 100, then the 5 older ones


def test_binance_paces_new_orders_to_the_orders_limit_exchange_info_states() -> None:
    with BinanceVenue(balances={"USDT": 10_000.0}, orders_per_10s=7) as venue:
        client = CcxtClient("binance", base_url=venue.base_url, timeout=2.0, api_key=venue.api_key,
                            secret=venue.secret)
        try:
            client.markets()
            assert client._order_pacer is not None
            assert (client._order_pacer.limit, client._order_pacer.window) == (7, 10.0)
        finally:
            client.close()
