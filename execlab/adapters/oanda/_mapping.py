"""v20 ↔ neutral: order requests (signed units, strings at the instrument's precision, the client id in
``clientExtensions.id``), orders and fills from v20 orders and transactions, and errors.

A market order that cannot fill is still answered ``201``: its ``orderCancelTransaction`` says why
(``INSUFFICIENT_MARGIN``, ``MARKET_HALTED``, ``INSUFFICIENT_LIQUIDITY``, ...), and the neutral order is *rejected*
when nothing filled, *cancelled* with its filled part otherwise. A ``400`` carries an ``orderRejectTransaction``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any, Final

import requests
from oandapyV20.exceptions import V20Error

from execlab._brokers.contract import BrokerCharge, BrokerFill, BrokerOrder
from execlab._brokers.errors import (
    BrokerError,
    BrokerRejectedError,
    BrokerTimeoutError,
    BrokerUnavailableError,
    classify_http,
)
from execlab._core.instruments import Instrument
from execlab._core.models import Order, OrderStatus, OrderType, Side, TimeInForce

__all__ = [
    "CANCELLED_AS_ASKED",
    "InstrumentSpec",
    "OrderView",
    "broker_fill",
    "broker_order",
    "order_request",
    "parse_time",
    "to_error",
]

#: Cancel reasons that mean the order ended as someone asked, not refused by the market or the account.
CANCELLED_AS_ASKED: Final = frozenset({"CLIENT_REQUEST", "CLIENT_REQUEST_REPLACED"})
_EXPIRED: Final = frozenset({"TIME_IN_FORCE_EXPIRED"})


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    """What the adapter needs of a v20 ``Instrument``."""

    name: str
    display_precision: int
    trade_units_precision: int
    minimum_trade_size: float
    margin_rate: float
    pip_location: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InstrumentSpec:
        """Read one item of ``GET /accounts/{id}/instruments``."""
        return cls(str(data["name"]), int(data["displayPrecision"]), int(data["tradeUnitsPrecision"]),
                   float(data["minimumTradeSize"]), float(data.get("marginRate", "0") or 0),
                   int(data.get("pipLocation", -4)))

    @property
    def quote(self) -> str:
        """The quote currency (P&L and prices)."""
        return self.name.partition("_")[2]

    def units(self, signed: float) -> str:
        """Signed units at ``tradeUnitsPrecision`` (float noise rounded away, otherwise toward zero)."""
        step = Decimal(1).scaleb(-self.trade_units_precision)
        exact = Decimal(repr(signed))
        nearest = exact.quantize(step)
        if abs(nearest - exact) <= Decimal("1e-9") * max(Decimal(1), abs(exact)):
            return f"{nearest:f}"
        return f"{exact.quantize(step, rounding=ROUND_FLOOR if signed > 0 else ROUND_CEILING):f}"

    def price(self, price: float, side: Side) -> str:
        """A limit price at ``displayPrecision``: buys round down, sells up (never a worse limit than asked)."""
        step = Decimal(1).scaleb(-self.display_precision)
        exact = Decimal(repr(price))
        nearest = exact.quantize(step)
        if abs(nearest - exact) <= Decimal("1e-12") * max(Decimal(1), abs(exact)):
            return f"{nearest:f}"
        return f"{exact.quantize(step, rounding=ROUND_FLOOR if side is Side.BUY else ROUND_CEILING):f}"

    def instrument(self, symbol: str) -> Instrument:
        """The neutral trading rules: lot = one unit step, tick = one display step, minimum = minimumTradeSize."""
        return Instrument(symbol, "fx", self.quote, lot_size=10.0 ** -self.trade_units_precision,
                          tick_size=10.0 ** -self.display_precision, min_quantity=self.minimum_trade_size,
                          fractional=self.trade_units_precision > 0)


def order_request(order: Order, spec: InstrumentSpec, client_id: str) -> dict[str, Any]:
    """The ``{"order": {...}}`` body of ``OrderCreate`` (raises BrokerRejectedError for what v20 cannot take)."""
    signed = order.quantity if order.side is Side.BUY else -order.quantity
    units = spec.units(signed)
    if Decimal(units) == 0:
        raise BrokerRejectedError(f"{order.quantity} units of {spec.name} round to 0 at its precision "
                                  f"of {spec.trade_units_precision} decimals")
    body: dict[str, Any] = {"instrument": spec.name, "units": units, "positionFill": "DEFAULT",
                            "clientExtensions": {"id": client_id, "tag": "execlab"}}
    tif = order.time_in_force
    if order.order_type is OrderType.MARKET:
        body.update(type="MARKET", timeInForce="IOC" if tif is TimeInForce.IOC else "FOK")
    elif order.order_type is OrderType.LIMIT and order.limit_price is not None:
        body.update(type="LIMIT", price=spec.price(order.limit_price, order.side),
                    timeInForce={TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK", TimeInForce.DAY: "GFD"}.get(tif,
                                                                                                             "GTC"))
    else:
        raise BrokerRejectedError(f"the OANDA adapter sends market and limit orders, not {order.order_type.value}")
    return {"order": body}


def parse_time(text: str | None) -> datetime | None:
    """A v20 time (RFC 3339, nanoseconds) as a UTC datetime (microseconds)."""
    if not text:
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    return stamp.replace(microsecond=int((frac + "000000")[:6])) if frac else stamp


@dataclass(frozen=True, slots=True)
class OrderView:
    """An order as the adapter pieced it together: its v20 ``Order`` (or create transaction), fills and cancel."""

    order: Mapping[str, Any]
    fills: tuple[Mapping[str, Any], ...] = ()
    cancel: Mapping[str, Any] | None = None


def broker_order(view: OrderView, symbol: str, client_order_id: str) -> BrokerOrder:
    """The neutral order of ``view`` (``symbol`` already mapped, ``client_order_id`` canonical)."""
    order = view.order
    units = float(order["units"])
    filled = sum(abs(float(f["units"])) for f in view.fills)
    value = sum(abs(float(f["units"])) * float(f.get("price") or f.get("fullVWAP") or 0.0) for f in view.fills)
    state = str(order.get("state", "PENDING"))
    reason = view.cancel.get("reason") if view.cancel is not None else None
    if state == "CANCELLED" and view.cancel is None:
        reason = "CANCELLED"
    if math.isclose(filled, abs(units), rel_tol=0, abs_tol=1e-9):
        status = OrderStatus.FILLED
    elif reason is not None:
        if filled > 0 or reason in CANCELLED_AS_ASKED:
            status = OrderStatus.CANCELLED
        else:
            status = OrderStatus.EXPIRED if reason in _EXPIRED else OrderStatus.REJECTED
    elif state == "FILLED":
        status = OrderStatus.FILLED
        filled = abs(units) if filled == 0 else filled
    else:
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.SUBMITTED
    raw: dict[str, Any] = {"order": dict(order), "fills": [dict(f) for f in view.fills]}
    if view.cancel is not None:
        raw["cancel"] = dict(view.cancel)
    if reason is not None:
        raw["cancelReason"] = reason
    return BrokerOrder(client_order_id=client_order_id, broker_order_id=str(order["id"]), symbol=symbol,
                       side=Side.BUY if units > 0 else Side.SELL, quantity=abs(units), filled_quantity=filled,
                       avg_fill_price=value / filled if filled else None, status=status, raw=raw)


def broker_fill(txn: Mapping[str, Any], symbol: str, client_order_id: str, home_currency: str) -> BrokerFill:
    """The neutral execution of an ``ORDER_FILL`` transaction: the fee is its ``commission`` (home currency);
    ``financing``, ``halfSpreadCost`` and ``pl`` (home currency) stay in ``raw``."""
    units = float(txn["units"])
    return BrokerFill(execution_id=str(txn["id"]), client_order_id=client_order_id,
                      broker_order_id=str(txn["orderID"]), symbol=symbol,
                      side=Side.BUY if units > 0 else Side.SELL, quantity=abs(units),
                      price=float(txn.get("price") or txn["fullVWAP"]),
                      fee=abs(float(txn.get("commission", "0") or 0)), fee_currency=home_currency,
                      liquidity="taker" if txn.get("reason") == "MARKET_ORDER" else None,
                      timestamp=parse_time(txn.get("time")), raw=dict(txn), quote_rate=quote_home_rate(txn))


def broker_charges(txn: Mapping[str, Any], to_execlab: Callable[[str], str], home_currency: str) -> list[BrokerCharge]:
    """The neutral charges of a ``DAILY_FINANCING`` transaction: one per ``positionFinancings`` entry (id
    ``<transaction id>:<instrument>``), its ``financing`` in the account currency (negative: paid)."""
    out = []
    for entry in txn.get("positionFinancings") or []:
        instrument = str(entry["instrument"])
        out.append(BrokerCharge(charge_id=f"{txn['id']}:{instrument}", kind="financing",
                                symbol=to_execlab(instrument), amount=float(entry.get("financing") or 0.0),
                                currency=home_currency, timestamp=parse_time(txn.get("time")), raw=dict(entry)))
    return out


def quote_home_rate(txn: Mapping[str, Any]) -> float | None:
    """The home-currency value of one unit of the instrument's quote currency at a fill: the mean of the
    transaction's ``homeConversionFactors`` gain and loss factors (v20), None when it carries none."""
    factors = txn.get("homeConversionFactors")
    if not isinstance(factors, Mapping):
        return None
    found = [float(f["factor"]) for key in ("gainQuoteHome", "lossQuoteHome")
             if isinstance(f := factors.get(key), Mapping) and f.get("factor") is not None]
    return sum(found) / len(found) if found else None


