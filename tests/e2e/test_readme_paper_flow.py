"""The documented paper flow, run as written: a local Alpaca venue, plan, rebalance, reconcile.

The commands are read from the how-to page docs/how-to/paper-local-venue.md. Two things differ from a person at a
terminal, both mechanical: the venue's port is a free one instead of 8765, and where the page says to wait for the
venue's "listening" line the test waits for it.
"""

from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path

import pytest

from helpers.readme import free_port, readme_commands, run_commands

pytestmark = [pytest.mark.local_venue, pytest.mark.slow]


def test_the_readme_paper_commands_run_as_written(tmp_path: Path) -> None:
    commands = readme_commands("**A local Alpaca**", "docs/how-to/paper-local-venue.md")
    assert any(c.startswith("execlab rebalance") for c in commands)
    done = run_commands(commands, tmp_path, str(free_port()), "8765", ("APCA_", "EXECLAB_"))
    assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "venue.log").read_text()
    out = done.stdout
    assert re.search(r"3 orders: 0 sells .*3 buys", out), out  # execlab plan
    assert "rebalance 2024-06-28: 3 orders {'filled': 3}" in out, out
    assert "state active" in out, out  # execlab reconcile
    db = sqlite3.connect(tmp_path / "journal.sqlite")
    symbols = sorted(r[0] for r in db.execute("SELECT symbol FROM intents WHERE run_id = 'momentum-paper'"))
    assert symbols == ["AAPL", "MSFT", "NVDA"]
    filled = dict(db.execute("SELECT symbol, SUM(quantity) FROM fills GROUP BY symbol").fetchall())
    # The unit ladder by hand: weight × equity less the 2 % cash buffer → notional → whole shares at the price
    weights = {"AAPL": (0.30, 210.50), "MSFT": (0.30, 447.20), "NVDA": (0.20, 123.50)}
    assert filled == {s: float(math.floor(w * 1_000_000 * (1 - 0.02) / p)) for s, (w, p) in weights.items()}
    assert "execlab-local-venue-not-a-secret" not in (tmp_path / "journal.sqlite").read_bytes().decode("latin-1")
