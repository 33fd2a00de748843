"""Alpaca ↔ neutral: order statuses, sides, order requests, account activities (fills and fees), assets, errors."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderClass, OrderSide
from alpaca.trading.enums import TimeInForce as AlpacaTif
from alpaca.trading.models import Asset
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from execlab._brokers.client_ids import ClientIdStyle
from execlab._brokers.contract import BrokerFill, BrokerOrder
from execlab._brokers.errors import (
    BrokerError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    ErrorTable,
    classify_http,
    translate_errors,
)
from execlab._brokers.http import number, parse_time
from execlab._core.instruments import Instrument
from execlab._core.models import Order, OrderStatus, OrderType, Side
from execlab._core.order_classes import LegRole, OrderGroup, leg_client_id
from execlab._core.order_classes import OrderClass as GroupClass

__all__ = [
    "ERRORS",
    "WIRE_IDS",
    "activity_time",
    "execution_id",
    "fills_from_activities",
    "leg_aliases",
    "rate_limit_headers",
    "to_broker_order",
    "to_error",
    "to_group_request",
    "to_instrument",
    "to_request",
]

WIRE_IDS: Final = ClientIdStyle(max_length=128)
"""Alpaca's ``client_order_id``: up to 128 characters; execlab's ``xl-<32 hex>`` as it is."""

STATUS: Final[dict[str, OrderStatus]] = {
    "new": OrderStatus.SUBMITTED, "accepted": OrderStatus.SUBMITTED, "pending_new": OrderStatus.SUBMITTED,
    "accepted_for_bidding": OrderStatus.SUBMITTED, "held": OrderStatus.SUBMITTED, "calculated": OrderStatus.SUBMITTED,
    "pending_replace": OrderStatus.SUBMITTED, "pending_cancel": OrderStatus.SUBMITTED,
    "stopped": OrderStatus.SUBMITTED, "replaced": OrderStatus.CANCELLED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED, "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED, "expired": OrderStatus.EXPIRED, "done_for_day": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED, "suspended": OrderStatus.REJECTED,
}
DUPLICATE_CODE: Final = 40010001


def to_request(order: Order, ids: ClientIdStyle = WIRE_IDS) -> OrderRequest:
    """The alpaca-py request for a neutral order."""
    common: dict[str, Any] = {
        "symbol": order.symbol, "qty": order.quantity,
        "side": OrderSide.BUY if order.side is Side.BUY else OrderSide.SELL,
        "time_in_force": AlpacaTif(order.time_in_force.value), "client_order_id": ids.render(order.client_order_id),
    }
    if order.order_type is OrderType.MARKET:
        return MarketOrderRequest(**common)
    if order.order_type is OrderType.LIMIT:
        return LimitOrderRequest(**common, limit_price=order.limit_price)
    if order.order_type is OrderType.STOP:
        return StopOrderRequest(**common, stop_price=order.stop_price)
    if order.order_type is OrderType.STOP_LIMIT:
        return StopLimitOrderRequest(**common, stop_price=order.stop_price, limit_price=order.limit_price)
    return TrailingStopOrderRequest(**common, trail_price=order.trail_amount, trail_percent=order.trail_percent)


def to_group_request(group: OrderGroup, ids: ClientIdStyle = WIRE_IDS) -> OrderRequest:
    """The alpaca-py request of a bracket, OCO or OTO group: the parent's request with ``order_class``,
    ``take_profit`` and ``stop_loss`` (an OCO's take-profit is its parent's limit)."""
    request = to_request(group.order, ids)
    tp = group.order.limit_price if group.order_class is GroupClass.OCO else group.take_profit
    extra: dict[str, Any] = {"order_class": OrderClass(group.order_class.value)}
    if tp is not None:
        extra["take_profit"] = TakeProfitRequest(limit_price=tp)
    if group.stop_loss is not None:
        extra["stop_loss"] = StopLossRequest(stop_price=group.stop_loss, limit_price=group.stop_loss_limit)
    return type(request)(**request.model_dump(exclude_none=True), **extra)


def leg_aliases(order: AlpacaOrder, ids: ClientIdStyle = WIRE_IDS) -> dict[str, str]:
    """The wire client id of each leg of a bracket / OCO / OTO parent → execlab's id of that leg (derived from the
    parent's: Alpaca gives legs client ids of its own). A limit leg is the take-profit, a stop leg the stop-loss."""
    parent = ids.parse(order.client_order_id) if order.client_order_id else None
    if parent is None or not order.legs:
        return {}
    out = {}
    for leg in order.legs:
        kind = str(getattr(leg.type, "value", leg.type) or getattr(leg.order_type, "value", leg.order_type))
        role = LegRole.TAKE_PROFIT if kind == "limit" else LegRole.STOP_LOSS
        out[str(leg.client_order_id)] = leg_client_id(parent, role)
    return out


