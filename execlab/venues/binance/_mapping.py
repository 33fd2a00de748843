"""Venue values as Binance spot JSON: orders (``FULL`` answers with ``fills``), trades, the account, error bodies, and
the user-data events (``executionReport``, ``outboundAccountPosition``)."""

from __future__ import annotations

from typing import Any, Final

from execlab.venues._spot import Execution, VenueEvent, VenueOrder
from execlab.venues.binance._rules import wire_symbol

__all__ = ["account_json", "cancel_json", "error_body", "execution_report", "order_json", "position_event", "status_of",
           "trade_json"]

_STATUS: Final = {"new": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED", "canceled": "CANCELED",
                  "rejected": "REJECTED", "expired": "EXPIRED"}
_EXECUTION_TYPE: Final = {"new": "NEW", "partial_fill": "TRADE", "fill": "TRADE", "canceled": "CANCELED",
                          "expired": "EXPIRED", "rejected": "REJECTED"}


def _n(x: float | None) -> str:
    return f"{(x or 0.0):.8f}"


def error_body(code: int, message: str) -> dict[str, Any]:
    """``{"code": -2010, "msg": "..."}``."""
    return {"code": code, "msg": message}


def status_of(order: VenueOrder) -> str:
    """Binance's order status."""
    return _STATUS[order.status]


def order_json(order: VenueOrder, fills: list[Execution] | None = None) -> dict[str, Any]:
    """An order as ``GET /api/v3/order`` answers it; with ``fills``, as ``POST /api/v3/order`` (``FULL``)."""
    body: dict[str, Any] = {
        "symbol": wire_symbol(order.symbol), "orderId": order.order_id, "orderListId": -1,
        "clientOrderId": order.client_id, "price": _n(order.price), "origQty": _n(order.quantity),
        "executedQty": _n(order.filled), "cummulativeQuoteQty": _n(order.quote_filled),
        "status": status_of(order), "timeInForce": order.time_in_force.upper(), "type": order.type.upper(),
        "side": order.side.upper(), "stopPrice": _n(0), "icebergQty": _n(0), "time": order.created_ms,
        "updateTime": order.updated_ms, "isWorking": order.is_open, "workingTime": order.created_ms,
        "origQuoteOrderQty": _n(0), "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    if fills is not None:
        for key in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking", "origQuoteOrderQty"):
            body.pop(key)
        body["transactTime"] = order.updated_ms
        body["fills"] = [{"price": _n(e.price), "qty": _n(e.quantity), "commission": _n(e.fee),
                          "commissionAsset": e.fee_currency, "tradeId": e.execution_id} for e in fills]
    return body


def cancel_json(order: VenueOrder, cancel_client_id: str) -> dict[str, Any]:
    """The answer of ``DELETE /api/v3/order``."""
    body = order_json(order)
    for key in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking", "workingTime", "origQuoteOrderQty"):
        body.pop(key)
    body["origClientOrderId"] = order.client_id
    body["clientOrderId"] = cancel_client_id
    body["transactTime"] = order.updated_ms
    return body


def trade_json(e: Execution) -> dict[str, Any]:
    """One ``GET /api/v3/myTrades`` entry."""
    return {"symbol": wire_symbol(e.symbol), "id": e.execution_id, "orderId": e.order_id, "orderListId": -1,
            "price": _n(e.price), "qty": _n(e.quantity), "quoteQty": _n(e.price * e.quantity),
            "commission": _n(e.fee), "commissionAsset": e.fee_currency, "time": e.timestamp_ms,
            "isBuyer": e.side == "buy", "isMaker": e.liquidity == "maker", "isBestMatch": True}


def account_json(balances: dict[str, tuple[float, float]], now_ms: int, maker_bps: int,
                 taker_bps: int) -> dict[str, Any]:
    """``GET /api/v3/account``."""
    return {
        "makerCommission": maker_bps, "takerCommission": taker_bps, "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": _n(maker_bps / 10_000), "taker": _n(taker_bps / 10_000), "buyer": _n(0),
                            "seller": _n(0)},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now_ms, "accountType": "SPOT",
        "balances": [{"asset": c, "free": _n(f), "locked": _n(lk)} for c, (f, lk) in balances.items()],
        "permissions": ["SPOT"], "uid": 354937868,
    }


def execution_report(event: VenueEvent, now_ms: int) -> dict[str, Any]:
    """The ``executionReport`` user-data event for an order event."""
    o, e = event.order, event.execution
    return {
        "e": "executionReport", "E": now_ms, "s": wire_symbol(o.symbol), "c": o.client_id, "S": o.side.upper(),
        "o": o.type.upper(), "f": o.time_in_force.upper(), "q": _n(o.quantity), "p": _n(o.price), "P": _n(0),
        "F": _n(0), "g": -1, "C": o.client_id if event.kind == "canceled" else "",
        "x": _EXECUTION_TYPE[event.kind], "X": status_of(o), "r": "NONE", "i": o.order_id,
        "l": _n(e.quantity if e else 0), "z": _n(o.filled), "L": _n(e.price if e else 0),
        "n": _n(e.fee if e else 0), "N": e.fee_currency if e else None, "T": o.updated_ms,
        "t": e.execution_id if e else -1, "I": 0, "w": o.is_open, "m": bool(e and e.liquidity == "maker"),
        "M": False, "O": o.created_ms, "Z": _n(o.quote_filled), "Y": _n(e.price * e.quantity if e else 0),
        "Q": _n(0), "W": o.created_ms, "V": "EXPIRE_MAKER",
    }


def position_event(balances: dict[str, tuple[float, float]], now_ms: int) -> dict[str, Any]:
    """The ``outboundAccountPosition`` user-data event."""
    return {"e": "outboundAccountPosition", "E": now_ms, "u": now_ms,
            "B": [{"a": c, "f": _n(f), "l": _n(lk)} for c, (f, lk) in balances.items()]}
