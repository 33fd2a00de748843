"""Encoders of the messages the venue sends, field for field as ib_async 2.1's decoder unpacks them.

Each function returns the message's fields (frame them with :func:`execlab.venues.ibkr._wire.frame`). Layouts
depend on the server version where the protocol does: ``faProfile`` below 177, ``advancedOrderRejectJson`` from
166, ``pendingPriceRevision`` from 178, the order ``duration`` from 159 (ib_async's reading), ``postToAts`` from 160,
``autoCancelParent`` from 162, the five pegged-order fields from 170, and ``contractData``'s version field,
``mdSizeMultiplier`` and size increments around 164. Messages that ib_async unpacks strictly (``nextValidId``,
``managedAccounts``, ``commissionReport``, ``position``, ``updatePortfolio``) have exactly the fields it expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from execlab.venues.ibkr._contracts import ContractSpec, WireContract
from execlab.venues.ibkr._wire import UNSET_DOUBLE_TEXT

__all__ = [
    "WireExecution",
    "WireOrder",
    "account_download_end",
    "account_summary",
    "account_summary_end",
    "account_time",
    "account_update_multi",
    "account_update_multi_end",
    "account_value",
    "commission_report",
    "completed_order",
    "completed_orders_end",
    "contract_data",
    "contract_data_end",
    "current_time",
    "error",
    "exec_details",
    "exec_details_end",
    "managed_accounts",
    "next_valid_id",
    "open_order",
    "open_order_end",
    "order_status",
    "portfolio_value",
    "position",
    "position_end",
    "position_multi",
    "position_multi_end",
]

Fields = list[object]

#: Incoming message ids (server → client), as ib_async's decoder table numbers them.
ORDER_STATUS: Final = 3
ERR_MSG: Final = 4
OPEN_ORDER: Final = 5
ACCT_VALUE: Final = 6
PORTFOLIO_VALUE: Final = 7
ACCT_UPDATE_TIME: Final = 8
NEXT_VALID_ID: Final = 9
CONTRACT_DATA: Final = 10
EXECUTION_DATA: Final = 11
MANAGED_ACCTS: Final = 15
CURRENT_TIME: Final = 49
CONTRACT_DATA_END: Final = 52
OPEN_ORDER_END: Final = 53
ACCT_DOWNLOAD_END: Final = 54
EXECUTION_DATA_END: Final = 55
COMMISSION_REPORT: Final = 59
POSITION_DATA: Final = 61
POSITION_END: Final = 62
ACCOUNT_SUMMARY: Final = 63
ACCOUNT_SUMMARY_END: Final = 64
POSITION_MULTI: Final = 71
POSITION_MULTI_END: Final = 72
ACCOUNT_UPDATE_MULTI: Final = 73
ACCOUNT_UPDATE_MULTI_END: Final = 74
COMPLETED_ORDER: Final = 101
COMPLETED_ORDERS_END: Final = 102


@dataclass(frozen=True, slots=True)
class WireOrder:
    """The order fields the venue echoes in ``openOrder`` and ``completedOrder`` (None: unset)."""

    order_id: int
    client_id: int
    perm_id: int
    action: str
    """``BUY`` or ``SELL``."""
    total_quantity: float
    order_type: str
    """``MKT``, ``LMT``, ``STP``, ``STP LMT``, ``TRAIL`` ..."""
    account: str
    lmt_price: float | None = None
    aux_price: float | None = None
    tif: str = "DAY"
    order_ref: str = ""
    outside_rth: bool = False
    parent_id: int = 0
    trail_stop_price: float | None = None
    trailing_percent: float | None = None
    filled_quantity: float = 0.0
    cash_qty: float | None = None


@dataclass(frozen=True, slots=True)
class WireExecution:
    """One execution as ``execDetails`` reports it."""

    exec_id: str
    order_id: int
    client_id: int
    perm_id: int
    time: str
    """``YYYYMMDD HH:MM:SS UTC``."""
    account: str
    exchange: str
    side: str
    """``BOT`` or ``SLD``."""
    shares: float
    price: float
    cum_qty: float
    avg_price: float
    order_ref: str = ""
    last_liquidity: int = 0
    """1 added liquidity (maker), 2 removed it (taker), 0 unknown."""


def _num(value: float | None) -> object:
    return UNSET_DOUBLE_TEXT if value is None else value


def _contract11(c: WireContract, exchange: str | None = None) -> Fields:
    """conId … tradingClass without the primary exchange (openOrder, execDetails, position)."""
    return [c.con_id, c.symbol, c.sec_type, c.last_trade_date, c.strike, c.right, c.multiplier,
            c.exchange if exchange is None else exchange, c.currency, c.local_symbol, c.trading_class]


def next_valid_id(order_id: int) -> Fields:
    """``nextValidId``: the lowest order id the client may use (exactly three fields)."""
    return [NEXT_VALID_ID, 1, order_id]


def managed_accounts(accounts: list[str]) -> Fields:
    """``managedAccounts``: the comma-separated account list (exactly three fields)."""
    return [MANAGED_ACCTS, 1, ",".join(accounts)]


def current_time(epoch_seconds: int) -> Fields:
    """``currentTime``."""
    return [CURRENT_TIME, 1, epoch_seconds]


def error(req_id: int, code: int, message: str, version: int, advanced_reject_json: str = "") -> Fields:
    """``error``: ``req_id`` is the order or request id it concerns, -1 for a system message."""
    fields: Fields = [ERR_MSG, 2, req_id, code, message]
    if version >= 166:
        fields.append(advanced_reject_json)
    return fields


def contract_data(req_id: int, spec: ContractSpec, version: int) -> Fields:
    """``contractData``: one contract's details (before 164 with a version field and ``mdSizeMultiplier``)."""
    c = spec.contract
    head: Fields = [CONTRACT_DATA, 8] if version < 164 else [CONTRACT_DATA]
    fields: Fields = [*head, req_id, c.symbol, c.sec_type, c.last_trade_date, c.strike, c.right, c.exchange,
                      c.currency, c.local_symbol, spec.market_name, c.trading_class, c.con_id, spec.min_tick]
    if version < 164:
        fields.append(1)  # mdSizeMultiplier (obsolete)
    fields += [c.multiplier, spec.order_types, spec.valid_exchanges, 1, spec.under_con_id, spec.long_name,
               c.primary_exchange, spec.contract_month, spec.industry, spec.category, spec.subcategory,
               spec.time_zone_id, spec.trading_hours, spec.liquid_hours, "", "", 0,  # evRule, evMultiplier, secIds
               1, spec.under_symbol, spec.under_sec_type, spec.market_rule_ids, spec.real_expiration_date,
               spec.stock_type]
    if version == 163:
        fields.append(spec.suggested_size_increment)
    if version >= 164:
        fields += [spec.min_size, spec.size_increment, spec.suggested_size_increment]
    return fields


