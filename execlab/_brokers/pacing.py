"""Request pacing: never send a broker more requests than its rolling-window rate limit allows.

:class:`RequestPacer` keeps a log of the requests sent in a pyrate-limiter bucket (``Rate(limit, window)``, the
sliding-window log, a monotonic clock). The whole burst is used: a fresh pacer sends ``limit`` requests at once and
then one more each time the oldest request leaves the window, the same rolling window the broker counts with, so
``N`` requests take about ``floor((N - 1) / limit) * window`` seconds, not a slow uniform drip.

A request holds its slot from the moment it is sent until its answer has arrived, and the window of a slot is counted
from that answer. The broker counted the request somewhere in between, so its window always ends before ours: no
network delay can make the pacer send early.

The broker's own view wins where it is stricter: an adapter passes each answer's rate-limit headers to
:meth:`RequestPacer.observe`. When the broker says no request is left although this pacer has not used the limit
(another client on the same key, a previous process of this one), every request waits for the broker's reset. A
broker that states its limit is followed (Alpaca states it on every answer); the configured limit holds until then.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from operator import attrgetter
from typing import TYPE_CHECKING, Final

from pyrate_limiter import AbstractClock, InMemoryBucket, Limiter, Rate, RateItem, SingleBucketFactory

if TYPE_CHECKING:
    from execlab._config import BrokerConfig

__all__ = ["PacerStats", "RequestPacer"]

_NAME: Final = "broker"
_LEAK_EVERY: Final = 256
"""Forget requests older than the window once every this many requests (the log stays small)."""
_timestamp = attrgetter("timestamp")


@dataclass(frozen=True, slots=True)
class PacerStats:
    """What a pacer did so far."""

    requests: int
    """Requests let through."""
    waited_seconds: float
    """Time spent waiting for the rate limit (own window, broker resets, 429s)."""
    broker_holds: int
    """Times the broker's headers said the limit was used up by requests this pacer had not made."""
    rate_limited: int
    """Answers 429 (too many requests) reported by the caller: with a working pacer, zero."""
    limit: int
    """The limit in force (the broker's, once it stated one)."""


class _Clock(AbstractClock):
    """pyrate-limiter's clock over a callable returning seconds (monotonic by default)."""

    def __init__(self, seconds: Callable[[], float]):
        self._seconds = seconds

    def now(self) -> int:
        return _ms(self._seconds())


def _ms(seconds: float) -> int:
    return math.floor(seconds * 1000)


