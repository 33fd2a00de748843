"""The documented paper flow, run as written: a local Alpaca venue, plan, rebalance, reconcile.

The commands are read from the how-to page docs/how-to/paper-local-venue.md. Two things differ from a person at a
terminal, both mechanical: the venue's port is a free one instead of 8765, and where the page says to wait for the
venue's "listening" line the test waits for it.
"""

from __future__ import annotations

import math
import os
import re
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.local_venue, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
while not (ROOT / "README.md").exists():  # the tests may live one folder deeper
    ROOT = ROOT.parent


def _readme_block() -> list[str]:
    text = (ROOT / "docs" / "how-to" / "paper-local-venue.md").read_text()
    start = text.index("**A local Alpaca**")
    block = text[text.index("```bash\n", start) + len("```bash\n"):]
    block = block[:block.index("```")]
    commands: list[str] = []
    for line in block.replace("\\\n", " ").splitlines():
        if line.strip():
            commands.append(line)
    return commands


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_readme_paper_commands_run_as_written(tmp_path: Path) -> None:
    commands = _readme_block()
    assert any(c.startswith("execlab rebalance") for c in commands)
    port = str(_free_port())
    script = ["set -euo pipefail"]
    for command in commands:
        command = command.replace("8765", port)
        code = command.split("  #")[0].rstrip() if "  #" in command else command
        if code.endswith("&"):  # the venue: keep its output, then wait for it to listen, as the README says
            script.append(code[:-1].rstrip() + " > venue.log 2>&1 &")
            script.append("for _ in $(seq 1 300); do grep -q listening venue.log && break; sleep 0.1; done")
            script.append("grep -q listening venue.log")
        else:
            script.append(code)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("APCA_", "EXECLAB_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
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
