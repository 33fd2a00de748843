"""The broker path paces itself, breaks the circuit on outages and sends fewer requests: real alpaca-py against the
local Alpaca venue, with a scaled rate-limit window.

Times are only bounded from below here (what the limit forces); how close to that bound a rebalance lands is
measured by ``benchmarks/bench_alpaca_pacing.py``.
"""

from __future__ import annotations

import json
import math
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests

import execlab as xl
from execlab._brokers.contract import BrokerRateLimitedError, DeadLetter
from execlab._brokers.executor import BrokerExecutor
from execlab._oms.journal import Journal
from execlab._runs.live import run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.adapters.alpaca._mapping import rate_limit_headers
from execlab.venues import AlpacaVenue

from helpers.alpaca import StartVenue, broker_executor, paper_config

pytestmark = pytest.mark.local_venue  # every test starts one (the fixture, or its own inside the test)

KEY, SECRET = "PKRATETEST000001", "rate-secret-not-for-logs"
LIMIT, WINDOW = 100, 2.0
"""Alpaca allows 200 a minute; the same rolling window, scaled down so that it binds within seconds."""


def _venue(**kw: object) -> AlpacaVenue:
    return AlpacaVenue(KEY, SECRET, initial_cash=1e9, **kw)  # type: ignore[arg-type]


@pytest.fixture
def paced(local_venue: StartVenue) -> AlpacaVenue:
    return local_venue(KEY, SECRET, initial_cash=1e9, rate_limit=LIMIT, rate_window=WINDOW)


def _config(**broker: object) -> xl.Config:
    return paper_config("rate-test", KEY, SECRET, broker)


def _executor(venue: AlpacaVenue, journal: Journal, cfg: xl.Config, stream: bool = True) -> BrokerExecutor:
    """``stream=False`` where a test calls ``place`` itself: no order-update stream left running after it."""
    return broker_executor(venue, journal, cfg.run_id, config=cfg.broker, stream=stream)


def _universe(venue: AlpacaVenue, n: int, prefix: str = "S") -> dict[str, float]:
    symbols = [f"{prefix}{i:03d}" for i in range(n)]
    venue.set_quotes({s: (9.99, 10.01, 10.0, None) for s in symbols})
    return {s: float(1 + i % 7) for i, s in enumerate(symbols)}


def _held(venue: AlpacaVenue) -> dict[str, float]:
    # Read in-process: a REST call here would count against the window the rebalance just used up.
    return {p["symbol"]: float(p["qty"]) for p in venue.state.positions()}


def _hammer(venue: AlpacaVenue, n: int) -> None:
    """Another client on the same key: ``n`` requests as fast as it can."""
    with requests.Session() as other:
        for _ in range(n):
            other.get(f"{venue.base_url}/v2/account", timeout=30,
                      headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}).raise_for_status()


@pytest.mark.slow
def test_a_500_order_rebalance_is_paced_to_the_limit_with_no_429(paced: AlpacaVenue, journal: Journal) -> None:
    targets = _universe(paced, 500)
    cfg = _config(rate_limit_per_minute=LIMIT, rate_window_seconds=WINDOW)
    executor = _executor(paced, journal, cfg)
    started = time.monotonic()
    done = run_live_rebalance(targets, dict.fromkeys(targets, 10.0), cfg, executor, journal, "k", timeout=60)
    elapsed = time.monotonic() - started
    stats = paced.stats()
    assert done.complete and not executor.dead_letters
    assert _held(paced) == targets
    assert stats["rate_limited"] == 0 and "429" not in stats["responses"], stats["responses"]
    assert executor.pacer.stats.rate_limited == 0
    attempts = stats["order_attempts"]
    assert len(attempts) == 500 and set(attempts.values()) == {1}  # each client order id sent exactly once
    # Fresh intents are not looked up first, and one request refreshes the whole batch: ~1 request per order,
    # plus the account activities that report the executions and their fees (a FILL and a FEE each, 100 a page).
    activity_pages = math.ceil(2 * 500 / 100)
    assert stats["requests"] <= 500 + 10 + activity_pages, stats["requests"]
    assert executor.pacer.stats.requests == stats["requests"]
    allowed = math.floor((stats["requests"] - 1) / LIMIT) * WINDOW
    assert elapsed >= allowed  # the venue enforces it; how close we get is the benchmark's business


