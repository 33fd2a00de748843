"""``OandaAdapter`` over the unmodified oandapyV20 against the local v20 venue (no mocks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from oandapyV20.endpoints import orders
from oandapyV20.exceptions import V20Error

from execlab._brokers.contract import (
    BrokerAuthError,
    BrokerFill,
    BrokerOrder,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerTimeoutError,
    DuplicateClientOrderIdError,
)
from execlab._config import FeeConfig, MarginConfig, VenueConfig
from execlab._core.models import Order, OrderStatus, OrderType, Side, TimeInForce
from execlab.adapters.oanda import OandaAdapter
from execlab.adapters.oanda._mapping import InstrumentSpec
from execlab.venues.oanda import OandaVenue

from helpers.oanda import sdk_client, venues

pytestmark = pytest.mark.local_venue


def cid(n: int) -> str:
    return f"xl-{n:032x}"


def order(symbol: str, side: Side, qty: float, n: int, **extra: Any) -> Order:
    return Order(symbol=symbol, side=side, quantity=qty, client_order_id=cid(n), **extra)


@pytest.fixture
def start() -> Iterator[Any]:
    yield from venues()


@pytest.fixture
def venue(start: Any) -> OandaVenue:
    return start()


@pytest.fixture
def adapter(venue: OandaVenue) -> Iterator[OandaAdapter]:
    a = OandaAdapter(venue.token, base_url=venue.base_url, timeout=5.0)
    yield a
    a.close()


def wait_for(condition: Callable[[], bool], what: str, limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


def test_symbols_and_precision() -> None:
    symbols = OandaAdapter.symbol_map
    assert [symbols.to_broker(s) for s in ("EUR/USD", "EUR/GBP")] == ["EUR_USD", "EUR_GBP"]
    assert symbols.to_execlab("EUR_GBP") == "EUR/GBP"
    spec = InstrumentSpec("USD_JPY", 3, 0, 1.0, 0.02, -2)
    assert spec.units(1000.0000000001) == "1000" and spec.units(-2500.0) == "-2500" and spec.units(10.7) == "10"
    assert spec.price(151.48349, Side.BUY) == "151.483" and spec.price(151.48341, Side.SELL) == "151.484"
    assert spec.price(151.5, Side.BUY) == "151.500"
    rule = spec.instrument("USD/JPY")
    assert (rule.asset_class, rule.currency, rule.lot_size, rule.tick_size, rule.min_quantity) == \
        ("fx", "JPY", 1.0, 0.001, 1.0)


def test_market_order_fills_and_is_found_by_client_id(venue: OandaVenue, adapter: OandaAdapter) -> None:
    placed = adapter._submit(order("EUR/USD", Side.SELL, 25_000, 1))
    assert (placed.status, placed.filled_quantity, placed.avg_fill_price) == (OrderStatus.FILLED, 25_000, 1.08010)
    wire = venue.transactions()[-2]
    assert (wire["units"], wire["clientExtensions"]["id"], wire["timeInForce"]) == ("-25000", cid(1), "FOK")
    found = adapter._order(cid(1))
    assert found is not None and (found.status, found.filled_quantity, found.avg_fill_price, found.side) == \
        (OrderStatus.FILLED, 25_000, 1.08010, Side.SELL)
    assert adapter._order(cid(2)) is None
    assert adapter._positions() == {"EUR/USD": -25_000.0}
    account = adapter._account()
    assert account.currency == "USD" and account.cash == pytest.approx(100_000.0)
    assert account.equity == pytest.approx(100_000 - 25_000 * 0.00007)  # the kit's account marks at the mid
    assert adapter._tradable(["EUR/USD", "XAU/USD", "NZD/USD"]) == {"EUR/USD", "NZD/USD"}
    assert adapter._instruments(["EUR/GBP"])["EUR/GBP"].tick_size == pytest.approx(1e-5)


@pytest.mark.parametrize(("setup", "qty", "reason"), [
    (lambda v: v.set_liquidity("GBP_USD", 1_000), 10_000, "INSUFFICIENT_LIQUIDITY"),
    (lambda v: v.set_halted("GBP_USD"), 10_000, "MARKET_HALTED"),
    (lambda v: None, 9_000_000, "INSUFFICIENT_MARGIN"),
])
def test_a_201_that_cancels_is_a_rejected_order_with_its_reason(venue: OandaVenue, adapter: OandaAdapter,
                                                                 setup: Any, qty: float, reason: str) -> None:
    setup(venue)
    placed = adapter._submit(order("GBP/USD", Side.BUY, qty, 3))
    assert (placed.status, placed.filled_quantity) == (OrderStatus.REJECTED, 0.0)
    assert placed.raw["cancelReason"] == reason
    found = adapter._order(cid(3))
    assert found is not None and found.status is OrderStatus.REJECTED


def test_ioc_partial_fill_then_cancel_is_cancelled_with_its_filled_part(venue: OandaVenue,
                                                                        adapter: OandaAdapter) -> None:
    venue.set_liquidity("NZD_USD", 4_000)
    placed = adapter._submit(order("NZD/USD", Side.BUY, 10_000, 4, time_in_force=TimeInForce.IOC))
    assert (placed.status, placed.filled_quantity, placed.raw["cancelReason"]) == \
        (OrderStatus.CANCELLED, 4_000, "INSUFFICIENT_LIQUIDITY")


def test_validation_reject_and_duplicate_pending_client_id(venue: OandaVenue, adapter: OandaAdapter) -> None:
    with pytest.raises(BrokerRejectedError, match="round to 0"):  # refused before sending
        adapter._submit(order("EUR/USD", Side.BUY, 0.4, 5))
    with pytest.raises(BrokerRejectedError, match="UNITS_LIMIT_EXCEEDED"):  # the venue's 400
        adapter._submit(order("EUR/USD", Side.BUY, 200_000_000, 5))
    limit = order("EUR/USD", Side.BUY, 1_000, 6, order_type=OrderType.LIMIT, limit_price=1.07,
                  time_in_force=TimeInForce.GTC)
    placed = adapter._submit(limit)
    assert placed.status is OrderStatus.SUBMITTED
    assert [o.client_order_id for o in adapter._open_orders()] == [cid(6)]
    with pytest.raises(DuplicateClientOrderIdError):
        adapter._submit(limit)
    adapter._cancel(placed.broker_order_id)
    cancelled = adapter._order(cid(6))
    assert cancelled is not None and cancelled.status is OrderStatus.CANCELLED
    assert adapter._open_orders() == []


def test_a_reject_whose_answer_was_lost_is_found_in_the_transaction_log(venue: OandaVenue,
                                                                          adapter: OandaAdapter) -> None:
    adapter.sync()  # the adapter's log starts here
    api = sdk_client(venue)
    body = {"order": {"type": "MARKET", "instrument": "EUR_USD", "units": "1.5", "clientExtensions": {"id": cid(7)}}}
    with pytest.raises(V20Error) as refused:
        api.request(orders.OrderCreate(venue.account_id, data=body))
    assert refused.value.code == 400
    found = adapter._order(cid(7))
    assert found is not None and found.status is OrderStatus.REJECTED
    assert found.raw["order"]["rejectReason"] == "UNITS_PRECISION_EXCEEDED"


def test_retried_market_order_after_a_timeout_that_filled_is_not_sent_again(venue: OandaVenue) -> None:
    """The order takes effect, the answer comes after the client's timeout; OANDA would accept the same client id
    again (the first is no longer pending), so only the lookup keeps the retry from doubling the position."""
    adapter = OandaAdapter(venue.token, base_url=venue.base_url, timeout=0.5)
    try:
        venue.faults.update({"next_hangs": 1, "hang_seconds": 3.0, "hang_apply": "before"})
        with pytest.raises(BrokerTimeoutError):
            adapter._submit(order("EUR/USD", Side.BUY, 10_000, 8))
        found = adapter._order(cid(8))
        assert found is not None and (found.status, found.filled_quantity) == (OrderStatus.FILLED, 10_000)
        assert venue.stats()["placements"] == {cid(8): 1}
        assert adapter._positions() == {"EUR/USD": 10_000.0}
    finally:
        adapter.close()


def test_retry_through_the_broker_executor_places_once(venue: OandaVenue, journal: Any) -> None:
    from execlab._brokers.executor import BrokerExecutor
    adapter = OandaAdapter(venue.token, base_url=venue.base_url, timeout=0.5)
    executor = BrokerExecutor(adapter, journal, "fx-run", ("EUR/USD",), backoff_seconds=0.01, stream=False)
    try:
        venue.faults.update({"next_hangs": 1, "hang_seconds": 3.0, "hang_apply": "before"})
        first = order("EUR/USD", Side.BUY, 10_000, 9)
        placed = executor.place(first)
        assert placed is not None and placed.status is OrderStatus.FILLED
        again = executor.place(first)  # a re-run: the journal holds the request, the broker has the order
        assert again is not None and again.broker_order_id == placed.broker_order_id
        assert venue.stats()["order_attempts"] == {cid(9): 1}
        assert venue.stats()["placements"] == {cid(9): 1}
    finally:
        adapter.close()


def test_fills_carry_commission_financing_and_home_currency_pl(start: Any) -> None:
    venue = start(venue_config=VenueConfig(fees=FeeConfig(model="bps", bps=0.5),
                                           margin=MarginConfig(enabled=True, max_leverage=50)))
    adapter = OandaAdapter(venue.token, base_url=venue.base_url)
    try:
        adapter._submit(order("EUR/GBP", Side.BUY, 20_000, 10))
        venue.set_quote("EUR_GBP", 0.85500, 0.85518)
        adapter._submit(order("EUR/GBP", Side.SELL, 20_000, 11))
        fills = adapter._fills(None)
        assert [(f.client_order_id, f.side, f.quantity, f.price) for f in fills] == \
            [(cid(10), Side.BUY, 20_000, 0.85398), (cid(11), Side.SELL, 20_000, 0.85500)]
        gbp_usd = (1.26480 + 1.26500) / 2
        for f in fills:  # 0.5 bp of the GBP notional, in USD
            assert (f.fee, f.fee_currency) == (pytest.approx(f.quantity * f.price * 0.5e-4 * gbp_usd, abs=1e-4), "USD")
        assert fills[1].raw["financing"] == "0.0000"
        assert float(fills[1].raw["pl"]) == pytest.approx(20_000 * (0.85500 - 0.85398) * gbp_usd, abs=1e-4)
        assert len({f.execution_id for f in fills}) == 2
    finally:
        adapter.close()


class Recorder:
    def __init__(self) -> None:
        self.orders: list[BrokerOrder] = []
        self.fills: list[BrokerFill] = []
        self.gaps = 0
        self.lock = threading.Lock()

    def on_order(self, o: BrokerOrder) -> None:
        with self.lock:
            self.orders.append(o)

    def on_fill(self, f: BrokerFill) -> None:
        with self.lock:
            self.fills.append(f)

    def on_gap(self) -> None:
        with self.lock:
            self.gaps += 1


def test_transaction_stream_pushes_orders_and_fills(venue: OandaVenue, adapter: OandaAdapter) -> None:
    seen = Recorder()
    stream = adapter._stream(seen.on_order, seen.on_fill, seen.on_gap, 10.0)
    assert stream.connected
    limit = order("EUR/USD", Side.BUY, 3_000, 12, order_type=OrderType.LIMIT, limit_price=1.0795,
                  time_in_force=TimeInForce.GTC)
    adapter._submit(limit)
    venue.set_quote("EUR_USD", 1.07930, 1.07944)  # the ask reaches the limit: it fills on the venue's own
    wait_for(lambda: any(o.status is OrderStatus.FILLED for o in seen.orders), "a FILLED update from the stream")
    filled = next(o for o in seen.orders if o.status is OrderStatus.FILLED)
    assert (filled.client_order_id, filled.filled_quantity, filled.avg_fill_price) == (cid(12), 3_000, 1.07944)
    assert [(f.client_order_id, f.quantity) for f in seen.fills] == [(cid(12), 3_000)]
    assert seen.gaps == 0


def test_a_silent_transaction_stream_reconnects_and_reports_a_gap(venue: OandaVenue) -> None:
    adapter = OandaAdapter(venue.token, base_url=venue.base_url, silence_timeout=0.6)
    seen = Recorder()
    try:
        stream = adapter._stream(seen.on_order, seen.on_fill, seen.on_gap, 10.0)
        wait_for(lambda: stream.heartbeats >= 1, "a heartbeat")
        venue.set_stream_silence(True)  # open, but not a byte: not even heartbeats
        wait_for(lambda: seen.gaps >= 1, "a gap after the silence window")
        assert stream.reconnects >= 1
        venue.set_stream_silence(False)
        wait_for(lambda: stream.connected, "a connection again")
        adapter._submit(order("EUR/USD", Side.BUY, 1_000, 13, order_type=OrderType.LIMIT, limit_price=1.0795,
                              time_in_force=TimeInForce.GTC))
        venue.set_quote("EUR_USD", 1.07930, 1.07944)  # fills the limit: only the stream tells
        wait_for(lambda: any(o.client_order_id == cid(13) and o.status is OrderStatus.FILLED for o in seen.orders),
                 "the fill after reconnecting")
    finally:
        adapter.close()


def test_a_dropped_stream_reconnects(venue: OandaVenue, adapter: OandaAdapter) -> None:
    seen = Recorder()
    stream = adapter._stream(seen.on_order, seen.on_fill, seen.on_gap, 10.0)
    assert venue.drop_streams() == 1
    wait_for(lambda: seen.gaps >= 1 and stream.connected, "a reconnect after the drop")


def test_refused_token_and_rate_limit(start: Any) -> None:
    venue = start(rate_limit=3, rate_window=60.0)
    refused = OandaAdapter("wrong-token", account_id=venue.account_id, base_url=venue.base_url)
    with pytest.raises(BrokerAuthError):
        refused._account()
    with pytest.raises(BrokerAuthError):
        refused._stream(lambda o: None, lambda f: None, lambda: None, 5.0)
    refused.close()
    adapter = OandaAdapter(venue.token, account_id=venue.account_id, base_url=venue.base_url)
    with pytest.raises(BrokerRateLimitedError):
        for _ in range(4):
            adapter._positions()
    adapter.close()


def test_every_request_of_a_hook_takes_a_pacer_slot(venue: OandaVenue, journal: Any) -> None:
    """A lookup that falls back to the transaction log, or a first order that reads the summary and the instrument
    list, sends several requests in one paced call: each takes a slot, so the pacer counts what the venue counts
    (the binding-limit crash trials met 429s while the pacer counted one request per call)."""
    from execlab._brokers.executor import BrokerExecutor
    adapter = OandaAdapter(venue.token, account_id=venue.account_id, base_url=venue.base_url, timeout=5.0)
    executor = BrokerExecutor(adapter, journal, "fx-run", ("EUR/USD",), stream=False)
    try:
        before = venue.stats()["requests"]
        assert executor.lookup(cid(11)) is None  # GET /orders/@id (404), then GET /transactions/sinceid
        executor.place(order("EUR/USD", Side.BUY, 1_000, 12))  # summary, instruments, then the order
        sent = venue.stats()["requests"] - before
        assert sent == adapter.requests >= 5
        assert executor.pacer.stats.requests == sent
    finally:
        executor.close()
