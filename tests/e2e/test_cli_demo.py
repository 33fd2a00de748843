"""The ``execlab`` command line: demo, backtest, data build and schema, in-process and installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

import execlab as xl
import execlab._analysis.report_html as report
import execlab._cli.main as cli
from execlab._analysis.report_html import write_report
from execlab._cli.main import app
from execlab.strategies import equal_weight_index, momentum_targets

from helpers.paths import EXAMPLES

DEMO_CONFIG = EXAMPLES / "demo.yaml"

runner = CliRunner()


def _money(value: float) -> str:
    return f"{value:,.2f}"


@pytest.fixture(scope="module")
def demo_result(bars: pd.DataFrame) -> xl.BacktestResult:
    """The demo's backtest, run directly through the API."""
    return xl.run_backtest(momentum_targets(bars), bars, xl.load_config(DEMO_CONFIG))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    path = tmp_path_factory.mktemp("report") / "nested" / "demo.html"
    result = runner.invoke(app, ["demo", "--report", str(path)])
    return result, path


@pytest.fixture()
def inputs(tmp_path: Path, bars: pd.DataFrame) -> tuple[Path, Path]:
    """A short slice of the sample bars and its momentum targets, as CSV files."""
    recent = bars[bars["timestamp"] >= "2010-01-01"]
    targets = momentum_targets(recent)
    bars_path, targets_path = tmp_path / "bars.csv", tmp_path / "targets.csv"
    recent.to_csv(bars_path, index=False)
    targets.to_csv(targets_path, index_label="timestamp")
    return targets_path, bars_path


def _write_config(path: Path, extra: str = "") -> Path:
    path.write_text(DEMO_CONFIG.read_text() + extra)
    return path


def test_demo_config_loads() -> None:
    config = xl.load_config(DEMO_CONFIG)
    assert (config.mode, config.run_id, config.initial_cash) == ("backtest", "demo", 1_000_000)
    plan = config.plan
    assert (plan.target_unit, plan.cash_buffer, plan.no_trade_band) == ("weight", 0.02, 0.001)
    venue = config.venue
    assert venue.fill_price == "next_open"
    assert (venue.slippage.model, venue.slippage.impact_coefficient) == ("sqrt_impact", 0.1)
    assert (venue.fees.model, venue.fees.bps) == ("bps", 1.0)  # fees on notional: the sample is back-adjusted
    assert venue.participation_cap == 0.05


def test_demo_config_ships_in_the_package() -> None:
    """``execlab demo`` finds its config after a plain ``pip install`` (no repository around it)."""
    package = Path(xl.__file__).resolve().parent
    assert cli.DEFAULT_CONFIG.is_file() and package in cli.DEFAULT_CONFIG.parents
    assert DEMO_CONFIG.resolve() == cli.DEFAULT_CONFIG  # examples/demo.yaml is a link to it


def test_public_surface() -> None:
    assert report.__all__ == ["write_report"]
    assert sorted(cli.__all__) == ["app", "main"]


@pytest.mark.slow
def test_demo_prints_summary(demo_run: tuple[Result, Path], demo_result: xl.BacktestResult) -> None:
    result, path = demo_run
    assert result.exit_code == 0, result.output
    stdout = result.stdout
    s = demo_result.summary()
    assert "Final value" in stdout
    assert _money(s["final_value"]) in stdout
    assert f"{s['total_return']:.2%}" in stdout
    assert f"{s['turnover']:.2f}" in stdout
    assert _money(s["fees"]) in stdout and _money(s["slippage"]) in stdout
    assert re.search(rf"Orders\W+{int(s['orders'])}\b", stdout)
    assert re.search(rf"Fills\W+{int(s['fills'])}\b", stdout)
    assert str(path.resolve()) in stdout.replace("\n", "")


@pytest.mark.slow
def test_demo_also_trades_the_strategy_in_paper_mode(demo_run: tuple[Result, Path], bars: pd.DataFrame,
                                                     demo_result: xl.BacktestResult) -> None:
    """The first README command (``make demo``) runs the same strategy in paper mode on the local simulated venue,
    the sample bars replayed through a price feed, and reports that the order tables match."""
    from execlab import run_paper
    from execlab._data.feeds import ReplayFeed

    result, _ = demo_run
    stdout = result.stdout
    config = xl.load_config(DEMO_CONFIG).model_copy(update={"mode": "paper"})
    paper = run_paper(momentum_targets(bars), ReplayFeed.from_bars(bars), config)
    s = paper.summary()
    assert s == pytest.approx(demo_result.summary())
    paper_part = stdout[stdout.index("paper mode"):]
    assert "broker sim" in paper_part
    assert _money(s["final_value"]) in paper_part and f"{s['total_return']:.2%}" in paper_part
    assert re.search(rf"Orders\W+{int(s['orders'])}\b", paper_part)
    assert f"Order tables match: backtest and paper sent the same {int(s['orders']):,} orders" in stdout


