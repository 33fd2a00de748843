"""The README's FX flow through OANDA, run as written: the local v20 venue, plan, rebalance, reconcile, TCA.

As for the Alpaca flow, only the port differs (a free one instead of 8766) and the script waits for the venue's
"listening" line where the README says to.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from helpers.readme import free_port, readme_commands, run_commands

pytestmark = [pytest.mark.local_venue, pytest.mark.slow]


def test_the_readme_fx_commands_run_as_written(tmp_path: Path) -> None:
    commands = readme_commands("# OANDA (FX through oandapyV20)", "docs/brokers/oanda.md")
    assert any(c.startswith("execlab rebalance") for c in commands)
    done = run_commands(commands, tmp_path, str(free_port()), "8766", ("OANDA_", "EXECLAB_"))
    assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "venue.log").read_text()
    out = done.stdout
    assert "4 orders: 1 sells" in out, out  # execlab plan
    assert "rebalance 2024-06-28: 4 orders {'filled': 4}" in out, out
    assert "TCA of run fx-paper: 4 orders, 4 fills" in out, out
    db = sqlite3.connect(tmp_path / "fx.sqlite")
    filled = dict(db.execute("SELECT symbol, SUM(CASE side WHEN 'buy' THEN quantity ELSE -quantity END) "
                             "FROM fills GROUP BY symbol").fetchall())
    assert filled == {"EUR/USD": 100_000.0, "GBP/USD": -50_000.0, "NZD/USD": 80_000.0, "EUR/GBP": 30_000.0}
    assert "execlab-local-oanda-token" not in (tmp_path / "fx.sqlite").read_bytes().decode("latin-1")
