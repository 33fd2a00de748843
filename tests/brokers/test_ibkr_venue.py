"""The local IB venue, driven by unmodified ib_async (``IB().connect``) over loopback: startup, qualification, the
fill sequence, cancels and rejects, and the faults of a real gateway (client id clash, pacing, restart with id
rollback, fills during a disconnect, connectivity loss, slow acks, partial fills)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import requests
from ib_async import IB, ExecutionFilter, Forex, Future, LimitOrder, MarketOrder, Stock, StopOrder, Trade

from execlab.venues.ibkr import IBFaults, IBVenue

REF = "xl-" + "0123456789abcdef" * 2


def _wait(ib: IB, done: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Let ib_async's loop run until ``done()`` (no assertion on time: the deadline only ends a hang)."""
    for _ in range(int(seconds / 0.02)):
        if done():
            return True
        ib.sleep(0.02)
    return done()


def _wait_disconnected(ib: IB) -> bool:
    """Run ib_async's loop until the venue has closed its socket (ib_async's sleep raises when that happens)."""
    try:
        return _wait(ib, lambda: not ib.isConnected())
    except ConnectionError:
        return not ib.isConnected()


@pytest.fixture
def venue() -> Iterator[IBVenue]:
    with IBVenue(cash={"USD": 1_000_000.0, "EUR": 50_000.0}) as v:
        v.set_quotes({"AAPL": (189.9, 190.1, None, None), "MSFT": (399.8, 400.2, None, None),
                      "EUR.USD": (1.0830, 1.0832, None, None), "GBP.USD": (1.2700, 1.2702, None, None),
                      "EUR.GBP": (0.8527, 0.8529, None, None)})
        yield v


def _connect(venue: IBVenue, client_id: int = 1) -> IB:
    ib = IB()
    ib.connect("127.0.0.1", venue.port, clientId=client_id, timeout=5)
    return ib


@pytest.fixture
def ib(venue: IBVenue) -> Iterator[IB]:
    client = _connect(venue)
    yield client
    client.disconnect()


@pytest.mark.parametrize("version", [157, 176, 178])
def test_ib_async_connects_qualifies_and_trades_at_each_server_version(version: int) -> None:
    with IBVenue(server_version=version) as venue:
        venue.set_quote("AAPL", 189.9, 190.1)
        ib = IB()
        ib.connect("127.0.0.1", venue.port, clientId=3, timeout=5, raiseSyncErrors=True)
        try:
            assert ib.client.serverVersion() == version and ib.managedAccounts() == ["DU1234567"]
            (aapl,) = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
            assert aapl.conId == 265598 and aapl.primaryExchange == "NASDAQ"
            trade = ib.placeOrder(aapl, MarketOrder("BUY", 10, orderRef=REF))
            assert _wait(ib, trade.isDone)
            assert trade.orderStatus.status == "Filled" and trade.orderStatus.avgFillPrice == 190.1
            (fill,) = trade.fills
            assert fill.execution.orderRef == REF and fill.commissionReport.commission > 0
        finally:
            ib.disconnect()


def test_startup_sync_sees_positions_orders_and_account(venue: IBVenue, ib: IB) -> None:
    aapl, eur, es = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"), Forex("EURUSD"),
                                        Future("ES", "202612", "CME"))
    assert (es.multiplier, es.lastTradeDateOrContractMonth, es.localSymbol) == ("50", "20261218", "ESZ6")
    ib.placeOrder(aapl, MarketOrder("BUY", 100, orderRef=REF))
    ib.placeOrder(eur, MarketOrder("SELL", 20_000))
    resting = ib.placeOrder(aapl, LimitOrder("BUY", 5, 150.0, tif="GTC"))
    assert _wait(ib, lambda: len(ib.fills()) == 2 and resting.orderStatus.status == "Submitted")
    # a second client syncs at startup: positions, completed orders, account values per currency, executions
    other = _connect(venue, client_id=2)
    try:
        positions = {p.contract.localSymbol: p.position for p in other.positions()}
        assert positions == {"AAPL": 100.0, "EUR.USD": -20_000.0}
        cash = {v.currency: float(v.value) for v in other.accountValues() if v.tag == "CashBalance"}
        fees = sum(f.commissionReport.commission for f in other.fills())
        assert fees > 0 and all(f.commissionReport.currency == "USD" for f in other.fills())
        assert cash["EUR"] == 30_000.0
        assert cash["USD"] == pytest.approx(1_000_000 - 100 * 190.1 + 20_000 * 1.0830 - fees, abs=0.01)
        assert {f.execution.orderRef for f in other.fills()} == {REF, ""}
        assert all(f.commissionReport.currency for f in other.fills())
        completed = other.reqCompletedOrders(False)
        assert {t.orderStatus.status for t in completed} == {"Filled"}
        assert [t.order.lmtPrice for t in other.reqAllOpenOrders()] == [150.0]
        assert other.reqOpenOrders() == []  # client 2 placed none
    finally:
        other.disconnect()


