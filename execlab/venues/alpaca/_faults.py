"""Alpaca's fault defaults and its rate-limit headers (the knobs, draws and limiter are the venue base's)."""

from __future__ import annotations

from dataclasses import dataclass

from execlab.venues._base.faults import FaultKnobs
from execlab.venues._base.rate_limit import RateDecision

__all__ = ["AlpacaFaults", "rate_limit_headers"]


@dataclass
class AlpacaFaults(FaultKnobs):
    """:class:`FaultKnobs` with Alpaca's paths: hangs hit order submissions (``POST /v2/orders``) by default.
    Note alpaca-py retries 429 and 504 itself."""

    hang_match: str = "POST /v2/orders"


def rate_limit_headers(decision: RateDecision) -> dict[str, str]:
    """The three rate-limit headers Alpaca sends on every answer."""
    return {"X-Ratelimit-Limit": str(decision.limit), "X-Ratelimit-Remaining": str(decision.remaining),
            "X-Ratelimit-Reset": str(decision.reset)}