@pytest.mark.slow
def test_demo_runs_a_paper_config(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--config", str(EXAMPLES / "paper.yaml"),
                                 "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert "Order tables match" in result.stdout


def test_demo_refuses_a_broker_config(tmp_path: Path) -> None:
    config = tmp_path / "alpaca.yaml"
    config.write_text(DEMO_CONFIG.read_text().replace("mode: backtest", "mode: paper\nbroker:\n  name: alpaca"))
    result = runner.invoke(app, ["demo", "--config", str(config), "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "local simulated venue" in result.stderr and "'alpaca'" in result.stderr
    assert not (tmp_path / "r.html").exists()


@pytest.mark.slow
def test_demo_report(demo_run: tuple[Result, Path], demo_result: xl.BacktestResult, bars: pd.DataFrame) -> None:
    _, path = demo_run
    page = path.read_text(encoding="utf-8")
    s = demo_result.summary(equal_weight_index(bars))
    for key in ("initial_value", "final_value", "fees", "slippage"):
        assert _money(s[key]) in page, key
    assert f"{s['total_return']:.2%}" in page
    assert f"{s['turnover']:.2f}" in page
    for key in ("orders", "orders_filled", "orders_denied", "fills"):
        assert f"<td>{int(s[key]):,}</td>" in page, key
    embedded = re.search(r'<script type="application/json" id="execlab-summary">(.*?)</script>', page, re.S)
    assert embedded is not None
    assert json.loads(embedded.group(1)) == pytest.approx(s)
    # the equity and drawdown plots are in the embedded Bokeh document, with BokehJS inlined
    assert "equity-curve" in page and "drawdown" in page
    assert "Bokeh" in page and not re.search(r"<script[^>]+src=|<link[^>]+href=\"http", page)
    for heading in ("Costs by kind", "Turnover", "Final positions", "Last 50 orders", "Last 50 fills",
                    "What is not modelled"):
        assert f"<h2>{heading}</h2>" in page
    for client_order_id in demo_result.orders["client_order_id"].iloc[-50:]:
        assert client_order_id in page
    assert demo_result.orders["client_order_id"].iloc[-51] not in page.split("Last 50 fills")[0]
    assert "Borrow costs" in page and "Queue position" in page
    for label, value in (("Sharpe ratio", f"{s['sharpe']:.2f}"), ("Max drawdown", f"{s['max_drawdown']:.2%}"),
                         ("Beta", f"{s['beta']:.2f}"), ("Information ratio", f"{s['information_ratio']:.2f}")):
        assert f"<td>{label}</td><td>{value}</td>" in page, label
    assert 'id="execlab-defaults"' not in page  # the demo config sets fills, costs and a volume cap


@pytest.mark.slow
def test_demo_tear_sheet_equals_empyrical(demo_result: xl.BacktestResult, bars: pd.DataFrame) -> None:
    """Sharpe, Sortino and max drawdown of the demo's equity curve equal empyrical's (test-only dependency) to
    1e-9; so do volatility, beta, alpha and the information ratio against the equal-weight universe."""
    import empyrical as ep

    sheet = demo_result.tear_sheet(equal_weight_index(bars))
    r, b, h = sheet.returns, sheet.benchmark_returns, sheet.headline
    assert len(r) > 2500 and h["sharpe"] > 0
    assert h["sharpe"] == pytest.approx(ep.sharpe_ratio(r), abs=1e-9)
    assert h["sortino"] == pytest.approx(ep.sortino_ratio(r), abs=1e-9)
    assert h["max_drawdown"] == pytest.approx(ep.max_drawdown(r), abs=1e-9)
    assert h["volatility"] == pytest.approx(ep.annual_volatility(r), abs=1e-9)
    assert h["beta"] == pytest.approx(ep.beta(r, b), abs=1e-9)
    assert h["alpha"] == pytest.approx(ep.alpha(r, b), abs=1e-9)
    assert h["information_ratio"] == pytest.approx(ep.excess_sharpe(r, b) * 252**0.5, abs=1e-9)


@pytest.mark.slow
def test_backtest_csv_inputs(tmp_path: Path, inputs: tuple[Path, Path], bars: pd.DataFrame) -> None:
    targets_path, bars_path = inputs
    config = _write_config(tmp_path / "config.yaml")
    report_path = tmp_path / "out.html"
    result = runner.invoke(app, ["backtest", "--config", str(config), "--targets", str(targets_path),
                                 "--bars", str(bars_path), "--report", str(report_path)])
    assert result.exit_code == 0, result.output
    recent = bars[bars["timestamp"] >= "2010-01-01"]
    expected = xl.run_backtest(momentum_targets(recent), recent, xl.load_config(config)).summary()
    assert _money(expected["final_value"]) in result.stdout
    assert report_path.is_file()


def test_backtest_bad_config_key_exits_2(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    targets_path, bars_path = inputs
    config = _write_config(tmp_path / "bad.yaml", "risk:\n  max_order_valu: 1000\n")
    result = runner.invoke(app, ["backtest", "--config", str(config), "--targets", str(targets_path),
                                 "--bars", str(bars_path)])
    assert result.exit_code == 2
    assert "risk.max_order_valu" in result.stderr and "unknown key" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output and result.stdout == ""


def test_backtest_bad_targets_exits_2(tmp_path: Path, inputs: tuple[Path, Path]) -> None:
    targets_path, bars_path = inputs
    targets = pd.read_csv(targets_path, index_col="timestamp")
    targets["ZZZZ"] = 0.0
    targets.to_csv(targets_path)
    result = runner.invoke(app, ["backtest", "--config", str(DEMO_CONFIG), "--targets", str(targets_path),
                                 "--bars", str(bars_path)])
    assert result.exit_code == 2
    assert "ZZZZ" in result.stderr and "Traceback" not in result.output


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("bars.parquet", b"not parquet", "cannot read"),
    ("bars.txt", b"a,b\n", "must be a .parquet or .csv file"),
])
def test_backtest_unreadable_bars_exits_2(tmp_path: Path, inputs: tuple[Path, Path], name: str,
                                          content: bytes, expected: str) -> None:
    targets_path, _ = inputs
    bad = tmp_path / name
    bad.write_bytes(content)
    result = runner.invoke(app, ["backtest", "--config", str(DEMO_CONFIG), "--targets", str(targets_path),
                                 "--bars", str(bad)])
    assert result.exit_code == 2
    assert expected in result.stderr and "Traceback" not in result.output


def test_demo_missing_config_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--config", str(tmp_path / "nope.yaml"),
                                 "--report", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert "nope.yaml" in result.stderr
    assert not (tmp_path / "r.html").exists()


def test_data_build(tmp_path: Path, bars: pd.DataFrame) -> None:
    out = tmp_path / "data" / "sample_daily.parquet"
    result = runner.invoke(app, ["data", "build", "--out", str(out)])
    assert result.exit_code == 0, result.output
    pd.testing.assert_frame_equal(pd.read_parquet(out), bars)


def test_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == xl.order_json_schema()


def test_report_without_trades(tmp_path: Path, bars: pd.DataFrame) -> None:
    recent = bars[bars["timestamp"] >= "2012-01-01"]
    targets = momentum_targets(recent) * 0.0
    result = xl.run_backtest(targets, recent, xl.load_config(DEMO_CONFIG))
    page = write_report(result, tmp_path / "flat.html", title="No <trades>").read_text()
    assert "<h1>No &lt;trades&gt;</h1>" in page
    assert _money(1_000_000) in page


def _console_script() -> str:
    beside = Path(sys.executable).parent / "execlab"
    found = str(beside) if beside.is_file() else shutil.which("execlab")
    if found is None:
        pytest.fail("the execlab console script is not installed (run `make setup`)")
    return found


@pytest.mark.slow
def test_console_script_demo(tmp_path: Path) -> None:
    """The installed entry point, run from another folder: finds examples/demo.yaml and writes the report."""
    report_path = tmp_path / "demo.html"
    proc = subprocess.run([_console_script(), "demo", "--report", str(report_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Final value" in proc.stdout
    assert report_path.is_file() and not (tmp_path / "reports").exists()