def test_partial_fills_report_cumulative_quantity(venue: IBVenue, ib: IB) -> None:
    venue.faults.partial_fill_ratio = 0.4
    (aapl,) = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 10, orderRef=REF))
    assert _wait(ib, lambda: trade.orderStatus.filled == 4.0)
    assert trade.orderStatus.status == "Submitted" and trade.orderStatus.remaining == 6.0
    venue.set_quote("AAPL", 190.0, 190.2)
    assert _wait(ib, trade.isDone)
    assert [(f.execution.shares, f.execution.cumQty) for f in trade.fills] == [(4.0, 4.0), (6.0, 10.0)]
    assert trade.fills[1].execution.avgPrice == pytest.approx((4 * 190.1 + 6 * 190.2) / 10)


def test_cancel_reject_and_unknown_contract(venue: IBVenue, ib: IB) -> None:
    (aapl,) = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    stop = ib.placeOrder(aapl, StopOrder("SELL", 1, 100.0))
    assert _wait(ib, lambda: stop.orderStatus.status == "Cancelled")  # no shares to sell: rejected (201)
    assert stop.log[-1].errorCode == 201
    resting = ib.placeOrder(aapl, LimitOrder("BUY", 5, 150.0))
    assert _wait(ib, lambda: resting.orderStatus.status == "Submitted")
    ib.cancelOrder(resting.order)
    assert _wait(ib, lambda: resting.orderStatus.status == "Cancelled")
    assert resting.log[-1].errorCode == 202
    venue.faults.next_rejects = 1
    rejected = ib.placeOrder(aapl, MarketOrder("BUY", 1))
    assert _wait(ib, lambda: rejected.orderStatus.status == "Cancelled") and rejected.log[-1].errorCode == 201
    assert ib.qualifyContracts(Stock("NOPE", "SMART", "USD")) == [None]
    venue.faults.next_cancels = 1
    cancelled = ib.placeOrder(aapl, LimitOrder("BUY", 1, 150.0))
    assert _wait(ib, lambda: cancelled.orderStatus.status == "Cancelled") and cancelled.log[-1].errorCode == 202


def test_client_id_clash_is_refused_with_326(venue: IBVenue, ib: IB) -> None:
    errors: list[int] = []
    second = IB()
    second.errorEvent += lambda req_id, code, message, contract: errors.append(code)
    with pytest.raises((ConnectionError, TimeoutError)):
        second.connect("127.0.0.1", venue.port, clientId=1, timeout=1)
    assert 326 in errors and not second.isConnected()
    assert venue.stats()["gateway"]["client_id_clashes"] == 1 and ib.isConnected()


def test_pacing_violation_answers_error_100(venue: IBVenue, ib: IB) -> None:
    venue.faults.max_messages_per_second = 5
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, message, contract: codes.append(code)
    ib.client.MaxRequests = 0  # switch off ib_async's own throttle to exceed the venue's limit
    for _ in range(20):
        ib.client.reqCurrentTime()
    assert _wait(ib, lambda: 100 in codes)
    assert venue.stats()["gateway"]["pacing_violations"] >= 10


def test_restart_rolls_next_valid_id_back_and_refuses_used_ids_with_103(venue: IBVenue, ib: IB) -> None:
    (aapl,) = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    first = ib.placeOrder(aapl, MarketOrder("BUY", 1, orderRef=REF))
    assert _wait(ib, first.isDone)
    used = first.order.orderId
    venue.restart(roll_back_ids=True)
    assert _wait_disconnected(ib)
    again = _connect(venue)
    try:
        assert again.client.getReqId() < used  # the gateway forgot the ids it gave out
        codes: list[tuple[int, int]] = []
        again.errorEvent += lambda req_id, code, message, contract: codes.append((req_id, code))
        again.client.updateReqId(used)
        reused = again.placeOrder(aapl, MarketOrder("BUY", 1))
        assert _wait(again, lambda: (used, 103) in codes) and reused.orderStatus.status == "Cancelled"
        # the order survived the restart: its execution is replayed with its orderRef
        assert [f.execution.orderRef for f in again.reqExecutions(ExecutionFilter(clientId=1))] == [REF]
    finally:
        again.disconnect()


