"""The kinds of journal events: every row of the journal's event log is one of these."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EventKind"]


class EventKind(StrEnum):
    """What an event-log row records (stored as its string value)."""

    STATE = "state"
    """An order changed state: ``status`` is the new one, the payload names the previous one and who moved it."""
    REFUSED_TRANSITION = "refused_transition"
    """A status report the order state machine does not allow from the order's current state (not applied)."""
    REQUEST = "request"
    """A request is about to be sent to the venue or broker (journaled before it is sent)."""
    RESPONSE = "response"
    """What the broker answered to a request."""
    ALERT = "alert"
    """Something a person should look at: a dead letter, a stream that fell back to polling."""
    CIRCUIT = "circuit"
    """The broker circuit breaker changed state."""
    STREAM = "stream"
    """The order-update stream started."""
    ADOPTED = "adopted"
    """An order found at the broker that the journal did not know, taken into the book by reconciliation."""
    ORDER_GROUP = "order_group"
    """A bracket, OCO or OTO group (journaled once, before any of its legs is sent): the payload holds the group and
    its legs' client order ids (:mod:`execlab._oms.order_groups`)."""
    RECONCILE = "reconcile"
    """The outcome of a reconciliation with the broker: the trading state it set."""
    KILL_SWITCH = "kill_switch"
    """Trading halted or resumed by the kill switch."""
    POSITIONS_SNAPSHOT = "positions_snapshot"
    """The broker's positions when a rebalance started."""
    RUN = "run"
    """What the run is: its ``mode``, ``venue`` (the broker's name, ``sim`` for the local simulated venue) and
    ``strategy_id``; written by :meth:`execlab.Journal.record_run` when a run starts and they are not yet known."""
    PARENT = "parent"
    """A parent order of an execution algorithm (``client_order_id`` is the parent's id, the payload its symbol, side,
    quantity, arrival price and parameters): journaled once, never sent; its children are intents naming it."""
