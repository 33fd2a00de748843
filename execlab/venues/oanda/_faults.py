"""OANDA's fault defaults: hangs hit order creation, and the streams can fall silent (the knobs, draws and limiter
are the venue base's)."""

from __future__ import annotations

from dataclasses import dataclass

from execlab.venues._base.faults import FaultKnobs

__all__ = ["OandaFaults"]


@dataclass
class OandaFaults(FaultKnobs):
    """:class:`FaultKnobs` with v20's paths (hangs match ``POST /v3/accounts``: order creation) and
    ``stream_silent``: the pricing and transaction streams stay open but send nothing, heartbeats included."""

    hang_match: str = "POST /v3/accounts"
    stream_silent: bool = False

    def check(self) -> None:
        """Raise ValueError naming the first invalid knob."""
        super().check()
        if not isinstance(self.stream_silent, bool):
            raise ValueError(f"stream_silent: must be true or false, got {self.stream_silent!r}")
