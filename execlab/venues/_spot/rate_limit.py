"""``RateLimiter``: request weight per key over a rolling window, as venues count it."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateDecision", "RateLimiter"]


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The answer for one request: whether it is allowed, the weight used in the window after it (a refused request
    counts too, as Binance counts it), the limit and the seconds until the oldest weight leaves the window."""

    allowed: bool
    used: int
    limit: int
    reset_after: float


class RateLimiter:
    """Rolling-window weight counter per key (an API key, an IP). ``limit`` 0 disables the limit (still counts)."""

    def __init__(self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = int(limit)
        self.window = float(window)
        self._clock = clock
        self._log: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    def _trim(self, log: deque[tuple[float, int]], now: float) -> int:
        while log and log[0][0] <= now - self.window:
            log.popleft()
        return sum(w for _, w in log)

    def hit(self, key: str, weight: int = 1) -> RateDecision:
        """Count a request of ``weight`` and say whether it stays within the limit."""
        with self._lock:
            now = self._clock()
            log = self._log.setdefault(key, deque())
            used = self._trim(log, now) + weight
            log.append((now, weight))
            reset = (log[0][0] + self.window - now) if log else self.window
            return RateDecision(self.limit <= 0 or used <= self.limit, used, self.limit, max(reset, 0.0))

    def used(self, key: str) -> int:
        """Weight used by ``key`` in the current window."""
        with self._lock:
            return self._trim(self._log.setdefault(key, deque()), self._clock())

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._log.clear()
