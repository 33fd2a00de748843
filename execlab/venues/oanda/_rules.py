"""What the local OANDA venue accepts: an order request's validation (v20 reject reasons) and why a market order that
was accepted is cancelled instead of filled (v20 cancel reasons).

A validation failure is answered ``400`` with an ``orderRejectTransaction`` whose ``rejectReason`` is one of v20's
``TransactionRejectReason`` values; a market order that passes but cannot fill is answered ``201`` with an
``orderCancelTransaction`` (``OrderCancelReason``). Both are returned as values here, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

from execlab.venues.oanda._instruments import V20Instrument, decimals_of

__all__ = [
    "MARKET_TIFS",
    "OrderRequest",
    "Rejection",
    "cancel_reason",
    "parse_order_request",
]

OrderKind = Literal["MARKET", "LIMIT"]
MARKET_TIFS: Final = ("FOK", "IOC")
LIMIT_TIFS: Final = ("GTC", "GFD", "FOK", "IOC")
POSITION_FILLS: Final = ("DEFAULT", "OPEN_ONLY", "REDUCE_FIRST", "REDUCE_ONLY")
CLIENT_ID_MAX: Final = 128


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated v20 order request."""

    kind: OrderKind
    instrument: str
    units: Decimal
    """Signed: positive buys, negative sells."""
    time_in_force: str
    price: Decimal | None = None
    price_bound: Decimal | None = None
    position_fill: str = "DEFAULT"
    client_extensions: tuple[tuple[str, str], ...] = ()

    @property
    def client_id(self) -> str | None:
        """``clientExtensions.id``, when given."""
        return dict(self.client_extensions).get("id")

    def order_fields(self) -> dict[str, Any]:
        """The request's fields as they appear in a v20 order-create (or reject) transaction."""
        out: dict[str, Any] = {"instrument": self.instrument, "units": str(self.units),
                               "timeInForce": self.time_in_force, "positionFill": self.position_fill}
        if self.price is not None:
            out["price"] = str(self.price)
        if self.price_bound is not None:
            out["priceBound"] = str(self.price_bound)
        if self.client_extensions:
            out["clientExtensions"] = dict(self.client_extensions)
        return out


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why an order request is refused: a v20 ``rejectReason`` and a message."""

    reason: str
    message: str
    kind: OrderKind | None = None
    fields: tuple[tuple[str, Any], ...] = ()
    """What could be read of the request, for the reject transaction."""


def _decimal(value: Any) -> Decimal | None:
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def parse_order_request(body: Any, instruments: Mapping[str, V20Instrument]) -> OrderRequest | Rejection:
    """Validate ``{"order": {...}}`` against the listed instruments."""
    order = body.get("order") if isinstance(body, dict) else None
    if not isinstance(order, dict):
        return Rejection("ORDER_MISSING", "Invalid value specified for 'order'")
    kind = order.get("type", "MARKET")
    if kind not in ("MARKET", "LIMIT"):
        return Rejection("ORDER_TYPE_UNSUPPORTED", f"The local venue takes MARKET and LIMIT orders, not {kind!r}")
    seen: dict[str, Any] = {k: order[k] for k in ("instrument", "units", "price", "timeInForce", "clientExtensions")
                            if k in order}

    def reject(reason: str, message: str) -> Rejection:
        return Rejection(reason, message, kind, tuple(seen.items()))

    name = order.get("instrument")
    if not name:
        return reject("INSTRUMENT_MISSING", "Order instrument is missing")
    spec = instruments.get(name) if isinstance(name, str) else None
    if spec is None:
        return reject("INSTRUMENT_UNKNOWN", f"Order instrument {name!r} is not tradeable in this account")
    if "units" not in order:
        return reject("UNITS_MISSING", "Order units are missing")
    units = _decimal(order["units"])
    if units is None or units == 0:
        return reject("UNITS_INVALID", f"Order units {order['units']!r} are not a non-zero decimal number")
    if decimals_of(units) > spec.trade_units_precision:
        return reject("UNITS_PRECISION_EXCEEDED",
                      f"Order units {order['units']} exceed {name}'s precision of {spec.trade_units_precision}")
    if abs(units) < spec.minimum_trade_size:
        return reject("UNITS_MINIMUM_NOT_MET", f"Order units are below {name}'s minimum of {spec.minimum_trade_size}")
    if abs(units) > spec.maximum_order_units:
        return reject("UNITS_LIMIT_EXCEEDED", f"Order units exceed {name}'s maximum of {spec.maximum_order_units}")
    allowed = MARKET_TIFS if kind == "MARKET" else LIMIT_TIFS
    tif = order.get("timeInForce", "FOK" if kind == "MARKET" else "GTC")
    if tif not in allowed:
        return reject("TIME_IN_FORCE_INVALID", f"{kind} orders take timeInForce {'/'.join(allowed)}, not {tif!r}")
    position_fill = order.get("positionFill", "DEFAULT")
    if position_fill not in POSITION_FILLS:
        return reject("POSITION_FILL_INVALID", f"Invalid positionFill {position_fill!r}")
    price: Decimal | None = None
    if kind == "LIMIT":
        if "price" not in order:
            return reject("PRICE_MISSING", "Limit order price is missing")
        price = _decimal(order["price"])
        if price is None or price <= 0:
            return reject("PRICE_INVALID", f"Limit order price {order['price']!r} is not a positive decimal number")
        if decimals_of(price) > spec.display_precision:
            return reject("PRICE_PRECISION_EXCEEDED",
                          f"Price {order['price']} exceeds {name}'s precision of {spec.display_precision}")
    bound: Decimal | None = None
    if order.get("priceBound") is not None:
        bound = _decimal(order["priceBound"])
        if bound is None or bound <= 0:
            return reject("PRICE_BOUND_INVALID", f"priceBound {order['priceBound']!r} is not a positive decimal")
        if decimals_of(bound) > spec.display_precision:
            return reject("PRICE_BOUND_PRECISION_EXCEEDED",
                          f"priceBound exceeds {name}'s precision of {spec.display_precision}")
    extensions = order.get("clientExtensions") or {}
    if not isinstance(extensions, dict) or not all(
            isinstance(k, str) and k in ("id", "tag", "comment") and isinstance(v, str)
            for k, v in extensions.items()):
        return reject("CLIENT_ORDER_ID_INVALID", "clientExtensions must be an object of id, tag and comment strings")
    client_id = extensions.get("id")
    if client_id is not None and not 0 < len(client_id) <= CLIENT_ID_MAX:
        return reject("CLIENT_ORDER_ID_INVALID", f"clientExtensions.id must have 1 to {CLIENT_ID_MAX} characters")
    return OrderRequest(kind=kind, instrument=name, units=units, time_in_force=tif, price=price, price_bound=bound,
                        position_fill=position_fill, client_extensions=tuple(sorted(extensions.items())))


def cancel_reason(request: OrderRequest, bid: float, ask: float, *, liquidity: float) -> str | None:
    """Why a market (or FOK/IOC) order v20 would otherwise fill is cancelled before it reaches the book (an
    ``OrderCancelReason``), or None.

    A FOK order for more units than the top of the book holds: INSUFFICIENT_LIQUIDITY (an IOC one takes what there
    is); a fill price beyond ``priceBound``: BOUNDS_VIOLATION. Halts are the venue's; margin is the account's.
    """
    if request.time_in_force == "FOK" and float(abs(request.units)) > liquidity:
        return "INSUFFICIENT_LIQUIDITY"
    if request.price_bound is not None:
        price = ask if request.units > 0 else bid
        bound = float(request.price_bound)
        if (request.units > 0 and price > bound) or (request.units < 0 and price < bound):
            return "BOUNDS_VIOLATION"
    return None
