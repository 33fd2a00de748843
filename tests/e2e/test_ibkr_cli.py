"""``execlab rebalance`` and ``execlab reconcile`` with examples/paper_ibkr.yaml against a local IB venue: a stock
and FX rebalance journaled through ib_async, a re-run that resumes, and the live-port guard of a paper config."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import execlab as xl
from execlab._cli.main import app
from execlab.venues.ibkr import IBVenue

from helpers.ibkr import ib_venue
from helpers.paths import EXAMPLES

pytestmark = [pytest.mark.local_venue]


@pytest.fixture
def venue() -> Iterator[IBVenue]:
    with ib_venue() as v:
        yield v


def test_the_example_config_rebalances_stocks_and_fx(venue: IBVenue, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXECLAB_IB_PORT", str(venue.port))
    (tmp_path / "targets.csv").write_text("symbol,target\nAAPL,100\nMSFT,40\nEUR.USD,25000\nGBP.USD,10000\n")
    (tmp_path / "prices.csv").write_text("symbol,price\nAAPL,190.0\nMSFT,400.0\nEUR.USD,1.0831\nGBP.USD,1.2701\n")
    args = ["rebalance", "--config", str(EXAMPLES / "paper_ibkr.yaml"), "--targets", str(tmp_path / "targets.csv"),
            "--prices", str(tmp_path / "prices.csv"), "--journal", str(tmp_path / "j.sqlite"), "--as-of",
            "2026-11-30", "--timeout", "20"]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "4 orders {'filled': 4}" in first.output, first.output
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert sorted(venue.stats()["order_attempts"].values()) == [1, 1, 1, 1]
    reconciled = runner.invoke(app, ["reconcile", "--config", str(EXAMPLES / "paper_ibkr.yaml"), "--journal",
                                     str(tmp_path / "j.sqlite")])
    assert reconciled.exit_code == 0, reconciled.output
    assert "state active" in reconciled.output, reconciled.output
    db = sqlite3.connect(tmp_path / "j.sqlite")
    fills = dict(db.execute("SELECT symbol, SUM(quantity) FROM fills GROUP BY symbol").fetchall())
    assert fills == {"AAPL": 100.0, "MSFT": 40.0, "EUR.USD": 25000.0, "GBP.USD": 10000.0}
    fees = db.execute("SELECT COUNT(*) FROM fills WHERE fee > 0 AND fee_currency = 'USD'").fetchone()[0]
    assert fees == 4
    tca = runner.invoke(app, ["tca", "--journal", str(tmp_path / "j.sqlite"), "--run-id", "ibkr-paper"])
    assert tca.exit_code == 0, tca.output
    charged = float(re.search(r"fees ([0-9.]+)", tca.output).group(1))  # type: ignore[union-attr]
    total = db.execute("SELECT SUM(fee) FROM fills").fetchone()[0]
    assert charged == pytest.approx(total, abs=0.01) and charged > 0  # IB's commission reports reach the TCA


def test_a_paper_config_refuses_the_live_gateway_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    from execlab.adapters.ibkr._factory import make_adapter

    for port in ("7496", "4001"):
        monkeypatch.setenv("EXECLAB_IB_PORT", port)
        cfg = xl.load_config(EXAMPLES / "paper_ibkr.yaml")
        with pytest.raises(ValueError, match="live-trading port"):
            make_adapter(cfg.broker, cfg)
