"""Bracket, OCO and OTO groups in the OMS: journaled once, and what to do next as a pure function of the legs' state.

A broker without a native form of a group (no :attr:`execlab.brokers.Capability.NATIVE_BRACKET`) gets it emulated:
the OMS sends the exits once the entry is done, sized to what it filled, and cancels the other exit when one fills.
:func:`next_actions` decides that from the legs' state alone (status, quantity filled, whether a request was sent),
which the journal and the broker both give back after a crash: a restarted process rebuilds the groups from the
journal (:func:`journaled_groups`) and carries on without sending a leg twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from execlab._core.models import Order, OrderStatus
from execlab._core.order_classes import Leg, LegRole, OrderClass, OrderGroup
from execlab._oms.events import EventKind
from execlab._oms.journal import Intent, Journal

__all__ = ["CancelLeg", "EndLeg", "GroupAction", "LegState", "SendLeg", "journaled_groups", "next_actions",
           "record_group"]

_EPS: Final = 1e-9


@dataclass(frozen=True, slots=True)
class LegState:
    """What is known of one leg: its status, quantity filled, and whether a request for it was ever sent."""

    status: OrderStatus = OrderStatus.PENDING
    filled: float = 0.0
    sent: bool = False

    @property
    def working(self) -> bool:
        """Sent and not in a terminal state."""
        return self.sent and not self.status.is_terminal


@dataclass(frozen=True, slots=True)
class SendLeg:
    """Send this leg now (sized as it must be)."""

    role: LegRole
    order: Order


@dataclass(frozen=True, slots=True)
class CancelLeg:
    """Ask the broker to cancel this working leg: another leg of its one-cancels-other group filled."""

    role: LegRole
    client_order_id: str
    reason: str = "one_cancels_other"


@dataclass(frozen=True, slots=True)
class EndLeg:
    """A leg that was never sent and never will be: journal it ``cancelled`` (``reason``: ``parent_ended``, the
    entry ended without a fill; ``one_cancels_other``, its sibling filled first)."""

    role: LegRole
    client_order_id: str
    reason: str


GroupAction = SendLeg | CancelLeg | EndLeg


def next_actions(group: OrderGroup, state: Mapping[str, LegState]) -> list[GroupAction]:
    """What an emulating OMS does next for ``group``, given each leg's state by client order id (a leg not listed:
    never sent, pending). Empty when nothing is due."""
    legs = group.legs()
    parent = legs[0]
    exits = legs[1:]
    of = {leg.order.client_order_id: state.get(leg.order.client_order_id, LegState()) for leg in legs}
    out: list[GroupAction] = []
    if group.order_class is OrderClass.OCO:
        members: Sequence[Leg] = legs
    else:
        members = exits
        p = of[parent.order.client_order_id]
        if not p.sent and not p.status.is_terminal:
            return [SendLeg(parent.role, parent.order)]
        if not p.status.is_terminal:
            return out  # the exits wait for the entry
        if p.filled <= _EPS:
            return [EndLeg(x.role, x.order.client_order_id, "parent_ended") for x in exits
                    if not of[x.order.client_order_id].sent and not of[x.order.client_order_id].status.is_terminal]
    filled = [m for m in members if of[m.order.client_order_id].filled > _EPS]
    if filled and group.one_cancels_other:
        for m in members:
            s = of[m.order.client_order_id]
            if m in filled or s.status.is_terminal:
                continue
            if s.sent:
                out.append(CancelLeg(m.role, m.order.client_order_id))
            else:
                out.append(EndLeg(m.role, m.order.client_order_id, "one_cancels_other"))
        return out
    size = None if group.order_class is OrderClass.OCO else of[parent.order.client_order_id].filled
    for m in (group.legs(size)[1:] if size is not None else members):
        s = of[m.order.client_order_id]
        if not s.sent and not s.status.is_terminal:
            out.append(SendLeg(m.role, m.order))
    return out


def record_group(journal: Journal, run_id: str, group: OrderGroup, rebalance_key: str = "") -> None:
    """Journal a group before anything is sent: one ``order_group`` event (the whole group, its legs' ids) and an
    intent per leg (the exits at the parent's quantity; what the entry fills sizes them when they are sent)."""
    key = rebalance_key or f"group:{group.parent_id}"
    journal.record(run_id, EventKind.ORDER_GROUP, group.parent_id, None, group.to_payload())
    known = journal.known_order_ids()
    intents = [Intent(leg.order.client_order_id, run_id, key, leg.order.symbol, leg.order.side.value,
                      leg.order.quantity, leg.order.order_type.value, leg.order.time_in_force.value,
                      leg.order.limit_price, leg.order.stop_price, None, i)
               for i, leg in enumerate(group.legs()) if leg.order.client_order_id not in known]
    if intents:
        journal.record_intents(intents)


def journaled_groups(journal: Journal, run_id: str | None = None) -> list[OrderGroup]:
    """Every group the journal holds (of ``run_id``), in the order they were journaled, each once."""
    rows = journal.events(run_id, EventKind.ORDER_GROUP.value)
    out: dict[str, OrderGroup] = {}
    for payload in rows["payload"].tolist() if not rows.empty else []:
        group = OrderGroup.from_payload(json.loads(str(payload)))
        out.setdefault(group.parent_id, group)
    return list(out.values())
