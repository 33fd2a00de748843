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
Every answer's ``remaining`` is compared with what this pacer sent within the window: requests the broker counted
that are not ours (another client on the key) are entered in the pacer's log as if sent now (one of them leaving at
the broker's reset), and for one window after that the pacer keeps two requests in reserve (the other client's
request in flight), so two clients on one key share the limit instead of both spending it.

A pacer given a ``state_path`` (:meth:`RequestPacer.from_config` picks one per broker, endpoint and key, under
``$EXECLAB_PACER_DIR`` or ``~/.cache/execlab/pacing``) writes the send times in its window there as it goes (under a
writer id of its own) and enters those of the other writers before each request: a process restarted after a crash
does not spend a burst the broker still counts, and two processes on one key and machine share the limit exactly.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
import uuid
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pyrate_limiter import AbstractClock, InMemoryBucket, Limiter, Rate, RateItem, SingleBucketFactory

if TYPE_CHECKING:
    from execlab._config import BrokerConfig

__all__ = ["PACER_DIR_ENV", "PacerStats", "RequestPacer", "default_state_path"]

#: The environment variable naming the directory of pacer state files.
PACER_DIR_ENV: Final = "EXECLAB_PACER_DIR"
_NAME: Final = "broker"
_RESERVE: Final = 2
"""Requests kept in reserve while another client uses the key (its request in flight, and its reset rounding)."""
_FOREIGN: Final = "foreign"
_SHARED: Final = "shared"
"""The name of log entries another pacer on the key wrote into the state file."""
"""The name of log entries standing for requests another client sent."""
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
    foreign: int = 0
    """Requests the broker counted on the key that this pacer did not send (other clients, earlier processes)."""


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
        state_path: a file keeping the send times of the window across processes (None: memory only).
    """

    def __init__(self, limit: int = 200, window: float = 60.0, *, follow_broker_limit: bool = True,
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep, state_path: Path | str | None = None):
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
        self._local = threading.local()
        """``unused``: whether the slot this thread holds (:meth:`request`) has not been spent by
        :meth:`each_request` yet."""
        self._hold_until = -math.inf
        self._in_flight: list[RateItem] = []
        self._requests = 0
        self._waited = 0.0
        self._holds = 0
        self._rate_limited = 0
        self._foreign = 0
        self._shared_until = -math.inf
        self._state_path = None if state_path is None else Path(state_path)
        self._writer = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._seen_other: dict[str, float] = {}
        self._seen_in_flight: set[tuple[str, float]] = set()
        if self._state_path is not None:
            self._sync_shared(self._clock())

    @classmethod
    def from_config(cls, broker: BrokerConfig, *, state_path: Path | str | bool | None = True) -> RequestPacer:
        """A pacer with the broker config's ``rate_limit_per_minute`` per ``rate_window_seconds``; its window is
        kept in :func:`default_state_path` (``state_path=True``: for a broker with a ``base_url``), a given file,
        or nowhere (``None``/``False``)."""
        path: Path | str | None
        if state_path is True:
            known = getattr(broker, "name", "sim") != "sim" and getattr(broker, "base_url", None)
            path = default_state_path(broker) if known else None
        else:
            path = state_path or None
        return cls(broker.rate_limit_per_minute, broker.rate_window_seconds, state_path=path)

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
            return PacerStats(self._requests, self._waited, self._holds, self._rate_limited, self._limit,
                              self._foreign)

    def __repr__(self) -> str:
        return f"RequestPacer(limit={self._limit}, window={self._window:g})"

    # -- pacing ---------------------------------------------------------------------------------------------
    @contextmanager
    def request(self) -> Iterator[None]:
        """Wait until one request may be sent, then hold its slot; the slot's window starts when the block ends."""
        item = self._acquire()
        outer = getattr(self._local, "unused", False)
        self._local.unused = True
        try:
            yield
        finally:
            self._local.unused = outer
            self._done(item)

    @contextmanager
    def each_request(self) -> Iterator[None]:
        """Wrap every request of a call that may send several: the first one inside :meth:`request` spends that
        slot, each further one (and one outside any :meth:`request`) waits for a slot of its own."""
        if getattr(self._local, "unused", False):
            self._local.unused = False
            yield
            return
        with self.request():
            self._local.unused = False
            yield

    def _set_rate(self, now: float) -> None:
        """The bucket's limit: the limit in force, less a reserve while another client uses the key."""
        reserve = min(_RESERVE, self._limit - 1) if now < self._shared_until else 0
        want = self._limit - reserve
        if self._bucket.rates[0].limit != want:
            self._bucket.rates = [Rate(want, self._interval_ms)]

    def _acquire(self) -> RateItem:
        while True:
            with self._lock:
                now = self._clock()
                self._sync_shared(now)
                self._set_rate(now)
                wait = self._hold_until - now
                if wait <= 0:
                    if self._limiter.try_acquire(_NAME, blocking=False):
                        item = self._bucket.peek(0)  # the one just put: every put goes through this lock
                        assert isinstance(item, RateItem)
                        self._in_flight.append(item)
                        self._requests += 1
                        if self._requests % _LEAK_EVERY == 0:
                            self._bucket.leak(_ms(now))
                        self._save(now)
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
            self._save(self._clock())

    def _counted_by_broker(self, now: float) -> int:
        """How many of our requests the broker may count in the window of the answer being observed.

        The broker counted at the moment it received the request in flight (the oldest, if several are), not now:
        every request of ours it still counts was answered less than one window before that request was sent.
        """
        return len(self._counted_items(now))

    def _counted_items(self, now: float) -> list[RateItem]:
        since = min(i.timestamp for i in self._in_flight) if self._in_flight else _ms(now)
        items = self._bucket.items
        return items[bisect_left(items, since - self._interval_ms, key=_timestamp):]

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
                self._set_rate(now)
            window = self._counted_items(now)
            counted = len(window)
            if remaining is not None and remaining <= 0 and reset_at is not None and counted < self._limit:
                self._hold(now, reset_at - self._wall(), counted=True)
            if remaining is not None and remaining > 0:
                own = sum(1 for i in window if i.name == _NAME)
                if self._limit - remaining > own:  # someone else is using the key: keep the reserve
                    self._shared_until = now + self._window
                    self._set_rate(now)
            if remaining is not None:
                self._enter_foreign(now, self._limit - max(int(remaining), 0) - counted,
                                    reset_at if remaining <= 0 else None)

    def _enter_foreign(self, now: float, foreign: int, reset_at: float | None) -> None:
        """Log ``foreign`` requests the broker counted but we did not send, as sent now, and keep requests in
        reserve for a window; when the broker said nothing remains (``reset_at`` given), one of them leaves at its
        reset instead, when the hold ends."""
        if foreign <= 0:
            return
        self._foreign += foreign
        if reset_at is None:
            self._shared_until = now + self._window
            self._set_rate(now)
        stamps = [_ms(now)] * foreign
        if reset_at is not None:
            leaves = min(max(reset_at - self._wall(), 0.0), self._window)
            stamps[0] = _ms(now + leaves - self._window) - 1  # gone by the reset itself
        items = self._bucket.items
        for stamp in stamps:
            insort(items, RateItem(_FOREIGN, stamp), key=_timestamp)
        self._save(now)

    # -- state across processes -----------------------------------------------------------------------------
    def _save(self, now: float) -> None:
        """Write this pacer's send times (epoch seconds) still in the window into the state file, beside those of
        other pacers on the key (each under its own writer id), in place and under a lock."""
        path = self._state_path
        if path is None:
            return
        offset = self._wall() - now
        start = _ms(now) - self._interval_ms
        flying = {id(i) for i in self._in_flight}
        mine = [i.timestamp / 1000 + offset for i in self._bucket.items
                if i.name == _NAME and i.timestamp > start and id(i) not in flying]
        sending = [round(i.timestamp / 1000 + offset, 3) for i in self._in_flight]
        cutoff = self._wall() - self._window
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with _locked(path):
                data = _load_state(path)
                self._enter_shared(now, data)  # what others wrote since we looked (entered once each)
                writers = {w: [t for t in sent if t > cutoff] for w, sent in _part(data, "writers").items()
                           if w != self._writer}
                writers[self._writer] = mine
                in_flight = {w: sent for w, sent in _part(data, "in_flight").items() if w != self._writer}
                in_flight[self._writer] = sending
                _rewrite(path, json.dumps({"window": self._window,
                                           "writers": {w: v for w, v in writers.items() if v},
                                           "in_flight": {w: v for w, v in in_flight.items() if v}}))
        except OSError:  # pacing must not fail a request because a cache file cannot be written
            pass

    def _sync_shared(self, now: float) -> None:
        """Enter the send times other pacers on the key (other processes, an earlier one) wrote since we looked."""
        path = self._state_path
        if path is None or not path.exists():
            return
        try:
            with _locked(path):  # written in place: read whole under the writers' lock
                data = _load_state(path)
        except OSError:
            return
        self._enter_shared(now, data)

    def _enter_shared(self, now: float, data: dict[str, Any]) -> None:
        """Enter the send times of the other writers in a state file's ``data`` that we have not entered yet."""
        offset = self._wall() - now
        items = self._bucket.items
        # A request another writer has in flight was (or will be) counted by the broker at some time we cannot
        # know: it is entered as sent now (a dead writer sends nothing more; a live one writes its answer time
        # when it comes, entered again below). Stamped at its start, it would leave our window early.
        listed = {(w, epoch) for w, sending in _part(data, "in_flight").items() if w != self._writer
                  for epoch in sending}
        for _ in listed - self._seen_in_flight:
            insort(items, RateItem(_SHARED, _ms(now)), key=_timestamp)
        self._seen_in_flight = listed
        for writer, sent in _part(data, "writers").items():
            if writer == self._writer:
                continue
            seen = self._seen_other.get(writer, -math.inf)
            fresh = [t for t in sent if t > seen]
            if not fresh:
                continue
            self._seen_other[writer] = max(fresh)
            for epoch in fresh:
                stamp = _ms(epoch - offset)
                if stamp > _ms(now) - self._interval_ms:
                    insort(items, RateItem(_SHARED, min(stamp, _ms(now))), key=_timestamp)

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


