"""The v20 JSON the local OANDA venue answers with: orders, positions, account figures, prices and transactions.

Shapes and field names follow OANDA's v20 REST reference and the sample responses shipped with oandapyV20
(``oandapyV20/endpoints/responses/*.py``). Prices are strings at the instrument's ``displayPrecision``, units at its
``tradeUnitsPrecision``, account amounts at four decimals, times RFC 3339 with nanoseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from execlab.venues.oanda._instruments import V20Instrument, amount_text
from execlab.venues.oanda._pl import PositionLegs
from execlab.venues.oanda._rules import OrderRequest

__all__ = ["OrderRecord", "account_figures", "order_json", "position_json", "price_json", "v20_time"]


def v20_time(when: datetime) -> str:
    """``2016-10-25T21:07:21.065554321Z``: UTC with nine decimals."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


@dataclass(slots=True)
class OrderRecord:
    """An order the venue holds: the request that created it and what happened to it since."""

    id: str
    request: OrderRequest
    create_time: str
    state: str = "PENDING"
    """PENDING, FILLED or CANCELLED."""
    filled_units: Decimal = Decimal(0)
    venue_id: str | None = None
    """The order's id in the broker kit's account, once handed to it."""
    events: dict[str, str] = field(default_factory=dict)
    """fillingTransactionID, filledTime, tradeOpenedID, cancellingTransactionID, cancelledTime as they happen."""

    @property
    def remaining(self) -> Decimal:
        """Signed units not yet filled."""
        return self.request.units - self.filled_units


def order_json(order: OrderRecord) -> dict[str, Any]:
    """The v20 ``Order`` object (``MarketOrder`` or ``LimitOrder``)."""
    req = order.request
    out: dict[str, Any] = {"id": order.id, "createTime": order.create_time, "type": req.kind,
                           "state": order.state, **req.order_fields()}
    if req.kind == "LIMIT":
        out["triggerCondition"] = "DEFAULT"
        out["partialFill"] = "DEFAULT_FILL"
    out.update(order.events)
    return out


def position_json(instrument: V20Instrument, legs: PositionLegs, unrealized: float) -> dict[str, Any]:
    """The v20 ``Position``: a ``long`` and a ``short`` side (short units are negative strings)."""
    zero = instrument.units_text(0)

    def side(units: float) -> dict[str, Any]:
        held = units != 0
        out: dict[str, Any] = {"units": instrument.units_text(units) if held else zero,
                               "pl": amount_text(legs.realized_pl if held else 0.0),
                               "resettablePL": amount_text(legs.realized_pl if held else 0.0),
                               "unrealizedPL": amount_text(unrealized if held else 0.0),
                               "financing": "0.0000"}
        if held:
            out["averagePrice"] = instrument.price_text(legs.average_price)
        return out

    return {"instrument": instrument.name,
            "long": side(legs.units if legs.units > 0 else 0.0),
            "short": side(legs.units if legs.units < 0 else 0.0),
            "pl": amount_text(legs.realized_pl), "resettablePL": amount_text(legs.realized_pl),
            "unrealizedPL": amount_text(unrealized), "commission": "0.0000", "financing": "0.0000"}


def price_json(instrument: V20Instrument, bid: float, ask: float, when: str, tradeable: bool,
               home_rate: float) -> dict[str, Any]:
    """The v20 ``ClientPrice`` (the ``PRICE`` message of the pricing stream, and the items of ``/pricing``)."""
    liquidity = int(instrument.liquidity)
    factor = f"{home_rate:.8f}"
    return {"type": "PRICE", "instrument": instrument.name, "time": when, "tradeable": tradeable,
            "status": "tradeable" if tradeable else "non-tradeable",
            "bids": [{"price": instrument.price_text(bid), "liquidity": liquidity}],
            "asks": [{"price": instrument.price_text(ask), "liquidity": liquidity}],
            "closeoutBid": instrument.price_text(bid), "closeoutAsk": instrument.price_text(ask),
            "quoteHomeConversionFactors": {"positiveUnits": factor, "negativeUnits": factor}}


def account_figures(balance: float, nav: float, used: float, value: float, financing: float,
                    commission: float) -> dict[str, str]:
    """The account's computed amounts, as v20 names them (home currency, four decimals)."""
    unrealized = nav - balance
    available = max(nav - used, 0.0)
    return {
        "balance": amount_text(balance), "NAV": amount_text(nav), "unrealizedPL": amount_text(unrealized),
        "marginUsed": amount_text(used), "marginAvailable": amount_text(available),
        "positionValue": amount_text(value), "withdrawalLimit": amount_text(available),
        "marginCloseoutUnrealizedPL": amount_text(unrealized), "marginCloseoutNAV": amount_text(nav),
        "marginCloseoutMarginUsed": amount_text(used), "marginCloseoutPositionValue": amount_text(value),
        "marginCloseoutPercent": f"{(used / nav if nav > 0 else 0.0) / 2:.5f}",
        "marginCallMarginUsed": amount_text(used),
        "marginCallPercent": f"{(used / nav if nav > 0 else 0.0):.5f}",
        "financing": amount_text(financing), "commission": amount_text(commission),
        "guaranteedExecutionFees": "0.0000",
    }
