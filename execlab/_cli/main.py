"""The ``execlab`` command line: ``demo``, ``backtest``, ``data build``, ``schema``, ``rebalance``, ``venue``,
``plan``, ``reconcile``, ``notebook run``.

Bad input (targets, config, bars, unreadable files) prints one red line naming the fault and exits with
code 2; nothing else is caught, so a bug still shows its traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.table import Table
from rich.text import Text

import execlab as xl
from execlab._analysis.report import default_settings
from execlab._cli.analysis import register as register_analysis_commands
from execlab._cli.common import bad_input, out, print_error, read_table, read_targets
from execlab._cli.dashboard import register as register_dashboard_command
from execlab._cli.trading import register as register_trading_commands
from execlab._core.extras import MissingExtraError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["app", "main"]

DEFAULT_CONFIG: Final = Path(__file__).resolve().parents[1] / "strategies" / "demo.yaml"
"""Shipped in the package (``examples/demo.yaml`` in the repository links to it), so ``execlab demo`` runs from a
plain ``pip install``."""
DEFAULT_REPORT: Final = Path("reports/demo.html")
DEFAULT_DATA: Final = Path("data/sample_daily.parquet")

app = typer.Typer(
    help="execlab: target positions → plan → risk → OMS → OrderExecutor → fills, and what the trading cost.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,  # plain help: rendering it with rich costs more than the 1.5 s `execlab --help` may take
)
data_app = typer.Typer(help="The project's sample data.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")

def _load_config(path: Path) -> xl.Config:
    """Load a config that may run a backtest."""
    config = xl.load_config(path)
    if config.mode != "backtest":
        raise xl.ConfigError(f"mode: this command runs backtests, but {path} says mode {config.mode!r}")
    return config


def _print_summary(result: xl.BacktestResult, title: str, benchmark: pd.Series | None = None) -> None:
    """The headline figures as a small table."""
    s = result.summary(benchmark)
    currency = result.config.currency
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [
        ("Period", f"{result.equity.index[0]:%Y-%m-%d} .. {result.equity.index[-1]:%Y-%m-%d}"),
        ("Initial value", f"{s['initial_value']:,.2f} {currency}"),
        ("Final value", f"{s['final_value']:,.2f} {currency}"),
        ("Total return", f"{s['total_return']:.2%}"),
        ("CAGR", f"{s['cagr']:.2%}"),
        ("Volatility", f"{s['volatility']:.2%}"),
        ("Sharpe / Sortino", f"{s['sharpe']:.2f} / {s['sortino']:.2f}"),
        ("Max drawdown", f"{s['max_drawdown']:.2%}"),
        *([("Beta / alpha vs benchmark", f"{s['beta']:.2f} / {s['alpha']:.2%}")] if "beta" in s else []),
        ("Turnover", f"{s['turnover']:.2f}x equity"),
        ("Costs", f"{s['cost_bps']:.2f} bps of traded notional"),
        ("Fees", f"{s['fees']:,.2f} {currency}"),
        ("Slippage", f"{s['slippage']:,.2f} {currency}"),
        ("Orders", f"{int(s['orders']):,}"),
        ("  filled / denied", f"{int(s['orders_filled']):,} / {int(s['orders_denied']):,}"),
        ("  working at end", f"{int(s['orders_working_at_end']):,}"),
        ("Fills", f"{int(s['fills']):,}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def _finish(result: xl.BacktestResult, report: Path | None, title: str, benchmark: pd.Series | None = None,
            benchmark_name: str = "benchmark") -> None:
    _print_summary(result, title, benchmark)
    for setting in default_settings(result.config):
        out.print(Text(f"Note: {setting}", style="yellow"), soft_wrap=True)
    if report is not None:
        written = xl.write_report(result, report, title=title, benchmark=benchmark, benchmark_name=benchmark_name)
        out.print(f"Report: {written.resolve()}", soft_wrap=True)


def _load_demo_config(path: Path) -> xl.Config:
    """A backtest config, or a paper config on the local simulated venue: the demo runs the strategy in both."""
    config = xl.load_config(path)
    if config.mode == "live" or (config.mode == "paper" and config.broker.name != "sim"):
        raise xl.ConfigError(f"mode: the demo runs a backtest and paper trading on the local simulated venue; {path} "
                             f"says mode {config.mode!r} with broker {config.broker.name!r}")
    return config


def _paper_demo(targets: pd.DataFrame, bars: pd.DataFrame, cfg: xl.Config, backtest: xl.BacktestResult) -> None:
    """The same targets in paper mode, the sample bars replayed through a price feed into the local simulated
    venue; prints its summary and whether its order table is the backtest's."""
    from execlab import compare_orders, run_paper
    from execlab._data.feeds import ReplayFeed

    paper_cfg = cfg.model_copy(update={"mode": "paper", "broker": xl.BrokerConfig(name="sim")})
    paper = run_paper(targets, ReplayFeed.from_bars(bars), paper_cfg)
    _print_summary(paper, f"execlab demo: the same strategy in paper mode (broker sim, replayed bars), run "
                          f"{paper_cfg.run_id}")
    differences = compare_orders(backtest.orders, paper.orders)
    if differences.empty:
        out.print(f"Order tables match: backtest and paper sent the same {len(paper.orders):,} orders (client order "
                  f"ids, quantities, statuses, fills and fees).", soft_wrap=True)
        return
    first = differences.iloc[0]
    out.print(Text(f"Order tables differ in {len(differences):,} places; first: order {first['oid']} "
                   f"{first['column']}: backtest {first['left']!r}, paper {first['right']!r}", style="yellow"),
              soft_wrap=True)


