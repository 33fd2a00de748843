"""The IB venue's message encoders, read back by ib_async 2.1's own ``Decoder`` into a real ``IB`` wrapper.

Nothing here compares the encoders with themselves: every message goes through ib_async's framing
(``Client._onSocketHasData``) or its strict handler, at each server version the venue speaks, and the test looks
at what the wrapper made of it (trades, fills, commissions, positions, portfolio, account values, details).
"""

from __future__ import annotations

import logging

import pytest
from ib_async import IB
from ib_async.decoder import Decoder
from ib_async.util import UNSET_DOUBLE

from execlab.venues.ibkr import _messages as m
from execlab.venues.ibkr._contracts import DEFAULT_CONTRACTS, ContractCatalogue
from execlab.venues.ibkr._wire import frame

VERSIONS = (157, 176, 178)
ACCOUNT = "DU1234567"
CATALOGUE = ContractCatalogue()
AAPL = CATALOGUE.by_key("AAPL")
EURUSD = CATALOGUE.by_key("EUR.USD")
ES = CATALOGUE.by_key("ESZ6")
assert AAPL is not None and EURUSD is not None and ES is not None


def _ib(version: int) -> IB:
    """A real IB object whose client has negotiated ``version`` and is ready (no socket)."""
    ib = IB()
    client = ib.client
    client._serverVersion = version
    client.decoder.serverVersion = version
    client.connState = client.CONNECTED
    client._apiReady = True
    ib.wrapper.clientId = 7
    return ib


def _split(fields: list[object]) -> list[str]:
    """The fields exactly as ib_async's client cuts a frame (length prefix, NUL split, trailing pop)."""
    data = frame(fields)
    body = data[4:].decode()
    parts = body.split("\0")
    parts.pop()
    return parts


def _strict(ib: IB, fields: list[object]) -> None:
    """Run the decoder's handler for the message directly, so any unpacking error fails the test."""
    decoder: Decoder = ib.client.decoder
    parts = _split(fields)
    decoder.handlers[int(parts[0])](parts)


def _through_socket(ib: IB, fields: list[object], caplog: pytest.LogCaptureFixture) -> None:
    """Feed the framed bytes to the client's socket callback, and fail on anything the decoder logged as error."""
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="ib_async"):
        ib.client._onSocketHasData(frame(fields))
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, errors


