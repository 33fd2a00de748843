"""Venue values as OKX v5 JSON: the ``{"code","msg","data"}`` envelope, orders, fills (fees negative, as OKX reports
a charge), balances, and the ``orders`` channel push."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

from execlab.venues._spot import Execution, VenueOrder
from execlab.venues.okx._rules import inst_id

__all__ = ["balance_json", "envelope", "fill_json", "order_json", "order_push"]

_STATE: Final = {"new": "live", "partially_filled": "partially_filled", "filled": "filled", "canceled": "canceled",
                 "expired": "canceled", "rejected": "canceled"}


def _s(x: float | None) -> str:
    if x is None:
        return ""
    return format(Decimal(repr(float(x))).normalize(), "f")


def envelope(data: list[Any], code: str = "0", msg: str = "") -> dict[str, Any]:
    """OKX's answer shape."""
    return {"code": code, "msg": msg, "data": data}


def order_json(order: VenueOrder, executions: Sequence[Execution], tag: str = "") -> dict[str, Any]:
    """One order as ``GET /api/v5/trade/order`` answers it (``executions``: its fills)."""
    last = executions[-1] if executions else None
    fee = sum(e.fee for e in executions)
    fee_ccy = last.fee_currency if last else ""
    return {
        "instType": "SPOT", "instId": inst_id(order.symbol), "tgtCcy": "", "ccy": "", "ordId": str(order.order_id),
        "clOrdId": order.client_id, "tag": tag, "px": _s(order.price) if order.type == "limit" else "",
        "pxUsd": "", "pxVol": "", "pxType": "", "sz": _s(order.quantity), "pnl": "0",
        "ordType": "market" if order.type == "market" else ("ioc" if order.time_in_force == "ioc" else
                                                            "fok" if order.time_in_force == "fok" else "limit"),
        "side": order.side, "posSide": "net", "tdMode": "cash", "accFillSz": _s(order.filled),
        "fillPx": _s(last.price) if last else "", "tradeId": str(last.execution_id) if last else "",
        "fillSz": _s(last.quantity) if last else "0", "fillTime": str(last.timestamp_ms) if last else "",
        "avgPx": _s(order.avg_price) if order.avg_price else "", "state": _STATE[order.status], "stpId": "",
        "stpMode": "cancel_maker", "lever": "", "attachAlgoClOrdId": "", "tpTriggerPx": "", "tpTriggerPxType": "",
        "tpOrdPx": "", "slTriggerPx": "", "slTriggerPxType": "", "slOrdPx": "", "attachAlgoOrds": [],
        "linkedAlgoOrd": {"algoId": ""}, "feeCcy": fee_ccy, "fee": _s(-fee) if executions else "0",
        "rebateCcy": fee_ccy, "rebate": "0", "source": "", "category": "normal", "reduceOnly": "false",
        "isTpLimit": "false", "cancelSource": "", "cancelSourceReason": "", "quickMgnType": "", "algoClOrdId": "",
        "algoId": "", "uTime": str(order.updated_ms), "cTime": str(order.created_ms),
    }


def order_push(order: VenueOrder, executions: Sequence[Execution], execution: Execution | None) -> dict[str, Any]:
    """The ``orders`` channel entry: the order, with this event's fill (``fillSz`` 0 when it is not a fill)."""
    body = order_json(order, executions)
    body.update({"fillSz": _s(execution.quantity) if execution else "0",
                 "fillPx": _s(execution.price) if execution else "",
                 "tradeId": str(execution.execution_id) if execution else "",
                 "fillTime": str(execution.timestamp_ms) if execution else "",
                 "fillFee": _s(-execution.fee) if execution else "0",
                 "fillFeeCcy": execution.fee_currency if execution else "",
                 "execType": ("M" if execution.liquidity == "maker" else "T") if execution else "",
                 "amendResult": "", "code": "0", "msg": "", "reqId": "", "notionalUsd": ""})
    return body


def fill_json(e: Execution) -> dict[str, Any]:
    """One ``GET /api/v5/trade/fills(-history)`` entry."""
    return {"instType": "SPOT", "instId": inst_id(e.symbol), "tradeId": str(e.execution_id),
            "ordId": str(e.order_id), "clOrdId": e.client_id, "billId": str(e.execution_id), "subType": "1",
            "tag": "", "fillPx": _s(e.price), "fillSz": _s(e.quantity), "fillIdxPx": "", "fillPnl": "0",
            "fillPxVol": "", "fillPxUsd": "", "fillMarkVol": "", "fillFwdPx": "", "fillMarkPx": "",
            "side": e.side, "posSide": "net", "execType": "M" if e.liquidity == "maker" else "T",
            "feeCcy": e.fee_currency, "fee": _s(-e.fee), "ts": str(e.timestamp_ms), "fillTime": str(e.timestamp_ms)}


def balance_json(balances: dict[str, tuple[float, float]], now_ms: int) -> dict[str, Any]:
    """The single ``data`` entry of ``GET /api/v5/account/balance``."""
    details = [{"ccy": c, "eq": _s(f + lk), "cashBal": _s(f + lk), "availBal": _s(f), "availEq": _s(f),
                "frozenBal": _s(lk), "ordFrozen": _s(lk), "uTime": str(now_ms), "disEq": "", "eqUsd": "",
                "upl": "0", "liab": "0", "crossLiab": "0", "isoEq": "0", "interest": "0", "notionalLever": "0"}
               for c, (f, lk) in balances.items()]
    return {"adjEq": "", "totalEq": "", "isoEq": "0", "ordFroz": "", "imr": "", "mmr": "", "mgnRatio": "",
            "notionalUsd": "", "upl": "", "uTime": str(now_ms), "details": details}
