"""execlab ↔ ib_async: symbols and contracts, orders, trades, fills and contract details.

Symbols: a pair of ISO currencies (``EUR.USD``, ``EUR_USD`` or ``EUR/USD``) is an FX contract on IDEALPRO, traded
in base-currency units; anything listed in the map's contract table is that contract (futures with expiry and
multiplier, stocks on a given primary exchange); any other symbol is a stock routed through SMART (``BRK.B`` is IB's
``BRK B``). execlab's client order id travels in ``orderRef``, the one order field that survives a gateway restart;
the broker order id execlab keeps is IB's ``permId``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from ib_async import Contract, ContractDetails, Fill, Trade
from ib_async import Order as IBOrder
from ib_async.util import UNSET_DOUBLE

from execlab._brokers.client_ids import ClientIdStyle
from execlab._brokers.contract import BrokerFill, BrokerOrder
from execlab._core.instruments import Instrument
from execlab._core.models import Order, OrderStatus, OrderType, Side, TimeInForce

__all__ = [
    "CURRENCIES",
    "NOT_PLACED_ERRORS",
    "ORDER_REF",
    "IBSymbols",
    "broker_order_id",
    "instrument_of",
    "never_placed",
    "order_status",
    "to_broker_fill",
    "to_broker_order",
    "to_ib_order",
]

#: Currencies IB trades on IDEALPRO: a symbol made of two of them is an FX pair.
CURRENCIES: Final = frozenset({"USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "HKD",
                               "SGD", "MXN", "CNH", "ZAR", "PLN", "HUF", "CZK", "ILS", "TRY", "KRW", "RUB"})
_PAIR_SEPARATORS: Final = (".", "_", "/")

#: ib_async order statuses that mean the order is still working.
_WORKING: Final = frozenset({"PendingSubmit", "ApiPending", "PreSubmitted", "Submitted", "PendingCancel",
                             "ValidationError"})
#: IB error codes that end an order as rejected rather than cancelled.
_REJECT_CODES: Final = frozenset({103, 110, 200, 201, 203, 321, 382, 383, 387, 10147, 10148})

#: IB's ``orderRef`` holds execlab's canonical id as it is (IB allows far longer references).
ORDER_REF: Final = ClientIdStyle()

_TIF: Final = {TimeInForce.DAY: "DAY", TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK",
               TimeInForce.OPG: "OPG", TimeInForce.CLS: "DAY"}


def _fx_pair(symbol: str) -> tuple[str, str] | None:
    for sep in _PAIR_SEPARATORS:
        base, found, quote = symbol.partition(sep)
        if found and base in CURRENCIES and quote in CURRENCIES and base != quote:
            return base, quote
    return None


@dataclass(frozen=True)
class IBSymbols:
    """execlab symbols ↔ IB contracts (a :class:`execlab._brokers.symbols.SymbolMap`, plus the contracts).

    ``fx_separator`` is how execlab writes the pairs it reads back from IB (``.``: ``EUR.USD``; ``/`` to match
    ``EUR/USD`` data files); ``contracts`` lists symbols that are not plain SMART stocks in ``currency``.
    """

    fx_separator: str = "."
    currency: str = "USD"
    contracts: Mapping[str, Contract] = field(default_factory=dict)

    def to_broker(self, symbol: str) -> str:
        """IB's name: ``EUR.USD`` for a pair, the local symbol of a listed contract, else the stock symbol."""
        pair = _fx_pair(symbol)
        if pair is not None:
            return f"{pair[0]}.{pair[1]}"
        listed = self.contracts.get(symbol)
        if listed is not None:
            return listed.localSymbol or listed.symbol
        return symbol.replace(".", " ")

    def to_execlab(self, broker_symbol: str) -> str:
        """execlab's symbol for an IB name."""
        pair = _fx_pair(broker_symbol.upper())
        if pair is not None:
            return f"{pair[0]}{self.fx_separator}{pair[1]}"
        for symbol, listed in self.contracts.items():
            if broker_symbol in (listed.localSymbol, listed.symbol):
                return symbol
        return broker_symbol.upper().replace(" ", ".")

    def contract(self, symbol: str) -> Contract:
        """The contract to qualify and trade for execlab's ``symbol`` (a fresh copy each time)."""
        listed = self.contracts.get(symbol)
        if listed is not None:
            return Contract.create(**{k: v for k, v in vars(listed).items() if k in _CONTRACT_FIELDS})
        pair = _fx_pair(symbol)
        if pair is not None:
            return Contract(secType="CASH", symbol=pair[0], currency=pair[1], exchange="IDEALPRO")
        return Contract(secType="STK", symbol=symbol.replace(".", " "), exchange="SMART", currency=self.currency)

    def symbol_of(self, contract: Contract) -> str:
        """execlab's symbol for a contract IB reported (a position, an execution, an order)."""
        for symbol, listed in self.contracts.items():
            if listed.conId and listed.conId == contract.conId:
                return symbol
            if (listed.secType, listed.localSymbol or listed.symbol) == (
                    contract.secType, contract.localSymbol or contract.symbol) and listed.secType != "STK":
                return symbol
        if contract.secType == "CASH":
            return f"{contract.symbol}{self.fx_separator}{contract.currency}"
        if contract.secType == "FUT" and contract.localSymbol:
            return contract.localSymbol
        return contract.symbol.replace(" ", ".")


