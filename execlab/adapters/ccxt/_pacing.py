"""``WeightPacer``: never send more request weight than an exchange allows in its rolling window, following the
weight the exchange reports (Binance's ``X-MBX-USED-WEIGHT-1M``) so that other clients on the same IP, or an earlier
process, still leave this one without a 429 (and so without the 418 ban that follows ignored 429s).

A request holds its weight from the moment it is sent; its window is counted from its answer (the exchange counted
it earlier, so its window ends first). Weight the exchange reports beyond this pacer's own is someone else's: it is
counted as used until one window after it was seen. A 429 / 418 holds every request for its ``Retry-After``.

Given a ``state_path``, the pacer writes its weight in the window there (under a writer id of its own, as the kit's
:class:`~execlab._brokers.pacing.RequestPacer` does with request counts) and counts the weight other writers put there:
a process restarted after a crash, or a second client on the key and machine, shares the limit instead of meeting a
429 before the exchange's headers told it of the other's weight. The file sums the weight per 1/200 of the window,
stamped at the slot's end (a reader frees it at most that much late): Binance's 6000 weight a minute would otherwise
be up to 6000 entries read and written twice per request.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from execlab._brokers.pacing import PACER_DIR_ENV, _locked, _rewrite

__all__ = ["PacingStats", "WeightPacer", "weight_state_path"]

_INFLIGHT: Final = float("inf")
_SLOTS: Final = 200
"""The state file sums a writer's weight per 1/200 of the window (stamped at the slot's end): its size, and the
time to read and write it on every request, stay bounded however many requests a window holds."""


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
    epoch: float = 0.0
    """Wall-clock time of the send, then of the answer (what the state file keeps)."""


class WeightPacer:
    """Rolling-window weight pacing (``limit`` per ``window`` seconds)."""

    def __init__(self, limit: int, window: float = 60.0, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, state_path: Path | str | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
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
        self._state_path = None if state_path is None else Path(state_path)
        self._wall = wall_clock
        self._writer = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        stated = self._read_limit()
        if stated is not None and stated[0] / stated[1] < self.limit / self.window:
            self.limit, self.window = stated  # the limit an earlier process learnt from the exchange

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
                with self._file_lock():  # deciding and entering the request is one step for every writer
                    state = self._read()
                    own, foreign = self._trim(now)
                    fits = now >= self._hold_until and own + foreign + self._shared(state) + weight <= self.limit
                    if fits:
                        entry.epoch = self._wall()
                        self._own.append(entry)
                        self._write(state)
                if fits:
                    break
                wake = self._hold_until if now < self._hold_until else self._next_free(now)
                self._cond.release()
                try:
                    self._sleep(max(0.0, min(wake - now, self.window)) + 0.001)
                finally:
                    self._cond.acquire()
            self._requests += 1
            self._weight += weight
            self._waited += self._clock() - started
        reported: list[int | None] = [None]
        try:
            yield lambda used: reported.__setitem__(0, used)
        finally:
            with self._cond:
                entry.at, entry.epoch = self._clock(), self._wall()
                self._own = deque(sorted(self._own, key=lambda e: e.at))
                with self._file_lock():
                    state = self._read()
                    if reported[0] is not None:
                        self._observe(reported[0], entry.at, state)
                    self._write(state)
                self._cond.notify_all()

    def _observe(self, used: int, now: float, state: dict[str, list[list[float]]]) -> None:
        own, foreign = self._trim(now)
        excess = used - own - foreign - self._shared(state)
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

    # -- state across processes -----------------------------------------------------------------------------
    def _read(self) -> dict[str, list[list[float]]]:
        """The writers' weight in the state file (call it holding the file lock; empty without a file)."""
        if self._state_path is None:
            return {}
        try:
            writers = json.loads(self._state_path.read_text()).get("writers", {})
            return {str(w): [[float(t), float(n)] for t, n in sent] for w, sent in writers.items()}
        except (OSError, ValueError, TypeError, AttributeError):
            return {}

    def _shared(self, state: dict[str, list[list[float]]]) -> int:
        """Weight other writers of the state file sent within the window."""
        cutoff = self._wall() - self.window
        return int(sum(n for w, sent in state.items() if w != self._writer for t, n in sent if t > cutoff))

    def _read_limit(self) -> tuple[int, float] | None:
        if self._state_path is None or not self._state_path.exists():
            return None
        try:
            with self._file_lock():
                data = json.loads(self._state_path.read_text())
            return int(data["limit"]), float(data["window"])
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    @contextmanager
    def _file_lock(self) -> Iterator[None]:
        if self._state_path is None:
            yield
            return
        try:
            self._state_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            yield
            return
        with _locked(self._state_path):
            yield

    def _write(self, state: dict[str, list[list[float]]]) -> None:
        """Write this pacer's weight in the window beside the other writers' (``state``, read under the same
        lock), in place."""
        path = self._state_path
        if path is None:
            return
        cutoff = self._wall() - self.window
        step = max(1, math.ceil(self.window * 1000 / _SLOTS))  # ms
        slots: dict[int, int] = {}
        for e in self._own:
            if e.at == _INFLIGHT or e.epoch > cutoff:
                ms = math.ceil(e.epoch * 1000 / step) * step  # later, never earlier: it leaves no sooner
                slots[ms] = slots.get(ms, 0) + e.weight
        mine = [[ms / 1000, w] for ms, w in sorted(slots.items())]
        writers = {w: [x for x in sent if x[0] > cutoff] for w, sent in state.items() if w != self._writer}
        writers[self._writer] = mine
        with suppress(OSError):  # pacing must not fail a request because a cache file cannot be written
            _rewrite(path, json.dumps({"limit": self.limit, "window": self.window,
                                       "writers": {w: v for w, v in writers.items() if v}}))

    def stats(self) -> PacingStats:
        """Counts so far."""
        with self._cond:
            return PacingStats(self._requests, self._weight, self._waited, self._holds)


def weight_state_path(exchange_id: str, base_url: str | None, api_key: str, budget: str) -> Path:
    """Where the weight pacer of one exchange, endpoint, key and budget (``weight`` or an OKX endpoint) keeps its
    window: under ``$EXECLAB_PACER_DIR`` or ``~/.cache/execlab/pacing``, named by a hash."""
    import hashlib

    ident = "\0".join(("ccxt", exchange_id, base_url or "", api_key, budget))
    root = os.environ.get(PACER_DIR_ENV) or str(Path.home() / ".cache" / "execlab" / "pacing")
    return Path(root) / f"ccxt-{hashlib.sha256(ident.encode()).hexdigest()[:24]}.json"
