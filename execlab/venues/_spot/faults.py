"""``FaultKnobs``: faults a venue injects into its order route, counted down as they fire."""

from __future__ import annotations

import threading
from dataclasses import dataclass, fields
from typing import Any, Literal

__all__ = ["FaultKnobs"]

Fault = Literal["reject", "fail_before", "fail_after", "hang_after"]


@dataclass
class FaultKnobs:
    """How many of the next order requests get each fault.

    ``fail_before``: a 5xx, the order not taken. ``fail_after``: the order taken, then a 5xx. ``hang_after``: the
    order taken, the answer held ``hang_seconds`` (a client timeout). ``reject``: refused as the broker refuses.
    """

    reject: int = 0
    fail_before: int = 0
    fail_after: int = 0
    hang_after: int = 0
    hang_seconds: float = 30.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def take(self, fault: Fault) -> bool:
        """Whether the next request gets ``fault`` (and count it down)."""
        with self._lock:
            left = int(getattr(self, fault))
            if left <= 0:
                return False
            setattr(self, fault, left - 1)
            return True

    def update(self, values: dict[str, Any]) -> None:
        """Set knobs by name (ValueError naming an unknown one)."""
        names = {f.name for f in fields(self)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(unknown)} (known: {', '.join(sorted(names))})")
        with self._lock:
            for name, value in values.items():
                setattr(self, name, float(value) if name == "hang_seconds" else int(value))

    def as_dict(self) -> dict[str, Any]:
        """The knobs' values."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
