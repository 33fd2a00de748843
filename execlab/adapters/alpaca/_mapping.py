"""Alpaca ↔ neutral: order statuses, sides, order requests, errors."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, Final

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide
from alpaca.trading.enums import TimeInForce as AlpacaTif
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
    TrailingStopOrderRequest,
)

from execlab._brokers.contract import (
    BrokerError,
    BrokerOrder,
    BrokerRateLimitedError,
    BrokerRejectedError,
    BrokerUnavailableError,
    DuplicateClientOrderIdError,
)
from execlab._core.models import Order, OrderStatus, OrderType, Side

__all__ = ["rate_limit_headers", "to_broker_order", "to_error", "to_request"]

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


def to_request(order: Order) -> OrderRequest:
    """The alpaca-py request for a neutral order."""
    common: dict[str, Any] = {
        "symbol": order.symbol, "qty": order.quantity,
        "side": OrderSide.BUY if order.side is Side.BUY else OrderSide.SELL,
        "time_in_force": AlpacaTif(order.time_in_force.value), "client_order_id": order.client_order_id,
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


def to_broker_order(order: AlpacaOrder) -> BrokerOrder:
    """The neutral view of an alpaca-py order."""
    status = order.status.value if hasattr(order.status, "value") else str(order.status)
    side = order.side.value if order.side is not None and hasattr(order.side, "value") else str(order.side)
    return BrokerOrder(
        client_order_id=order.client_order_id,
        broker_order_id=str(order.id),
        symbol=str(order.symbol),
        side=Side.BUY if side == "buy" else Side.SELL,
        quantity=float(order.qty or 0.0),
        filled_quantity=float(order.filled_qty or 0.0),
        avg_fill_price=float(order.filled_avg_price) if order.filled_avg_price is not None else None,
        status=STATUS.get(status, OrderStatus.SUBMITTED),
        raw=order.model_dump(mode="json"),
    )


def to_error(exc: Exception) -> BrokerError:
    """The neutral error for an alpaca-py or transport failure."""
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return BrokerUnavailableError(f"alpaca: {type(exc).__name__}: {exc}")
    if isinstance(exc, APIError):
        status = exc.status_code or 0
        try:
            code = int(exc.code)
        except (ValueError, TypeError, KeyError):
            code = 0
        if code == DUPLICATE_CODE and "client_order_id" in str(exc):
            # 40010001 is Alpaca's code for any invalid request; only this message means a duplicate.
            return DuplicateClientOrderIdError(str(exc))
        if status == 429:
            reset_at = rate_limit_headers(exc.response.headers)[2] if exc.response is not None else None
            retry_after = None if reset_at is None else max(0.0, reset_at - time.time())
            return BrokerRateLimitedError(f"alpaca: HTTP 429: {exc}", retry_after)
        if status >= 500:
            return BrokerUnavailableError(f"alpaca: HTTP {status}: {exc}")
        return BrokerRejectedError(f"alpaca: HTTP {status}: {exc}")
    return BrokerError(f"alpaca: {type(exc).__name__}: {exc}")


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