def to_broker_order(order: AlpacaOrder, ids: ClientIdStyle = WIRE_IDS,
                    aliases: Mapping[str, str] | None = None) -> BrokerOrder:
    """The neutral view of an alpaca-py order (an id that is not execlab's is kept as Alpaca has it, unless
    ``aliases`` names the group leg it is)."""
    status = order.status.value if hasattr(order.status, "value") else str(order.status)
    side = order.side.value if order.side is not None and hasattr(order.side, "value") else str(order.side)
    return BrokerOrder(
        client_order_id=ids.parse(order.client_order_id) or (aliases or {}).get(order.client_order_id)
        or order.client_order_id,
        broker_order_id=str(order.id),
        symbol=str(order.symbol),
        side=Side.BUY if side == "buy" else Side.SELL,
        quantity=float(order.qty or 0.0),
        filled_quantity=float(order.filled_qty or 0.0),
        avg_fill_price=float(order.filled_avg_price) if order.filled_avg_price is not None else None,
        status=STATUS.get(status, OrderStatus.SUBMITTED),
        raw=order.model_dump(mode="json"),
    )


def _api_error(exc: APIError) -> BrokerError:
    status = exc.status_code or 0
    try:
        code = int(exc.code)
    except (ValueError, TypeError, KeyError):
        code = 0
    # 40010001 is Alpaca's code for any invalid request; only this message means a duplicate.
    duplicate = code == DUPLICATE_CODE and "client_order_id" in str(exc)
    retry_after = None
    if status == 429 and exc.response is not None:
        reset_at = rate_limit_headers(exc.response.headers)[2]
        retry_after = None if reset_at is None else max(0.0, reset_at - time.time())
    if status == 403 and code // 10_000 == 4031:
        # Alpaca answers a refused order (40310000 insufficient buying power, PDT, ...) with 403; refused keys are 401.
        return BrokerRejectedError(f"HTTP 403: {exc}")
    return classify_http(status, str(exc), retry_after=retry_after, duplicate=duplicate)


ERROR_TABLE: Final[ErrorTable] = (
    (APIError, _api_error),
    (requests.Timeout, lambda exc: BrokerTimeoutError(f"{type(exc).__name__}: {exc}")),
    (requests.RequestException, lambda exc: BrokerUnavailableError(f"{type(exc).__name__}: {exc}")),
)
ERRORS: Final = translate_errors(ERROR_TABLE, prefix="alpaca: ")
"""alpaca-py's and requests' exceptions → the kit's errors (``with ERRORS:`` or ``@ERRORS``)."""


def to_error(exc: Exception) -> BrokerError:
    """The neutral error for an alpaca-py or transport failure."""
    return ERRORS.translate(exc) or BrokerError(f"alpaca: {type(exc).__name__}: {exc}")


def to_instrument(asset: Asset) -> Instrument:
    """execlab's trading rules of an Alpaca asset (``/v2/assets``): fractionable assets trade in
    ``min_trade_increment`` steps from ``min_order_size``, others in whole units; ticks are ``price_increment``."""
    crypto = str(getattr(asset.asset_class, "value", asset.asset_class)) == "crypto"
    quote = asset.symbol.partition("/")[2] or "USD"
    fractional = bool(asset.fractionable)
    step = asset.min_trade_increment if fractional and asset.min_trade_increment else (1e-9 if fractional else 1.0)
    minimum = asset.min_order_size if asset.min_order_size is not None else (0.0 if fractional else 1.0)
    return Instrument(asset.symbol, "crypto" if crypto else "us_equity", quote, lot_size=float(step),
                      tick_size=float(asset.price_increment or 0.01), min_quantity=float(minimum),
                      # Alpaca's fractional equity orders need at least $1 of notional.
                      min_notional=1.0 if fractional and not crypto else 0.0, fractional=fractional)


