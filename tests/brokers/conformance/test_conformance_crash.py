"""Crash harness, per broker: SIGKILL the rebalancing client at random points, restart it, and check nothing was lost
or sent twice.

The venue runs in a process of its own that outlives the client. Each trial rebalances a fresh set of symbols,
kills ``execlab rebalance`` after a random number of orders sent (seeds printed), restarts it on the same run until
it finishes, then checks: the venue holds exactly the targets, no client order id reached the venue twice, and the
journal agrees with the venue. The rate-limited trials run against a venue whose rolling window binds: the restarted
client must meet no 429 (its pacer remembers the window of the process it replaced).

``EXECLAB_CRASH_TRIALS`` trials of each kind (3 by default; ``make soak`` runs many) of the harness's
``crash_orders`` orders (200 unless it says otherwise); the SIGKILL trials on a free limit trade at most
``EXECLAB_CRASH_ORDERS`` of them (100 by default; ``make soak``: 200).
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
from typing import Any

import pytest
import requests
from brokers.conformance.conftest import HARNESSES
from brokers.harnesses.base import BrokerHarness

from execlab._oms.journal import Journal

pytestmark = [pytest.mark.local_venue, pytest.mark.slow]  # the venue runs in a process of its own

TRIALS = int(os.environ.get("EXECLAB_CRASH_TRIALS", "3"))
BASE_SEED = int(os.environ.get("EXECLAB_CRASH_SEED", "20261122"))
FREE_ORDERS = int(os.environ.get("EXECLAB_CRASH_ORDERS", "100"))
EXECLAB = [sys.executable, "-m", "execlab._cli.main"]
RATE_LIMIT, RATE_WINDOW = 60, 2.0
"""The rate-limited trials: a window that binds within seconds (Alpaca's 200 a minute, scaled)."""
FREE_LIMIT, FREE_WINDOW = 1_000_000, 60.0
"""The other trials: a limit that never binds, told to the client (with the default 200 a minute, each restarted
client would first wait out the window its killed predecessor's requests filled: a minute per restart)."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _serve(harness: BrokerHarness, rate_limit: int, rate_window: float) -> Iterator[str]:
    port = _free_port()
    cmd, env = harness.venue_command(port, rate_limit=rate_limit, rate_window=rate_window)
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **env})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"{url}/_stats", timeout=1, headers=harness.harness_headers()).ok:
                break
        except requests.ConnectionError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"venue did not start: {proc.stderr.read() if proc.stderr else b''!r}")
        time.sleep(0.2)
    yield url
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.fixture(scope="module", params=HARNESSES, ids=[h.name for h in HARNESSES])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[BrokerHarness, str]]:
    harness: BrokerHarness = request.param
    for url in _serve(harness, FREE_LIMIT, FREE_WINDOW):
        yield harness, url


@pytest.fixture(scope="module", params=HARNESSES, ids=[h.name for h in HARNESSES])
def served_paced(request: pytest.FixtureRequest) -> Iterator[tuple[BrokerHarness, str]]:
    harness: BrokerHarness = request.param
    for url in _serve(harness, RATE_LIMIT, RATE_WINDOW):
        yield harness, url


def _write_inputs(harness: BrokerHarness, folder: Path, url: str, run_id: str, rng: random.Random,
                  tag: str, n_orders: int, **broker: Any) -> tuple[dict[str, float], dict[str, str]]:
    symbols = [f"{tag}X{i:03d}" for i in range(n_orders)]
    prices = {s: round(rng.uniform(5, 200), 2) for s in symbols}
    targets = {s: float(rng.randint(1, 300)) for s in symbols}
    quotes = {"quotes": [{"symbol": s, "bid": p - 0.01, "ask": p + 0.01, "last": p} for s, p in prices.items()]}
    requests.post(f"{url}/_quotes", json=quotes, timeout=30, headers=harness.harness_headers()).raise_for_status()
    (folder / "targets.csv").write_text("symbol,target\n" + "".join(f"{s},{q}\n" for s, q in targets.items()))
    (folder / "prices.csv").write_text("symbol,price\n" + "".join(f"{s},{p}\n" for s, p in prices.items()))
    env = harness.tmp_config_file(folder, url, run_id, **broker)
    return targets, env


def _run_client(folder: Path, env: dict[str, str], kill_after: int | None) -> int | None:
    """Run one client; SIGKILL it after ``kill_after`` orders sent. Returns its exit code (None when killed)."""
    cmd = [*EXECLAB, "rebalance", "--config", str(folder / "config.yaml"), "--targets", str(folder / "targets.csv"),
           "--prices", str(folder / "prices.csv"), "--journal", str(folder / "journal.sqlite"), "--as-of",
           "2024-06-28", "--timeout", "60", "--progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})
    if kill_after is not None and kill_after <= 0:
        # Before the first order: while starting, reconciling, planning or journaling the intents.
        time.sleep(-kill_after / 1000)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return None
    if kill_after is None:
        out, err = proc.communicate(timeout=300)
        head = "\n".join(line for line in out.splitlines() if "│" not in line or " filled │" not in line)
        assert proc.returncode == 0, f"final run failed ({proc.returncode}):\n{head[-3000:]}\n{err[-4000:]}"
        return proc.returncode
    sent = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("sending "):
            sent += 1
            if sent >= kill_after:
                proc.send_signal(signal.SIGKILL)
                break
    else:
        proc.wait(timeout=300)
        return proc.returncode  # it finished before the kill point
    proc.wait(timeout=30)
    return None


def _trial(harness: BrokerHarness, url: str, tmp_path: Path, seed: int, tag: str, n_orders: int,
           **broker: Any) -> None:
    print(f"crash trial {tag}: seed {seed}, {n_orders} orders")
    rng = random.Random(seed)
    run_id = f"crash-{tag}-{seed}"
    targets, env = _write_inputs(harness, tmp_path, url, run_id, rng, tag, n_orders, **broker)
    # A kill point is a number of orders sent, or (≤ 0) milliseconds after start, before anything is sent.
    kills = [rng.randint(1, n_orders) if rng.random() < 0.8 else -rng.randint(500, 6000)
             for _ in range(rng.randint(1, 3))]
    print(f"crash trial {tag}: kill points {kills}")
    for kill_after in kills:  # each restart resumes the same run and is killed again, later or earlier
        _run_client(tmp_path, env, kill_after)
    _run_client(tmp_path, env, None)

    held = {s: q for s, q in harness.held_at(url).items() if s in targets}
    assert held == targets, f"seed {seed}: venue positions differ from targets"
    journal = Journal(tmp_path / "journal.sqlite")
    orders = journal.orders(run_id)
    assert len(orders) == n_orders, f"seed {seed}: {len(orders)} intents"
    attempts = requests.get(f"{url}/_stats", timeout=30, headers=harness.harness_headers()).json()["order_attempts"]
    mine = {coid: attempts.get(harness.venue_client_id(coid), 0) for coid in orders["client_order_id"]}
    wrong = [c for c, n in mine.items() if n != 1]
    assert not wrong, f"seed {seed}: sent twice or never: {wrong}"
    assert set(orders["status"]) == {"filled"}, f"seed {seed}: {orders['status'].value_counts().to_dict()}"
    assert (orders["filled_quantity"] == orders["quantity"]).all()
    from_fills = journal.positions_from_fills(run_id).to_dict()
    assert from_fills == held, f"seed {seed}: journal fills disagree with the venue"
    raw = (tmp_path / "journal.sqlite").read_bytes()
    for secret in harness.journal_secrets():
        assert secret.encode() not in raw


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigkill_and_restart_loses_nothing_and_sends_nothing_twice(served: tuple[BrokerHarness, str],
                                                                   tmp_path: Path, trial: int) -> None:
    harness, url = served
    _trial(harness, url, tmp_path, BASE_SEED + trial, f"C{trial:02d}", min(harness.crash_orders, FREE_ORDERS),
           rate_limit_per_minute=FREE_LIMIT, rate_window_seconds=FREE_WINDOW)


@pytest.mark.parametrize("trial", range(TRIALS))
def test_a_restarted_client_meets_no_429_from_a_binding_rate_limit(served_paced: tuple[BrokerHarness, str],
                                                                   tmp_path: Path, trial: int) -> None:
    harness, url = served_paced
    before = requests.get(f"{url}/_stats", timeout=30, headers=harness.harness_headers()).json()["rate_limited"]
    # The client is told the venue's scaled window (else it paces to the limit per 60 s and the limit never binds).
    _trial(harness, url, tmp_path, BASE_SEED + 1000 + trial, f"R{trial:02d}", harness.crash_orders,
           rate_limit_per_minute=RATE_LIMIT, rate_window_seconds=RATE_WINDOW)
    after = requests.get(f"{url}/_stats", timeout=30, headers=harness.harness_headers()).json()
    assert after["rate_limited"] == before, after["responses"]
