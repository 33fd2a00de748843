"""Alpaca Trading API v2 JSON shapes, as the live API sends them and alpaca-py's models parse them.

Wire conventions copied from the real API: decimals are strings (``"100"``, ``"187.25"``), timestamps are RFC 3339
in UTC with microseconds and ``Z``, except the clock, which speaks New York local time with its offset; a simple
order's ``order_class`` is ``""``; an asset's class is under the key ``class``.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from execlab.venues._base.account import VenueExecution, VenueOrder

__all__ = [
    "NEW_YORK",
    "OPEN_STATUSES",
    "asset_id",
    "asset_json",
    "clock_json",
    "error_body",
    "fee_activity_json",
    "fill_activity_json",
    "num",
    "order_json",
    "position_json",
    "session_close",
    "ts",
]

NEW_YORK: Final = ZoneInfo("America/New_York")
_NAMESPACE: Final = uuid.UUID("5d2b1c1e-7a1f-4e4c-9a57-0e3c5a1fe7a1")
_OPEN_TIME: Final = time(9, 30)
_CLOSE_TIME: Final = time(16, 0)

#: Order statuses GET /v2/orders?status=open returns, and that can still be canceled.
OPEN_STATUSES: Final = frozenset({
    "new", "partially_filled", "accepted", "pending_new", "accepted_for_bidding", "held", "pending_cancel",
    "pending_replace", "calculated", "stopped", "suspended", "done_for_day",
})


def num(x: float | None) -> str | None:
    """A decimal as Alpaca writes it: a string with at most 9 decimals and no trailing zeros (None stays None)."""
    if x is None or math.isnan(x):
        return None
    if x == 0:
        return "0"
    text = f"{x:.9f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def ts(dt: datetime | None) -> str | None:
    """RFC 3339 UTC with microseconds and ``Z``, as in Alpaca order and trade-update timestamps."""
    if dt is None:
        return None
    return dt.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def asset_id(symbol: str) -> str:
    """A stable asset id per symbol (the real API's ids differ; they are only ever echoed back)."""
    return str(uuid.uuid5(_NAMESPACE, f"asset:{symbol}"))


def _is_crypto(symbol: str) -> bool:
    return "/" in symbol


def error_body(code: int, message: str, **extra: Any) -> dict[str, Any]:
    """Alpaca's error object: ``{"code": ..., "message": ...}`` plus any detail fields."""
    return {"code": code, "message": message, **extra}


def order_json(o: VenueOrder, legs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The order object of ``POST/GET /v2/orders`` and of trade updates; ``legs``: the legs' objects of a bracket,
    OCO or OTO parent (rendered nested, as Alpaca does for one order and for ``nested=true`` listings)."""
    avg = o.avg_price
    return {
        "id": o.id,
        "client_order_id": o.client_id,
        "created_at": ts(o.created_at),
        "updated_at": ts(o.updated_at or o.created_at),
        "submitted_at": ts(o.created_at),
        "filled_at": ts(o.filled_at),
        "expired_at": ts(o.expired_at),
        "canceled_at": ts(o.canceled_at),
        "failed_at": ts(o.failed_at),
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": asset_id(o.symbol),
        "symbol": o.symbol,
        "asset_class": "crypto" if _is_crypto(o.symbol) else "us_equity",
        "notional": num(o.notional),
        "qty": num(o.qty),
        "filled_qty": num(o.filled_qty),
        "filled_avg_price": num(avg),
        "order_class": o.extra.get("order_class", ""),
        "order_type": o.type,
        "type": o.type,
        "side": o.side,
        "position_intent": o.extra.get("position_intent"),
        "time_in_force": o.tif,
        "limit_price": num(o.limit),
        "stop_price": num(o.stop),
        "status": o.status,
        "extended_hours": bool(o.extra.get("extended_hours", False)),
        "legs": legs,
        "trail_percent": num(o.trail_percent),
        "trail_price": num(o.trail_price),
        "hwm": num(o.hwm),
        "commission": num(o.fees),
        "subtag": None,
        "source": None,
        "expires_at": ts(o.expires_at),
    }


def position_json(symbol: str, qty: float, avg_entry: float, price: float, lastday: float,
                  available: float) -> dict[str, Any]:
    """The position object of ``GET /v2/positions``; a short position has a negative ``qty``."""
    market_value = qty * price
    cost_basis = qty * avg_entry
    unrealized = market_value - cost_basis
    intraday = qty * (price - lastday)
    crypto = _is_crypto(symbol)
    return {
        "asset_id": asset_id(symbol),
        "symbol": symbol,
        "exchange": "CRYPTO" if crypto else "NASDAQ",
        "asset_class": "crypto" if crypto else "us_equity",
        "asset_marginable": not crypto,
        "qty": num(qty),
        "qty_available": num(available),
        "avg_entry_price": num(avg_entry),
        "side": "long" if qty > 0 else "short",
        "market_value": num(market_value),
        "cost_basis": num(cost_basis),
        "unrealized_pl": num(unrealized),
        "unrealized_plpc": num(unrealized / abs(cost_basis)) if cost_basis else "0",
        "unrealized_intraday_pl": num(intraday),
        "unrealized_intraday_plpc": num(intraday / abs(qty * lastday)) if lastday else "0",
        "current_price": num(price),
        "lastday_price": num(lastday),
        "change_today": num(price / lastday - 1.0) if lastday else "0",
    }


def asset_json(symbol: str, shortable: bool) -> dict[str, Any]:
    """The asset object of ``GET /v2/assets/{symbol}`` (minimal, every asset tradable and fractionable)."""
    crypto = _is_crypto(symbol)
    return {
        "id": asset_id(symbol),
        "class": "crypto" if crypto else "us_equity",
        "exchange": "CRYPTO" if crypto else "NASDAQ",
        "symbol": symbol,
        "name": symbol,
        "status": "active",
        "tradable": True,
        "marginable": not crypto,
        "maintenance_margin_requirement": 30,
        "shortable": shortable and not crypto,
        "easy_to_borrow": shortable and not crypto,
        "fractionable": True,
        "attributes": [],
    }


def _session_day(day: datetime) -> datetime:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def session_close(now: datetime) -> datetime:
    """The end of the regular session that ``now`` is in or before (16:00 New York, weekdays, no holidays)."""
    local = now.astimezone(NEW_YORK)
    day = datetime.combine(local.date(), _CLOSE_TIME, NEW_YORK)
    if local >= day:
        day += timedelta(days=1)
    return _session_day(day)


def clock_json(now: datetime, always_open: bool) -> dict[str, Any]:
    """``GET /v2/clock``: regular hours 09:30–16:00 New York on weekdays (no holiday calendar).

    ``always_open`` makes the venue report an open market at any hour, as it trades at any hour.
    """
    local = now.astimezone(NEW_YORK)
    today_open = datetime.combine(local.date(), _OPEN_TIME, NEW_YORK)
    today_close = datetime.combine(local.date(), _CLOSE_TIME, NEW_YORK)
    in_hours = local.weekday() < 5 and today_open <= local < today_close
    next_close = session_close(now)
    next_open = _session_day(today_open if local < today_open else today_open + timedelta(days=1))
    if next_open < local:
        next_open = _session_day(next_open + timedelta(days=1))
    return {
        "timestamp": local.isoformat(),
        "is_open": True if always_open else in_hours,
        "next_open": next_open.isoformat(),
        "next_close": next_close.isoformat(),
    }


def _activity_id(when: datetime, uid: str) -> str:
    """Alpaca's activity id: ``YYYYMMDDHHMMSSmmm::<uuid>`` (the time in New York, as the live API writes it)."""
    local = when.astimezone(NEW_YORK)
    return local.strftime("%Y%m%d%H%M%S") + f"{local.microsecond // 1000:03d}::{uid}"


def fill_activity_json(account_id: str, ex: VenueExecution, o: VenueOrder, cum_qty: float,
                       status: str) -> dict[str, Any]:
    """A ``FILL`` account activity (``GET /v2/account/activities/FILL``), as alpaca-py's ``TradeActivity``
    parses it; ``cum_qty`` and ``status`` are the order's right after this execution."""
    left = max((o.qty or cum_qty) - cum_qty, 0.0)
    return {
        "id": _activity_id(ex.timestamp, ex.id),
        "account_id": account_id,
        "activity_type": "FILL",
        "transaction_time": ts(ex.timestamp),
        "type": "fill" if status == "filled" else "partial_fill",
        "price": num(ex.price),
        "qty": num(ex.qty),
        "side": ex.side,
        "symbol": ex.symbol,
        "leaves_qty": num(left),
        "order_id": o.id,
        "cum_qty": num(cum_qty),
        "order_status": status,
    }


def fee_activity_json(account_id: str, ex: VenueExecution) -> dict[str, Any]:
    """The fee of one execution as a non-trade activity: ``CFEE`` for crypto (charged in the asset, ``qty``
    negative), ``FEE`` otherwise (``net_amount`` negative, in USD), as alpaca-py's ``NonTradeActivity`` parses it."""
    crypto = _is_crypto(ex.symbol)
    in_asset = crypto and ex.fee_currency != "USD"
    return {
        "id": _activity_id(ex.timestamp, ex.id),
        "account_id": account_id,
        "activity_type": "CFEE" if crypto else "FEE",
        "date": ex.timestamp.astimezone(NEW_YORK).date().isoformat(),
        "created_at": ts(ex.timestamp),
        "net_amount": num(0.0 if in_asset else -ex.fee),
        "description": f"{'Crypto' if crypto else 'Commission'} fee for execution {ex.id}",
        "status": "executed",
        "symbol": ex.symbol,
        "qty": num(-ex.fee) if in_asset else num(ex.qty),
        "price": num(ex.price),
        "order_id": ex.order_id,
        "execution_id": ex.id,
    }