def contract_data_end(req_id: int) -> Fields:
    """``contractDataEnd``."""
    return [CONTRACT_DATA_END, 1, req_id]


def _order_head(o: WireOrder) -> Fields:
    return [o.action, o.total_quantity, o.order_type, _num(o.lmt_price), _num(o.aux_price), o.tif, "", o.account,
            "O", 0, o.order_ref]


def open_order(o: WireOrder, c: WireContract, status: str, version: int) -> Fields:
    """``openOrder``: the order, its contract and its state (``Submitted``, ``Filled`` ...), as TWS sends it for a
    simple order (no combo legs, conditions, algo or delta-neutral parts)."""
    fields: Fields = [OPEN_ORDER, o.order_id, *_contract11(c), *_order_head(o),
                      o.client_id, o.perm_id, o.outside_rth, False, 0.0, "",  # hidden, discretionaryAmt, goodAfter
                      "", "", "", ""]  # sharesAllocation, faGroup, faMethod, faPercentage
    if version < 177:
        fields.append("")  # faProfile
    fields += ["", "", "",  # modelCode, goodTillDate, rule80A
               UNSET_DOUBLE_TEXT, "", 0, "", "",  # percentOffset, settlingFirm, shortSaleSlot, desLoc, exemptCode
               0, UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT,  # auctionStrategy, startingPrice, ...
               UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT,  # stockRangeLower, stockRangeUpper
               0, False, False, False, "", 0,  # displaySize, blockOrder, sweepToFill, allOrNone, minQty, ocaType
               False, False, UNSET_DOUBLE_TEXT,  # eTradeOnly, firmQuoteOnly, nbboPriceCap
               o.parent_id, 0, UNSET_DOUBLE_TEXT, 0,  # parentId, triggerMethod, volatility, volatilityType
               "", UNSET_DOUBLE_TEXT,  # deltaNeutralOrderType (empty: no delta-neutral fields), its aux price
               False, 0, _num(o.trail_stop_price), _num(o.trailing_percent),  # continuousUpdate ... trailingPercent
               UNSET_DOUBLE_TEXT, 0, "",  # basisPoints, basisPointsType, comboLegsDescrip
               0, 0, 0,  # combo legs, order combo legs, smart combo routing params
               "", "", "",  # scaleInitLevelSize, scaleSubsLevelSize, scalePriceIncrement (unset)
               "",  # hedgeType
               False, "", "", False, 0,  # optOutSmartRouting, clearingAccount, clearingIntent, notHeld, dnc
               "",  # algoStrategy
               False, False, status,  # solicited, whatIf, status
               "", "", "", "", "", "", "", "", "",  # margin before / change / after
               UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT, "", "",  # commission ..., warningText
               False, False,  # randomizeSize, randomizePrice
               0,  # conditions
               "", UNSET_DOUBLE_TEXT, _num(o.trail_stop_price), UNSET_DOUBLE_TEXT,  # adjustedOrderType ...
               UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT, 0,  # adjusted stop/stop-limit/trail, unit
               "", "", "",  # soft dollar tier name, value, display name
               _num(o.cash_qty), False, False, False, False]  # ..., usePriceMgmtAlgo
    fields += _version_tail(version, auto_cancel_parent=False)
    return fields