class RequestPacer:
    """At most ``limit`` requests in any rolling ``window`` seconds, using the whole burst.

    Wrap every request in :meth:`request` (``with pacer.request(): send()``); it blocks until the request may go.
    ``clock`` (monotonic seconds), ``wall_clock`` (epoch seconds, to read a broker's reset time) and ``sleep`` can be
    replaced in tests. One pacer may be shared by several executors and threads that use the same API key.

    Args:
        limit: requests allowed in any rolling ``window``; replaced by the broker's figure once it states one
            (:meth:`observe`), unless ``follow_broker_limit`` is False.
        window: the rolling window in seconds.
        follow_broker_limit: adopt the limit a broker states in its answers (higher or lower).
    """

    def __init__(self, limit: int = 200, window: float = 60.0, *, follow_broker_limit: bool = True,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit: must be an integer >= 1, got {limit!r}")
        if not (isinstance(window, int | float) and math.isfinite(window) and window > 0):
            raise ValueError(f"window: must be a finite number of seconds > 0, got {window!r}")
        self._window = float(window)
        self._interval_ms = max(1, math.ceil(self._window * 1000))
        self._limit = limit
        self._follow = follow_broker_limit
        self._clock = clock
        self._wall = wall_clock
        self._sleep = sleep
        self._bucket = InMemoryBucket([Rate(limit, self._interval_ms)])
        self._bucket._clock = _Clock(clock)
        # Leaking is done inline (every _LEAK_EVERY requests), not by pyrate-limiter's background thread.
        self._limiter = Limiter(SingleBucketFactory(self._bucket, schedule_leak=False))
        self._lock = threading.RLock()
        self._hold_until = -math.inf
        self._in_flight: list[RateItem] = []
        self._requests = 0
        self._waited = 0.0
        self._holds = 0
        self._rate_limited = 0

    @classmethod
    def from_config(cls, broker: BrokerConfig) -> RequestPacer:
        """A pacer with the broker config's ``rate_limit_per_minute`` per ``rate_window_seconds``."""
        return cls(broker.rate_limit_per_minute, broker.rate_window_seconds)

    @property
    def limit(self) -> int:
        """Requests allowed in any rolling window (the broker's figure once it stated one)."""
        return self._limit

    @property
    def window(self) -> float:
        """The rolling window in seconds."""
        return self._window

    @property
    def stats(self) -> PacerStats:
        """Counts so far."""
        with self._lock:
            return PacerStats(self._requests, self._waited, self._holds, self._rate_limited, self._limit)

    def __repr__(self) -> str:
        return f"RequestPacer(limit={self._limit}, window={self._window:g})"

    # -- pacing ---------------------------------------------------------------------------------------------
    @contextmanager
    def request(self) -> Iterator[None]:
        """Wait until one request may be sent, then hold its slot; the slot's window starts when the block ends."""
        item = self._acquire()
        try:
            yield
        finally:
            self._done(item)

    def _acquire(self) -> RateItem:
        while True:
            with self._lock:
                now = self._clock()
                wait = self._hold_until - now
                if wait <= 0:
                    if self._limiter.try_acquire(_NAME, blocking=False):
                        item = self._bucket.peek(0)  # the one just put: every put goes through this lock
                        assert isinstance(item, RateItem)
                        self._in_flight.append(item)
                        self._requests += 1
                        if self._requests % _LEAK_EVERY == 0:
                            self._bucket.leak(_ms(now))
                        return item
                    wait_ms = self._bucket.waiting(RateItem(_NAME, _ms(now)))
                    assert isinstance(wait_ms, int)
                    wait = max(wait_ms, 1) / 1000
                self._waited += wait
            self._sleep(wait)

    def _done(self, item: RateItem) -> None:
        with self._lock:
            self._in_flight.remove(item)
            stamp = _ms(self._clock())
            if stamp > item.timestamp:
                item.timestamp = stamp
                items = self._bucket.items
                # Requests sharing the pacer may finish out of order; the log must stay sorted by time.
                if items and items[-1] is not item:
                    items.sort(key=_timestamp)

    def _counted_by_broker(self, now: float) -> int:
        """How many of our requests the broker may count in the window of the answer being observed.

        The broker counted at the moment it received the request in flight (the oldest, if several are), not now:
        every request of ours it still counts was answered less than one window before that request was sent.
        """
        since = min(i.timestamp for i in self._in_flight) if self._in_flight else _ms(now)
        items = self._bucket.items
        return len(items) - bisect_left(items, since - self._interval_ms, key=_timestamp)

    # -- the broker's view ----------------------------------------------------------------------------------
    def observe(self, limit: int | None = None, remaining: int | None = None, reset_at: float | None = None) -> None:
        """Take in a broker's rate-limit headers: its ``limit``, the ``remaining`` requests and, as epoch
        seconds, when the oldest counted request leaves its window (``reset_at``).

        A stated limit is adopted. When nothing remains but this pacer has sent fewer than the limit within its
        window, someone else is using the key: every request waits until ``reset_at``.
        """
        with self._lock:
            now = self._clock()
            if limit is not None and limit >= 1 and limit != self._limit and self._follow:
                self._limit = int(limit)
                self._bucket.rates = [Rate(self._limit, self._interval_ms)]
            if remaining is not None and remaining <= 0 and reset_at is not None \
                    and self._counted_by_broker(now) < self._limit:
                self._hold(now, reset_at - self._wall(), counted=True)

    def rate_limited(self, retry_after: float | None = None) -> None:
        """A request was answered 429 anyway: count it and hold every request ``retry_after`` seconds (a whole
        window when the broker did not say; at least a tenth of the window, up to a second, against clock skew)."""
        with self._lock:
            self._rate_limited += 1
            floor = min(1.0, self._window / 10)
            self._hold(self._clock(), max(floor, self._window if retry_after is None else retry_after), counted=False)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds``."""
        with self._lock:
            self._hold(self._clock(), seconds, counted=False)

    def _hold(self, now: float, seconds: float, counted: bool) -> None:
        # A reset time further than one window away can only be clock skew between us and the broker.
        until = now + max(0.0, min(seconds, self._window + 1.0))
        if until > self._hold_until:
            self._hold_until = until
            if counted:
                self._holds += 1
