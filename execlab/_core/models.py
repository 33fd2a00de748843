"""The neutral schema: orders, fills, positions and account snapshots, broker-independent.

Enumerations carry a small integer code so that columnar batches (numpy arrays) and single
immutable values (pydantic models) describe the same thing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict

__all__ = [
    "CLIENT_ORDER_ID_PATTERN",
    "MAX_ORDER_PRICE",
    "MAX_ORDER_QUANTITY",
    "STATUS_CODES",
    "AccountSnapshot",
    "Balance",
    "Fill",
    "Order",
    "OrderStatus",
    "OrderType",
    "Position",
    "Side",
    "TimeInForce",
    "order_json_schema",
]


class Side(StrEnum):
    """Direction of an order or fill."""

    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    """How an order is priced."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"
    STOP_LIMIT = "stop_limit"
    TRAILING_STOP = "trailing_stop"


class TimeInForce(StrEnum):
    """How long an order may work."""

    DAY = "day"
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    OPG = "opg"
    CLS = "cls"


class OrderStatus(StrEnum):
    """Life-cycle state of an order; ``denied`` means stopped by pre-trade risk, before submission."""

    PENDING = "pending"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    DENIED = "denied"

    @property
    def is_terminal(self) -> bool:
        """True for states an order never leaves."""
        return self in _TERMINAL


_TERMINAL: Final = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.DENIED}
)

#: Integer code of each status, used by columnar order tables.
STATUS_CODES: Final[dict[OrderStatus, int]] = {s: i for i, s in enumerate(OrderStatus)}

_FROZEN = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

#: Largest order quantity (shares, units or coins) and largest price the neutral order carries: far above any real
#: order, far below where floats stop counting whole units (2**53).
MAX_ORDER_QUANTITY: Final = 1e15
MAX_ORDER_PRICE: Final = 1e9

#: What a client order id may contain. ``$`` is the end of the text for pydantic's (Rust) regex engine and for
#: ECMA-262 (JSON Schema's dialect); Python's ``re`` also lets it match before a final newline, so the schema adds
#: ``"not": {"pattern": "\\n"}``, which every dialect reads the same way. (``\\Z`` would be a literal ``Z`` in
#: ECMA-262 and an error in Rust.)
CLIENT_ORDER_ID_PATTERN: Final = r"^[.A-Za-z0-9:/_-]+$"

_NOT_NAN: Final[JsonDict] = {
    "not": {"maximum": 0},
    "$comment": "NaN passes every comparison keyword; 'not maximum 0' refuses it (and every number <= 0)",
}


def _strict_number(lt: float | None = None, le: float | None = None) -> Any:
    """A finite float > 0: no booleans, no numeric strings (strict), bounded, and the same in the JSON Schema."""
    return Field(strict=True, gt=0, lt=lt, le=le, allow_inf_nan=False, json_schema_extra=_NOT_NAN)


_Quantity = Annotated[float, _strict_number(le=MAX_ORDER_QUANTITY)]
_Price = Annotated[float, _strict_number(le=MAX_ORDER_PRICE)]
_Percent = Annotated[float, _strict_number(lt=100)]


class Order(BaseModel):
    """One neutral order, as routed to any executor.

    Numbers are strict (an int or a float, never a boolean or a numeric string), finite, > 0 and bounded
    (:data:`MAX_ORDER_QUANTITY`, :data:`MAX_ORDER_PRICE`); :func:`order_json_schema` is generated from this model
    and says the same.
    """

    model_config = _FROZEN

    symbol: str = Field(min_length=1, max_length=64)
    side: Side
    quantity: _Quantity
    order_type: OrderType = OrderType.MARKET
    limit_price: _Price | None = None
    stop_price: _Price | None = None
    trail_amount: _Price | None = None
    trail_percent: _Percent | None = None
    time_in_force: TimeInForce = TimeInForce.DAY
    client_order_id: str = Field(min_length=1, max_length=128, pattern=CLIENT_ORDER_ID_PATTERN,
                                 json_schema_extra={"not": {"pattern": "\\n"}})
    strategy_id: str = "default"
    run_id: str = "default"

    @model_validator(mode="after")
    def _prices_match_type(self) -> Order:
        needs_limit = self.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        needs_stop = self.order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        if needs_limit != (self.limit_price is not None):
            raise ValueError(f"limit_price is {'required' if needs_limit else 'not allowed'} "
                             f"for order_type={self.order_type.value}")
        if needs_stop != (self.stop_price is not None):
            raise ValueError(f"stop_price is {'required' if needs_stop else 'not allowed'} "
                             f"for order_type={self.order_type.value}")
        trailing = self.order_type is OrderType.TRAILING_STOP
        n_trail = (self.trail_amount is not None) + (self.trail_percent is not None)
        if trailing and n_trail != 1:
            raise ValueError("trailing_stop needs exactly one of trail_amount or trail_percent")
        if not trailing and n_trail:
            raise ValueError(f"trail_amount/trail_percent are not allowed for order_type={self.order_type.value}")
        return self

    @property
    def signed_quantity(self) -> float:
        """Quantity with sign: positive buys, negative sells."""
        return self.quantity if self.side is Side.BUY else -self.quantity


