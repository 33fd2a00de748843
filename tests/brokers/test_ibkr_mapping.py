"""execlab ↔ ib_async mapping, on ib_async objects built by ib_async's own decoder from the venue's messages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from ib_async import IB, Contract
from ib_async.order import Order as IBOrder

from execlab._core.models import Order, OrderStatus, OrderType, Side, TimeInForce
from execlab.adapters.ibkr._mapping import (
    IBSymbols,
    instrument_of,
    order_status,
    to_broker_fill,
    to_broker_order,
    to_ib_order,
)
from execlab.venues.ibkr import _messages as m
from execlab.venues.ibkr._contracts import ContractCatalogue
from execlab.venues.ibkr._wire import frame

CID = "xl-" + "ab" * 16
CATALOGUE = ContractCatalogue()


def _ib() -> IB:
    ib = IB()
    ib.client._serverVersion = ib.client.decoder.serverVersion = 178
    ib.client.connState = ib.client.CONNECTED
    ib.client._apiReady = True
    ib.wrapper.clientId = 7
    return ib


def _feed(ib: IB, *messages: list[object]) -> None:
    for fields in messages:
        parts = frame(fields)[4:].decode().split("\0")
        parts.pop()
        ib.client.decoder.handlers[int(parts[0])](parts)


def test_symbols_round_trip() -> None:
    es = Contract(secType="FUT", symbol="ES", lastTradeDateOrContractMonth="20261218", exchange="CME",
                  multiplier="50", currency="USD", localSymbol="ESZ6")
    symbols = IBSymbols(contracts={"ESZ6": es})
    for symbol, broker in (("AAPL", "AAPL"), ("EUR.USD", "EUR.USD"), ("BRK.B", "BRK B"), ("ESZ6", "ESZ6")):
        assert symbols.to_broker(symbol) == broker and symbols.to_execlab(broker) == symbol
    assert symbols.to_broker("EUR_USD") == symbols.to_broker("EUR/USD") == "EUR.USD"
    assert IBSymbols(fx_separator="/").to_execlab("EUR.USD") == "EUR/USD"
    fx = symbols.contract("EUR/USD")
    assert (fx.secType, fx.symbol, fx.currency, fx.exchange) == ("CASH", "EUR", "USD", "IDEALPRO")
    stock = symbols.contract("BRK.B")
    assert (stock.secType, stock.symbol, stock.exchange, stock.currency) == ("STK", "BRK B", "SMART", "USD")
    fut = symbols.contract("ESZ6")
    assert (fut.secType, fut.lastTradeDateOrContractMonth, fut.multiplier) == ("FUT", "20261218", "50")
    assert fut is not es
    assert symbols.symbol_of(Contract(secType="FUT", symbol="ES", localSymbol="ESZ6", conId=1)) == "ESZ6"
    assert symbols.symbol_of(Contract(secType="CASH", symbol="GBP", currency="USD")) == "GBP.USD"


@pytest.mark.parametrize(("order", "expected"), [
    (Order(symbol="AAPL", side=Side.BUY, quantity=10.0, client_order_id=CID), ("MKT", None, None, "DAY")),
    (Order(symbol="AAPL", side=Side.SELL, quantity=10.0, order_type=OrderType.LIMIT, limit_price=190.5,
           time_in_force=TimeInForce.GTC, client_order_id=CID), ("LMT", 190.5, None, "GTC")),
    (Order(symbol="AAPL", side=Side.SELL, quantity=10.0, order_type=OrderType.STOP_LIMIT, limit_price=180.0,
           stop_price=181.0, client_order_id=CID), ("STP LMT", 180.0, 181.0, "DAY")),
    (Order(symbol="AAPL", side=Side.BUY, quantity=10.0, time_in_force=TimeInForce.CLS, client_order_id=CID),
     ("MOC", None, None, "DAY")),
    (Order(symbol="AAPL", side=Side.SELL, quantity=10.0, order_type=OrderType.TRAILING_STOP, trail_amount=2.0,
           client_order_id=CID), ("TRAIL", None, 2.0, "DAY")),
])
def test_orders_map_to_ib_orders(order: Order, expected: tuple[object, ...]) -> None:
    ib = to_ib_order(order, CID, "DU1")
    unset = IBOrder().lmtPrice
    got = (ib.orderType, None if ib.lmtPrice == unset else ib.lmtPrice, None if ib.auxPrice == unset
           else ib.auxPrice, ib.tif)
    assert got == expected
    assert ib.orderRef == CID and ib.account == "DU1" and ib.totalQuantity == 10.0


def _wire_order(status_filled: float = 0.0, order_ref: str = CID) -> m.WireOrder:
    return m.WireOrder(order_id=4, client_id=7, perm_id=5004, action="SELL", total_quantity=25000.0,
                       order_type="MKT", account="DU1", order_ref=order_ref, filled_quantity=status_filled)


def test_a_filled_trade_and_its_fill() -> None:
    ib = _ib()
    eurusd = CATALOGUE.by_key("EUR.USD")
    assert eurusd is not None
    ex = m.WireExecution("e-1", 4, 7, 5004, "20240102 14:30:05 UTC", "DU1", "IDEALPRO", "SLD", 10000.0, 1.08,
                         10000.0, 1.08, CID, last_liquidity=1)
    _feed(ib, m.open_order(_wire_order(), eurusd.contract, "Submitted", 178),
          m.order_status(4, "Submitted", 10000.0, 15000.0, 1.08, 5004, 1.08, 7),
          m.exec_details(-1, ex, eurusd.contract, 178), m.commission_report("e-1", 2.0, "USD"))
    trade = ib.wrapper.trades[(7, 4)]
    order = to_broker_order(trade, IBSymbols())
    assert order is not None
    assert (order.client_order_id, order.broker_order_id, order.symbol, order.side) == (CID, "5004", "EUR.USD",
                                                                                         Side.SELL)
    assert (order.quantity, order.filled_quantity, order.avg_fill_price, order.status) == (
        25000.0, 10000.0, 1.08, OrderStatus.PARTIALLY_FILLED)
    fill = to_broker_fill(trade.fills[0], IBSymbols(fx_separator="/"))
    assert fill is not None
    assert (fill.execution_id, fill.client_order_id, fill.broker_order_id, fill.symbol) == ("e-1", CID, "5004",
                                                                                           "EUR/USD")
    assert (fill.side, fill.quantity, fill.price, fill.fee, fill.fee_currency, fill.liquidity) == (
        Side.SELL, 10000.0, 1.08, 2.0, "USD", "maker")
    # IB writes whole seconds and ib_async stamped its arrival (now, later): the latest time within that second
    assert fill.timestamp == datetime(2024, 1, 2, 14, 30, 5, 999999, tzinfo=UTC)
    _feed(ib, m.order_status(4, "Filled", 25000.0, 0.0, 1.08, 5004, 1.08, 7))
    assert order_status(trade) is OrderStatus.FILLED


def test_rejected_cancelled_and_foreign_trades() -> None:
    ib = _ib()
    aapl = CATALOGUE.by_key("AAPL")
    assert aapl is not None
    _feed(ib, m.open_order(_wire_order(), aapl.contract, "PreSubmitted", 178), m.error(4, 201, "rejected", 178))
    assert order_status(ib.wrapper.trades[(7, 4)]) is OrderStatus.REJECTED
    other = m.WireOrder(order_id=5, client_id=7, perm_id=5005, action="BUY", total_quantity=1.0, order_type="LMT",
                        account="DU1", lmt_price=1.0, order_ref=CID)
    _feed(ib, m.open_order(other, aapl.contract, "Submitted", 178), m.error(5, 202, "Order Canceled", 178))
    assert order_status(ib.wrapper.trades[(7, 5)]) is OrderStatus.CANCELLED
    mine = m.WireOrder(order_id=6, client_id=7, perm_id=5006, action="BUY", total_quantity=1.0, order_type="MKT",
                       account="DU1", order_ref="manual")
    _feed(ib, m.open_order(mine, aapl.contract, "Submitted", 178))
    assert to_broker_order(ib.wrapper.trades[(7, 6)], IBSymbols()) is None


def test_contract_details_become_instruments() -> None:
    ib = _ib()
    for i, key in enumerate(("AAPL", "EUR.USD")):
        spec = CATALOGUE.by_key(key)
        assert spec is not None
        ib.wrapper._results[i] = []
        _feed(ib, m.contract_data(i, spec, 178))
    aapl = instrument_of("AAPL", ib.wrapper._results[0][0])
    assert (aapl.asset_class, aapl.tick_size, aapl.lot_size, aapl.min_quantity, aapl.fractional) == (
        "us_equity", 0.01, 1.0, 1.0, False)
    fx = instrument_of("EUR.USD", ib.wrapper._results[1][0])
    assert (fx.asset_class, fx.currency, fx.tick_size) == ("fx", "USD", 0.00005)
