"""Crash trials of a schedule at a broker: ``execlab rebalance`` working a TWAP through alpaca-py against the local
Alpaca venue is SIGKILLed at random points mid-schedule and started again until it finishes.

The venue (in this process) replays the real minute bars on its own clock: the test steps it to the next bar only
when the client has finished its tick at the current one (its ``tick`` line), and never while the client is down,
so a run's children are a function of the bars alone. Kill points: after a random number of children sent (inside a
tick, between journaling a child and the broker's answer), after a random number of ticks, or a few hundred
milliseconds after start (reconciling, planning, journaling the parents). Each trial ends at the targets, with every
child client id placed at the venue exactly once (the venue counts) and the same child table as a run never killed.

``EXECLAB_CRASH_TRIALS`` trials (3 by default; ``make soak`` runs many).
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pandas as pd
import pytest
from brokers.algo_replay import KEY, MINUTES, SECRET, algo_config, events_of, minute_bars, run_schedule, start_venue

from execlab._data.feeds import FeedEvent
from execlab._oms.journal import Journal
from execlab._runs.live_algo import child_table
from execlab._runs.minute_market import MinuteMarket
from execlab.venues import AlpacaVenue

pytestmark = [pytest.mark.local_venue, pytest.mark.slow,
              pytest.mark.skipif(not MINUTES.exists(), reason="../shared/data is absent")]

TRIALS = int(os.environ.get("EXECLAB_CRASH_TRIALS", "3"))
BASE_SEED = int(os.environ.get("EXECLAB_CRASH_SEED", "20261130"))
EXECLAB = [sys.executable, "-m", "execlab._cli.main"]
VENUE = {"fill_price": "next_open", "participation_cap": 0.25}
EXECUTION = {"algo": "twap", "horizon": "15min", "slices": 5}
TARGETS = {"SPY": 3000.0, "IBM": 800.0, "AIG": 2500.0, "BAC": 9000.0}
START_AT = 5
RUN_ID = "algo-crash"


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[FeedEvent], Path, pd.DataFrame]:
    """The bars, their file, and the child table of the same schedule run in process without a crash."""
    folder = tmp_path_factory.mktemp("algo-crash")
    bars = minute_bars("2013-10-07 13:30", "2013-10-07 14:30")
    path = folder / "minutes.parquet"
    bars.to_parquet(path)
    events = events_of(bars)
    with start_venue(VENUE) as venue:
        reference = run_schedule(venue, algo_config(RUN_ID, venue, EXECUTION, VENUE), folder / "reference.sqlite",
                                 TARGETS, events, MinuteMarket(bars), START_AT)
    assert reference.held == TARGETS
    return events, path, reference.children


def _write_inputs(folder: Path, venue: AlpacaVenue, events: list[FeedEvent]) -> None:
    first = events[START_AT]
    close = dict(zip(first.symbols, first.close.tolist(), strict=True))
    (folder / "targets.csv").write_text("symbol,target\n" + "".join(f"{s},{q}\n" for s, q in TARGETS.items()))
    (folder / "prices.csv").write_text("symbol,price\n" + "".join(f"{s},{close[s]}\n" for s in TARGETS))
    venue_yaml = "".join(f"  {k}: {v}\n" for k, v in VENUE.items())
    execution_yaml = "".join(f"  {k}: {v}\n" for k, v in EXECUTION.items())
    (folder / "config.yaml").write_text(
        f"mode: paper\nrun_id: {RUN_ID}\nbroker:\n  name: alpaca\n  base_url: {venue.base_url}\n"
        "  api_key: ${ALGO_KEY}\n  api_secret: ${ALGO_SECRET}\n"
        f"venue:\n{venue_yaml}execution:\n{execution_yaml}")


def _lines(stream: IO[str], out: queue.Queue[str | None]) -> None:
    for line in stream:
        out.put(line)
    out.put(None)


def _spawn(folder: Path, minutes: Path, as_of: str) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
    cmd = [*EXECLAB, "rebalance", "--config", str(folder / "config.yaml"), "--targets", str(folder / "targets.csv"),
           "--prices", str(folder / "prices.csv"), "--journal", str(folder / "journal.sqlite"), "--as-of", as_of,
           "--minute-bars", str(minutes), "--timeout", "60", "--progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "ALGO_KEY": KEY, "ALGO_SECRET": SECRET})
    lines: queue.Queue[str | None] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=_lines, args=(proc.stdout, lines), daemon=True).start()
    return proc, lines


def _kill_points(rng: random.Random) -> list[tuple[str, int]]:
    """Where each client process dies: after n children sent, after n ticks, or n ms after start."""
    points = []
    for _ in range(rng.randint(2, 4)):
        kind = rng.choices(["send", "tick", "start"], weights=[5, 3, 1])[0]
        points.append((kind, rng.randint(1, 12) if kind != "start" else rng.randint(200, 1500)))
    return points


def _trial(folder: Path, events: list[FeedEvent], minutes: Path, seed: int) -> Journal:
    rng = random.Random(seed)
    kills = _kill_points(rng)
    print(f"algo crash trial: seed {seed}, kill points {kills}")
    with start_venue(VENUE) as venue:
        _write_inputs(folder, venue, events)
        for event in events[:START_AT + 1]:
            venue.step_bars(event)
        cursor = START_AT
        as_of = "algo-" + events[START_AT].timestamp.isoformat()  # the in-process reference run's key
        while True:
            kind, n = kills.pop(0) if kills else ("never", 0)
            proc, lines = _spawn(folder, minutes, as_of)
            if kind == "start":
                time.sleep(n / 1000)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                continue
            sent = ticks = 0
            killed = False
            while True:
                line = lines.get(timeout=120)
                if line is None:
                    break
                if line.startswith("sending "):
                    sent += 1
                elif line.startswith("tick "):
                    ticks += 1
                    if pd.Timestamp(line.split()[1]) == events[cursor].timestamp and cursor + 1 < len(events):
                        cursor += 1
                        venue.step_bars(events[cursor])
                if (kind == "send" and sent >= n) or (kind == "tick" and ticks >= n):
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    break
            code = proc.wait(timeout=60)
            if not killed:
                assert code == 0, f"seed {seed}: the last client failed ({code}): {proc.stderr.read()[-3000:]}"
                break
        attempts = dict(venue.stats()["order_attempts"])
        held = {p["symbol"]: float(p["qty"]) for p in venue.state.positions() if float(p["qty"])}
    journal = Journal(folder / "journal.sqlite")
    children = journal.orders(RUN_ID)
    children = children[children["parent_id"].notna()]
    assert held == TARGETS, f"seed {seed}: venue positions differ from the targets"
    wrong = {c: attempts.get(c, 0) for c in children["client_order_id"] if attempts.get(c, 0) != 1}
    assert not wrong, f"seed {seed}: children sent twice or never: {wrong}"
    assert journal.positions_from_fills(RUN_ID).to_dict() == held, f"seed {seed}: journal fills disagree"
    return journal


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_schedule_killed_mid_way_resumes_from_the_journal_and_sends_no_child_twice(
        replay: tuple[list[FeedEvent], Path, pd.DataFrame], tmp_path: Path, trial: int) -> None:
    events, minutes, reference = replay
    journal = _trial(tmp_path, events, minutes, BASE_SEED + trial)
    children = journal.orders(RUN_ID)
    assert child_table(children[children["parent_id"].notna()]).equals(reference)