def activity_time(activity: Mapping[str, Any]) -> datetime | None:
    """When an activity happened: a fill's ``transaction_time``, a fee's ``created_at`` (or its ``date``)."""
    return parse_time(activity.get("transaction_time") or activity.get("created_at") or activity.get("date"))


def execution_id(activity_id: str) -> str:
    """The execution id of a ``FILL`` activity: the part of its ``<time>::<uuid>`` id after ``::`` (the
    ``execution_id`` its ``trade_updates`` event carries)."""
    return activity_id.rpartition("::")[2]


def _fee(activity: Mapping[str, Any], side: Side, symbol: str) -> tuple[float, str]:
    """The amount and currency of a ``FEE`` (cash) or ``CFEE`` (crypto) activity.

    ``net_amount`` is what left the account in USD (negative); a crypto fee charged in the asset received is
    ``net_amount`` 0 with ``qty`` the (negative) amount of that asset: the base of ``BASE/QUOTE`` on a buy, the quote
    on a sell.
    """
    cash = -number(activity.get("net_amount"))
    if cash > 0 or activity.get("activity_type") == "FEE":
        return max(cash, 0.0), "USD"
    base, _, quote = symbol.partition("/")
    return abs(number(activity.get("qty"))), (base if side is Side.BUY else (quote or "USD"))


def fills_from_activities(activities: Iterable[Mapping[str, Any]],
                          orders: Callable[[str], BrokerOrder | None]) -> list[BrokerFill]:
    """Executions from account activities: each ``FILL`` one fill; each ``FEE``/``CFEE`` that names its execution
    (``execution_id``) or only its order (``order_id``: spread over that order's fills by quantity) adds its fee.

    ``orders`` gives the order of a broker order id (client order id, symbol, side), or None for an order that is
    not known (its fills are left out).
    """
    rows = list(activities)
    fills: dict[str, dict[str, Any]] = {}
    for a in rows:
        if a.get("activity_type") != "FILL" or not a.get("order_id"):
            continue
        order = orders(str(a["order_id"]))
        qty = number(a.get("qty"))
        if order is None or qty <= 0:
            continue
        fills[execution_id(str(a["id"]))] = {
            "execution_id": execution_id(str(a["id"])), "client_order_id": order.client_order_id,
            "broker_order_id": order.broker_order_id, "symbol": order.symbol, "side": order.side, "quantity": qty,
            "price": number(a.get("price")), "fee": 0.0, "fee_currency": None,
            "timestamp": parse_time(a.get("transaction_time")), "raw": dict(a)}
    for a in rows:
        if a.get("activity_type") not in ("FEE", "CFEE"):
            continue
        targets = [fills[str(a["execution_id"])]] if str(a.get("execution_id")) in fills else \
            [f for f in fills.values() if a.get("order_id") and f["broker_order_id"] == str(a["order_id"])]
        total = sum(f["quantity"] for f in targets)
        for f in targets:
            amount, currency = _fee(a, f["side"], f["symbol"])
            f["fee"] += amount * f["quantity"] / total
            f["fee_currency"] = currency
    return [BrokerFill(**f) for f in fills.values()]


def rate_limit_headers(headers: Mapping[str, str]) -> tuple[int | None, int | None, float | None]:
    """``X-Ratelimit-Limit``, ``-Remaining`` and ``-Reset`` (epoch seconds) of an answer's headers (requests'
    case-insensitive mapping); None where absent or unreadable."""

    def number(name: str) -> float | None:
        try:
            value = float(headers[name])
        except (KeyError, TypeError, ValueError):
            return None
        return value if math.isfinite(value) else None

    limit, remaining = number("X-Ratelimit-Limit"), number("X-Ratelimit-Remaining")
    return (None if limit is None else int(limit), None if remaining is None else int(remaining),
            number("X-Ratelimit-Reset"))
