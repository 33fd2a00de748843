"""``execlab dashboard``: serve one run's dashboard from its journal, on 127.0.0.1 only."""

from __future__ import annotations

import socket
import threading
import webbrowser
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

import execlab as xl
from execlab._cli.common import ExitCode, broker_executor, print_error

__all__ = ["dashboard", "register"]

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _read_bars(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise ValueError(f"bars: {path} must be a .parquet or .csv file")
    return pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)


def dashboard(
    journal: Annotated[Path, typer.Option(help="SQLite journal of the run.", exists=True, dir_okay=False)],
    run_id: Annotated[str, typer.Option(help="The run to show.")],
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).", min=0, max=65535)] = 5006,
    config: Annotated[Path | None, typer.Option(
        help="Broker config (YAML, keys via ${ENV}). With it the kill switch also cancels every working order at "
             "the broker; without it the kill switch journals a halt that stops the run's next rebalances.",
        exists=True, dir_okay=False)] = None,
    bars: Annotated[Path | None, typer.Option(
        help="Long OHLCV bars (.parquet or .csv), so TCA can measure participation.", exists=True,
        dir_okay=False)] = None,
    refresh: Annotated[float, typer.Option(help="Seconds between journal reads (0: never).", min=0)] = 5.0,
    show: Annotated[bool, typer.Option("--show/--no-show", help="Open the page in a browser.")] = False,
) -> None:
    """Serve the dashboard of one run (fills, slippage, positions, equity, costs, risk, kill switch) on loopback."""
    import panel as pn

    serve: Any = pn.serve  # untyped (``param`` keyword arguments)
    from execlab._oms.journal import Journal
    from execlab.dashboard import dashboard as build

    try:
        frame = _read_bars(bars) if bars is not None else None
        cfg = xl.load_config(config) if config is not None else None
        if cfg is not None and cfg.mode == "backtest":
            raise xl.ConfigError(f"mode: the kill switch acts on a broker; {config} says mode 'backtest'")
    except (xl.ConfigError, OSError, ValueError) as exc:
        print_error(exc)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    if cfg is not None:
        executor, book = broker_executor(cfg.model_copy(update={"run_id": run_id}), journal)
    else:
        executor, book = None, Journal(journal)
    port = port or _free_port()

    def app() -> pn.Column:
        return build(book, run_id, executor=executor, bars=frame, refresh_seconds=refresh)

    server = serve({"/": app}, address=HOST, port=port, show=False, start=False, verbose=False,
                      websocket_origin=[f"{HOST}:{port}", f"localhost:{port}"], title=f"execlab · {run_id}")
    assert not isinstance(server, threading.Thread)  # served in this thread
    url = f"http://{HOST}:{server.port}/"
    typer.echo(f"Dashboard of run {run_id}: {url} (Ctrl+C stops it)", err=False)
    if show:
        webbrowser.open(url)
    server.start()
    try:
        server.io_loop.start()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    """Add ``dashboard`` to the ``execlab`` app."""
    app.command()(dashboard)
