"""The crypto page's flow through ccxt, run as written: the local Binance spot venue, plan, rebalance, reconcile,
TCA (only the port differs: a free one instead of 8767)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from helpers.readme import free_port, readme_commands, run_commands

pytestmark = [pytest.mark.local_venue, pytest.mark.slow]


def test_the_crypto_page_commands_run_as_written(tmp_path: Path) -> None:
    commands = readme_commands("# Crypto (Binance spot and OKX through ccxt)", "docs/brokers/crypto.md")
    assert any(c.startswith("execlab rebalance") for c in commands)
    done = run_commands(commands, tmp_path, str(free_port()), "8767", ("BINANCE_", "EXECLAB_"))
    assert done.returncode == 0, done.stdout + done.stderr + (tmp_path / "venue.log").read_text()
    out = done.stdout
    assert "rebalance 2026-11-30: 3 orders {'filled': 3}" in out, out
    assert "TCA of run crypto-paper: 3 orders, 3 fills" in out, out
    db = sqlite3.connect(tmp_path / "crypto.sqlite")
    rows = db.execute("SELECT symbol, side, quantity, price, fee, fee_currency FROM fills").fetchall()
    assert sorted(r[0] for r in rows) == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]
    for symbol, side, qty, _, fee, fee_currency in rows:
        assert side == "buy" and fee_currency == symbol.split("/")[0]  # fees in the asset received
        assert fee == pytest.approx(qty * 0.001, rel=1e-6)
    weights = {s: q * p / 100_000 for s, _, q, p, _, _ in rows}
    assert weights == pytest.approx({"BTC/USDT": 0.40, "ETH/USDT": 0.30, "SOL/USDT": 0.20}, abs=0.01)
    assert "execlab-local-binance-secret-not-a-secret" not in (tmp_path / "crypto.sqlite").read_bytes().decode(
        "latin-1")
