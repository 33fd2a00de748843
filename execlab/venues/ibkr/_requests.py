"""Decoders of the requests a TWS API client sends, as ib_async 2.1's ``Client`` writes them.

:func:`decode_request` turns one message's fields into a typed request value; a request the venue does not model
comes back as :class:`UnhandledRequest` (the venue answers those with nothing, or an error, as TWS would for an
unsubscribed feature). ``placeOrder`` is read by walking the same optional parts the client writes (combo legs,
delta-neutral, scale, hedge, algo, pegged-to-benchmark and conditions parts, and the version-gated tail), so the
fields after them stay aligned. Unset numbers arrive as empty text (the client's ``makeEmpty``) and decode to None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from execlab.venues.ibkr._contracts import ContractQuery

__all__ = [
    "CancelAccountSummary",
    "CancelAccountUpdatesMulti",
    "CancelOrder",
    "CancelPositions",
    "ExecutionFilter",
    "PlaceOrder",
    "ReqAccountSummary",
    "ReqAccountUpdates",
    "ReqAccountUpdatesMulti",
    "ReqAllOpenOrders",
    "ReqAutoOpenOrders",
    "ReqCompletedOrders",
    "ReqContractDetails",
    "ReqCurrentTime",
    "ReqExecutions",
    "ReqGlobalCancel",
    "ReqIds",
    "ReqManagedAccts",
    "ReqOpenOrders",
    "ReqPositions",
    "Request",
    "RequestDecodeError",
    "StartApi",
    "UnhandledRequest",
    "decode_request",
]

#: Condition types and the fields each writes after its type (ib_async's OrderCondition dataclasses).
_CONDITION_FIELDS: Final = {1: 6, 3: 3, 4: 3, 5: 4, 6: 5, 7: 5}


class RequestDecodeError(ValueError):
    """A request's fields do not have the layout its message id promises."""


class _Cursor:
    def __init__(self, fields: list[str], start: int) -> None:
        self.fields = fields
        self.i = start

    def text(self) -> str:
        if self.i >= len(self.fields):
            raise RequestDecodeError(f"message {self.fields[:1]} ends after {len(self.fields)} fields")
        value = self.fields[self.i]
        self.i += 1
        return value

    def int_(self, default: int = 0) -> int:
        value = self.text()
        try:
            return int(value) if value else default
        except ValueError:
            raise RequestDecodeError(f"field {self.i - 1} of message {self.fields[0]}: {value!r} is not an "
                                     "integer") from None

    def float_(self) -> float | None:
        value = self.text()
        if not value:
            return None
        if value == "Infinite":
            return math.inf
        try:
            return float(value)
        except ValueError:
            raise RequestDecodeError(f"field {self.i - 1} of message {self.fields[0]}: {value!r} is not a "
                                     "number") from None

    def bool_(self) -> bool:
        return self.int_() != 0

    def skip(self, n: int) -> None:
        if self.i + n > len(self.fields):
            raise RequestDecodeError(f"message {self.fields[:1]} ends after {len(self.fields)} fields")
        self.i += n

    def contract(self) -> ContractQuery:
        return ContractQuery(con_id=self.int_(), symbol=self.text(), sec_type=self.text(),
                             last_trade_date=self.text(), strike=self.float_() or 0.0, right=self.text(),
                             multiplier=self.text(), exchange=self.text(), primary_exchange=self.text(),
                             currency=self.text(), local_symbol=self.text(), trading_class=self.text())


@dataclass(frozen=True, slots=True)
class StartApi:
    """``startApi`` (71): the client's id and optional capabilities."""

    client_id: int
    optional_capabilities: str = ""


@dataclass(frozen=True, slots=True)
class ReqPositions:
    """``reqPositions`` (61)."""


@dataclass(frozen=True, slots=True)
class CancelPositions:
    """``cancelPositions`` (64)."""


@dataclass(frozen=True, slots=True)
class ReqOpenOrders:
    """``reqOpenOrders`` (5): this client's open orders."""


@dataclass(frozen=True, slots=True)
class ReqAllOpenOrders:
    """``reqAllOpenOrders`` (16): every client's open orders."""


@dataclass(frozen=True, slots=True)
class ReqAutoOpenOrders:
    """``reqAutoOpenOrders`` (15): bind manual orders (client id 0)."""

    auto_bind: bool


@dataclass(frozen=True, slots=True)
class ReqCompletedOrders:
    """``reqCompletedOrders`` (99, no version field)."""

    api_only: bool


@dataclass(frozen=True, slots=True)
class ReqAccountUpdates:
    """``reqAccountUpdates`` (6): account values and portfolio of ``account``, kept updated while subscribed."""

    subscribe: bool
    account: str


@dataclass(frozen=True, slots=True)
class ReqAccountUpdatesMulti:
    """``reqAccountUpdatesMulti`` (76)."""

    req_id: int
    account: str
    model_code: str
    ledger_and_nlv: bool


