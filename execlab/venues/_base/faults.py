"""Fault knobs of a local venue and the seeded draws that apply them to requests and orders.

The server draws an :class:`Injection` per API request (delay, 5xx before or after the request takes effect, hang);
the account asks :meth:`FaultInjector.take_reject` per accepted order and reads the partial-fill ratio; the stream hub
reads the stream knobs. A venue with other defaults subclasses :class:`FaultKnobs`.
"""

from __future__ import annotations

import math
import random
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

__all__ = ["FaultInjector", "FaultKnobs", "Injection"]


@dataclass
class FaultKnobs:
    """What a local venue does wrong, on purpose. Set attributes in-process, or ``POST /_faults`` with a JSON object.

    A ``*_match`` knob limits a fault to requests whose ``"METHOD /path"`` starts with it (``""``: every API
    request, ``"POST /v2/orders"``: Alpaca's order submissions only; a venue may subclass to change defaults).
    Probabilities are drawn from a generator seeded by ``seed``, so a run is repeatable.
    ``next_*`` counters are used up one request (or order) at a time and take precedence over the probabilities.
    """

    error_rate: float = 0.0
    """Probability that a request is answered with ``error_status`` instead of being processed."""
    next_errors: int = 0
    """The next N matching requests are answered with ``error_status``."""
    error_status: int = 500
    """The 5xx status of injected errors (500, 502, 503 or 504)."""
    error_match: str = ""
    error_after_apply: bool = False
    """Process the request first, then answer 5xx anyway: the order exists although the client saw an error."""
    delay_seconds: float = 0.0
    """Every matching request is answered this much later (slow responses)."""
    delay_match: str = ""
    next_hangs: int = 0
    """The next N matching requests hang for ``hang_seconds``: longer than the client's timeout."""
    hang_rate: float = 0.0
    hang_seconds: float = 5.0
    hang_match: str = ""
    hang_apply: Literal["before", "after"] = "before"
    """``before``: the request takes effect at once and only the answer is late (the order went through);
    ``after``: it takes effect when the hang ends."""
    next_rejects: int = 0
    """The next N accepted orders are created, then rejected (status ``rejected``, a ``rejected`` event)."""
    partial_fill_ratio: float | None = None
    """When set, an order's first fill is at most this fraction of its quantity (whole shares stay whole); the rest
    fills at the symbol's next quote (an IOC order cancels it)."""
    stream_drop_after: int = 0
    """Drop each stream connection abruptly (no close frame) once it has sent this many updates; 0 never drops.
    The client reconnects; updates published while it is away are not replayed."""
    stream_delay_seconds: float = 0.0
    """Every update reaches stream clients this much later than it happened (order kept)."""
    seed: int = 0

    def update(self, changes: dict[str, Any]) -> None:
        """Apply ``changes`` after checking every key and value; on error nothing changes."""
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise ValueError(f"unknown fault knob(s) {unknown}; known: {sorted(known)}")
        trial = type(self)(**{**asdict(self), **changes})
        trial.check()
        for name in changes:
            setattr(self, name, getattr(trial, name))

    def check(self) -> None:
        """Raise ValueError naming the first invalid knob."""
        for name in ("error_rate", "hang_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name}: must be a probability in [0, 1], got {value!r}")
        for name in ("next_errors", "next_hangs", "next_rejects", "stream_drop_after", "seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name}: must be a non-negative integer, got {value!r}")
        for name in ("delay_seconds", "hang_seconds", "stream_delay_seconds"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value < math.inf:
                raise ValueError(f"{name}: must be a non-negative number of seconds, got {value!r}")
        if not isinstance(self.error_status, int) or not 500 <= self.error_status <= 599:
            raise ValueError(f"error_status: must be a 5xx status, got {self.error_status!r}")
        for name in ("error_match", "delay_match", "hang_match"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"{name}: must be a string like 'POST /v2/orders'")
        if self.hang_apply not in ("before", "after"):
            raise ValueError(f"hang_apply: must be 'before' or 'after', got {self.hang_apply!r}")
        if not isinstance(self.error_after_apply, bool):
            raise ValueError(f"error_after_apply: must be true or false, got {self.error_after_apply!r}")
        ratio = self.partial_fill_ratio
        if ratio is not None and (isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio < 1):
            raise ValueError(f"partial_fill_ratio: must be null or in (0, 1), got {ratio!r}")

    def to_dict(self) -> dict[str, Any]:
        """The knobs as a JSON-ready mapping."""
        return asdict(self)


@dataclass(frozen=True)
class Injection:
    """The faults drawn for one request."""

    delay: float = 0.0
    error_status: int | None = None
    error_after_apply: bool = False
    hang: float = 0.0
    hang_after: bool = False


class FaultInjector:
    """Draws the faults of each request from :class:`FaultKnobs`, thread-safely and repeatably."""

    def __init__(self, faults: FaultKnobs | None = None) -> None:
        self.faults = faults if faults is not None else FaultKnobs()
        self.faults.check()
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._seed = self.faults.seed
        self.counts: dict[str, int] = {"errors": 0, "delays": 0, "hangs": 0, "rejects": 0}

    def update(self, changes: dict[str, Any]) -> None:
        """Change knobs (see :meth:`FaultKnobs.update`); a new ``seed`` restarts the draws."""
        with self._lock:
            self.faults.update(changes)
            if "seed" in changes:
                self._reseed()

    def _reseed(self) -> None:
        self._rng = random.Random(self.faults.seed)
        self._seed = self.faults.seed

    def reset(self) -> None:
        """Back to no faults at all."""
        with self._lock:
            clean = type(self.faults)()
            for f in fields(clean):
                setattr(self.faults, f.name, getattr(clean, f.name))
            self._reseed()

    def draw(self, method: str, path: str) -> Injection:
        """The delay, error and hang to inject into one request."""
        key = f"{method} {path}"
        f = self.faults
        with self._lock:
            if f.seed != self._seed:  # the seed was assigned directly
                self._reseed()
            delay = f.delay_seconds if f.delay_seconds > 0 and key.startswith(f.delay_match) else 0.0
            if delay:
                self.counts["delays"] += 1
            status: int | None = None
            if key.startswith(f.error_match):
                if f.next_errors > 0:
                    f.next_errors -= 1
                    status = f.error_status
                elif f.error_rate > 0 and self._rng.random() < f.error_rate:
                    status = f.error_status
            if status is not None:
                self.counts["errors"] += 1
                return Injection(delay, status, f.error_after_apply)
            hang = 0.0
            if key.startswith(f.hang_match):
                if f.next_hangs > 0:
                    f.next_hangs -= 1
                    hang = f.hang_seconds
                elif f.hang_rate > 0 and self._rng.random() < f.hang_rate:
                    hang = f.hang_seconds
            if hang:
                self.counts["hangs"] += 1
            return Injection(delay, None, False, hang, f.hang_apply == "after")

    def take_reject(self) -> bool:
        """True when the order being accepted is to be rejected (uses up one ``next_rejects``)."""
        with self._lock:
            if self.faults.next_rejects > 0:
                self.faults.next_rejects -= 1
                self.counts["rejects"] += 1
                return True
            return False

    @property
    def partial_fill_ratio(self) -> float | None:
        """The current partial-fill knob."""
        return self.faults.partial_fill_ratio
