"""``CcxtAdapter`` on the broker kit, through the unmodified ccxt / ccxt.pro against the local Binance and OKX venues:
a paper rebalance with fills and fees journaled, a timeout after the venue accepted the order, a duplicate client
id, 429 → no 418 (the adapter waits out Retry-After), clock skew (-1021 / 50102)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import execlab as xl
from execlab._brokers.contract import Capability
from execlab._brokers.errors import BrokerRateLimitedError, DuplicateClientOrderIdError
from execlab._brokers.executor import BrokerExecutor
from execlab._core.ids import client_order_id
from execlab._core.models import Order, Side
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.adapters.ccxt import CcxtAdapter, adapter_for
from execlab.venues.binance import BinanceVenue
from execlab.venues.okx import OkxVenue

pytestmark = pytest.mark.local_venue
PRICES = {"BTC/USDT": 50_000.0, "ETH/USDT": 3_000.0}
TARGETS = {"BTC/USDT": 1_000.0, "ETH/USDT": 1_500.0}  # USDT (plan.target_unit: notional): 0.02 BTC, 0.5 ETH


def _venue(exchange: str, **options: Any) -> Any:
    venue: Any = BinanceVenue(**options) if exchange == "binance" else OkxVenue(**options)
    venue.start()
    for symbol, price in PRICES.items():
        venue.set_quote(symbol, price, price + 0.1)
    return venue


def _adapter(venue: Any, **options: Any) -> CcxtAdapter:
    exchange = "binance" if isinstance(venue, BinanceVenue) else "okx"
    password = getattr(venue, "passphrase", None)
    return adapter_for(exchange)(venue.api_key, venue.secret, password=password, base_url=venue.base_url,
                                 **{"timeout": 3.0, **options})


def _config(venue: Any, run_id: str) -> xl.Config:
    exchange = "binance" if isinstance(venue, BinanceVenue) else "okx"
    return xl.Config.from_mapping({"mode": "paper", "run_id": run_id, "currency": "USDT",
                                   "plan": {"target_unit": "notional"}, "broker": {
        "name": "ccxt", "exchange": exchange, "base_url": venue.base_url, "api_key": venue.api_key,
        "api_secret": venue.secret, **({"password": venue.passphrase} if exchange == "okx" else {})}})


@pytest.fixture(params=["binance", "okx"])
def venue(request: pytest.FixtureRequest) -> Iterator[Any]:
    v = _venue(request.param, balances={"USDT": 10_000.0})
    try:
        yield v
    finally:
        v.stop()


def _attempts(venue: Any) -> dict[str, int]:
    return dict(venue.stats()["order_attempts"])


def test_capabilities_and_client_ids() -> None:
    binance, okx = adapter_for("binance"), adapter_for("okx")
    assert {Capability.FILLS, Capability.FILL_STREAM, Capability.ORDER_STREAM} <= binance.capabilities
    canonical = client_order_id("r", "t", "BTC/USDT", 0)
    assert binance.client_ids.render(canonical) == canonical
    assert okx.client_ids.render(canonical) == canonical.removeprefix("xl-")


def test_paper_rebalance_journals_executions_with_fees_in_the_asset_received(venue: Any, journal: Journal) -> None:
    adapter = _adapter(venue)
    executor = BrokerExecutor(adapter, journal, "crypto", (), backoff_seconds=0.01)
    try:
        done = run_live_rebalance(TARGETS, PRICES, _config(venue, "crypto"), executor, journal, "2026-11-30",
                                  timeout=20)
    finally:
        executor.close()
    assert done.complete
    fills = journal.fills("crypto")
    assert sorted(zip(fills["symbol"], fills["quantity"], strict=True)) == [("BTC/USDT", 0.02), ("ETH/USDT", 0.5)]
    assert set(fills["fee_currency"]) == {"BTC", "ETH"}  # Binance and OKX charge spot fees in the asset received
    for row in fills.itertuples():
        assert row.fee == pytest.approx(row.quantity * 0.001, rel=1e-6)
    assert sorted(_attempts(venue).values()) == [1, 1]
    held = adapter._positions()
    assert held["BTC/USDT"] == pytest.approx(0.02 * 0.999)


def test_a_timeout_after_the_venue_accepted_is_looked_up_not_resent(venue: Any, journal: Journal) -> None:
    venue.injector.update({"next_hangs": 1, "hang_seconds": 6.0, "hang_match": "POST", "hang_apply": "before"})
    adapter = _adapter(venue, timeout=1.0)
    executor = BrokerExecutor(adapter, journal, "timeout", (), backoff_seconds=0.01)
    try:
        done = run_live_rebalance({"BTC/USDT": 1_000.0}, PRICES, _config(venue, "timeout"), executor, journal,
                                  "2026-11-30", timeout=20)
    finally:
        executor.close()
    assert done.complete
    assert list(_attempts(venue).values()) == [1]  # placed exactly once, counted by the venue
    assert venue.stats()["orders"] == 1


def test_a_duplicate_client_id_is_reported_as_one(venue: Any) -> None:
    adapter = _adapter(venue, stream=False)
    order = Order(symbol="BTC/USDT", side=Side.BUY, quantity=0.01,
                  client_order_id=client_order_id("dup", "t", "BTC/USDT", 0))
    try:
        first = adapter._submit(order)
        with pytest.raises(DuplicateClientOrderIdError):
            adapter._submit(order)
        found = adapter._order(order.client_order_id)
    finally:
        adapter.close()
    assert found is not None and found.broker_order_id == first.broker_order_id
    assert found.client_order_id == order.client_order_id


def test_binance_429_is_waited_out_so_no_418_follows() -> None:
    venue = _venue("binance", weight_limit=45, weight_window=2.0)
    try:
        adapter = _adapter(venue, weight_limit=1000, weight_window=2.0,  # paced to a wrong limit on purpose
                           follow_stated_limit=False)
        adapter._instruments(["BTC/USDT"])  # 20
        adapter._positions()  # 20: 40 used
        with pytest.raises(BrokerRateLimitedError) as limited:
            adapter._positions()  # 429, Retry-After given
        assert limited.value.retry_after is not None and limited.value.retry_after >= 1
        assert "BTC/USDT" not in adapter._positions()  # waits for the Retry-After, then succeeds: no 418
        adapter.close()
        stats = venue.stats()
        assert (stats["answered_429"], stats["answered_418"]) == (1, 0)
    finally:
        venue.stop()


def test_binance_ignoring_retry_after_escalates_to_a_418_ban() -> None:
    import ccxt

    from execlab.adapters.ccxt import make_exchange

    venue = _venue("binance", weight_limit=45)
    try:
        bare = make_exchange("binance", api_key=venue.api_key, secret=venue.secret, base_url=venue.base_url)
        bare.load_markets()
        bare.fetch_balance()
        for _ in range(2):  # the 429, then the same again for a request sent before its Retry-After
            with pytest.raises(ccxt.DDoSProtection, match="429"):
                bare.fetch_balance()
        with pytest.raises(ccxt.DDoSProtection, match="418"):
            bare.fetch_balance()  # sent early again: banned
        with pytest.raises(ccxt.DDoSProtection, match="418"):
            bare.fetch_balance()  # the ban holds
        assert (venue.stats()["answered_429"], venue.stats()["answered_418"]) == (2, 2)
    finally:
        venue.stop()


def test_clock_skew_is_measured_and_the_request_sent_again(venue: Any) -> None:
    venue.set_clock_skew(120_000)
    adapter = _adapter(venue, stream=False)
    try:
        snapshot = adapter._account()
    finally:
        adapter.close()
    assert (snapshot.currency, snapshot.cash) == ("USDT", 10_000.0)
    assert adapter.client.clock_resyncs == 1


def test_the_stream_takes_the_adapters_markets_instead_of_an_unpaced_request(venue: Any) -> None:
    adapter = _adapter(venue)
    try:
        assert adapter._tradable(["BTC/USDT"]) == {"BTC/USDT"}  # the markets: one paced request
        assert venue.stats()["requests"] == 1
        stream = adapter._stream(lambda o: None, lambda f: None, lambda: None)
        assert stream is not None and stream.connected
        assert venue.stats()["requests"] == 1  # ccxt.pro's own load_markets would be a second (Binance: weight 20)
    finally:
        adapter.close()


def test_a_restarted_adapter_looks_an_order_up_on_the_journals_symbol_alone(venue: Any) -> None:
    sent = client_order_id("restart", "2026-11-30", "ETH/USDT", 0)
    never = client_order_id("restart", "2026-11-30", "BTC/USDT", 1)
    first = _adapter(venue, stream=False)
    try:
        first._submit(Order(symbol="ETH/USDT", side=Side.BUY, quantity=0.1, client_order_id=sent))
    finally:
        first.close()
    again = _adapter(venue, stream=False)  # a new process: it knows the symbols, not where each order went
    try:
        again._tradable(["BTC/USDT", "ETH/USDT"])
        asked = []
        for coid, symbol in ((sent, "ETH/USDT"), (never, "BTC/USDT")):
            before = venue.stats()["requests"]
            again._note_symbol(coid, symbol)
            found = again._order(coid)
            asked.append(venue.stats()["requests"] - before)
            assert (found.client_order_id if found else None) == (sent if coid == sent else None)
    finally:
        again.close()
    assert asked == [1, 1]  # one lookup each, on the symbol it was sent for: no search through the others
