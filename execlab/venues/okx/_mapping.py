"""Venue values as OKX v5 JSON: the ``{"code","msg","data"}`` envelope, orders, fills (fees negative, as OKX reports
a charge), balances, and the ``orders`` channel push."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from execlab.venues._base import Balance, VenueExecution, VenueOrder
from execlab.venues.okx._rules import inst_id

__all__ = ["balance_json", "envelope", "fill_json", "order_json", "order_push"]

_STATE: Final = {"new": "live", "partially_filled": "partially_filled", "filled": "filled", "canceled": "canceled",
                 "expired": "canceled", "rejected": "canceled"}


def _s(x: float | None) -> str:
    if x is None:
        return ""
    return format(Decimal(repr(float(x))).normalize(), "f")


def _ms(when: datetime | None) -> str:
    return str(int(when.timestamp() * 1000)) if when is not None else ""


def envelope(data: list[Any], code: str = "0", msg: str = "") -> dict[str, Any]:
    """OKX's answer shape."""
    return {"code": code, "msg": msg, "data": data}


def order_json(order: VenueOrder, executions: Sequence[VenueExecution], tag: str = "") -> dict[str, Any]:
    """One order as ``GET /api/v5/trade/order`` answers it (``executions``: its fills)."""
    last = executions[-1] if executions else None
    fee = sum(e.fee for e in executions)
    fee_ccy = last.fee_currency if last else ""
    return {
        "instType": "SPOT", "instId": inst_id(order.symbol), "tgtCcy": "", "ccy": "", "ordId": str(order.oid),
        "clOrdId": order.client_id, "tag": tag, "px": _s(order.limit) if order.type == "limit" else "",
        "pxUsd": "", "pxVol": "", "pxType": "", "sz": _s(order.qty), "pnl": "0",
        "ordType": "market" if order.type == "market" else ("ioc" if order.tif == "ioc" else
                                                            "fok" if order.tif == "fok" else "limit"),
        "side": order.side, "posSide": "net", "tdMode": "cash", "accFillSz": _s(order.filled_qty),
        "fillPx": _s(last.price) if last else "", "tradeId": str(last.seq) if last else "",
        "fillSz": _s(last.qty) if last else "0", "fillTime": _ms(last.timestamp) if last else "",
        "avgPx": _s(order.avg_price) if order.avg_price else "", "state": _STATE[order.status], "stpId": "",
        "stpMode": "cancel_maker", "lever": "", "attachAlgoClOrdId": "", "tpTriggerPx": "", "tpTriggerPxType": "",
        "tpOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "", "slOrdPx": "", "attachAlgoOrds": [],
        "linkedAlgoOrd": {"algoId": ""}, "feeCcy": fee_ccy, "fee": _s(-fee) if executions else "0",
        "rebateCcy": fee_ccy, "rebate": "0", "source": "", "category": "normal", "reduceOnly": "false",
        "isTpLimit": "false", "cancelSource": "", "cancelSourceReason": "", "quickMgnType": "", "algoClOrdId": "",
        "algoId": "", "uTime": _ms(order.updated_at or order.created_at), "cTime": _ms(order.created_at),
    }


def order_push(order: VenueOrder, executions: Sequence[VenueExecution],
               execution: VenueExecution | None) -> dict[str, Any]:
    """The ``orders`` channel entry: the order, with this event's fill (``fillSz`` 0 when it is not a fill)."""
    body = order_json(order, executions)
    body.update({"fillSz": _s(execution.qty) if execution else "0",
                 "fillPx": _s(execution.price) if execution else "",
                 "tradeId": str(execution.seq) if execution else "",
                 "fillTime": _ms(execution.timestamp) if execution else "",
                 "fillFee": _s(-execution.fee) if execution else "0",
                 "fillFeeCcy": execution.fee_currency if execution else "",
                 "execType": ("M" if execution.liquidity == "maker" else "T") if execution else "",
                 "amendResult": "", "code": "0", "msg": "", "reqId": "", "notionalUsd": ""})
    return body


def fill_json(e: VenueExecution, order_id: int) -> dict[str, Any]:
    """One ``GET /api/v5/trade/fills(-history)`` entry."""
    return {"instType": "SPOT", "instId": inst_id(e.symbol), "tradeId": str(e.seq),
            "ordId": str(order_id), "clOrdId": e.client_id, "billId": str(e.seq), "subType": "1",
            "tag": "", "fillPx": _s(e.price), "fillSz": _s(e.qty), "fillIdxPx": "", "fillPnl": "0",
            "fillPxVol": "", "fillPxUsd": "", "fillMarkVol": "", "fillFwdPx": "", "fillMarkPx": "",
            "side": e.side, "posSide": "net", "execType": "M" if e.liquidity == "maker" else "T",
            "feeCcy": e.fee_currency, "fee": _s(-e.fee), "ts": _ms(e.timestamp), "fillTime": _ms(e.timestamp)}


def balance_json(balances: Sequence[Balance], now_ms: int) -> dict[str, Any]:
    """The single ``data`` entry of ``GET /api/v5/account/balance``."""
    details = [{"ccy": b.currency, "eq": _s(b.total), "cashBal": _s(b.total), "availBal": _s(b.free),
                "availEq": _s(b.free), "frozenBal": _s(b.locked), "ordFrozen": _s(b.locked), "uTime": str(now_ms),
                "disEq": "", "eqUsd": "", "upl": "0", "liab": "0", "crossLiab": "0", "isoEq": "0", "interest": "0",
                "notionalLever": "0"} for b in balances]
    return {"adjEq": "", "totalEq": "", "isoEq": "0", "ordFroz": "", "imr": "", "mmr": "", "mgnRatio": "",
            "notionalUsd": "", "upl": "", "uTime": str(now_ms), "details": details}
