"""``GroupRouter``: bracket, OCO and OTO groups through a :class:`BrokerExecutor`, native or emulated by the OMS.

With an adapter that declares :attr:`Capability.NATIVE_BRACKET` a group is one request (the broker holds and cancels
the legs); otherwise the router emulates it: it sends the entry, then the exits once the entry is done (sized to what
it filled), and cancels the other exit when one fills (:func:`execlab._oms.order_groups.next_actions`). Either way the
group is journaled before anything is sent and every leg's state change is journaled as the broker reports it.

Crash-safe: the decisions are a function of the legs' state, which a new router rebuilds from the journal (the groups,
which legs were requested) and the broker (their status and fills; the executor looks a journaled leg up before it
would send it again), so a restarted process carries on without sending a leg twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from execlab._brokers.contract import BrokerOrder, BrokerRejectedError, Capability
from execlab._brokers.executor import BrokerExecutor
from execlab._core.models import OrderStatus
from execlab._core.order_classes import OrderGroup
from execlab._oms.events import EventKind
from execlab._oms.order_groups import CancelLeg, LegState, SendLeg, journaled_groups, next_actions, record_group

__all__ = ["GroupRouter"]


class GroupRouter:
    """Places groups through ``executor`` and keeps them going (:meth:`step`); ``resume`` takes in the groups the
    journal holds for the executor's run (a restart)."""

    def __init__(self, executor: BrokerExecutor, *, resume: bool = True) -> None:
        self.executor = executor
        self.journal = executor.journal
        self.run_id = executor.run_id
        self.native = executor.adapter.supports(Capability.NATIVE_BRACKET)
        """Whether the broker holds the legs itself (else the router emulates them)."""
        self.groups: dict[str, OrderGroup] = {}
        if resume:
            for group in journaled_groups(self.journal, self.run_id):
                self.groups[group.parent_id] = group
                for leg in group.legs():
                    if self.journal.has_request(leg.order.client_order_id):
                        self.executor.lookup(leg.order.client_order_id)

    def place(self, group: OrderGroup) -> None:
        """Journal ``group`` (once) and send it: natively in one request, or its first legs (emulated)."""
        if group.parent_id not in self.groups:
            record_group(self.journal, self.run_id, group)
            self.groups[group.parent_id] = group
        if self.native:
            self._place_native(group)
        self._advance(group)

    def step(self) -> None:
        """Take in the broker's news and do what is due for every group (send exits, cancel siblings)."""
        self.executor.refresh()
        for group in list(self.groups.values()):
            self._advance(group)

    def done(self) -> bool:
        """True when every leg of every group is in a terminal state."""
        return all(self._state(leg.order.client_order_id).status.is_terminal
                   for group in self.groups.values() for leg in group.legs())

    def wait(self, timeout: float = 30.0, interval: float = 0.05) -> bool:
        """Step until every group is done or ``timeout`` passes; True when done."""
        deadline = time.monotonic() + timeout
        while True:
            self.step()
            if self.done():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(interval)

    def states(self, group: OrderGroup) -> dict[str, LegState]:
        """Each leg's state, by its role."""
        return {leg.role.value: self._state(leg.order.client_order_id) for leg in group.legs()}

    # -- internals -----------------------------------------------------------------------------------------
    def _state(self, coid: str) -> LegState:
        """The broker's view of a leg it has; else the journal's (a leg the broker does not show counts as not
        sent: sending it again goes through the executor's lookup before resend)."""
        known = self.executor.known_orders().get(coid)
        if known is not None:
            return LegState(known.status, known.filled_quantity, True)
        journaled = self.journal.status_of([coid]).get(coid, OrderStatus.PENDING.value)
        return LegState(OrderStatus(journaled), self.journal.fills_total(coid), False)

    def _place_native(self, group: OrderGroup) -> None:
        ex = self.executor
        coid = group.parent_id
        if coid in ex.known_orders():
            return
        if self.journal.has_request(coid) and ex.lookup(coid) is not None:
            for leg in group.exits():
                ex.lookup(leg.order.client_order_id)
            return
        legs = [leg.order.client_order_id for leg in group.legs()]
        for leg_id in legs:  # every leg is requested with the parent: a restart looks them up, never resends
            self.journal.record(self.run_id, EventKind.REQUEST, leg_id, None,
                                {"op": "submit_group", "order_class": group.order_class.value, "parent": coid})
        try:
            views = ex._guarded(lambda: ex.adapter._submit_group(group))
        except BrokerRejectedError as exc:
            self.journal.record(self.run_id, EventKind.RESPONSE, coid, None, {"rejected": str(exc)})
            self._journal_states([(leg_id, OrderStatus.REJECTED) for leg_id in legs])
            return
        self.journal.record(self.run_id, EventKind.RESPONSE, coid, None, {"orders": [v.raw for v in views]})
        for view in views:
            ex.adopt(view)

    def _advance(self, group: OrderGroup) -> None:
        legs = [leg.order.client_order_id for leg in group.legs()]
        self._journal_known(legs)
        if self.native:
            return
        actions = next_actions(group, {coid: self._state(coid) for coid in legs})
        for action in actions:
            if isinstance(action, SendLeg):
                self.executor.place(action.order)
            elif isinstance(action, CancelLeg):
                self._cancel(action.client_order_id, action.reason)
            else:
                self.journal.record(self.run_id, EventKind.STATE, action.client_order_id,
                                    OrderStatus.CANCELLED.value, {"from": "pending", "reason": action.reason})
        if actions:
            self._journal_known(legs)  # what was just sent or cancelled, as the broker answered

    def _cancel(self, coid: str, reason: str) -> None:
        known: BrokerOrder | None = self.executor.known_orders().get(coid)
        if known is None or known.status.is_terminal:
            return
        self.journal.record(self.run_id, EventKind.REQUEST, coid, None, {"op": "cancel", "reason": reason})
        try:
            self.executor.cancel_order(known.broker_order_id)
        except BrokerRejectedError as exc:  # it ended meanwhile (filled, say): the next refresh shows it
            self.journal.record(self.run_id, EventKind.RESPONSE, coid, None, {"cancel_refused": str(exc)})
            return
        self.executor.lookup(coid)

    def _journal_known(self, coids: Sequence[str]) -> None:
        known = self.executor.known_orders()
        self._journal_states([(coid, known[coid].status) for coid in coids if coid in known])

    def _journal_states(self, rows: Sequence[tuple[str, OrderStatus]]) -> None:
        """Journal the legs whose status differs from the journal's."""
        journaled = self.journal.status_of([coid for coid, _ in rows])
        changed = [(coid, status.value, journaled.get(coid, OrderStatus.PENDING.value)) for coid, status in rows
                   if journaled.get(coid, OrderStatus.PENDING.value) != status.value]
        if changed:
            self.journal.record_states(self.run_id, changed)