def _version_tail(version: int, *, auto_cancel_parent: bool) -> Fields:
    fields: Fields = []
    if version >= 159:
        fields.append("")  # duration (ib_async reads it from 159)
    if version >= 160:
        fields.append("")  # postToAts
    if version >= 162:
        fields.append(auto_cancel_parent)
    if version >= 170:
        fields += ["", "", "", "", ""]  # minTradeQty, minCompeteSize, competeAgainstBestOffset, midOffsets
    return fields


def open_order_end() -> Fields:
    """``openOrderEnd``."""
    return [OPEN_ORDER_END, 1]


def completed_order(o: WireOrder, c: WireContract, status: str, completed_time: str, completed_status: str,
                    version: int) -> Fields:
    """``completedOrder``: a finished order (no order id or client id on the wire; keyed by permId)."""
    fields: Fields = [COMPLETED_ORDER, *_contract11(c), *_order_head(o),
                      o.perm_id, o.outside_rth, False, 0.0, "", "", "", ""]
    if version < 177:
        fields.append("")  # faProfile
    fields += ["", "", "", UNSET_DOUBLE_TEXT, "", 0, "", "",  # modelCode ... exemptCode
               UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT,  # startingPrice, stockRefPrice, delta
               UNSET_DOUBLE_TEXT, UNSET_DOUBLE_TEXT,  # stockRangeLower, stockRangeUpper
               0, False, False, "", 0, 0,  # displaySize, sweepToFill, allOrNone, minQty, ocaType, triggerMethod
               UNSET_DOUBLE_TEXT, 0, "", UNSET_DOUBLE_TEXT,  # volatility, its type, deltaNeutralOrderType, aux
               False, 0, _num(o.trail_stop_price), _num(o.trailing_percent), "",  # ... comboLegsDescrip
               0, 0, 0,  # combo legs, order combo legs, smart combo routing params
               "", "", "",  # scale fields
               "",  # hedgeType
               "", "", False, 0,  # clearingAccount, clearingIntent, notHeld, dnc
               "",  # algoStrategy
               False, status, False, False,  # solicited, status, randomizeSize, randomizePrice
               0,  # conditions
               _num(o.trail_stop_price), UNSET_DOUBLE_TEXT, _num(o.cash_qty), False, False,  # ... isOmsContainer
               "", o.filled_quantity, 0, False, "", False, False,  # autoCancelDate ... routeMarketableToBbo
               0, completed_time, completed_status]  # parentPermId, completedTime, completedStatus
    if version >= 170:
        fields += ["", "", "", "", ""]
    return fields


