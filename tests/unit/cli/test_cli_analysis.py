"""``execlab plan``, ``execlab reconcile`` and ``execlab notebook run``: outputs, and exit codes a scheduler acts on."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from typer.testing import CliRunner

from execlab._cli.analysis import parse_parameters
from execlab._cli.main import app
from execlab._oms.journal import Journal
from execlab.adapters.alpaca import AlpacaAdapter
from execlab.venues import AlpacaVenue

from helpers.alpaca import StartVenue

KEY, SECRET = "PKCLITEST000000001", "cli-secret-never-printed-01"
runner = CliRunner()


def _csv(path: Path, header: str, rows: dict[str, float]) -> Path:
    path.write_text(header + "\n" + "".join(f"{k},{v}\n" for k, v in rows.items()))
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    config = tmp_path / "plan.yaml"
    config.write_text("mode: backtest\nrun_id: plan-test\nplan:\n  target_unit: shares\n")
    return {
        "config": config,
        "targets": _csv(tmp_path / "targets.csv", "symbol,target", {"AAA": 100, "BBB": 0, "CCC": 30}),
        "prices": _csv(tmp_path / "prices.csv", "symbol,price", {"AAA": 10.0, "BBB": 20.0, "CCC": 50.0}),
        "positions": _csv(tmp_path / "positions.csv", "symbol,quantity", {"AAA": 40, "BBB": 25}),
    }


def test_plan_prints_orders_sells_first_and_writes_the_table(files: dict[str, Path], tmp_path: Path) -> None:
    out_csv = tmp_path / "plan.csv"
    result = runner.invoke(app, ["plan", "--config", str(files["config"]), "--targets", str(files["targets"]),
                                 "--prices", str(files["prices"]), "--positions", str(files["positions"]),
                                 "--cash", "5000", "--out", str(out_csv)])
    assert result.exit_code == 0, result.output
    assert "3 orders: 1 sells (500.00), 2 buys (2,100.00)" in result.output
    lines = [line for line in result.output.splitlines() if line.strip().startswith(("│ AAA", "│ BBB", "│ CCC"))]
    assert [line.split()[1] for line in lines] == ["BBB", "AAA", "CCC"]  # sells first, then buys by value
    import pandas as pd

    table = pd.read_csv(out_csv, index_col="symbol")
    assert table.loc["AAA", "order_qty"] == 60 and table.loc["BBB", "order_qty"] == -25
    assert table.loc["CCC", "order_qty"] == 30


def test_plan_bad_target_names_the_symbol_and_exits_2(files: dict[str, Path], tmp_path: Path) -> None:
    bad = _csv(tmp_path / "bad.csv", "symbol,target", {"AAA": 100, "ZZZ": 5})
    result = runner.invoke(app, ["plan", "--config", str(files["config"]), "--targets", str(bad),
                                 "--prices", str(files["prices"]), "--positions", str(files["positions"])])
    assert result.exit_code == 2
    assert "ZZZ" in result.output


def test_plan_without_positions_needs_a_broker(files: dict[str, Path]) -> None:
    result = runner.invoke(app, ["plan", "--config", str(files["config"]), "--targets", str(files["targets"]),
                                 "--prices", str(files["prices"])])
    assert result.exit_code == 2
    assert "positions" in result.output


@pytest.fixture
def venue(local_venue: StartVenue) -> AlpacaVenue:
    return local_venue(KEY, SECRET, initial_cash=50_000.0, rate_limit=10_000,
                       prices={"AAA": 10.0, "BBB": 20.0, "CCC": 50.0})


def _paper_config(tmp_path: Path, venue: AlpacaVenue, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLI_KEY", KEY)
    monkeypatch.setenv("CLI_SECRET", SECRET)
    path = tmp_path / "paper.yaml"
    path.write_text(f"mode: paper\nrun_id: cli-paper\nplan:\n  target_unit: shares\nbroker:\n  name: alpaca\n"
                    f"  base_url: {venue.base_url}\n  api_key: ${{CLI_KEY}}\n  api_secret: ${{CLI_SECRET}}\n")
    return path


def test_plan_reads_positions_and_cash_from_the_broker(files: dict[str, Path], venue: AlpacaVenue,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    adapter = AlpacaAdapter(KEY, SECRET, base_url=venue.base_url)
    adapter.client.submit_order(MarketOrderRequest(symbol="AAA", qty=40, side=OrderSide.BUY,
                                                   time_in_force=TimeInForce.DAY))
    config = _paper_config(tmp_path, venue, monkeypatch)
    result = runner.invoke(app, ["plan", "--config", str(config), "--targets", str(files["targets"]),
                                 "--prices", str(files["prices"])])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.strip().startswith("│ AAA"))
    assert row.split("│")[3].strip() == "40"  # current, from the broker
    assert row.split("│")[5].strip() == "60"  # order quantity
    assert SECRET not in result.output


def test_reconcile_is_clean_then_halts_on_an_unexplained_position(venue: AlpacaVenue, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    config = _paper_config(tmp_path, venue, monkeypatch)
    journal_path = tmp_path / "journal.sqlite"
    Journal(journal_path).close()
    clean = runner.invoke(app, ["reconcile", "--config", str(config), "--journal", str(journal_path)])
    assert clean.exit_code == 0, clean.output
    assert "state active" in clean.output
    # The journal expects 10 BBB that the broker does not hold, and no fill explains the difference.
    journal = Journal(journal_path)
    journal.record("cli-paper", "positions_snapshot", None, None, {"as_of": "x", "positions": {"BBB": 10.0}})
    journal.close()
    halted = runner.invoke(app, ["reconcile", "--config", str(config), "--journal", str(journal_path)])
    assert halted.exit_code == 4, halted.output
    assert "BBB" in halted.output
    assert SECRET not in halted.output


def test_parse_parameters_reads_yaml_values() -> None:
    assert parse_parameters(["dry_run=true", "as_of=2024-06-28", "n=3", "config=examples/demo.yaml"]) == {
        "dry_run": True, "as_of": "2024-06-28", "n": 3, "config": "examples/demo.yaml"}
    with pytest.raises(ValueError, match="key=value"):
        parse_parameters(["novalue"])


def _notebook(path: Path, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("fail = False\nvalue = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
@pytest.mark.notebook  # runs the notebook in a kernel through the command line
def test_notebook_run_passes_parameters_and_fails_loudly(tmp_path: Path) -> None:
    nb = _notebook(tmp_path / "check.ipynb",
                   "import json, pathlib\n"
                   "if fail:\n    raise RuntimeError('risk denied the rebalance')\n"
                   "pathlib.Path('seen.json').write_text(json.dumps({'value': value}))")
    ok = runner.invoke(app, ["notebook", "run", str(nb), "--output", str(tmp_path / "out.ipynb"),
                             "-p", "value=42", "--no-progress"])
    assert ok.exit_code == 0, ok.output
    assert json.loads((tmp_path / "seen.json").read_text()) == {"value": 42}
    failed = runner.invoke(app, ["notebook", "run", str(nb), "--output", str(tmp_path / "out2.ipynb"),
                                 "-p", "fail=true", "--no-progress"])
    assert failed.exit_code == 1
    assert "risk denied the rebalance" in failed.output


def test_notebook_run_unknown_name_exits_2() -> None:
    result = runner.invoke(app, ["notebook", "run", "no_such_notebook"])
    assert result.exit_code == 2
    assert "not found" in result.output


def test_tca_prints_the_shortfall_and_writes_the_report(venue: AlpacaVenue, tmp_path: Path) -> None:
    from execlab._analysis.tca import tca_from_journal
    from execlab._brokers.executor import BrokerExecutor
    from execlab._config import Config
    from execlab._runs.live import run_live_rebalance

    journal_path = tmp_path / "journal.sqlite"
    journal = Journal(journal_path, secrets=[SECRET])
    config = Config.from_mapping({"mode": "paper", "run_id": "cli-tca",
                                  "broker": {"name": "alpaca", "api_key": KEY, "api_secret": SECRET}})
    executor = BrokerExecutor(AlpacaAdapter(KEY, SECRET, base_url=venue.base_url), journal, "cli-tca", ())
    run_live_rebalance({"AAA": 100, "BBB": 50}, {"AAA": 10.0, "BBB": 20.0}, config, executor, journal, "d1",
                       timeout=10)
    expected = tca_from_journal(journal, "cli-tca").summary()
    journal.close()
    report, table = tmp_path / "tca.html", tmp_path / "tca.csv"
    result = runner.invoke(app, ["tca", "--journal", str(journal_path), "--run-id", "cli-tca", "--report",
                                 str(report), "--out", str(table), "--by", "symbol", "--by", "side"])
    assert result.exit_code == 0, result.output
    assert f"2 orders, {int(expected['fills'])} fills, shortfall {expected['shortfall']:,.2f}" in result.output
    assert expected["shortfall"] > 0  # bought at the ask, above the decision price
    assert report.is_file() and "<html" in report.read_text().lower()
    import pandas as pd

    assert sorted(pd.read_csv(table)["symbol"]) == ["AAA", "BBB"]
    unknown = runner.invoke(app, ["tca", "--journal", str(journal_path), "--run-id", "nope"])
    assert unknown.exit_code == 2 and "nope" in unknown.output
    bad_key = runner.invoke(app, ["tca", "--journal", str(journal_path), "--run-id", "cli-tca", "--by", "colour"])
    assert bad_key.exit_code == 2 and "colour" in bad_key.output
