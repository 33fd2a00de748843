"""``RateLimiter``: rolling-window request limits per key, with request weights, as a broker's API enforces them."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

__all__ = ["RateDecision", "RateLimiter"]


@dataclass(frozen=True)
class RateDecision:
    """Whether a request may proceed, with the figures a venue puts in its rate-limit headers: ``used`` weight in
    the window, ``limit``, ``remaining``, ``reset`` (epoch seconds when the oldest request leaves the window) and
    ``retry_after`` (seconds until this request would fit; 0 when allowed)."""

    allowed: bool
    limit: int
    remaining: int
    reset: int
    used: int = 0
    retry_after: float = 0.0


class RateLimiter:
    """At most ``limit`` weight per key in any rolling ``window`` seconds; refused requests do not count."""

    def __init__(self, limit: int = 200, window: float = 60.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError(f"rate limit must be >= 1 request per > 0 seconds, got {limit} per {window}")
        self.limit = int(limit)
        self.window = float(window)
        self._hits: dict[str, deque[tuple[float, int]]] = {}
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, consume: bool = True, weight: int = 1) -> RateDecision:
        """Count one request of ``key`` weighing ``weight`` (unless ``consume`` is False); say whether it is
        allowed."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque()) if consume else self._hits.get(key, deque())
            used = self._used.get(key, 0)
            while hits and hits[0][0] <= now - self.window:
                used -= hits.popleft()[1]
            allowed = used + weight <= self.limit
            if allowed and consume:
                hits.append((now, weight))
                used += weight
            if consume:
                self._used[key] = used
            oldest = hits[0][0] if hits else now
            reset = math.ceil(time.time() + (oldest + self.window - now))
            retry = 0.0
            if not allowed:
                # the earliest moment enough weight has left the window
                freed, need = 0, used + weight - self.limit
                for at, w in hits:
                    freed += w
                    if freed >= need:
                        retry = max(at + self.window - now, 0.0)
                        break
            return RateDecision(allowed, self.limit, max(self.limit - used, 0), reset, used, retry)