def _order(**overrides: object) -> m.WireOrder:
    values: dict[str, object] = dict(order_id=11, client_id=7, perm_id=900011, action="BUY", total_quantity=100.0,
                                     order_type="LMT", account=ACCOUNT, lmt_price=187.25, tif="DAY",
                                     order_ref="xl-0123456789abcdef0123456789abcdef")
    values.update(overrides)
    return m.WireOrder(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", VERSIONS)
def test_open_order_has_the_field_count_of_a_real_simple_order(version: int) -> None:
    fields = m.open_order(_order(), AAPL.contract, "Submitted", version)
    assert len(fields) == {157: 120, 176: 128, 178: 127}[version]


@pytest.mark.parametrize("version", VERSIONS)
def test_open_order_then_status_build_a_trade(version: int, caplog: pytest.LogCaptureFixture) -> None:
    ib = _ib(version)
    _strict(ib, m.open_order(_order(), AAPL.contract, "Submitted", version))
    trade = ib.wrapper.trades[(7, 11)]
    assert trade.order.orderRef == "xl-0123456789abcdef0123456789abcdef"
    assert trade.order.totalQuantity == 100.0 and trade.order.lmtPrice == 187.25
    assert trade.order.auxPrice == UNSET_DOUBLE and trade.order.permId == 900011
    assert trade.order.action == "BUY" and trade.order.orderType == "LMT" and trade.order.tif == "DAY"
    assert trade.contract.conId == 265598 and trade.contract.symbol == "AAPL" and trade.contract.secType == "STK"
    assert trade.orderStatus.status == "Submitted"
    assert ib.client._reqIdSeq == 12  # the client never reuses an id it saw

    _through_socket(ib, m.order_status(11, "Filled", 100.0, 0.0, 187.2, 900011, 187.2, 7), caplog)
    assert trade.orderStatus.status == "Filled"
    assert trade.orderStatus.filled == 100.0 and trade.orderStatus.remaining == 0.0
    assert trade.orderStatus.avgFillPrice == 187.2 and trade.isDone()


@pytest.mark.parametrize("version", VERSIONS)
def test_trailing_stop_and_market_orders_keep_their_prices(version: int) -> None:
    ib = _ib(version)
    _strict(ib, m.open_order(_order(order_id=20, order_type="TRAIL", lmt_price=None, aux_price=1.5,
                                    trail_stop_price=185.0, action="SELL"), AAPL.contract, "PreSubmitted", version))
    trail = ib.wrapper.trades[(7, 20)].order
    assert trail.auxPrice == 1.5 and trail.trailStopPrice == 185.0 and trail.lmtPrice == UNSET_DOUBLE
    _strict(ib, m.open_order(_order(order_id=21, order_type="MKT", lmt_price=None, total_quantity=25000.0),
                             EURUSD.contract, "Submitted", version))
    fx = ib.wrapper.trades[(7, 21)]
    assert fx.contract.secType == "CASH" and fx.contract.currency == "USD" and fx.contract.exchange == "IDEALPRO"
    assert fx.order.totalQuantity == 25000.0


@pytest.mark.parametrize("version", VERSIONS)
def test_fill_sequence_gives_a_fill_with_its_commission(version: int, caplog: pytest.LogCaptureFixture) -> None:
    ib = _ib(version)
    _strict(ib, m.open_order(_order(order_type="MKT", lmt_price=None), AAPL.contract, "Submitted", version))
    seen: list[tuple[str, float]] = []
    ib.execDetailsEvent += lambda trade, fill: seen.append((fill.execution.execId, fill.execution.shares))
    execution = m.WireExecution(exec_id="0000e215.656d0002.01.01", order_id=11, client_id=7, perm_id=900011,
                                time="20261130 14:30:05 UTC", account=ACCOUNT, exchange="ISLAND", side="BOT",
                                shares=40.0, price=187.3, cum_qty=40.0, avg_price=187.3,
                                order_ref="xl-0123456789abcdef0123456789abcdef", last_liquidity=2)
    fields = m.exec_details(-1, execution, AAPL.contract, version)
    assert len(fields) == (32 if version >= 178 else 31)
    _strict(ib, fields)
    _through_socket(ib, m.commission_report("0000e215.656d0002.01.01", 1.0, "USD"), caplog)
    trade = ib.wrapper.trades[(7, 11)]
    (fill,) = trade.fills
    assert seen == [("0000e215.656d0002.01.01", 40.0)]
    ex = fill.execution
    assert (ex.side, ex.shares, ex.price, ex.cumQty, ex.avgPrice) == ("BOT", 40.0, 187.3, 40.0, 187.3)
    assert ex.orderRef == "xl-0123456789abcdef0123456789abcdef" and ex.permId == 900011 and ex.lastLiquidity == 2
    assert ex.time.isoformat().startswith("2026-11-30T14:30:05")
    assert fill.commissionReport.commission == 1.0 and fill.commissionReport.currency == "USD"
    assert fill.commissionReport.realizedPNL == 0.0  # the unset double is read as "none"


@pytest.mark.parametrize("version", VERSIONS)
def test_executions_answer_a_request(version: int) -> None:
    ib = _ib(version)
    ib.wrapper._futures[5] = None  # type: ignore[assignment]  # a pending reqExecutions: not a live fill
    ib.wrapper._results[5] = []
    execution = m.WireExecution("e1", 3, 7, 900003, "20261130 14:30:05 UTC", ACCOUNT, "IDEALPRO", "SLD",
                                10000.0, 1.0831, 10000.0, 1.0831, "xl-a")
    _strict(ib, m.exec_details(5, execution, EURUSD.contract, version))
    (fill,) = ib.wrapper._results[5]
    assert fill.execution.execId == "e1" and fill.contract.symbol == "EUR" and fill.execution.side == "SLD"


@pytest.mark.parametrize("version", VERSIONS)
def test_error_carries_the_advanced_reject_only_from_166(version: int) -> None:
    ib = _ib(version)
    got: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, message, contract: got.append((req_id, code, message))
    fields = m.error(11, 201, "Order rejected - reason: insufficient funds", version, '{"x":1}')
    assert len(fields) == (6 if version >= 166 else 5)
    _strict(ib, fields)
    assert got == [(11, 201, "Order rejected - reason: insufficient funds")]


def test_a_reject_cancels_the_clients_trade() -> None:
    ib = _ib(178)
    _strict(ib, m.open_order(_order(), AAPL.contract, "PreSubmitted", 178))
    _strict(ib, m.error(11, 201, "Order rejected - reason: no", 178))
    assert ib.wrapper.trades[(7, 11)].orderStatus.status == "Cancelled"


@pytest.mark.parametrize("version", VERSIONS)
def test_completed_order_is_keyed_by_perm_id(version: int) -> None:
    ib = _ib(version)
    ib.wrapper._results["completedOrders"] = []
    fields = m.completed_order(_order(filled_quantity=100.0), AAPL.contract, "Filled", "20261130 14:31:00 UTC",
                               "Filled Size: 100", version)
    _strict(ib, fields)
    (trade,) = ib.wrapper._results["completedOrders"]
    assert trade.order.permId == 900011 and trade.order.orderRef.startswith("xl-")
    assert trade.order.filledQuantity == 100.0 and trade.orderStatus.status == "Filled"
    assert ib.wrapper.trades[900011] is trade


@pytest.mark.parametrize("version", VERSIONS)
def test_positions_portfolio_and_account_values(version: int, caplog: pytest.LogCaptureFixture) -> None:
    ib = _ib(version)
    fields = m.position(ACCOUNT, AAPL.contract, 100.0, 187.2)
    assert len(fields) == 16
    _strict(ib, fields)
    pos = ib.wrapper.positions[ACCOUNT][265598]
    assert pos.position == 100.0 and pos.avgCost == 187.2 and pos.contract.symbol == "AAPL"
    fields = m.portfolio_value(EURUSD.contract, -25000.0, 1.08, -27000.0, 1.079, -25.0, 0.0, ACCOUNT)
    assert len(fields) == 20
    _strict(ib, fields)
    item = ib.wrapper.portfolio[ACCOUNT][12087792]
    assert item.position == -25000.0 and item.marketValue == -27000.0 and item.unrealizedPNL == -25.0
    for msg in (m.account_value("CashBalance", "100000.00", "USD", ACCOUNT),
                m.account_value("CashBalance", "5000.00", "EUR", ACCOUNT),
                m.account_update_multi(3, ACCOUNT, "NetLiquidation", "101000.00", "USD"),
                m.account_time("14:31"), m.position_end()):
        _through_socket(ib, msg, caplog)
    values = {(v.tag, v.currency, v.modelCode): v.value for v in ib.accountValues(ACCOUNT)}
    assert values[("CashBalance", "USD", "")] == "100000.00" and values[("CashBalance", "EUR", "")] == "5000.00"
    assert values[("NetLiquidation", "USD", "")] == "101000.00"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("key", [spec.key for spec in DEFAULT_CONTRACTS])
def test_contract_details_qualify_every_default_contract(version: int, key: str) -> None:
    ib = _ib(version)
    spec = CATALOGUE.by_key(key)
    assert spec is not None
    ib.wrapper._results[4] = []
    _strict(ib, m.contract_data(4, spec, version))
    (details,) = ib.wrapper._results[4]
    c = details.contract
    w = spec.contract
    assert (c.conId, c.symbol, c.secType, c.exchange, c.currency) == (w.con_id, w.symbol, w.sec_type, w.exchange,
                                                                      w.currency)
    assert c.primaryExchange == w.primary_exchange and c.multiplier == w.multiplier
    assert c.lastTradeDateOrContractMonth == w.last_trade_date and c.localSymbol == w.local_symbol
    assert details.minTick == spec.min_tick and details.longName == spec.long_name
    if version >= 164:
        assert details.minSize == spec.min_size and details.sizeIncrement == spec.size_increment
    else:
        assert details.sizeIncrement == 0.0  # not on the wire before 164


def test_handshake_ready_messages_make_the_client_ready(caplog: pytest.LogCaptureFixture) -> None:
    ib = IB()
    client = ib.client
    client._serverVersion = 178
    client.decoder.serverVersion = 178
    client.connState = client.CONNECTED
    started: list[bool] = []
    client.apiStart += lambda: started.append(True)
    with caplog.at_level(logging.ERROR, logger="ib_async"):
        client._onSocketHasData(frame(m.managed_accounts([ACCOUNT, "DU7654321"])) + frame(m.next_valid_id(42)))
    assert started == [True] and client.isReady()
    assert client.getAccounts() == [ACCOUNT, "DU7654321"] and client.getReqId() == 42
