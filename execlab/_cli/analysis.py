"""``execlab plan``, ``reconcile``, ``tca`` and ``notebook run``: look before trading, check after, schedule.

``plan`` prints what a rebalance would send, from files or from the broker's positions, and sends nothing.
``reconcile`` compares the journal with the broker and exits 4 when trading must stop. ``tca`` prices the trading of
a journaled run. ``notebook run`` executes a notebook of ``notebooks/`` with papermill parameters and passes its
failure on as the exit code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Final

import typer
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

    from execlab._analysis.tca import TcaResult

import execlab as xl
from execlab._cli.common import (
    ExitCode,
    broker_executor,
    err,
    out,
    print_error,
    read_symbol_values,
    set_sim_market,
)
from execlab._core.extras import require_extra

__all__ = ["parse_parameters", "register"]

NOTEBOOKS: Final = Path(__file__).resolve().parents[2] / "notebooks"

def _fail(message: str, code: ExitCode = ExitCode.BAD_INPUT) -> typer.Exit:
    print_error(message)
    return typer.Exit(code)


def plan(
    config: Annotated[Path, typer.Option(help="Config (YAML): plan, venue and risk settings.", exists=True,
                                         dir_okay=False)],
    targets: Annotated[Path, typer.Option(help="CSV: symbol, target (in plan.target_unit).", exists=True,
                                          dir_okay=False)],
    prices: Annotated[Path, typer.Option(help="CSV: symbol, decision price.", exists=True, dir_okay=False)],
    positions: Annotated[Path | None, typer.Option(help="CSV: symbol, quantity held. Without it the positions "
                                                        "and cash come from the config's broker.",
                                                   exists=True, dir_okay=False)] = None,
    cash: Annotated[float | None, typer.Option(help="Cash (with --positions; default: config initial_cash).")] = None,
    out_csv: Annotated[Path | None, typer.Option("--out", help="Also write the plan table here (CSV).",
                                                 dir_okay=False)] = None,
    journal: Annotated[Path | None, typer.Option(help="With broker 'sim': the rebalance journal whose simulated "
                                                      "account to read (nothing is written).",
                                                 dir_okay=False)] = None,
) -> None:
    """Print the orders a rebalance would send (sells first), with the reason for every symbol. Sends nothing."""
    try:
        cfg = xl.load_config(config)
        tgt, px = read_symbol_values(targets, "targets"), read_symbol_values(prices, "prices")
        held = read_symbol_values(positions, "positions") if positions is not None else None
    except (xl.ConfigError, xl.TargetError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    listed: set[str] | None = None
    broker_equity: float | None = None
    if held is None:
        if cfg.mode == "backtest":
            raise _fail(f"positions: give --positions, or a config with a broker (mode paper or live); {config} "
                        "says mode 'backtest'")
        import pandas as pd

        executor, book = broker_executor(cfg, journal, read_only=True)
        try:
            set_sim_market(executor, px, pd.Timestamp.now(tz="UTC"))  # broker: sim lists what it has a price for
            held = pd.Series(executor.positions_by_symbol(), dtype=float)
            account = executor.account()
            available, broker_equity = account.cash, account.equity
            listed = executor.tradable(sorted(set(tgt.index) | set(held.index)))
        except xl.BrokerError as exc:
            raise _fail(f"broker: {exc}", ExitCode.HALTED) from None
        finally:
            book.close()
    else:
        available = cfg.initial_cash if cash is None else cash
    if not math.isfinite(available):
        raise _fail(f"cash: must be a finite amount, got {available}")
    try:
        result = xl.make_plan(tgt, held, px, available, cfg,
                              tradable=None if listed is None else lambda _symbols: listed, equity=broker_equity)
    except xl.TargetError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"plan: {cfg.run_id}  equity {result.equity:,.2f}  cash {result.cash:,.2f}",
                  title_justify="left")
    for name in ("symbol", "price", "current", "target_shares", "order_qty", "side", "notional", "reason"):
        table.add_column(name, justify="left" if name in ("symbol", "side", "reason") else "right")
    for symbol, row in result.table.sort_values("sequence", key=lambda s: s.where(s >= 0, 1 << 30)).iterrows():
        table.add_row(str(symbol), f"{row['price']:,.4g}", f"{row['current']:,.6g}", f"{row['target_shares']:,.6g}",
                      f"{row['order_qty']:,.6g}", str(row["side"]), f"{row['notional']:,.2f}", str(row["reason"]))
    out.print(table)
    s = result.summary()
    out.print(f"{int(s['orders'])} orders: {int(s['sells'])} sells ({s['sell_notional']:,.2f}), "
              f"{int(s['buys'])} buys ({s['buy_notional']:,.2f})")
    if out_csv is not None:
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        result.table.to_csv(out_csv)
        out.print(f"Wrote {out_csv.resolve()}", soft_wrap=True)


def reconcile_command(
    config: Annotated[Path, typer.Option(help="Config (YAML) with the broker (mode paper or live).", exists=True,
                                         dir_okay=False)],
    journal: Annotated[Path, typer.Option(help="SQLite journal of the run.", exists=True, dir_okay=False)],
) -> None:
    """Compare the journal with the broker: adopt external orders, refresh working ones, check positions.

    Exit 0 when everything is explained, 4 when trading must stop (reducing-only or halted).
    """
    from execlab._brokers.reconcile import reconcile

    try:
        cfg = xl.load_config(config)
        if cfg.mode == "backtest":
            raise xl.ConfigError(f"mode: reconcile needs a broker; {config} says mode 'backtest'")
    except (xl.ConfigError, OSError, ValueError) as exc:
        raise _fail(str(exc)) from None
    executor, book = broker_executor(cfg, journal)
    try:
        report = reconcile(executor, book, cfg.run_id)
    except xl.BrokerError as exc:
        raise _fail(f"broker: {exc}", ExitCode.HALTED) from None
    finally:
        executor.close()  # release the broker's connection (IB: its client id) before the command returns
        book.close()
    out.print(f"reconcile {cfg.run_id}: state [bold]{report.state}[/], {len(report.adopted)} adopted, "
              f"{len(report.refreshed)} refreshed")
    if not report.positions.empty:
        table = Table(title="positions", title_justify="left")
        table.add_column("symbol")
        for name in report.positions.columns:
            table.add_column(str(name), justify="right")
        for symbol, row in report.positions.iterrows():
            table.add_row(str(symbol), *(f"{v:,.6g}" if isinstance(v, float) else str(v) for v in row))
        out.print(table)
    for alert in report.alerts:
        err.print(f"[bold yellow]alert:[/] {alert}", soft_wrap=True)
    if not report.ok:
        raise typer.Exit(ExitCode.HALTED)


def tca(
    journal: Annotated[Path, typer.Option(help="SQLite journal of a paper or live run.", exists=True,
                                          dir_okay=False)],
    run_id: Annotated[str, typer.Option(help="The run to analyse.")],
    bars: Annotated[Path | None, typer.Option(help="Long OHLCV bars (.parquet/.csv): interval VWAP, close and "
                                                   "participation benchmarks.", exists=True, dir_okay=False)] = None,
    by: Annotated[list[str] | None, typer.Option(help="Group by: symbol, day, side, venue, mode, strategy_id, algo, "
                                                      "parent_id (repeatable). With algo, also each execution "
                                                      "algorithm's parents against arrival and interval VWAP, "
                                                      "schedule deviation and participation.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write a static HTML TCA report here.", dir_okay=False)] = None,
    out_csv: Annotated[Path | None, typer.Option("--out", help="Write the per-order TCA table here (CSV).",
                                                 dir_okay=False)] = None,
) -> None:
    """What the trading of a run cost: implementation shortfall split into delay, execution, fees and opportunity,
    and slippage against arrival, interval VWAP and close."""
    from execlab._analysis.tca import TcaError, tca_from_journal
    from execlab._cli.common import read_table
    from execlab._oms.journal import Journal

    keys = by or ["symbol"]
    unknown = [k for k in keys if k not in _BY_KEYS]
    if unknown:
        raise _fail(f"by: unknown grouping {unknown[0]!r} ({', '.join(_BY_KEYS[:-1])} or {_BY_KEYS[-1]})")
    book = Journal(journal)
    parents = None
    try:
        frame = read_table(bars, "bars") if bars is not None else None
        result = tca_from_journal(book, run_id, frame)
        if "algo" in keys:
            from execlab._analysis.algo_tca import parents_from_journal

            parents = parents_from_journal(book, run_id)
    except (TcaError, ValueError, OSError) as exc:
        raise _fail(str(exc)) from None
    finally:
        book.close()
    if result.orders.empty:
        raise _fail(f"run_id: the journal {journal} has no orders for run {run_id!r}")
    s = result.summary()
    labels = ", ".join(f"{name} {_labels(result.orders[column])}" for name, column in
                       (("mode", "mode"), ("venue", "venue"), ("strategy", "strategy_id")))
    out.print(f"TCA of run {run_id}: {int(s['orders'])} orders, {int(s['fills'])} fills, "
              f"shortfall {s['shortfall']:,.2f} ({s['shortfall_bps']:.2f} bps): delay {s['delay_cost']:,.2f}, "
              f"execution {s['execution_cost']:,.2f}, fees {s['fee_cost']:,.2f}, "
              f"opportunity {s['opportunity_cost']:,.2f}; slippage vs arrival {s['slippage_arrival_bps']:.2f} bps")
    out.print(labels, soft_wrap=True, markup=False)
    if len(result.other_fees):
        listed = ", ".join(f"{r.fee:,.8g} {r.currency} ({r.fills} fills)" for r in result.other_fees.itertuples())
        out.print(f"fees in other currencies, not in the fee cost: {listed}", soft_wrap=True, markup=False)
    if "financing" in s:
        per = ", ".join(f"{sym} {row.financing:,.2f} ({row.charges} days)"
                        for sym, row in result.financing().iterrows())
        out.print(f"financing (holding cost, not in the shortfall): {s['financing']:,.2f}: {per}", soft_wrap=True,
                  markup=False)
    grouped = result.by(*keys)
    columns = [c for c in ("orders", "filled_notional", "shortfall", "shortfall_bps", "slippage_arrival_bps",
                           "slippage_vwap_bps", "slippage_close_bps") if c in grouped.columns]
    table = Table(title=f"by {', '.join(keys)}", title_justify="left")
    cells = {k: [_label(v) for v in grouped[k]] for k in keys}  # the keys are columns of the grouped table
    for key in keys:  # a narrow terminal shrinks the numbers, never the labels
        table.add_column(key, no_wrap=True, min_width=max([len(key), *map(len, cells[key])]))
    for name in columns:
        table.add_column(name, justify="right")
    for i, (_, row) in enumerate(grouped.iterrows()):
        table.add_row(*(cells[k][i] for k in keys), *(f"{row[c]:,.2f}" for c in columns))
    out.print(table)
    if parents is not None:
        _print_algo_tca(result, parents, frame)
    if out_csv is not None:
        out_csv.parent.mkdir(parents=True, exist_ok=True)
        result.orders.to_csv(out_csv, index=False)
        out.print(f"Wrote {out_csv.resolve()}", soft_wrap=True)
    if report is not None:
        from execlab._analysis.tca_report import write_tca_report

        written = write_tca_report(result, report, title=f"execlab transaction costs: run {run_id}")
        out.print(f"Report: {written.resolve()}", soft_wrap=True)


_BY_KEYS: Final = ("symbol", "day", "side", "venue", "mode", "strategy_id", "algo", "parent_id")


def _print_algo_tca(result: TcaResult, parents: pd.DataFrame, bars: pd.DataFrame | None) -> None:
    """The execution algorithms' parents: per parent and per algorithm, against arrival and interval VWAP."""
    from execlab._analysis.algo_tca import algo_tca

    if parents.empty:
        out.print("No execution-algorithm parents in this run (execution.algo: none).")
        return
    costs = algo_tca(result, parents, bars)
    columns = ("children", "filled_quantity", "slippage_arrival_bps", "slippage_vwap_bps", "participation",
               "participation_cap", "schedule_deviation_mean_pct")
    table = Table(title="parents", title_justify="left")
    for name in ("algo", "symbol", "side", *columns):
        table.add_column(name, justify="left" if name in ("algo", "symbol", "side") else "right")
    for _, row in costs.parents.iterrows():
        table.add_row(str(row["algo"]), str(row["symbol"]), str(row["side"]), *(_number(row[c]) for c in columns))
    out.print(table)
    per_algo = costs.by_algo()
    table = Table(title="by algorithm", title_justify="left")
    for name in per_algo.columns:
        table.add_column(name, justify="left" if name == "algo" else "right")
    for _, row in per_algo.iterrows():
        table.add_row(*(str(v) if k == "algo" else _number(v) for k, v in row.items()))
    out.print(table)