def completed_orders_end() -> Fields:
    """``completedOrdersEnd`` (no version field)."""
    return [COMPLETED_ORDERS_END]


def order_status(order_id: int, status: str, filled: float, remaining: float, avg_fill_price: float, perm_id: int,
                 last_fill_price: float, client_id: int, parent_id: int = 0, why_held: str = "",
                 mkt_cap_price: float = 0.0) -> Fields:
    """``orderStatus`` (no version field)."""
    return [ORDER_STATUS, order_id, status, filled, remaining, avg_fill_price, perm_id, parent_id, last_fill_price,
            client_id, why_held, mkt_cap_price]


def exec_details(req_id: int, e: WireExecution, c: WireContract, version: int) -> Fields:
    """``execDetails``: ``req_id`` -1 for a live execution, else the ``reqExecutions`` request it answers."""
    fields: Fields = [EXECUTION_DATA, req_id, e.order_id, *_contract11(c), e.exec_id, e.time, e.account,
                      e.exchange, e.side, e.shares, e.price, e.perm_id, e.client_id, 0, e.cum_qty, e.avg_price,
                      e.order_ref, "", "", "", e.last_liquidity]
    if version >= 178:
        fields.append(False)  # pendingPriceRevision
    return fields


def exec_details_end(req_id: int) -> Fields:
    """``execDetailsEnd``."""
    return [EXECUTION_DATA_END, 1, req_id]


def commission_report(exec_id: str, commission: float, currency: str, realized_pnl: float | None = None) -> Fields:
    """``commissionReport``: the fee of one execution (exactly eight fields)."""
    return [COMMISSION_REPORT, 1, exec_id, commission, currency, _num(realized_pnl), UNSET_DOUBLE_TEXT, ""]


def position(account: str, c: WireContract, quantity: float, avg_cost: float) -> Fields:
    """``position`` (exactly sixteen fields)."""
    return [POSITION_DATA, 3, account, *_contract11(c), quantity, avg_cost]


def position_end() -> Fields:
    """``positionEnd``."""
    return [POSITION_END, 1]


def position_multi(req_id: int, account: str, c: WireContract, quantity: float, avg_cost: float,
                   model_code: str = "") -> Fields:
    """``positionMulti``."""
    return [POSITION_MULTI, 1, req_id, account, *_contract11(c), quantity, avg_cost, model_code]


def position_multi_end(req_id: int) -> Fields:
    """``positionMultiEnd``."""
    return [POSITION_MULTI_END, 1, req_id]


def account_value(tag: str, value: str, currency: str, account: str) -> Fields:
    """``updateAccountValue``."""
    return [ACCT_VALUE, 2, tag, value, currency, account]


def portfolio_value(c: WireContract, quantity: float, market_price: float, market_value: float, avg_cost: float,
                    unrealized_pnl: float, realized_pnl: float, account: str) -> Fields:
    """``updatePortfolio`` (exactly twenty fields; the primary exchange in the exchange's place)."""
    return [PORTFOLIO_VALUE, 8, c.con_id, c.symbol, c.sec_type, c.last_trade_date, c.strike, c.right, c.multiplier,
            c.primary_exchange, c.currency, c.local_symbol, c.trading_class, quantity, market_price, market_value,
            avg_cost, unrealized_pnl, realized_pnl, account]


def account_time(hh_mm: str) -> Fields:
    """``updateAccountTime``."""
    return [ACCT_UPDATE_TIME, 1, hh_mm]


def account_download_end(account: str) -> Fields:
    """``accountDownloadEnd``: the account values and portfolio are complete."""
    return [ACCT_DOWNLOAD_END, 1, account]


def account_update_multi(req_id: int, account: str, tag: str, value: str, currency: str,
                         model_code: str = "") -> Fields:
    """``accountUpdateMulti``."""
    return [ACCOUNT_UPDATE_MULTI, 1, req_id, account, model_code, tag, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    """``accountUpdateMultiEnd``."""
    return [ACCOUNT_UPDATE_MULTI_END, 1, req_id]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    """``accountSummary``."""
    return [ACCOUNT_SUMMARY, 1, req_id, account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    """``accountSummaryEnd``."""
    return [ACCOUNT_SUMMARY_END, 1, req_id]