@dataclass(frozen=True, slots=True)
class CancelAccountUpdatesMulti:
    """``cancelAccountUpdatesMulti`` (77)."""

    req_id: int


@dataclass(frozen=True, slots=True)
class ReqAccountSummary:
    """``reqAccountSummary`` (62)."""

    req_id: int
    group: str
    tags: str


@dataclass(frozen=True, slots=True)
class CancelAccountSummary:
    """``cancelAccountSummary`` (63)."""

    req_id: int


@dataclass(frozen=True, slots=True)
class ExecutionFilter:
    """Which executions ``reqExecutions`` asks for (empty / 0: any)."""

    client_id: int = 0
    account: str = ""
    time: str = ""
    """``YYYYMMDD HH:MM:SS`` (optionally with a zone): executions at or after it."""
    symbol: str = ""
    sec_type: str = ""
    exchange: str = ""
    side: str = ""


@dataclass(frozen=True, slots=True)
class ReqExecutions:
    """``reqExecutions`` (7)."""

    req_id: int
    filter: ExecutionFilter


@dataclass(frozen=True, slots=True)
class ReqContractDetails:
    """``reqContractDetails`` (9)."""

    req_id: int
    contract: ContractQuery
    include_expired: bool = False


@dataclass(frozen=True, slots=True)
class ReqIds:
    """``reqIds`` (8): answered with ``nextValidId``."""

    num_ids: int


@dataclass(frozen=True, slots=True)
class ReqCurrentTime:
    """``reqCurrentTime`` (49)."""


@dataclass(frozen=True, slots=True)
class ReqManagedAccts:
    """``reqManagedAccts`` (17)."""


@dataclass(frozen=True, slots=True)
class ReqGlobalCancel:
    """``reqGlobalCancel`` (58): cancel every open order of every client."""


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """``cancelOrder`` (4)."""

    order_id: int
    manual_cancel_time: str = ""


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """``placeOrder`` (3): a new order, or a change to one this client placed with the same id."""

    order_id: int
    contract: ContractQuery
    action: str
    total_quantity: float
    order_type: str
    lmt_price: float | None
    aux_price: float | None
    """Stop price of a stop order; trailing amount of a trailing stop."""
    tif: str
    account: str
    order_ref: str
    transmit: bool
    parent_id: int
    outside_rth: bool
    hidden: bool
    good_after_time: str
    good_till_date: str
    trail_stop_price: float | None
    trailing_percent: float | None
    algo_strategy: str
    what_if: bool
    conditions: int
    cash_qty: float | None
    field_count: int
    """How many fields the message had (a check that nothing was left unread)."""


@dataclass(frozen=True, slots=True)
class UnhandledRequest:
    """A request the venue does not model: its message id and fields."""

    msg_id: int
    fields: tuple[str, ...]


Request = (StartApi | ReqPositions | CancelPositions | ReqOpenOrders | ReqAllOpenOrders | ReqAutoOpenOrders
           | ReqCompletedOrders | ReqAccountUpdates | ReqAccountUpdatesMulti | CancelAccountUpdatesMulti
           | ReqAccountSummary | CancelAccountSummary | ReqExecutions | ReqContractDetails | ReqIds | ReqCurrentTime
           | ReqManagedAccts | ReqGlobalCancel | CancelOrder | PlaceOrder | UnhandledRequest)


