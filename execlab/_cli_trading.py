"""``execlab rebalance`` (paper or live, resumable) and ``execlab venue alpaca`` (a local Alpaca on loopback)."""

from __future__ import annotations

import sys
from enum import IntEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

import execlab as xl
from execlab._broker import BrokerExecutor
from execlab._journal import Journal
from execlab._live import TradingHaltedError, run_live_rebalance

__all__ = ["ExitCode", "register"]


class ExitCode(IntEnum):
    """What a scheduler can act on."""

    SUCCESS = 0
    BAD_INPUT = 2
    DENIED = 3
    HALTED = 4
    INCOMPLETE = 5


def _series(path: Path, what: str) -> pd.Series:
    frame = pd.read_csv(path)
    if list(frame.columns[:1]) != ["symbol"] or frame.shape[1] != 2:
        raise xl.TargetError(f"{what}: {path} must have two columns, 'symbol' and a value; got {list(frame.columns)}")
    series: pd.Series = frame.set_index("symbol").iloc[:, 0].astype(float)
    return series


def rebalance(
    config: Annotated[Path, typer.Option(help="Config (YAML): mode paper or live, broker, keys via ${ENV}.",
                                         exists=True, dir_okay=False)],
    targets: Annotated[Path, typer.Option(help="CSV: symbol, target.", exists=True, dir_okay=False)],
    prices: Annotated[Path, typer.Option(help="CSV: symbol, decision price.", exists=True, dir_okay=False)],
    journal: Annotated[Path, typer.Option(help="SQLite journal file (created if absent).", dir_okay=False)],
    as_of: Annotated[str, typer.Option(help="Rebalance key, e.g. the as-of date; a re-run resumes it.")],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for fills.")] = 60.0,
    progress: Annotated[bool, typer.Option(help="Print one line per order sent.")] = False,
) -> None:
    """Move a broker account to the targets. Safe to re-run: the same --as-of never sends an order twice."""
    from execlab._cli import err

    try:
        cfg = xl.load_config(config)
        if cfg.mode == "backtest":
            raise xl.ConfigError(f"mode: rebalance trades through a broker; {config} says mode 'backtest'")
        tgt, px = _series(targets, "targets"), _series(prices, "prices")
    except (xl.ConfigError, xl.TargetError, OSError, ValueError) as exc:
        err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    broker = cfg.broker
    if broker.name != "alpaca" or broker.api_key is None or broker.api_secret is None:
        err.print("[bold red]error:[/] broker: rebalance supports broker.name 'alpaca' with api_key and api_secret")
        raise typer.Exit(ExitCode.BAD_INPUT)
    from execlab.adapters.alpaca import AlpacaAdapter

    key, secret = broker.api_key.get_secret_value(), broker.api_secret.get_secret_value()
    adapter = AlpacaAdapter(key, secret, base_url=broker.base_url, paper=cfg.mode != "live")
    book = Journal(journal, secrets=[key, secret])

    def show(event: str, coid: str) -> None:
        if progress:
            sys.stdout.write(f"{event} {coid}\n")
            sys.stdout.flush()

    executor = BrokerExecutor(adapter, book, cfg.run_id, (), progress=show)
    try:
        done = run_live_rebalance(tgt, px, cfg, executor, book, as_of, timeout=timeout)
    except TradingHaltedError as exc:
        err.print(f"[bold red]halted:[/] {exc}", soft_wrap=True)
        raise typer.Exit(ExitCode.HALTED) from None
    except xl.TargetError as exc:
        err.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    counts = done.orders["status"].value_counts().to_dict()
    typer.echo(f"rebalance {as_of}: {len(done.orders)} orders {counts}" + (" (resumed)" if done.resumed else ""))
    if not done.complete:
        raise typer.Exit(ExitCode.INCOMPLETE)
    if counts.get("denied", 0):
        raise typer.Exit(ExitCode.DENIED)


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
