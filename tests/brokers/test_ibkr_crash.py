"""IB crash trials: SIGKILL ``execlab rebalance`` (trading through ib_async) at random points, restart it, and check
that the venue holds the targets and placed every ``orderRef`` exactly once (counted by the venue).

The venue (``python -m execlab.venues.ibkr --any-stock``) runs in a process of its own that outlives the client; a
killed client's socket closes with it, so the next one gets the same client id. ``EXECLAB_CRASH_TRIALS`` (default
2 here; ``make soak`` raises it) trials of ``EXECLAB_IB_CRASH_ORDERS`` (default 40) orders each.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from execlab._oms.journal import Journal
from execlab.venues._harness import HARNESS_TOKEN_ENV, HARNESS_TOKEN_HEADER

pytestmark = [pytest.mark.local_venue, pytest.mark.slow]

TOKEN = "ib-crash-harness-token-0001"
HEADERS = {HARNESS_TOKEN_HEADER: TOKEN}
TRIALS = int(os.environ.get("EXECLAB_CRASH_TRIALS", "2"))
ORDERS = int(os.environ.get("EXECLAB_IB_CRASH_ORDERS", "40"))
BASE_SEED = int(os.environ.get("EXECLAB_CRASH_SEED", "20261130"))
EXECLAB = [sys.executable, "-m", "execlab._cli.main"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def venue() -> Iterator[tuple[int, str]]:
    port, harness = _free_port(), _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "execlab.venues.ibkr", "--port", str(port), "--harness-port", str(harness),
         "--any-stock", "--cash", "1e12"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, HARNESS_TOKEN_ENV: TOKEN})
    url = f"http://127.0.0.1:{harness}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"{url}/_stats", timeout=1, headers=HEADERS).ok:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"venue did not start: {proc.stderr.read() if proc.stderr else b''!r}")
        time.sleep(0.2)
    yield port, url
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


def _write_inputs(folder: Path, port: int, url: str, run_id: str, rng: random.Random, trial: int
                  ) -> dict[str, float]:
    symbols = [f"K{trial:02d}X{i:03d}" for i in range(ORDERS)]
    prices = {s: round(rng.uniform(5, 200), 2) for s in symbols}
    targets = {s: float(rng.randint(1, 300)) for s in symbols}
    quotes = {"quotes": [{"symbol": s, "bid": p - 0.01, "ask": p + 0.01, "last": p} for s, p in prices.items()]}
    requests.post(f"{url}/_quotes", json=quotes, timeout=30, headers=HEADERS).raise_for_status()
    (folder / "targets.csv").write_text("symbol,target\n" + "".join(f"{s},{q}\n" for s, q in targets.items()))
    (folder / "prices.csv").write_text("symbol,price\n" + "".join(f"{s},{p}\n" for s, p in prices.items()))
    (folder / "config.yaml").write_text(
        f"mode: paper\nrun_id: {run_id}\nbroker:\n  name: ibkr\n  port: {port}\n  client_id: 7\n"
        "  timeout_seconds: 5\n")
    return targets


def _run_client(folder: Path, kill_after: int | None) -> None:
    cmd = [*EXECLAB, "rebalance", "--config", str(folder / "config.yaml"), "--targets", str(folder / "targets.csv"),
           "--prices", str(folder / "prices.csv"), "--journal", str(folder / "journal.sqlite"), "--as-of",
           "2026-11-30", "--timeout", "60", "--progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if kill_after is None:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"final run failed ({proc.returncode}):\n{out[:3000]}\n{err[-4000:]}"
        return
    sent = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("sending "):
            sent += 1
            if sent >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=300)


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigkill_and_restart_places_every_order_ref_once(venue: tuple[int, str], tmp_path: Path,
                                                          trial: int) -> None:
    port, url = venue
    seed = BASE_SEED + trial
    rng = random.Random(seed)
    run_id = f"ibcrash-{seed}"
    targets = _write_inputs(tmp_path, port, url, run_id, rng, trial)
    kills = [rng.randint(1, ORDERS) for _ in range(rng.randint(1, 2))]
    print(f"IB crash trial {trial}: seed {seed}, kill points {kills}")
    for kill_after in kills:
        _run_client(tmp_path, kill_after)
    _run_client(tmp_path, None)

    journal = Journal(tmp_path / "journal.sqlite")
    orders = journal.orders(run_id)
    assert len(orders) == ORDERS, f"seed {seed}: {len(orders)} intents"
    attempts = requests.get(f"{url}/_stats", timeout=30, headers=HEADERS).json()["order_attempts"]
    wrong = {c: attempts.get(c, 0) for c in orders["client_order_id"] if attempts.get(c, 0) != 1}
    assert not wrong, f"seed {seed}: orderRefs placed twice or never: {wrong}"
    assert set(orders["status"]) == {"filled"}, f"seed {seed}: {orders['status'].value_counts().to_dict()}"
    from_fills = journal.positions_from_fills(run_id).to_dict()
    assert from_fills == targets, f"seed {seed}: journal fills disagree with the targets"
