"""TCA labels are right: ``execlab tca --by`` shows each group's keys (symbols, not 0…n) under their own headers, and
a journaled paper or live run knows its mode, venue and strategy (a ``run`` journal event), on the command line and
in the HTML report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from execlab import Config, Journal, ReplayFeed, run_paper, tca_from_journal
from execlab._brokers.executor import BrokerExecutor
from execlab._cli.main import app
from execlab._oms.events import EventKind
from execlab._oms.journal import Intent
from execlab._runs.live import run_live_rebalance
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue

pytestmark = [pytest.mark.local_venue]

KEY, SECRET = "PKTCALABELS00000001", "tca-labels-secret-never-printed"
runner = CliRunner()


def _rows(output: str) -> list[list[str]]:
    """The header and body rows of the rich tables in ``output``, as lists of cell texts."""
    return [[c.strip() for c in line.strip().replace("┃", "│").strip("│").split("│")]
            for line in output.splitlines() if line.strip().startswith(("│", "┃"))]


def _header(output: str, first: str) -> list[str]:
    return next(r for r in _rows(output) if r and r[0] == first)


@pytest.fixture
def journal_path(tmp_path: Path) -> Iterator[Path]:
    """A paper run through alpaca-py against the local Alpaca venue: buys AAA and BBB, sells CCC."""
    path = tmp_path / "journal.sqlite"
    with AlpacaVenue(KEY, SECRET, initial_cash=50_000.0, rate_limit=10_000) as venue:
        for sym, px in {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0}.items():
            venue.set_quote(sym, px - 0.01, px + 0.01, px)
        journal = Journal(path, secrets=[SECRET])
        config = Config.from_mapping({"mode": "paper", "run_id": "labels", "strategy_id": "momo-1",
                                      "broker": {"name": "alpaca", "api_key": KEY, "api_secret": SECRET}})
        executor = BrokerExecutor(AlpacaAdapter(KEY, SECRET, base_url=venue.base_url), journal, "labels", ())
        run_live_rebalance({"AAA": 100, "BBB": 50, "CCC": 10}, {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0}, config,
                           executor, journal, "d1", timeout=10)
        run_live_rebalance({"AAA": 100, "BBB": 50, "CCC": 0}, {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0}, config,
                           executor, journal, "d2", timeout=10)
        journal.close()
    yield path


def test_by_symbol_shows_the_symbols(journal_path: Path) -> None:
    result = runner.invoke(app, ["tca", "--journal", str(journal_path), "--run-id", "labels", "--by", "symbol"])
    assert result.exit_code == 0, result.output
    assert _header(result.output, "symbol")[:2] == ["symbol", "orders"]
    body = [r for r in _rows(result.output) if r[0] != "symbol"]
    assert [r[0] for r in body] == ["AAA", "BBB", "CCC"]
    assert [r[1] for r in body] == ["1.00", "1.00", "2.00"]  # CCC was bought on d1 and sold on d2


def test_two_keys_sit_under_their_own_headers(journal_path: Path) -> None:
    result = runner.invoke(app, ["tca", "--journal", str(journal_path), "--run-id", "labels", "--by", "side",
                                 "--by", "symbol"])
    assert result.exit_code == 0, result.output
    assert _header(result.output, "side")[:3] == ["side", "symbol", "orders"]
    body = [r[:3] for r in _rows(result.output) if r[0] != "side"]
    assert body == [["buy", "AAA", "1.00"], ["buy", "BBB", "1.00"], ["buy", "CCC", "1.00"],
                    ["sell", "CCC", "1.00"]]


def test_mode_venue_and_strategy_are_the_runs(journal_path: Path, tmp_path: Path) -> None:
    report = tmp_path / "tca.html"
    result = runner.invoke(app, ["tca", "--journal", str(journal_path), "--run-id", "labels", "--by", "mode",
                                 "--by", "venue", "--by", "strategy_id", "--by", "day", "--report", str(report)])
    assert result.exit_code == 0, result.output
    assert "mode paper, venue alpaca, strategy momo-1" in result.output.splitlines()
    assert _header(result.output, "mode")[:4] == ["mode", "venue", "strategy_id", "day"]  # labels never shrink
    body = [r for r in _rows(result.output) if r[0] != "mode"]
    today = pd.Timestamp.now(tz="UTC")
    assert [r[:3] for r in body] == [["paper", "alpaca", "momo-1"]]
    assert body[0][3] in {f"{today - pd.Timedelta(days=1):%Y-%m-%d}", f"{today:%Y-%m-%d}"}  # a date, not a time
    assert "unknown" not in result.output
    page = report.read_text()
    assert "mode paper · venue alpaca · strategy momo-1" in page
    assert "<td>paper</td>" in page and "<td>alpaca</td>" in page
    assert "<td>unknown</td>" not in page and "mode unknown" not in page


def test_the_run_event_is_written_once_per_run(journal_path: Path) -> None:
    journal = Journal(journal_path)
    try:
        runs = journal.events("labels", EventKind.RUN)
        assert len(runs) == 1  # two rebalances, one run
        assert journal.run_labels("labels") == {"mode": "paper", "venue": "alpaca", "strategy_id": "momo-1",
                                               "currency": "USD"}
        assert SECRET not in runs["payload"].iloc[0]
    finally:
        journal.close()


def test_a_paper_run_on_the_simulated_venue_is_labelled() -> None:
    days = pd.date_range("2024-01-02", periods=3, freq="D")
    bars = pd.DataFrame([{"timestamp": d, "symbol": s, "close": px + i, "volume": 1e6}
                         for i, d in enumerate(days) for s, px in (("AAA", 10.0), ("BBB", 20.0))])
    targets = pd.DataFrame({"AAA": [10.0], "BBB": [5.0]}, index=days[:1])
    journal = Journal(":memory:")
    config = Config.from_mapping({"mode": "paper", "run_id": "sim-run", "strategy_id": "s2"})
    run_paper(targets, ReplayFeed.from_bars(bars), config, journal=journal)
    tca = tca_from_journal(journal, "sim-run")
    assert set(tca.orders["mode"]) == {"paper"} and set(tca.orders["venue"]) == {"sim"}
    assert set(tca.orders["strategy_id"]) == {"s2"}
    assert set(tca_from_journal(journal, "sim-run", venue="elsewhere").orders["venue"]) == {"elsewhere"}


def test_a_journal_without_a_run_event_still_reads_as_unknown() -> None:
    journal = Journal(":memory:")
    journal.record_intents([Intent("o1", "old", "k", "AAA", "buy", 10.0, decision_price=10.0)])
    journal.record_states("old", [("o1", "cancelled", "submitted")])
    assert journal.run_labels("old") == {}
    orders = tca_from_journal(journal, "old").orders
    assert set(orders["mode"]) == {"unknown"} and set(orders["strategy_id"]) == {"unknown"}
