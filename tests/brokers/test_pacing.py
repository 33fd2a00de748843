"""RequestPacer: the rolling window, the whole burst, slots counted from the answer, and the broker's own view."""

from __future__ import annotations

import json
import threading
import time

import pytest

import execlab as xl
from execlab._brokers.pacing import RequestPacer, _rewrite


class FakeTime:
    """A monotonic clock, a wall clock and a sleep that only moves them."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.epoch = 1_700_000_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.epoch + self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def pacer(self, limit: int, window: float, **kw: bool) -> RequestPacer:
        return RequestPacer(limit, window, clock=self.clock, wall_clock=self.wall, sleep=self.sleep, **kw)


def _send(pacer: RequestPacer, t: FakeTime, n: int, takes: float = 0.0) -> list[float]:
    """Send ``n`` requests one after the other; returns when each was let through."""
    starts = []
    for _ in range(n):
        with pacer.request():
            starts.append(t.now)
            t.now += takes
    return starts


def _most_in_any_window(starts: list[float], window: float) -> int:
    starts = sorted(starts)
    return max(sum(1 for s in starts if a <= s < a + window) for a in starts)


def test_a_fresh_pacer_sends_the_whole_burst_at_once() -> None:
    t = FakeTime()
    pacer = t.pacer(5, 10.0)
    starts = _send(pacer, t, 5)
    assert starts == [1000.0] * 5 and t.slept == []
    assert pacer.stats.requests == 5 and pacer.stats.waited_seconds == 0


def test_n_requests_take_what_the_rolling_window_allows_and_no_more() -> None:
    t = FakeTime()
    pacer = t.pacer(5, 10.0)
    starts = _send(pacer, t, 23)
    # floor((N - 1) / L) * W: bursts of 5 at 0, 10, 20, 30 and 40 s (each a millisecond late at most).
    assert starts[-1] - starts[0] == pytest.approx(40.0, abs=0.01)
    assert _most_in_any_window(starts, 10.0) == 5
    assert [round(s - starts[0]) for s in starts[::5]] == [0, 10, 20, 30, 40]
    assert pacer.stats.waited_seconds == pytest.approx(40.0, abs=0.01)


def test_the_window_is_rolling_not_fixed() -> None:
    t = FakeTime()
    pacer = t.pacer(4, 10.0)
    _send(pacer, t, 2)  # two at 0 s
    t.now += 6.0
    _send(pacer, t, 2)  # two at 6 s: the limit is used
    with pacer.request():
        third_burst = t.now
    assert third_burst - 1000.0 == pytest.approx(10.0, abs=0.01)  # the first two left at 10 s, not at 20 s
    starts = _send(pacer, t, 2)
    assert starts[-1] - 1000.0 == pytest.approx(16.0, abs=0.01)  # then those from 6 s, at 16 s


def test_a_slot_is_counted_from_the_answer_not_from_the_send() -> None:
    t = FakeTime()
    pacer = t.pacer(1, 10.0)
    starts = _send(pacer, t, 3, takes=2.0)
    # Each request took 2 s: the broker may have counted it as late as its answer, so the next waits 10 s from there.
    assert starts[1] - starts[0] == pytest.approx(12.0, abs=0.01)
    assert starts[2] - starts[1] == pytest.approx(12.0, abs=0.01)


def test_the_broker_saying_nothing_remains_holds_until_its_reset() -> None:
    t = FakeTime()
    pacer = t.pacer(10, 60.0)
    with pacer.request():  # another client used the key: the broker says 0 remain after our first request
        pacer.observe(limit=10, remaining=0, reset_at=t.wall() + 7.0)
    with pacer.request():
        waited_for = t.now - 1000.0
    assert waited_for == pytest.approx(7.0)
    assert pacer.stats.broker_holds == 1


def test_nothing_remaining_after_our_own_burst_is_left_to_our_window() -> None:
    t = FakeTime()
    pacer = t.pacer(3, 10.0)
    for remaining in (2, 1, 0):
        with pacer.request():
            pacer.observe(limit=3, remaining=remaining, reset_at=t.wall() + 11.0)  # Alpaca rounds reset up
    assert pacer.stats.broker_holds == 0
    with pacer.request():
        assert t.now - 1000.0 == pytest.approx(10.0, abs=0.01)  # our own window, not the rounded-up reset


def test_a_stated_limit_is_followed_unless_told_not_to() -> None:
    t = FakeTime()
    pacer = t.pacer(200, 60.0)
    pacer.observe(limit=3, remaining=3, reset_at=t.wall())
    assert pacer.limit == 3
    assert len(set(_send(pacer, t, 4))) == 2  # three at once, the fourth a window later
    pacer.observe(limit=1000)
    assert pacer.limit == 1000
    fixed = t.pacer(200, 60.0, follow_broker_limit=False)
    fixed.observe(limit=3)
    assert fixed.limit == 200


def test_a_429_is_counted_and_waited_out() -> None:
    t = FakeTime()
    pacer = t.pacer(100, 60.0)
    with pacer.request():
        pacer.rate_limited(retry_after=4.0)
    with pacer.request():
        assert t.now - 1000.0 == pytest.approx(4.0)
    pacer.rate_limited(retry_after=None)  # the broker did not say: a whole window
    with pacer.request():
        assert t.now - 1004.0 == pytest.approx(60.0)
    assert pacer.stats.rate_limited == 2


def test_a_reset_beyond_one_window_is_taken_as_clock_skew() -> None:
    t = FakeTime()
    pacer = t.pacer(10, 5.0)
    with pacer.request():
        pacer.observe(remaining=0, reset_at=t.wall() + 3600)
    with pacer.request():
        assert t.now - 1000.0 == pytest.approx(6.0)  # one window and a second, not an hour


def test_bad_settings_are_refused() -> None:
    for limit, window in ((0, 1.0), (1.5, 1.0), (True, 1.0), (10, 0.0), (10, float("inf")), (10, -1.0)):
        with pytest.raises(ValueError, match=r"^(limit|window):"):
            RequestPacer(limit, window)  # type: ignore[arg-type]


def test_from_config() -> None:
    broker = xl.Config.from_mapping({"broker": {"rate_limit_per_minute": 120, "rate_window_seconds": 30}}).broker
    pacer = RequestPacer.from_config(broker)
    assert (pacer.limit, pacer.window) == (120, 30.0)
    assert (broker.breaker_fail_max, broker.breaker_reset_seconds) == (5, 30.0)
    for bad in ({"rate_limit_per_minute": 0}, {"rate_window_seconds": 0}, {"breaker_fail_max": 0},
                {"breaker_reset_seconds": -1}):
        with pytest.raises(xl.ConfigError, match=f"broker.{next(iter(bad))}"):
            xl.Config.from_mapping({"broker": bad})


def test_threads_sharing_a_pacer_never_exceed_the_limit() -> None:
    # Real time, a small window: count requests, never assert how long anything took.
    pacer = RequestPacer(6, 0.25)
    starts: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(5):
            with pacer.request():
                with lock:
                    starts.append(time.monotonic())
                time.sleep(0.002)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert len(starts) == 20 and pacer.stats.requests == 20
    starts.sort()
    # Any 7 consecutive starts span at least one window: never more than 6 in any rolling 0.25 s.
    assert all(starts[k + 6] - starts[k] >= 0.25 - 1e-3 for k in range(len(starts) - 6))


class FakeBroker:
    """Counts every request on one key in a rolling window, answers 429 past the limit, and states limit,
    remaining and reset as Alpaca does (reset rounded up to a whole second)."""

    def __init__(self, t: FakeTime, limit: int, window: float) -> None:
        self.t, self.limit, self.window = t, limit, window
        self.sent: list[float] = []
        self.refused = 0

    def call(self, pacer: RequestPacer) -> None:
        with pacer.request():
            now = self.t.now
            live = [s for s in self.sent if s > now - self.window]
            if len(live) >= self.limit:
                self.refused += 1
                pacer.rate_limited(retry_after=None)
                return
            self.sent.append(now)
            live.append(now)
            reset = self.t.epoch + live[0] + self.window
            pacer.observe(self.limit, self.limit - len(live), float(int(reset) + 1))


def test_two_clients_on_one_key_share_the_limit_without_429s() -> None:
    t = FakeTime()
    broker = FakeBroker(t, 10, 10.0)
    a, b = t.pacer(10, 10.0), t.pacer(10, 10.0)
    for _ in range(60):  # interleaved: each pacer learns of the other only from the broker's answers
        broker.call(a)
        broker.call(b)
    assert broker.refused == 0
    assert len(broker.sent) == 120
    assert a.stats.foreign > 0 and b.stats.foreign > 0
    assert a.stats.rate_limited == b.stats.rate_limited == 0


def test_a_restarted_pacer_remembers_the_window_of_the_process_before(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = FakeTime()
    broker = FakeBroker(t, 5, 10.0)
    state = tmp_path / "pacer.json"
    first = RequestPacer(5, 10.0, clock=t.clock, wall_clock=t.wall, sleep=t.sleep, state_path=state)
    for _ in range(5):
        broker.call(first)
    t.now += 1.0  # the process dies; another starts a second later
    second = RequestPacer(5, 10.0, clock=t.clock, wall_clock=t.wall, sleep=t.sleep, state_path=state)
    for _ in range(5):
        broker.call(second)
    assert broker.refused == 0
    assert broker.sent[5] - broker.sent[0] >= 10.0  # it waited for the first burst to leave the window
    without_state = t.pacer(5, 10.0)
    broker.call(without_state)  # a pacer without the file would have been refused at once
    assert broker.refused == 1


def test_the_state_file_is_rewritten_in_place(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = FakeTime()
    state = tmp_path / "pacer.json"
    pacer = RequestPacer(5, 10.0, clock=t.clock, wall_clock=t.wall, sleep=t.sleep, state_path=state)
    with pacer.request():
        pass
    inode = state.stat().st_ino
    for _ in range(3):
        with pacer.request():
            pass
    # the same file, no temporary beside it (a file renamed over the state flushes to disk on ext4: ~3 ms)
    assert state.stat().st_ino == inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pacer.json", "pacer.json.lock"]
    assert len(json.loads(state.read_text())["writers"][pacer._writer]) == 4


def test_a_shorter_state_is_one_write_padded_over_the_longer_one(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "pacer.json"
    _rewrite(state, json.dumps({"writers": {"a": list(range(50))}}))
    longer = state.stat().st_size
    _rewrite(state, json.dumps({"writers": {}}))
    # no truncation (a kill between a write and a truncation would leave the old tail): the old length, spaces after
    assert state.stat().st_size == longer
    assert json.loads(state.read_text()) == {"writers": {}}


def test_an_unreadable_state_file_is_ignored(tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = tmp_path / "pacer.json"
    state.write_text("not json")
    t = FakeTime()
    pacer = RequestPacer(3, 10.0, clock=t.clock, wall_clock=t.wall, sleep=t.sleep, state_path=state)
    assert _send(pacer, t, 3) == [1000.0] * 3
    writers = __import__("json").loads(state.read_text())["writers"]
    assert [len(sent) for sent in writers.values()] == [3]


def test_two_pacers_sharing_a_state_file_share_the_limit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = FakeTime()
    broker = FakeBroker(t, 6, 10.0)
    state = tmp_path / "pacer.json"
    a, b = (RequestPacer(6, 10.0, clock=t.clock, wall_clock=t.wall, sleep=t.sleep, state_path=state)
            for _ in range(2))
    for _ in range(3):  # a spends half the window; b learns of it from the file before its first request
        broker.call(a)
    for _ in range(6):
        broker.call(b)
    assert broker.refused == 0
    assert broker.sent[6] - broker.sent[0] >= 10.0


def test_each_request_of_a_call_takes_a_slot_the_first_spending_the_calls_own() -> None:
    t = FakeTime()
    pacer = t.pacer(3, 10.0)
    sent = []
    with pacer.request():  # one paced call sending three requests (a lookup that falls back twice)
        for _ in range(3):
            with pacer.each_request():
                sent.append(t.now)
    assert sent == [1000.0] * 3 and pacer.stats.requests == 3  # the call's slot and two more: the limit
    with pacer.request(), pacer.each_request():
        sent.append(t.now)
    assert sent[-1] - 1000.0 == pytest.approx(10.0, abs=0.01)  # the fourth waited for the window
    with pacer.each_request():  # outside any paced call: a slot of its own
        sent.append(t.now)
    assert pacer.stats.requests == 5 and _most_in_any_window(sent, 10.0) == 3


def test_a_request_in_flight_when_its_process_died_counts_from_when_the_next_one_reads_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The broker counts a request when it arrives, which may be long after the slot was taken (a slow send, a
    hang); its process killed meanwhile never writes the answer time. The next process enters it as sent when it
    reads the file, not at the slot's start (else it leaves that window early: a 429)."""
    t = FakeTime()
    state = tmp_path / "pacer.json"
    first = RequestPacer(2, 10.0, clock=t.clock, wall_clock=t.wall, sleep=t.sleep, state_path=state)
    broker: list[float] = []
    with first.request():
        broker.append(t.now)  # answered at 1000
    dying = first.request()
    dying.__enter__()  # a slot taken at 1000 whose request reaches the broker at 1005; then SIGKILL
    t.now += 5.0
    broker.append(t.now)
    t.now += 1.0
    second = RequestPacer(2, 10.0, clock=t.clock, wall_clock=t.wall, sleep=t.sleep, state_path=state)
    sent = []
    for _ in range(2):
        with second.request():
            sent.append(t.now)
    assert sent[0] == pytest.approx(1010.0, abs=0.01)  # when the answered one left the window
    assert sent[1] >= 1016.0 - 0.01  # not at 1010, while the broker still counts the one from 1005
    counted = broker + sent
    assert _most_in_any_window(counted, 10.0) == 2


def test_what_another_process_wrote_during_a_request_is_entered_before_the_file_is_rewritten(tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = FakeTime()
    state = tmp_path / "pacer.json"
    a, b = (RequestPacer(4, 10.0, clock=t.clock, wall_clock=t.wall, sleep=t.sleep, state_path=state)
            for _ in range(2))
    sent = []
    with b.request():  # b's answer comes after a sent two: b rewrites the file when it does
        sent.append(t.now)
        for _ in range(2):
            with a.request():
                sent.append(t.now)
    for _ in range(2):
        with b.request():
            sent.append(t.now)
    assert _most_in_any_window(sent, 10.0) == 4  # b counted a's two: its third waited for the window