class Fill(BaseModel):
    """One execution of (part of) an order."""

    model_config = _FROZEN

    client_order_id: str
    symbol: str
    side: Side
    quantity: float = Field(gt=0)
    price: float = Field(gt=0)
    fee: float = Field(ge=0)
    timestamp: datetime
    slippage_cost: float = 0.0
    liquidity: str = "taker"


class Position(BaseModel):
    """Holding of one symbol."""

    model_config = _FROZEN

    symbol: str
    quantity: float
    average_price: float = 0.0
    market_price: float = 0.0

    @property
    def market_value(self) -> float:
        """Quantity times market price."""
        return self.quantity * self.market_price


@dataclass(frozen=True, slots=True)
class Balance:
    """What an account holds of one currency or asset: ``free`` to spend, ``locked`` by working orders."""

    currency: str
    free: float
    locked: float = 0.0

    @property
    def total(self) -> float:
        """Free plus locked."""
        return self.free + self.locked


class AccountSnapshot(BaseModel):
    """Cash and value of an account at one time; ``currency`` is the account's base currency (equity's)."""

    model_config = _FROZEN

    timestamp: datetime | None = None
    cash: float
    equity: float
    buying_power: float
    currency: str = "USD"
    day_start_equity: float | None = None
    """Equity at the start of the trading day (the previous close), when the broker reports it."""
    balances: tuple[Balance, ...] = ()
    """Per-currency (or per-asset) balances, for brokers that keep several (crypto, multi-currency FX)."""

    def balance(self, currency: str) -> Balance | None:
        """The balance of ``currency`` (case-insensitive), or None when the account reports none."""
        wanted = currency.upper()
        return next((b for b in self.balances if b.currency.upper() == wanted), None)

    def free(self, currency: str | None = None) -> float:
        """What can be spent in ``currency`` (default: the base currency): its free balance; without balances,
        ``cash`` for the base currency and 0 for any other."""
        currency = currency or self.currency
        found = self.balance(currency)
        if found is not None:
            return found.free
        if currency.upper() == self.currency.upper():
            return self.cash
        return 0.0


def order_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one neutral order, as accepted by the webhook."""
    schema = Order.model_json_schema()
    schema["allOf"] = [
        _price_rule("limit_price", [OrderType.LIMIT, OrderType.STOP_LIMIT]),
        _price_rule("stop_price", [OrderType.STOP, OrderType.STOP_LIMIT]),
        {
            "if": _type_is([OrderType.TRAILING_STOP]),
            "then": {"oneOf": [
                {"required": ["trail_amount"], "properties": {"trail_amount": {"type": "number"},
                                                               "trail_percent": {"type": "null"}}},
                {"required": ["trail_percent"], "properties": {"trail_percent": {"type": "number"},
                                                                "trail_amount": {"type": "null"}}},
            ]},
            "else": {"properties": {"trail_amount": {"type": "null"}, "trail_percent": {"type": "null"}}},
        },
    ]
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://execlab.dev/schemas/order.schema.json"
    return schema


def _type_is(types: list[OrderType]) -> dict[str, Any]:
    return {"properties": {"order_type": {"enum": [t.value for t in types]}}, "required": ["order_type"]}


def _price_rule(field: str, types: list[OrderType]) -> dict[str, Any]:
    return {
        "if": _type_is(types),
        "then": {"required": [field], "properties": {field: {"type": "number"}}},
        "else": {"properties": {field: {"type": "null"}}},
    }


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped schema file
    print(json.dumps(order_json_schema(), indent=2))