def _body(message: str) -> dict[str, Any]:
    try:
        data = json.loads(message)
    except ValueError:
        return {"errorMessage": message}
    return data if isinstance(data, dict) else {"errorMessage": message}


def to_error(exc: BaseException) -> BrokerError:
    """The neutral error for what oandapyV20 raised: V20Error (HTTP >= 400; a pending order's client id again is a
    duplicate), requests' errors, or the ``ValueError`` of an answer whose status is not the one the endpoint
    expects (the request may have taken effect)."""
    if isinstance(exc, V20Error):
        body = _body(str(exc.msg))
        reject = body.get("orderRejectTransaction")
        duplicate = isinstance(reject, dict) and reject.get("rejectReason") == "CLIENT_ORDER_ID_ALREADY_EXISTS"
        message = f"OANDA {body.get('errorCode') or ''} {body.get('errorMessage', '')}".strip()
        return classify_http(int(exc.code), message, duplicate=duplicate)
    if isinstance(exc, requests.Timeout):
        return BrokerTimeoutError(f"OANDA request timed out: {exc}")
    if isinstance(exc, requests.RequestException):
        return BrokerUnavailableError(f"OANDA unreachable: {exc}")
    if isinstance(exc, ValueError):
        return BrokerUnavailableError(f"OANDA answered with an unexpected status: {exc}")
    return BrokerError(str(exc))
