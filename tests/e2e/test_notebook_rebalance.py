"""The scheduled-rebalance notebook under papermill: it sends the plan, and fails loudly on denial or halt."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from helpers.paths import EXAMPLES, NOTEBOOKS

NOTEBOOK = NOTEBOOKS / "scheduled_rebalance.ipynb"
BASE = (EXAMPLES / "paper_alpaca.yaml").read_text()


def _run(tmp_path: Path, kernel_name: str, **params: object) -> nbformat.NotebookNode:
    output = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(output), parameters=params, kernel_name=kernel_name,
                               cwd=str(NOTEBOOK.parent), progress_bar=False, log_output=False)
    return nbformat.read(output, as_version=4)


def _config(tmp_path: Path, old: str, new: str) -> str:
    assert old in BASE
    path = tmp_path / "config.yaml"
    path.write_text(BASE.replace(old, new))
    return str(path)


def _intents(journal: Path) -> int:
    with sqlite3.connect(journal) as db:
        return int(db.execute("SELECT COUNT(*) FROM intents").fetchone()[0])


def test_dry_run_plans_and_sends_nothing(tmp_path: Path, kernel: str) -> None:
    journal = tmp_path / "journal.sqlite"
    nb = _run(tmp_path, kernel, dry_run=True, journal_path=str(journal))
    text = "".join(str(o.get("text", "")) for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "dry run: nothing sent" in text
    assert _intents(journal) == 0


def test_risk_denial_fails_the_run_naming_the_order(tmp_path: Path, kernel: str) -> None:
    config = _config(tmp_path, "max_order_value: 500_000", "max_order_value: 200_000")
    journal = tmp_path / "journal.sqlite"
    with pytest.raises(PapermillExecutionError, match="risk denied") as info:
        _run(tmp_path, kernel, rebalance_config=config, journal_path=str(journal))
    assert "max_order_value" in str(info.value) or "order_value" in str(info.value)
    assert _intents(journal) > 0  # journaled, with the denial recorded


def test_halted_trading_fails_the_run_and_sends_nothing(tmp_path: Path, kernel: str) -> None:
    config = _config(tmp_path, "risk:\n", "risk:\n  trading_state: halted\n")
    journal = tmp_path / "journal.sqlite"
    with pytest.raises(PapermillExecutionError, match="TradingHaltedError"):
        _run(tmp_path, kernel, rebalance_config=config, journal_path=str(journal))
    assert _intents(journal) == 0


def test_mode_mismatch_is_refused(tmp_path: Path, kernel: str) -> None:
    with pytest.raises(PapermillExecutionError, match="mode"):
        _run(tmp_path, kernel, mode="live", journal_path=str(tmp_path / "j.sqlite"))
