"""``execlab rebalance`` (paper or live, resumable) and ``execlab venue alpaca`` (a local Alpaca on loopback)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

import execlab as xl
from execlab._cli.common import ExitCode, broker_executor, err, print_error, read_symbol_values
from execlab._runs.live import TradingHaltedError, run_live_rebalance

__all__ = ["register"]


def rebalance(
    config: Annotated[Path, typer.Option(help="Config (YAML): mode paper or live, broker, keys via ${ENV}.",
                                         exists=True, dir_okay=False)],
    targets: Annotated[Path, typer.Option(help="CSV: symbol, target.", exists=True, dir_okay=False)],
    prices: Annotated[Path, typer.Option(help="CSV: symbol, decision price.", exists=True, dir_okay=False)],
    journal: Annotated[Path, typer.Option(help="SQLite journal file (created if absent).", dir_okay=False)],
    as_of: Annotated[str, typer.Option(help="Rebalance key, e.g. the as-of date; a re-run resumes it.")],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for fills.")] = 60.0,
    progress: Annotated[bool, typer.Option(help="Show the orders being sent: a progress bar on a terminal, "
                                                "else one 'sending <id>' line per order.")] = False,
) -> None:
    """Move a broker account to the targets. Safe to re-run: the same --as-of never sends an order twice."""
    try:
        cfg = xl.load_config(config)
        if cfg.mode == "backtest":
            raise xl.ConfigError(f"mode: rebalance trades through a broker; {config} says mode 'backtest'")
        tgt, px = read_symbol_values(targets, "targets"), read_symbol_values(prices, "prices")
    except (xl.ConfigError, xl.TargetError, OSError, ValueError) as exc:
        print_error(exc)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    bar = _OrderProgress() if progress and sys.stdout.isatty() else None
    executor, book = broker_executor(cfg, journal, progress=bar.advance if bar is not None else
                                     _print_sending if progress else None)
    try:
        done = run_live_rebalance(tgt, px, cfg, executor, book, as_of, timeout=timeout)
    except TradingHaltedError as exc:
        err.print(f"[bold red]halted:[/] {exc}", soft_wrap=True)
        raise typer.Exit(ExitCode.HALTED) from None
    except xl.TargetError as exc:
        err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    finally:
        if bar is not None:
            bar.close()
    counts = done.orders["status"].value_counts().to_dict()
    typer.echo(f"rebalance {as_of}: {len(done.orders)} orders {counts}" + (" (resumed)" if done.resumed else ""))
    if counts.get("denied", 0):
        raise typer.Exit(ExitCode.DENIED)
    short = done.orders["status"].isin(["partially_filled", "canceled", "expired"]) & (
        done.orders["filled_quantity"].fillna(0.0) > 0)
    if not done.complete or short.any():
        raise typer.Exit(ExitCode.PARTIALLY_FILLED)


def _print_sending(event: str, coid: str) -> None:
    sys.stdout.write(f"{event} {coid}\n")
    sys.stdout.flush()


class _OrderProgress:
    """A progress line over the orders sent (rich), for ``--progress``."""

    def __init__(self) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                  TextColumn("{task.completed} sent"), TimeElapsedColumn(), transient=False)
        self._task = self._progress.add_task("sending orders", total=None)
        self._progress.start()

    def advance(self, event: str, coid: str) -> None:
        if event == "sending":
            self._progress.update(self._task, advance=1, description=f"sending {coid}")

    def close(self) -> None:
        self._progress.update(self._task, description="sent")
        self._progress.stop()


def venue_alpaca(
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    rate_limit: Annotated[int, typer.Option(help="Requests per minute per key.")] = 200,
) -> None:
    """Serve a local Alpaca Trading API v2 (and trade_updates) backed by the simulated venue."""
    from execlab.venues.alpaca import serve

    serve(["--port", str(port), "--host", host, "--rate-limit", str(rate_limit)])


def register(app: typer.Typer) -> None:
    """Add the trading commands to the ``execlab`` app."""
    app.command()(rebalance)
    venue_app = typer.Typer(help="Local broker venues on loopback.", no_args_is_help=True)
    venue_app.command("alpaca")(venue_alpaca)
    app.add_typer(venue_app, name="venue")