def _number(value: object) -> str:
    """A table cell for a figure (blank for a missing one)."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1_000 else f"{value:.4g}"
    return str(value)


def _label(value: object) -> str:
    """A group key as a table cell: days as dates, anything else as text."""
    import pandas as pd

    return f"{value:%Y-%m-%d}" if isinstance(value, pd.Timestamp) else str(value)


def _labels(values: pd.Series) -> str:
    """The distinct values of a label column, e.g. ``paper`` or ``paper/live``."""
    return "/".join(sorted({str(v) for v in values})) or "unknown"


def parse_parameters(pairs: list[str]) -> dict[str, object]:
    """``key=value`` pairs as papermill parameters: numbers, booleans and null are parsed, anything else
    (dates included) stays a string."""
    import yaml

    params: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip().isidentifier():
            raise ValueError(f"parameter {pair!r}: expected key=value with a Python identifier as key")
        parsed = yaml.safe_load(value) if value.strip() else ""
        params[key.strip()] = parsed if parsed is None or isinstance(parsed, bool | int | float | list) else value
    return params


def notebook_run(
    name: Annotated[str, typer.Argument(help="Notebook: a path, or a name in notebooks/ (with or without .ipynb).")],
    output: Annotated[Path | None, typer.Option(help="Executed copy to write (default reports/<name>.ipynb).",
                                                dir_okay=False)] = None,
    parameter: Annotated[list[str] | None, typer.Option("--parameter", "-p",
                                                        help="key=value, repeatable (papermill parameters).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar over cells.")] = True,
) -> None:
    """Run a notebook top to bottom with parameters (papermill). A failing cell fails the command (exit 1)."""
    papermill = require_extra("papermill", "execlab notebook run")
    from papermill.exceptions import PapermillExecutionError  # type: ignore[import-untyped]

    path = Path(name)
    if not path.exists():
        path = NOTEBOOKS / (name if name.endswith(".ipynb") else f"{name}.ipynb")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")))
        raise _fail(f"notebook: {name!r} not found (known: {known})")
    try:
        params = parse_parameters(parameter or [])
    except ValueError as exc:
        raise _fail(str(exc)) from None
    target = output or Path("reports") / path.name
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        papermill.execute_notebook(str(path), str(target), parameters=params, cwd=str(path.parent),
                                   progress_bar=progress, kernel_name="python3")
    except PapermillExecutionError as exc:
        err.print(f"[bold red]notebook failed:[/] {exc.ename}: {exc.evalue}", soft_wrap=True)
        err.print(f"executed copy: {target.resolve()}", soft_wrap=True)
        raise typer.Exit(1) from None
    out.print(f"Ran {path.name} -> {target.resolve()}", soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``plan``, ``reconcile`` and ``notebook run`` to the ``execlab`` app."""
    app.command()(plan)
    app.command("reconcile")(reconcile_command)
    app.command()(tca)
    notebook_app = typer.Typer(help="The notebooks of notebooks/, run with parameters.", no_args_is_help=True,
                               rich_markup_mode=None)
    notebook_app.command("run")(notebook_run)
    app.add_typer(notebook_app, name="notebook")
