"""Order classes: a bracket (entry, take-profit limit, stop-loss stop), a one-cancels-other pair, and
one-triggers-other, as immutable values whose legs carry client order ids derived from the parent's.

How the legs behave, the same in the simulated venue, at Alpaca (native) and emulated by the OMS:

- A *bracket*'s two exit legs are held until the entry is done, then work for the quantity the entry filled (an entry
  cancelled or expired after a partial fill sizes them to that part; one that filled nothing cancels them). They are
  one-cancels-other: the first fill of one cancels the other.
- An *OCO* pair is a take-profit limit and a stop-loss stop, both working at once, one-cancels-other.
- An *OTO* is an entry whose one leg (a take-profit or a stop-loss) is held until the entry is done, as above.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from execlab._core.ids import PREFIX
from execlab._core.models import Order, OrderType, Side

__all__ = ["Leg", "LegRole", "OrderClass", "OrderGroup", "leg_client_id"]


class OrderClass(StrEnum):
    """How the orders of a group depend on each other (the names are Alpaca's ``order_class`` values)."""

    SIMPLE = "simple"
    BRACKET = "bracket"
    OCO = "oco"
    OTO = "oto"


class LegRole(StrEnum):
    """What a leg of a group is for."""

    ENTRY = "entry"
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"


def leg_client_id(parent_id: str, role: LegRole | str) -> str:
    """The client order id of a group's leg: derived from the parent's id and the leg's role, the same on every run,
    and as short as the parent's (``xl-`` + 32 hex, valid at every broker execlab routes to). The entry keeps the
    parent's own id."""
    role = LegRole(role)
    if role is LegRole.ENTRY:
        return parent_id
    return PREFIX + hashlib.blake2b(f"{parent_id}|{role.value}".encode(), digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Leg:
    """One order of a group and its role; ``held`` legs wait for the entry to be done."""

    role: LegRole
    order: Order
    held: bool


@dataclass(frozen=True, slots=True)
class OrderGroup:
    """A bracket, OCO or OTO order: the parent ``order`` (the entry; for an OCO, the take-profit limit itself) with
    the exit prices of its legs.

    The legs trade the opposite side for the parent's quantity (until the entry's fills size them), with the parent's
    time in force. ``stop_loss_limit`` makes the stop-loss a stop-limit. A bracket needs both exits, an OTO exactly
    one; an OCO's parent is a limit order at the take-profit price and ``stop_loss`` is required.
    """

    order_class: OrderClass
    order: Order
    take_profit: float | None = None
    stop_loss: float | None = None
    stop_loss_limit: float | None = None

    def __post_init__(self) -> None:
        problem = self.problem()
        if problem:
            raise ValueError(f"{self.order_class.value} order {self.order.client_order_id}: {problem}")

    def problem(self) -> str:
        """Why the group is invalid ('' when it is fine)."""
        cls, o, tp, sl = self.order_class, self.order, self.take_profit, self.stop_loss
        for name, price in (("take_profit", tp), ("stop_loss", sl), ("stop_loss_limit", self.stop_loss_limit)):
            if price is not None and not price > 0:
                return f"{name} must be a price > 0, got {price!r}"
        if self.stop_loss_limit is not None and sl is None:
            return "stop_loss_limit needs stop_loss"
        if cls is OrderClass.SIMPLE:
            return "a simple order is not a group" if tp is not None or sl is not None else ""
        if cls is OrderClass.BRACKET and (tp is None or sl is None):
            return "a bracket needs take_profit and stop_loss"
        if cls is OrderClass.OTO and (tp is None) == (sl is None):
            return "an OTO needs exactly one of take_profit or stop_loss"
        if cls is OrderClass.OCO:
            if o.order_type is not OrderType.LIMIT or sl is None:
                return "an OCO is a limit order (the take-profit) with a stop_loss"
            tp = o.limit_price
        if o.order_type not in (OrderType.MARKET, OrderType.LIMIT) and cls is not OrderClass.OCO:
            return f"the entry must be a market or limit order, got {o.order_type.value}"
        # The exits sit on either side: above and below for a long (the legs sell), the other way for a short.
        exit_buys = o.side is Side.SELL if cls is not OrderClass.OCO else o.side is Side.BUY
        if tp is not None and sl is not None and not (sl > tp if exit_buys else sl < tp):
            return f"the stop_loss {sl} must be {'above' if exit_buys else 'below'} the take_profit {tp}"
        return ""

    @property
    def parent_id(self) -> str:
        """The parent's client order id (the entry's)."""
        return self.order.client_order_id

    def legs(self, quantity: float | None = None) -> tuple[Leg, ...]:
        """Every order of the group, the parent first, with derived client ids; ``quantity`` sizes the exit legs
        (default: the parent's)."""
        o = self.order
        qty = o.quantity if quantity is None else quantity
        held = self.order_class in (OrderClass.BRACKET, OrderClass.OTO)
        exit_side = (Side.SELL if o.side is Side.BUY else Side.BUY) if held else o.side
        common: dict[str, Any] = {"symbol": o.symbol, "side": exit_side, "quantity": qty,
                                  "time_in_force": o.time_in_force, "strategy_id": o.strategy_id, "run_id": o.run_id}
        out = [Leg(LegRole.TAKE_PROFIT if self.order_class is OrderClass.OCO else LegRole.ENTRY, o, False)]
        if self.take_profit is not None and self.order_class is not OrderClass.OCO:
            out.append(Leg(LegRole.TAKE_PROFIT, Order(
                **common, order_type=OrderType.LIMIT, limit_price=self.take_profit,
                client_order_id=leg_client_id(o.client_order_id, LegRole.TAKE_PROFIT)), held))
        if self.stop_loss is not None:
            kind = OrderType.STOP if self.stop_loss_limit is None else OrderType.STOP_LIMIT
            out.append(Leg(LegRole.STOP_LOSS, Order(
                **common, order_type=kind, stop_price=self.stop_loss, limit_price=self.stop_loss_limit,
                client_order_id=leg_client_id(o.client_order_id, LegRole.STOP_LOSS)), held))
        return tuple(out)

    def exits(self, quantity: float | None = None) -> tuple[Leg, ...]:
        """The legs after the parent (the held exits of a bracket or OTO; an OCO's stop-loss)."""
        return self.legs(quantity)[1:]

    @property
    def one_cancels_other(self) -> bool:
        """Whether the first fill of one exit cancels the other (a bracket, an OCO)."""
        return self.order_class in (OrderClass.BRACKET, OrderClass.OCO)

    def to_payload(self) -> dict[str, object]:
        """The group as the journal keeps it (:meth:`from_payload` reads it back)."""
        return {"order_class": self.order_class.value, "order": self.order.model_dump(mode="json"),
                "take_profit": self.take_profit, "stop_loss": self.stop_loss,
                "stop_loss_limit": self.stop_loss_limit,
                "legs": {leg.role.value: leg.order.client_order_id for leg in self.legs()}}

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> OrderGroup:
        """The group journaled by :meth:`to_payload`."""
        def price(key: str) -> float | None:
            value = payload.get(key)
            return None if value is None else float(str(value))

        return cls(OrderClass(str(payload["order_class"])), Order.model_validate(payload["order"]),
                   price("take_profit"), price("stop_loss"), price("stop_loss_limit"))