_CONTRACT_FIELDS: Final = frozenset({"secType", "conId", "symbol", "lastTradeDateOrContractMonth", "strike",
                                     "right", "multiplier", "exchange", "primaryExchange", "currency", "localSymbol",
                                     "tradingClass"})


def to_ib_order(order: Order, order_ref: str, account: str = "") -> IBOrder:
    """The IB order for execlab's ``order`` (``orderRef`` carries the client id; ``cls`` is market/limit on close)."""
    action = "BUY" if order.side is Side.BUY else "SELL"
    kind = order.order_type
    ib = IBOrder(action=action, totalQuantity=float(order.quantity), tif=_TIF[order.time_in_force],
                 orderRef=order_ref, account=account, transmit=True)
    if kind is OrderType.MARKET:
        ib.orderType = "MOC" if order.time_in_force is TimeInForce.CLS else "MKT"
    elif kind is OrderType.LIMIT:
        ib.orderType = "LOC" if order.time_in_force is TimeInForce.CLS else "LMT"
        ib.lmtPrice = order.limit_price
    elif kind is OrderType.STOP:
        ib.orderType, ib.auxPrice = "STP", order.stop_price
    elif kind is OrderType.STOP_LIMIT:
        ib.orderType, ib.lmtPrice, ib.auxPrice = "STP LMT", order.limit_price, order.stop_price
    else:
        ib.orderType = "TRAIL"
        if order.trail_percent is not None:
            ib.trailingPercent = order.trail_percent
        else:
            ib.auxPrice = order.trail_amount
    return ib


def _rejected(trade: Trade) -> bool:
    return any(entry.errorCode in _REJECT_CODES for entry in trade.log)


def order_status(trade: Trade) -> OrderStatus:
    """execlab's status of an ib_async trade."""
    status = trade.orderStatus.status
    filled = trade.filled() or trade.orderStatus.filled
    if status == "Filled":
        return OrderStatus.FILLED
    if status in ("Cancelled", "ApiCancelled"):
        if filled > 0:
            return OrderStatus.CANCELLED
        return OrderStatus.REJECTED if _rejected(trade) else OrderStatus.CANCELLED
    if status == "Inactive":
        return OrderStatus.REJECTED
    if status in _WORKING:
        return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.SUBMITTED
    return OrderStatus.SUBMITTED


def broker_order_id(trade: Trade) -> str:
    """IB's permanent order id (``permId``), or ``client:order`` before TWS has assigned one."""
    perm = trade.order.permId or trade.orderStatus.permId
    return str(perm) if perm else f"{trade.order.clientId}:{trade.order.orderId}"


#: Errors after which an order never existed at the gateway: a duplicate order id (103), a message dropped over the
#: message rate (100).
NOT_PLACED_ERRORS: Final = frozenset({100, 103})


def never_placed(trade: Trade) -> bool:
    """Whether the gateway refused the order's message itself (ib_async still keeps it, as cancelled)."""
    return bool(trade.log) and trade.log[-1].errorCode in NOT_PLACED_ERRORS and not trade.order.permId