def test_fills_during_a_dropped_socket_are_recovered_from_executions(venue: IBVenue, ib: IB) -> None:
    (aapl,) = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    resting = ib.placeOrder(aapl, LimitOrder("BUY", 10, 189.0, orderRef=REF))
    assert _wait(ib, lambda: resting.orderStatus.status == "Submitted")
    assert venue.drop_connections() == 1
    assert _wait_disconnected(ib)
    venue.set_quote("AAPL", 188.8, 188.9)  # fills while the client is away
    back = _connect(venue)
    try:
        fills = [f for f in back.fills() if f.execution.orderRef == REF]
        assert [(f.execution.shares, f.execution.price) for f in fills] == [(10.0, 188.9)]
        assert fills[0].commissionReport.commission > 0
        assert {p.contract.symbol: p.position for p in back.positions()} == {"AAPL": 10.0}
    finally:
        back.disconnect()


def test_connectivity_loss_holds_updates_until_1102(venue: IBVenue, ib: IB) -> None:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, message, contract: codes.append(code)
    (aapl,) = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    resting: Trade = ib.placeOrder(aapl, LimitOrder("BUY", 3, 189.0))
    assert _wait(ib, lambda: resting.orderStatus.status == "Submitted")
    venue.lose_connectivity()
    assert _wait(ib, lambda: 1100 in codes)
    venue.set_quote("AAPL", 188.8, 188.9)
    ib.sleep(0.2)
    assert resting.orderStatus.status == "Submitted"  # held back while the gateway is cut off
    venue.restore_connectivity(data_lost=False)
    assert _wait(ib, lambda: resting.orderStatus.status == "Filled") and 1102 in codes


def test_slow_acks_delay_the_acknowledgement_not_the_order(venue: IBVenue, ib: IB) -> None:
    venue.faults.delay_seconds = 0.5
    venue.faults.delay_match = "API placeOrder"
    (aapl,) = ib.qualifyContracts(Stock("AAPL", "SMART", "USD"))
    trade = ib.placeOrder(aapl, MarketOrder("BUY", 2, orderRef=REF))
    assert _wait(ib, lambda: venue.stats()["executions"] == 1)
    assert trade.orderStatus.status == "PendingSubmit"  # filled at the venue, not yet heard of
    assert _wait(ib, trade.isDone)


def test_harness_routes_need_the_token_and_set_quotes(venue: IBVenue) -> None:
    url = venue.harness_url
    assert requests.get(url + "/_stats", timeout=5).status_code == 401
    r = requests.post(url + "/_quotes", json={"symbol": "MSFT", "bid": 401.0, "ask": 401.2},
                      headers=venue.harness_headers, timeout=5)
    assert r.status_code == 200 and venue.account.engine.quote("MSFT")[:2] == (401.0, 401.2)  # type: ignore[index]
    r = requests.post(url + "/_faults", json={"max_messages_per_second": 7}, headers=venue.harness_headers,
                      timeout=5)
    assert r.status_code == 200 and venue.faults.max_messages_per_second == 7
    assert requests.post(url + "/_faults", json={"nope": 1}, headers=venue.harness_headers, timeout=5
                         ).status_code == 400
    assert isinstance(venue.faults, IBFaults)
    stats = requests.get(url + "/_stats", headers=venue.harness_headers, timeout=5).json()
    assert stats["gateway"] == {} and stats["orders"] == 0


def test_any_stock_lists_a_stock_when_first_asked_for() -> None:
    with IBVenue(any_stock=True) as venue:
        venue.set_quote("ZZTOP", 9.99, 10.01)
        ib = _connect(venue)
        try:
            (z,) = ib.qualifyContracts(Stock("ZZTOP", "SMART", "USD"))
            assert z.conId > 0 and z.primaryExchange == "NASDAQ"
            assert ib.qualifyContracts(Stock("ZZTOP", "SMART", "USD"))[0].conId == z.conId  # the same contract
            trade = ib.placeOrder(z, MarketOrder("BUY", 3))
            assert _wait(ib, trade.isDone) and trade.orderStatus.avgFillPrice == 10.01
            assert ib.qualifyContracts(Forex("ABCDEF")) == [None]  # not a stock: still unknown
        finally:
            ib.disconnect()
