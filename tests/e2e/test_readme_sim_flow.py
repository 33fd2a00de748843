"""The documented ``broker: sim`` commands (docs/how-to/paper-local-venue.md) run as written, twice: the second run
resumes and sends nothing again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow]  # four fresh processes

ROOT = Path(__file__).resolve().parents[1]
while not (ROOT / "README.md").exists():  # the tests may live one folder deeper
    ROOT = ROOT.parent


def _blocks() -> tuple[list[str], list[str]]:
    text = (ROOT / "docs" / "how-to" / "paper-local-venue.md").read_text()
    start = text.index("**A local Alpaca**")
    first = text.index("```bash\n", start)
    second = text.index("```bash\n", text.index("**`broker: sim`, without any venue process**", first))

    def lines(at: int) -> list[str]:
        block = text[at + len("```bash\n"):]
        return [line for line in block[:block.index("```")].replace("\\\n", " ").splitlines() if line.strip()]

    inputs = [c for c in lines(first) if c.startswith("printf")]  # targets.csv and prices.csv
    return inputs, lines(second)


def test_the_readme_sim_commands_run_as_written(tmp_path: Path) -> None:
    inputs, commands = _blocks()
    assert any(c.startswith("execlab rebalance") for c in commands)
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    script = ["set -euo pipefail", *inputs, *commands, *[c for c in commands if c.startswith("execlab rebalance")]]
    done = subprocess.run(["bash", "-c", "\n".join(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"3 orders: 0 sells .*3 buys", done.stdout), done.stdout  # execlab plan
    assert "rebalance 2024-06-28: 3 orders {'filled': 3}\n" in done.stdout, done.stdout
    assert "(resumed)" in done.stdout  # the second run
    state = json.loads((tmp_path / "sim.sqlite.sim-account.json").read_text())
    assert set(state["positions"]) == {"AAPL", "MSFT", "NVDA"}
    assert set(state["received"].values()) == {1}
