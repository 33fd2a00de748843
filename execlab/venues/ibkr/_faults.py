"""The faults a real TWS or IB Gateway shows, as knobs on top of the venue base's.

The base knobs keep their meaning where the TWS protocol has one: a request's ``"METHOD /path"`` key is
``"API <request>"`` here (``"API placeOrder"``, ``"API cancelOrder"``, ``"API reqExecutions"``); ``delay_seconds`` and
hangs delay the answer to a matching request (slow acks: the order takes effect at once, its acknowledgement comes
late, unless ``hang_apply="after"``); an injected "5xx" drops the client's socket (before the request takes effect,
or after it with ``error_after_apply``: the order exists, the client never heard); ``next_rejects`` rejects orders
with error 201; ``partial_fill_ratio`` caps first fills. IB's own knobs are below. Connectivity loss (1100, then 1101
or 1102) and a gateway restart (which may roll ``nextValidId`` back) are venue methods, since they are events rather
than probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

from execlab.venues._base.faults import FaultKnobs

__all__ = ["IBFaults"]


@dataclass
class IBFaults(FaultKnobs):
    """:class:`FaultKnobs` plus the TWS-specific ones; hangs hit order placements by default."""

    hang_match: str = "API placeOrder"
    max_messages_per_second: int = 50
    """IB's pacing limit per connection: a message beyond it is refused with error 100 (0: no limit)."""
    next_pacing_errors: int = 0
    """The next N ``placeOrder`` messages are refused with error 100 as if over the limit (a gateway counting
    differently from the client's throttle); the order is not placed."""
    disconnect_on_pacing: bool = False
    """Also drop the connection on a pacing violation (as older gateways did)."""
    drop_after_messages: int = 0
    """Drop each client's socket once the venue has sent it this many messages (mid-batch); 0 never drops."""
    next_cancels: int = 0
    """The next N accepted orders are cancelled by the venue right after their acknowledgement (error 202)."""

    def check(self) -> None:
        """Raise ValueError naming the first invalid knob."""
        super().check()
        for name in ("max_messages_per_second", "next_pacing_errors", "drop_after_messages", "next_cancels"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name}: must be a non-negative integer, got {value!r}")
        if not isinstance(self.disconnect_on_pacing, bool):
            raise ValueError(f"disconnect_on_pacing: must be true or false, got {self.disconnect_on_pacing!r}")