def default_state_path(broker: BrokerConfig) -> Path:
    """Where the pacer of ``broker`` keeps its window: one file per broker name, endpoint and API key (hashed),
    under ``$EXECLAB_PACER_DIR`` or ``~/.cache/execlab/pacing``."""
    key = getattr(broker, "api_key", None)
    secret_key = str(key.get_secret_value() if key is not None and hasattr(key, "get_secret_value") else key or "")
    ident = "\0".join(str(x) for x in (getattr(broker, "name", ""), getattr(broker, "base_url", "") or "",
                                        getattr(broker, "account_id", "") or "", secret_key))
    digest = hashlib.sha256(ident.encode()).hexdigest()[:24]
    root = os.environ.get(PACER_DIR_ENV) or str(Path.home() / ".cache" / "execlab" / "pacing")
    return Path(root) / f"{digest}.json"


def _load_state(path: Path) -> dict[str, Any]:
    """A state file's content (empty when missing or unreadable)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _part(data: dict[str, Any], part: str) -> dict[str, list[float]]:
    """``{writer: [epoch seconds]}`` of a state file's answered requests (``writers``) or those in flight
    (``in_flight``); empty when malformed."""
    try:
        writers = data.get(part, {})
        return {str(w): [float(t) for t in sent] for w, sent in writers.items()}
    except (ValueError, TypeError, AttributeError):
        return {}


def _rewrite(path: Path, text: str) -> None:
    """Replace ``path``'s content with ``text`` in place; call it holding :func:`_locked` (readers hold it too).

    Not a temporary file renamed over ``path``: on ext4 (``auto_da_alloc``) every such rename flushes the new
    file's data to disk, about 3 ms, and a pacer writes its state twice per request. A writer killed mid-write
    leaves a file that does not parse: it reads as empty (the broker's own headers still pace the next request).
    Shorter text is padded with spaces (JSON ignores them) to the file's length, so the content is one ``pwrite``
    with no truncation after it: a kill between the two could not leave the old text's tail behind.
    """
    data = text.encode()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        os.pwrite(fd, data.ljust(size, b" "), 0)
    finally:
        os.close(fd)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path``'s lock file (where ``fcntl`` exists)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: last writer wins
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            with suppress(OSError):
                fcntl.flock(handle, fcntl.LOCK_UN)
