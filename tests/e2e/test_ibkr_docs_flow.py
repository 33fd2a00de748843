"""docs/brokers/ibkr.md run as written against ``execlab venue ibkr`` out of the box (no quotes, no setup): the paper
rebalance of stocks and FX through examples/paper_ibkr.yaml, and the page's ib_async script. Only the port differs
(a free one instead of 7497)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers.readme import ROOT, free_port, readme_commands, run_commands

pytestmark = [pytest.mark.local_venue, pytest.mark.slow]

PAGE = "docs/brokers/ibkr.md"


def _python_block(heading: str) -> str:
    text = (ROOT / PAGE).read_text()
    start = text.index("```python\n", text.index(heading)) + len("```python\n")
    return text[start:text.index("```", start)]


def test_the_paper_rebalance_runs_as_written(tmp_path: Path) -> None:
    commands = readme_commands("## A paper rebalance against the local TWS", PAGE)
    assert any(c.startswith("execlab venue ibkr --port 7497 &") for c in commands)
    done = run_commands(commands, tmp_path, str(free_port()), "7497", ("EXECLAB_",))
    assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "venue.log").read_text()
    assert "rebalance 2026-11-30: 4 orders {'filled': 4}" in done.stdout, done.stdout


def test_the_ib_async_script_trades_against_the_venue_out_of_the_box(tmp_path: Path) -> None:
    port = free_port()
    script = _python_block("## An ib_async script against the local TWS").replace("7497", str(port))
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    log = (tmp_path / "venue.log").open("w")
    venue = subprocess.Popen([str(bin_dir / "execlab"), "venue", "ibkr", "--port", str(port)], stdout=log,
                             stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        for _ in range(600):
            if "listening" in (tmp_path / "venue.log").read_text() or venue.poll() is not None:
                break
            time.sleep(0.1)
        assert "listening" in (tmp_path / "venue.log").read_text(), (tmp_path / "venue.log").read_text()
        (tmp_path / "hello_ib.py").write_text(script)
        done = subprocess.run([sys.executable, "hello_ib.py"], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120, env=env)
    finally:
        venue.terminate()
        venue.wait(30)
        log.close()
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "account ['DU1234567']"
    assert lines[1:3] == ["AAPL Filled 190.01", "EUR.USD Filled 1.0832"]  # bought at the default asks
    assert lines[3] == "positions {'AAPL': 10.0, 'EUR.USD': 20000.0}"