def _place_order(fields: list[str], version: int) -> PlaceOrder:
    r = _Cursor(fields, 1)
    order_id = r.int_()
    contract = r.contract()
    r.skip(2)  # secIdType, secId
    action, quantity, order_type = r.text(), r.float_(), r.text()
    lmt_price, aux_price = r.float_(), r.float_()
    tif, _oca_group, account, _open_close, _origin, order_ref = (r.text() for _ in range(6))
    transmit = r.bool_()
    parent_id = r.int_()
    r.skip(4)  # blockOrder, sweepToFill, displaySize, triggerMethod
    outside_rth, hidden = r.bool_(), r.bool_()
    if contract.sec_type == "BAG":
        r.skip(8 * r.int_())  # combo legs
        r.skip(r.int_())  # order combo leg prices
        r.skip(2 * r.int_())  # smart combo routing params
    r.skip(2)  # deprecated sharesAllocation, discretionaryAmt
    good_after_time, good_till_date = r.text(), r.text()
    r.skip(3 + (1 if version < 177 else 0))  # faGroup, faMethod, faPercentage, [faProfile]
    r.skip(22)  # modelCode ... volatilityType
    delta_neutral_type = r.text()
    r.skip(1)  # deltaNeutralAuxPrice
    if delta_neutral_type:
        r.skip(8)
    r.skip(2)  # continuousUpdate, referencePriceType
    trail_stop_price, trailing_percent = r.float_(), r.float_()
    r.skip(2)  # scaleInitLevelSize, scaleSubsLevelSize
    increment = r.float_()
    if increment is not None and 0 < increment < 1.7976931348623157e308:
        r.skip(7)
    r.skip(3)  # scaleTable, activeStartTime, activeStopTime
    if r.text():  # hedgeType
        r.skip(1)
    r.skip(4)  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld
    if r.bool_():  # delta-neutral contract
        r.skip(3)
    algo_strategy = r.text()
    if algo_strategy:
        r.skip(2 * r.int_())
    r.skip(1)  # algoId
    what_if = r.bool_()
    r.skip(4)  # orderMiscOptions, solicited, randomizeSize, randomizePrice
    if order_type in ("PEG BENCH", "PEGBENCH"):
        r.skip(5)
    n_conditions = r.int_()
    for _ in range(n_conditions):
        cond_type = r.int_()
        if cond_type not in _CONDITION_FIELDS:
            raise RequestDecodeError(f"placeOrder {order_id}: unknown condition type {cond_type}")
        r.skip(_CONDITION_FIELDS[cond_type])
    if n_conditions:
        r.skip(2)  # conditionsIgnoreRth, conditionsCancelOrder
    r.skip(10)  # adjustedOrderType ... softDollarTier value
    cash_qty = r.float_()
    r.skip(8)  # mifid2 x4, dontUseAutoPriceForHedge, isOmsContainer, discretionaryUpToLimitPrice, usePriceMgmtAlgo
    r.skip(sum(1 for v in (158, 160, 162, 166, 169) if version >= v))
    if version >= 170:
        if contract.exchange == "IBKRATS":
            r.skip(1)
        if order_type in ("PEG BEST", "PEGBEST"):
            r.skip(1)
            if r.float_() == math.inf:
                r.skip(2)
        elif order_type in ("PEG MID", "PEGMID"):
            r.skip(2)
    if r.i != len(fields):
        raise RequestDecodeError(f"placeOrder {order_id}: read {r.i} of {len(fields)} fields at server version "
                                 f"{version}")
    return PlaceOrder(order_id=order_id, contract=contract, action=action, total_quantity=quantity or 0.0,
                      order_type=order_type, lmt_price=lmt_price, aux_price=aux_price, tif=tif, account=account,
                      order_ref=order_ref, transmit=transmit, parent_id=parent_id, outside_rth=outside_rth,
                      hidden=hidden, good_after_time=good_after_time, good_till_date=good_till_date,
                      trail_stop_price=trail_stop_price, trailing_percent=trailing_percent,
                      algo_strategy=algo_strategy, what_if=what_if, conditions=n_conditions, cash_qty=cash_qty,
                      field_count=len(fields))


def decode_request(fields: list[str], version: int) -> Request:
    """The request in one client message, read at the negotiated server ``version``.

    Raises:
        RequestDecodeError: the fields are too few or malformed for the message id.
    """
    if not fields:
        raise RequestDecodeError("an empty message")
    try:
        msg_id = int(fields[0])
    except ValueError:
        raise RequestDecodeError(f"message id {fields[0]!r} is not an integer") from None
    r = _Cursor(fields, 2)  # most requests: id, version, ...
    match msg_id:
        case 3:
            return _place_order(fields, version)
        case 4:
            order_id = r.int_()
            return CancelOrder(order_id, r.text() if version >= 169 and r.i < len(fields) else "")
        case 5:
            return ReqOpenOrders()
        case 6:
            return ReqAccountUpdates(r.bool_(), r.text())
        case 7:
            req_id = r.int_()
            return ReqExecutions(req_id, ExecutionFilter(r.int_(), r.text(), r.text(), r.text(), r.text(),
                                                         r.text(), r.text()))
        case 8:
            return ReqIds(r.int_())
        case 9:
            req_id = r.int_()
            contract = r.contract()
            return ReqContractDetails(req_id, contract, r.bool_())
        case 15:
            return ReqAutoOpenOrders(r.bool_())
        case 16:
            return ReqAllOpenOrders()
        case 17:
            return ReqManagedAccts()
        case 49:
            return ReqCurrentTime()
        case 58:
            return ReqGlobalCancel()
        case 61:
            return ReqPositions()
        case 62:
            return ReqAccountSummary(r.int_(), r.text(), r.text())
        case 63:
            return CancelAccountSummary(r.int_())
        case 64:
            return CancelPositions()
        case 71:
            client_id = r.int_()
            return StartApi(client_id, r.text() if r.i < len(fields) else "")
        case 76:
            return ReqAccountUpdatesMulti(r.int_(), r.text(), r.text(), r.bool_())
        case 77:
            return CancelAccountUpdatesMulti(r.int_())
        case 99:
            return ReqCompletedOrders(_Cursor(fields, 1).bool_())
    return UnhandledRequest(msg_id, tuple(fields))
