"""Venue values as Binance spot JSON: orders (``FULL`` answers with ``fills``), trades, the account, error bodies, and
the user-data events (``executionReport``, ``outboundAccountPosition``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from execlab.venues._base import Balance, VenueEvent, VenueExecution, VenueOrder
from execlab.venues.binance._rules import wire_symbol

__all__ = ["account_json", "cancel_json", "error_body", "execution_report", "ms", "order_json", "position_event",
           "trade_json"]

_STATUS: Final = {"new": "NEW", "partially_filled": "PARTIALLY_FILLED", "filled": "FILLED", "canceled": "CANCELED",
                  "rejected": "REJECTED", "expired": "EXPIRED"}
_EXECUTION_TYPE: Final = {"new": "NEW", "partial_fill": "TRADE", "fill": "TRADE", "canceled": "CANCELED",
                          "expired": "EXPIRED", "rejected": "REJECTED"}


def _n(x: float | None) -> str:
    return f"{(x or 0.0):.8f}"


def ms(when: datetime | None) -> int:
    """Epoch milliseconds."""
    return int(when.timestamp() * 1000) if when is not None else 0


def error_body(code: int, message: str) -> dict[str, Any]:
    """``{"code": -2010, "msg": "..."}``."""
    return {"code": code, "msg": message}


def _updated(o: VenueOrder) -> int:
    return ms(o.updated_at or o.created_at)


def order_json(o: VenueOrder, fills: Sequence[VenueExecution] | None = None) -> dict[str, Any]:
    """An order as ``GET /api/v3/order`` answers it; with ``fills``, as ``POST /api/v3/order`` (``FULL``)."""
    body: dict[str, Any] = {
        "symbol": wire_symbol(o.symbol), "orderId": o.oid, "orderListId": -1, "clientOrderId": o.client_id,
        "price": _n(o.limit), "origQty": _n(o.qty), "executedQty": _n(o.filled_qty),
        "cummulativeQuoteQty": _n(o.filled_notional), "status": _STATUS[o.status], "timeInForce": o.tif.upper(),
        "type": o.type.upper(), "side": o.side.upper(), "stopPrice": _n(0), "icebergQty": _n(0),
        "time": ms(o.created_at), "updateTime": _updated(o), "isWorking": o.is_open, "workingTime": ms(o.created_at),
        "origQuoteOrderQty": _n(0), "selfTradePreventionMode": "EXPIRE_MAKER",
    }
    if fills is not None:
        for key in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking", "origQuoteOrderQty"):
            body.pop(key)
        body["transactTime"] = _updated(o)
        body["fills"] = [{"price": _n(e.price), "qty": _n(e.qty), "commission": _n(e.fee),
                          "commissionAsset": e.fee_currency, "tradeId": e.seq} for e in fills]
    return body


def cancel_json(o: VenueOrder, cancel_client_id: str) -> dict[str, Any]:
    """The answer of ``DELETE /api/v3/order``."""
    body = order_json(o)
    for key in ("stopPrice", "icebergQty", "time", "updateTime", "isWorking", "workingTime", "origQuoteOrderQty"):
        body.pop(key)
    body.update({"origClientOrderId": o.client_id, "clientOrderId": cancel_client_id, "transactTime": _updated(o)})
    return body


def trade_json(e: VenueExecution, order_id: int) -> dict[str, Any]:
    """One ``GET /api/v3/myTrades`` entry (``order_id``: Binance's numeric id of the execution's order)."""
    return {"symbol": wire_symbol(e.symbol), "id": e.seq, "orderId": order_id, "orderListId": -1,
            "price": _n(e.price), "qty": _n(e.qty), "quoteQty": _n(e.price * e.qty), "commission": _n(e.fee),
            "commissionAsset": e.fee_currency, "time": ms(e.timestamp), "isBuyer": e.side == "buy",
            "isMaker": e.liquidity == "maker", "isBestMatch": True}


def account_json(balances: Sequence[Balance], now_ms: int, maker_bps: int, taker_bps: int) -> dict[str, Any]:
    """``GET /api/v3/account``."""
    return {
        "makerCommission": maker_bps, "takerCommission": taker_bps, "buyerCommission": 0, "sellerCommission": 0,
        "commissionRates": {"maker": _n(maker_bps / 10_000), "taker": _n(taker_bps / 10_000), "buyer": _n(0),
                            "seller": _n(0)},
        "canTrade": True, "canWithdraw": True, "canDeposit": True, "brokered": False,
        "requireSelfTradePrevention": False, "preventSor": False, "updateTime": now_ms, "accountType": "SPOT",
        "balances": [{"asset": b.currency, "free": _n(b.free), "locked": _n(b.locked)} for b in balances],
        "permissions": ["SPOT"], "uid": 354937868,
    }


def execution_report(event: VenueEvent, now_ms: int) -> dict[str, Any]:
    """The ``executionReport`` user-data event for an order event."""
    o, e = event.order, event.execution
    return {
        "e": "executionReport", "E": now_ms, "s": wire_symbol(o.symbol), "c": o.client_id, "S": o.side.upper(),
        "o": o.type.upper(), "f": o.tif.upper(), "q": _n(o.qty), "p": _n(o.limit), "P": _n(0), "F": _n(0),
        "g": -1, "C": o.client_id if event.kind == "canceled" else "", "x": _EXECUTION_TYPE[event.kind],
        "X": _STATUS[o.status], "r": "NONE", "i": o.oid, "l": _n(e.qty if e else 0), "z": _n(o.filled_qty),
        "L": _n(e.price if e else 0), "n": _n(e.fee if e else 0), "N": e.fee_currency if e else None,
        "T": _updated(o), "t": e.seq if e else -1, "I": 0, "w": o.is_open, "m": bool(e and e.liquidity == "maker"),
        "M": False, "O": ms(o.created_at), "Z": _n(o.filled_notional), "Y": _n(e.price * e.qty if e else 0),
        "Q": _n(0), "W": ms(o.created_at), "V": "EXPIRE_MAKER",
    }


def position_event(balances: Sequence[Balance], now_ms: int) -> dict[str, Any]:
    """The ``outboundAccountPosition`` user-data event."""
    return {"e": "outboundAccountPosition", "E": now_ms, "u": now_ms,
            "B": [{"a": b.currency, "f": _n(b.free), "l": _n(b.locked)} for b in balances]}
