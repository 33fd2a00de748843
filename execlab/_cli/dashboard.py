"""``execlab dashboard``: serve one run's dashboard from its journal, on 127.0.0.1 only, behind a login.

A random token is made at start and printed once (or read from ``$EXECLAB_DASHBOARD_TOKEN``); the page and its
websocket need Panel's login with it (:mod:`execlab.dashboard._auth`). Without ``--config`` the page is read-only
unless ``--allow-halt`` lets the kill switch journal a halt.
"""

from __future__ import annotations

import os
import socket
import threading
import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

import execlab as xl
from execlab._cli.common import ExitCode, broker_executor, print_error
from execlab._core.extras import require_extra

if TYPE_CHECKING:
    import pandas as pd

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
    import pandas as pd

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
    allow_halt: Annotated[bool, typer.Option(
        help="Without --config, let the kill switch journal a halt of the run (else the page is read-only).")] = False,
    user: Annotated[str | None, typer.Option(
        help="The login user name (default: the user running this command); journaled with the kill switch.")] = None,
) -> None:
    """Serve the dashboard of one run (fills, slippage, positions, equity, costs, risk, kill switch) on loopback."""
    pn = require_extra("panel", "execlab dashboard")
    serve: Any = pn.serve  # untyped (``param`` keyword arguments)
    from execlab._oms.journal import Journal
    from execlab.dashboard import dashboard as build
    from execlab.dashboard._auth import TOKEN_ENV, new_access, serve_options

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
    given_token = os.environ.get(TOKEN_ENV) or None
    try:
        access = new_access(HOST, port, user=user, token=given_token)
    except ValueError as exc:
        print_error(f"{TOKEN_ENV}: {exc}")
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    read_only = executor is None and not allow_halt

    def app() -> Any:  # a Panel layout
        operator = pn.state.user  # the logged-in user of this session (Panel's signed cookie)
        return build(book, run_id, executor=executor, bars=frame, refresh_seconds=refresh, read_only=read_only,
                     operator=operator)

    server = serve({"/": app}, address=HOST, port=port, show=False, start=False, verbose=False,
                   title=f"execlab · {run_id}", **serve_options(access))
    assert not isinstance(server, threading.Thread)  # served in this thread
    url = f"http://{HOST}:{server.port}/"
    mode = "read-only" if read_only else ("kill switch acts on the broker" if executor else "kill switch halts")
    typer.echo(f"Dashboard of run {run_id}: {url} ({mode}; Ctrl+C stops it)")
    if given_token is None:
        typer.echo(f"  log in as user {access.user!r} with token: {access.token}")
        typer.echo("  (printed once; anyone with the token can use the page" + ("" if read_only else
                   " and press the kill switch") + ")")
    else:
        typer.echo(f"  log in as user {access.user!r} with the token in ${TOKEN_ENV}")
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
