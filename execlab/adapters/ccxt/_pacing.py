"""``WeightPacer``: never send more request weight than an exchange allows in its rolling window, following the
weight the exchange reports (Binance's ``X-MBX-USED-WEIGHT-1M``) so that other clients on the same IP, or an earlier
process, still leave this one without a 429 (and so without the 418 ban that follows ignored 429s).

A request holds its weight from the moment it is sent; its window is counted from its answer (the exchange counted
it earlier, so its window ends first). Weight the exchange reports beyond this pacer's own is someone else's: it is
counted as used until one window after it was seen. A 429 / 418 holds every request for its ``Retry-After``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Final

__all__ = ["PacingStats", "WeightPacer"]

_INFLIGHT: Final = float("inf")


@dataclass(frozen=True, slots=True)
class PacingStats:
    """What the pacer did: requests, weight sent, seconds waited, holds from the exchange (429/418 or foreign
    weight)."""

    requests: int
    weight: int
    waited_seconds: float
    holds: int


@dataclass(slots=True)
class _Entry:
    at: float
    weight: int


class WeightPacer:
    """Rolling-window weight pacing (``limit`` per ``window`` seconds)."""

    def __init__(self, limit: int, window: float = 60.0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if limit <= 0 or window <= 0:
            raise ValueError("limit and window must be positive")
        self.limit = int(limit)
        self.window = float(window)
        self._clock, self._sleep = clock, sleep
        self._own: deque[_Entry] = deque()
        self._foreign: deque[_Entry] = deque()
        self._hold_until = 0.0
        self._cond = threading.Condition()
        self._requests = self._weight = self._holds = 0
        self._waited = 0.0

    def _trim(self, now: float) -> tuple[int, int]:
        for log in (self._own, self._foreign):
            while log and log[0].at != _INFLIGHT and log[0].at <= now - self.window:
                log.popleft()
        return sum(e.weight for e in self._own), sum(e.weight for e in self._foreign)

    def _next_free(self, now: float) -> float:
        times = [e.at + self.window for e in (*self._own, *self._foreign) if e.at != _INFLIGHT]
        return min(times) if times else now + 0.01

    @contextmanager
    def request(self, weight: int = 1) -> Iterator[Callable[[int | None], None]]:
        """Wait until ``weight`` fits, then hold it for the request; the yielded function takes the weight the
        exchange reported in its answer (None when it did not)."""
        weight = min(int(weight), self.limit)
        entry = _Entry(_INFLIGHT, weight)
        started = self._clock()
        with self._cond:
            while True:
                now = self._clock()
                own, foreign = self._trim(now)
                if now >= self._hold_until and own + foreign + weight <= self.limit:
                    break
                wake = self._hold_until if now < self._hold_until else self._next_free(now)
                self._cond.release()
                try:
                    self._sleep(max(0.0, min(wake - now, self.window)) + 0.001)
                finally:
                    self._cond.acquire()
            self._own.append(entry)
            self._requests += 1
            self._weight += weight
            self._waited += self._clock() - started
        reported: list[int | None] = [None]
        try:
            yield lambda used: reported.__setitem__(0, used)
        finally:
            with self._cond:
                entry.at = self._clock()
                self._own = deque(sorted(self._own, key=lambda e: e.at))
                if reported[0] is not None:
                    self._observe(reported[0], entry.at)
                self._cond.notify_all()

    def _observe(self, used: int, now: float) -> None:
        own, foreign = self._trim(now)
        excess = used - own - foreign
        if excess > 0:
            self._foreign.append(_Entry(now, excess))
            self._holds += 1

    def set_limit(self, limit: int, window: float) -> None:
        """Pace to the limit the exchange states (what was sent stays counted)."""
        if limit <= 0 or window <= 0:
            raise ValueError("limit and window must be positive")
        with self._cond:
            self.limit, self.window = int(limit), float(window)
            self._cond.notify_all()

    def hold(self, seconds: float) -> None:
        """The exchange refused a request (429 / 418): send nothing for ``seconds``."""
        with self._cond:
            self._hold_until = max(self._hold_until, self._clock() + max(0.0, seconds))
            self._holds += 1

    def stats(self) -> PacingStats:
        """Counts so far."""
        with self._cond:
            return PacingStats(self._requests, self._weight, self._waited, self._holds)