@app.command()
def demo(
    config: Annotated[Path, typer.Option(help="Run configuration (YAML).", dir_okay=False)] = DEFAULT_CONFIG,
    report: Annotated[Path, typer.Option(help="HTML report to write.", dir_okay=False)] = DEFAULT_REPORT,
) -> None:
    """Monthly momentum on the sample bars (AAPL, FB, GOOG, IBM, MSFT, 2000-2013): a backtest on the simulated
    venue, then the same strategy in paper mode on the local simulated venue, fed the bars as a price feed."""
    with bad_input():
        cfg = _load_demo_config(config)
        from execlab.strategies import equal_weight_index, momentum_targets

        bars = xl.sample_bars()
        targets = momentum_targets(bars)
        result = xl.run_backtest(targets, bars, cfg.model_copy(update={"mode": "backtest"}))
    _finish(result, report, f"execlab demo: momentum, run {cfg.run_id}", equal_weight_index(bars),
            "equal-weight universe")
    with bad_input():
        _paper_demo(targets, bars, cfg, result)


@app.command()
def backtest(
    config: Annotated[Path, typer.Option(help="Run configuration (YAML).", exists=True, dir_okay=False)],
    targets: Annotated[Path, typer.Option(help="Targets, .parquet or .csv, wide or long.", exists=True,
                                          dir_okay=False)],
    bars: Annotated[Path, typer.Option(help="Long OHLCV bars, .parquet or .csv.", exists=True,
                                       dir_okay=False)],
    report: Annotated[Path | None, typer.Option(help="Write an HTML report here.", dir_okay=False)] = None,
) -> None:
    """Run targets against bars with a config; print the summary and optionally write a report."""
    with bad_input():
        cfg = _load_config(config)
        result = xl.run_backtest(read_targets(targets), read_table(bars, "bars"), cfg)
    _finish(result, report, f"execlab backtest: run {cfg.run_id}")


@data_app.command("build")
def data_build(
    out_path: Annotated[Path, typer.Option("--out", help="Parquet file to write.",
                                           dir_okay=False)] = DEFAULT_DATA,
) -> None:
    """Write the sample daily bars (from the installed bokeh-sampledata package) to a Parquet file."""
    written = xl.write_sample_bars(out_path)
    out.print(f"Wrote {written.resolve()}", soft_wrap=True)


@app.command()
def schema() -> None:
    """Print the JSON Schema of one order."""
    typer.echo(json.dumps(xl.order_json_schema(), indent=2))


register_trading_commands(app)
register_analysis_commands(app)
register_dashboard_command(app)


def main() -> None:
    """Console-script entry point. A missing optional dependency is one red line naming its extra (exit 2)."""
    try:
        app()
    except MissingExtraError as exc:
        print_error(exc)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