def to_broker_order(trade: Trade, symbols: IBSymbols) -> BrokerOrder | None:
    """The neutral order of an ib_async trade, or None when its ``orderRef`` is not one of execlab's ids or the
    gateway never took it (:func:`never_placed`)."""
    client_id = ORDER_REF.parse(trade.order.orderRef)
    if client_id is None or never_placed(trade):
        return None
    st = trade.orderStatus
    fills = [f for f in trade.fills if f.execution.shares > 0]
    filled = sum(f.execution.shares for f in fills)
    avg: float | None
    if fills:
        avg = sum(f.execution.shares * f.execution.price for f in fills) / filled
    else:
        avg = st.avgFillPrice if st.filled > 0 and st.avgFillPrice > 0 else None
    filled = max(filled, st.filled)
    if trade.order.filledQuantity not in (UNSET_DOUBLE, None) and math.isfinite(trade.order.filledQuantity):
        filled = max(filled, float(trade.order.filledQuantity))
    return BrokerOrder(client_order_id=client_id, broker_order_id=broker_order_id(trade),
                       symbol=symbols.symbol_of(trade.contract),
                       side=Side.BUY if trade.order.action == "BUY" else Side.SELL,
                       quantity=float(trade.order.totalQuantity), filled_quantity=float(filled), avg_fill_price=avg,
                       status=order_status(trade),
                       raw={"orderId": trade.order.orderId, "clientId": trade.order.clientId,
                            "permId": trade.order.permId, "status": st.status})


def _liquidity(code: int) -> Literal["maker", "taker"] | None:
    if code == 1:
        return "maker"
    if code in (2, 3):
        return "taker"
    return None


def _execution_time(fill: Fill) -> datetime:
    """When it executed: IB writes execution times to the second, so the execution happened in ``[t, t + 1 s)``
    and before ib_async received it (it stamps a live fill with its arrival): the latest time both allow."""
    executed = fill.execution.time.astimezone(UTC)
    arrived = fill.time.astimezone(UTC) if fill.time.tzinfo is not None else executed
    if arrived < executed:
        return executed
    return min(arrived, executed + timedelta(seconds=1) - timedelta(microseconds=1))


def to_broker_fill(fill: Fill, symbols: IBSymbols) -> BrokerFill | None:
    """The neutral fill of an ib_async fill (fee from its commission report), or None when its ``orderRef`` is not
    one of execlab's ids."""
    ex = fill.execution
    client_id = ORDER_REF.parse(ex.orderRef)
    if client_id is None or not ex.shares > 0:
        return None
    report = fill.commissionReport
    fee = report.commission if report.commission not in (UNSET_DOUBLE,) and report.commission > 0 else 0.0
    return BrokerFill(execution_id=ex.execId, client_order_id=client_id,
                      broker_order_id=str(ex.permId) if ex.permId else f"{ex.clientId}:{ex.orderId}",
                      symbol=symbols.symbol_of(fill.contract), side=Side.BUY if ex.side == "BOT" else Side.SELL,
                      quantity=float(ex.shares), price=float(ex.price), fee=float(fee),
                      fee_currency=report.currency or None, liquidity=_liquidity(ex.lastLiquidity),
                      timestamp=_execution_time(fill),
                      raw={"permId": ex.permId, "orderId": ex.orderId, "clientId": ex.clientId,
                           "cumQty": ex.cumQty, "avgPrice": ex.avgPrice, "exchange": ex.exchange})


def instrument_of(symbol: str, details: ContractDetails) -> Instrument:
    """execlab's trading rules from IB's contract details (tick, size increment, minimum size, currency)."""
    c = details.contract
    assert c is not None
    increment = details.sizeIncrement or 1.0
    asset_class: Literal["us_equity", "fx"] = "fx" if c.secType == "CASH" else "us_equity"
    return Instrument(symbol=symbol, asset_class=asset_class, currency=c.currency or "USD", lot_size=increment,
                      tick_size=details.minTick or 0.01, min_quantity=details.minSize or increment,
                      fractional=increment < 1.0)