@pytest.mark.slow
def test_another_client_on_the_same_key_still_leaves_us_without_429(paced: AlpacaVenue, journal: Journal) -> None:
    targets = _universe(paced, 60)
    # Someone else used most of the key's window just before: our own pacer cannot know, the headers tell it.
    _hammer(paced, LIMIT - 15)
    cfg = _config(rate_limit_per_minute=LIMIT, rate_window_seconds=WINDOW)
    executor = _executor(paced, journal, cfg)
    done = run_live_rebalance(targets, dict.fromkeys(targets, 10.0), cfg, executor, journal, "k", timeout=60)
    stats = paced.stats()
    assert done.complete and _held(paced) == targets
    assert stats["rate_limited"] == 0, stats["responses"]
    # It learned from the first answer's headers that the other client had spent LIMIT - 15 of the window.
    assert executor.pacer.stats.foreign >= LIMIT - 15
    assert set(stats["order_attempts"].values()) == {1}


@pytest.mark.slow
def test_a_429_all_the_same_is_waited_out_retried_and_counted(paced: AlpacaVenue, journal: Journal) -> None:
    targets = _universe(paced, 40)
    _hammer(paced, LIMIT - 10)
    cfg = _config(rate_limit_per_minute=LIMIT, rate_window_seconds=WINDOW)
    executor = _executor(paced, journal, cfg)
    executor.adapter.pacer = None  # deaf to the headers: only the 429 path is left
    done = run_live_rebalance(targets, dict.fromkeys(targets, 10.0), cfg, executor, journal, "k", timeout=60)
    stats = paced.stats()
    assert done.complete and _held(paced) == targets and not executor.dead_letters
    assert stats["rate_limited"] >= 1
    assert executor.pacer.stats.rate_limited == stats["rate_limited"]
    assert stats["orders"] == 40  # a 429 is not processed: resending it placed nothing twice
    limited = journal.events("rate-test", "response")
    assert limited["payload"].str.contains("rate_limited").any()


def test_the_header_hook_reads_alpaca_s_headers(paced: AlpacaVenue) -> None:
    adapter = AlpacaAdapter(KEY, SECRET, base_url=paced.base_url)
    seen: list[tuple[int | None, int | None, float | None]] = []

    class Recorder:
        def observe(self, limit: int | None, remaining: int | None, reset_at: float | None) -> None:
            seen.append((limit, remaining, reset_at))

    adapter.pacer = Recorder()  # type: ignore[assignment]
    adapter._account()
    adapter._positions()
    assert [(limit, remaining) for limit, remaining, _ in seen] == [(LIMIT, LIMIT - 1), (LIMIT, LIMIT - 2)]
    assert all(reset is not None and abs(reset - time.time()) <= WINDOW + 1 for _, _, reset in seen)
    assert rate_limit_headers({"X-Ratelimit-Limit": "x"}) == (None, None, None)


def test_a_fresh_order_is_sent_without_a_lookup_and_a_journaled_one_is_looked_up(tmp_path: Path) -> None:
    with _venue(rate_limit=10_000) as venue:
        _universe(venue, 3)
        journal = Journal(tmp_path / "j.sqlite")
        executor = _executor(venue, journal, _config(), stream=False)
        order = xl.Order(symbol="S000", side=xl.Side.BUY, quantity=2, client_order_id="fresh-1")
        assert not journal.has_request("fresh-1")
        placed = executor.place(order)
        assert placed is not None and venue.stats()["requests"] == 1  # the POST alone
        assert journal.has_request("fresh-1")
        assert executor.place(order) is placed  # this executor saw it: nothing to ask
        assert venue.stats()["requests"] == 1
        rerun = _executor(venue, journal, _config(), stream=False)
        again = rerun.place(order)  # a re-run: the journal says it may have arrived, so the broker is asked
        assert again is not None and again.broker_order_id == placed.broker_order_id
        assert venue.stats()["requests"] == 2 and venue.stats()["order_attempts"] == {"fresh-1": 1}
        plan = journal._db.execute("EXPLAIN QUERY PLAN SELECT 1 FROM events WHERE client_order_id = ? "
                                   "AND kind = 'request' LIMIT 1", ("x",)).fetchall()
        assert any("USING INDEX" in str(row[-1]) for row in plan), plan


