"""Crash trials of the OMS's bracket emulation: SIGKILL the process that places a bracket on the simulated broker and
walks a price path (``tests/helpers/group_crash_child.py``) at random points, restart it until it finishes, and check
that every leg was placed exactly once (counted by the broker) and the legs ended as one uninterrupted run ends them.

``EXECLAB_CRASH_TRIALS`` trials (2 by default; ``make soak`` raises it), each killed up to 4 times.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from execlab._brokers.sim_adapter import SimAdapter
from execlab._oms.journal import Journal

from helpers.paths import ROOT

pytestmark = [pytest.mark.slow]

TRIALS = int(os.environ.get("EXECLAB_CRASH_TRIALS", "2"))
BASE_SEED = int(os.environ.get("EXECLAB_CRASH_SEED", "20261130"))
CHILD = ROOT / "tests" / "helpers" / "group_crash_child.py"
KILLS = 4


def _run(folder: Path, kill_after: float | None) -> bool:
    """One process; killed ``kill_after`` seconds after it is ready (None: let it finish). True when it finished."""
    proc = subprocess.Popen([sys.executable, str(CHILD), str(folder)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return False
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return "done" in out


@pytest.mark.parametrize("trial", range(TRIALS))
def test_bracket_emulation_survives_sigkill(tmp_path: Path, trial: int) -> None:
    rng = random.Random(BASE_SEED + trial)
    kills = 0
    while not _run(tmp_path, rng.uniform(0.0, 4.0) if kills < KILLS else None):
        kills += 1
    received = SimAdapter(state_path=tmp_path / "account.json").received
    assert len(received) == 3 and set(received.values()) == {1}, received
    with closing(Journal(tmp_path / "j.sqlite")) as journal:
        orders = journal.orders("crash")
        # the path falls through the stop (94.5) before it reaches the take-profit (110.5)
        assert orders["status"].tolist() == ["filled", "cancelled", "filled"]
        assert orders["filled_quantity"].tolist() == [100.0, 0.0, 100.0]