def test_the_breaker_opens_on_outages_fails_fast_and_recovers(tmp_path: Path) -> None:
    with _venue(rate_limit=10_000) as venue:
        _universe(venue, 3)
        journal = Journal(tmp_path / "j.sqlite")
        executor = _executor(venue, journal, _config(breaker_fail_max=3, breaker_reset_seconds=0.5), stream=False)
        orders = [xl.Order(symbol=f"S00{i}", side=xl.Side.BUY, quantity=1, client_order_id=f"cb-{i}")
                  for i in range(3)]
        venue.faults.error_rate = 1.0  # every /v2 request answers 500
        assert executor.place(orders[0]) is None  # submit 500, lookup 500 twice: three in a row open it
        assert executor.breaker.current_state == "open"
        sent = venue.stats()["requests"]
        assert sent == 3
        assert executor.place(orders[1]) is None
        assert venue.stats()["requests"] == sent  # failed fast: nothing reached the broker
        assert not journal.has_request("cb-1")
        assert [d.client_order_id for d in executor.dead_letters] == ["cb-0", "cb-1"]
        letter = executor.dead_letters[1]
        assert isinstance(letter, DeadLetter) and letter.symbol == "S001" and isinstance(letter.at, datetime)
        assert "circuit breaker open" in letter.reason
        alerts = journal.events("rate-test", "alert")
        assert list(alerts["client_order_id"]) == ["cb-0", "cb-1"]
        assert all("dead_letter" in json.loads(p) for p in alerts["payload"])
        assert not executor.wait(timeout=0.2)  # dead letters: not complete

        venue.faults.error_rate = 0.0  # the broker is back; after the reset timeout one trial call goes through
        time.sleep(0.6)
        for order in orders:  # what a re-run does: cb-0 was requested before, so it is looked up first
            assert executor.place(order) is not None
        assert executor.breaker.current_state == "closed"
        assert venue.stats()["order_attempts"] == {"cb-0": 2, "cb-1": 1, "cb-2": 1}  # cb-0's first got a 500
        assert venue.stats()["orders"] == 3
        assert list(journal.events("rate-test", "circuit")["status"]) == ["open", "half-open", "closed"]


def test_rejections_do_not_trip_the_breaker(tmp_path: Path) -> None:
    with _venue(rate_limit=10_000, symbols=["S000"]) as venue:
        _universe(venue, 1)
        journal = Journal(tmp_path / "j.sqlite")
        executor = _executor(venue, journal, _config(breaker_fail_max=2, breaker_reset_seconds=60), stream=False)
        for i in range(5):  # 422: not tradable; the broker works fine, it just says no
            bad = xl.Order(symbol="ZZZ", side=xl.Side.BUY, quantity=1, client_order_id=f"bad-{i}")
            assert executor.place(bad) is None
        assert executor.breaker.current_state == "closed" and executor.breaker.fail_counter == 0
        assert not executor.dead_letters
        good = executor.place(xl.Order(symbol="S000", side=xl.Side.BUY, quantity=1, client_order_id="good"))
        assert good is not None


def test_an_open_breaker_is_waited_out_while_waiting_for_fills(tmp_path: Path) -> None:
    with _venue(rate_limit=10_000) as venue:
        _universe(venue, 2)
        venue.set_quote("S000", 9.99, 10.01)
        journal = Journal(tmp_path / "j.sqlite")
        executor = _executor(venue, journal, _config(breaker_fail_max=2, breaker_reset_seconds=0.3), stream=False)
        resting = xl.Order(symbol="S000", side=xl.Side.BUY, quantity=1, order_type=xl.OrderType.LIMIT,
                           limit_price=9.0, client_order_id="rest-1")
        assert executor.place(resting) is not None
        venue.faults.error_rate = 1.0
        assert not executor.wait(timeout=0.5)  # unavailable, then the breaker opens: no exception, not done
        assert executor.breaker.current_state in ("open", "half-open")
        venue.faults.error_rate = 0.0
        venue.set_quote("S000", 8.0, 8.02)  # now it fills
        assert executor.wait(timeout=10)
        assert executor.known_orders()["rest-1"].status is xl.OrderStatus.FILLED


def test_a_429_maps_to_a_rate_limited_error_with_the_reset(paced: AlpacaVenue) -> None:
    adapter = AlpacaAdapter(KEY, SECRET, base_url=paced.base_url)
    _hammer(paced, LIMIT)
    with pytest.raises(BrokerRateLimitedError) as caught:
        adapter._account()
    assert caught.value.retry_after is not None and 0 <= caught.value.retry_after <= WINDOW + 1
