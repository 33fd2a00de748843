"""``execlab rebalance`` (paper or live, resumable) and ``execlab venue alpaca|ibkr|oanda`` (local venues
on loopback)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

import execlab as xl
from execlab._cli.common import (
    ExitCode,
    InputError,
    broker_executor,
    out,
    print_error,
    read_symbol_values,
    read_table,
    set_sim_market,
)

if TYPE_CHECKING:
    import pandas as pd

    from execlab._runs.live import LiveRebalance

__all__ = ["register"]


def rebalance(
    config: Annotated[Path, typer.Option(help="Config (YAML): mode paper or live, broker, keys via ${ENV}.",
                                         exists=True, dir_okay=False)],
    targets: Annotated[Path, typer.Option(help="CSV: symbol, target.", exists=True, dir_okay=False)],
    prices: Annotated[Path, typer.Option(help="CSV: symbol, decision price.", exists=True, dir_okay=False)],
    journal: Annotated[Path, typer.Option(help="SQLite journal file (created if absent).", dir_okay=False)],
    as_of: Annotated[str, typer.Option(help="Rebalance key, e.g. the as-of date; a re-run resumes it.")],
    timeout: Annotated[float, typer.Option(help="Seconds to wait for fills.")] = 60.0,
    bars: Annotated[Path | None, typer.Option(help="Long OHLCV bars (.parquet/.csv) before the as-of: the average "
                                                   "daily volume risk.max_adv_pct needs.", exists=True,
                                              dir_okay=False)] = None,
    supersede: Annotated[bool, typer.Option(help="The as-of was run with other targets: cancel what it left "
                                                 "working and plan these instead.")] = False,
    progress: Annotated[bool, typer.Option(help="Show the orders being sent: a progress bar on a terminal, "
                                                "else one 'sending <id>' line per order.")] = False,
    minute_bars: Annotated[Path | None, typer.Option(help="With execution.algo: the minute bars (.parquet/.csv) "
                                                          "the schedule reads as of the broker's clock.",
                                                     exists=True, dir_okay=False)] = None,
) -> None:
    """Move a broker account to the targets. Safe to re-run: the same --as-of never sends an order twice.

    With ``broker: sim`` the account is the local simulated venue's, kept next to the journal
    (``<journal>.sim-account.json``); it trades at --prices (volume: the last --bars row at or before the as-of).

    Exit codes: 0 done; 2 bad input or config; 3 orders denied by risk; 4 trading halted; 5 orders not completely
    filled (working at the timeout, rejected, or ended with a remainder); 6 a target cut by the plan (cash, not
    trading).
    """
    try:
        cfg = xl.load_config(config)
        if cfg.mode == "backtest":
            raise xl.ConfigError(f"mode: rebalance trades through a broker; {config} says mode 'backtest'")
        tgt, px = read_symbol_values(targets, "targets"), read_symbol_values(prices, "prices")
        history = None if bars is None else xl.MarketData.from_bars(read_table(bars, "bars"))
    except (xl.ConfigError, xl.TargetError, xl.BarsError, InputError, OSError, ValueError) as exc:
        print_error(exc)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    if cfg.execution.algo != "none":
        if supersede:
            print_error(xl.ConfigError(f"--supersede: execution.algo {cfg.execution.algo!r} works a rebalance on the "
                                       "broker's clock and resumes it from the journal; it cannot supersede one "
                                       "(run the new targets under a new as-of: plan.cancel_open_orders cancels "
                                       "what earlier rebalances left working)"))
            raise typer.Exit(ExitCode.BAD_INPUT)
        raise typer.Exit(_rebalance_with_algo(cfg, tgt, px, journal, as_of, minute_bars, timeout, progress))
    bar = _OrderProgress() if progress and sys.stdout.isatty() else None
    executor, book = broker_executor(cfg, journal, progress=bar.advance if bar is not None else
                                     _print_sending if progress else None)
    try:
        from execlab._runs.live import rebalance_time

        set_sim_market(executor, px, rebalance_time(as_of), history)  # broker: sim trades at these prices
        done = xl.run_live_rebalance(tgt, px, cfg, executor, book, as_of, timeout=timeout, bars=history,
                                  supersede=supersede)
    except xl.TradingHaltedError as exc:
        print_error(exc, "halted")
        raise typer.Exit(ExitCode.HALTED) from None
    except (xl.TargetError, xl.ConfigError, xl.BarsError) as exc:
        print_error(exc)
        raise typer.Exit(ExitCode.BAD_INPUT) from None
    except xl.BrokerError as exc:
        print_error(exc, "broker")
        raise typer.Exit(ExitCode.HALTED) from None
    finally:
        executor.close()  # release the broker's connection (IB: its client id) before the command returns
        if bar is not None:
            bar.close()
    raise typer.Exit(report_rebalance(done, as_of))


def _rebalance_with_algo(cfg: xl.Config, targets: pd.Series, prices: pd.Series, journal: Path, as_of: str,
                         minute_bars: Path | None, timeout: float, progress: bool) -> ExitCode:
    """Work the rebalance with ``execution.algo`` on the broker's clock until every parent is done (a re-run
    resumes it); ``timeout`` is how long the broker's clock may stand still."""
    from execlab._runs.live_algo import AlgoTick, run_live_algo_rebalance

    if minute_bars is None:
        print_error(f"--minute-bars: execution.algo {cfg.execution.algo!r} needs the minute bars the schedule reads")
        return ExitCode.BAD_INPUT
    try:
        bars = read_table(minute_bars, "minute bars")
    except (InputError, OSError, ValueError) as exc:
        print_error(exc)
        return ExitCode.BAD_INPUT

    def ticked(tick: AlgoTick) -> None:
        if progress:
            sys.stdout.write(f"tick {tick.now.isoformat()} children {len(tick.children)}\n")
            sys.stdout.flush()

    executor, book = broker_executor(cfg, journal, progress=_print_sending if progress else None)
    try:
        done = run_live_algo_rebalance(targets, prices, cfg, executor, book, as_of, bars, idle_timeout=timeout,
                                       on_tick=ticked)
    except xl.TradingHaltedError as exc:
        print_error(exc, "halted")
        return ExitCode.HALTED
    except (xl.TargetError, xl.ConfigError, xl.BarsError) as exc:
        print_error(exc)
        return ExitCode.BAD_INPUT
    except xl.BrokerError as exc:
        print_error(exc, "broker")
        return ExitCode.HALTED
    finally:
        executor.close()
    children = done.children
    out.print(f"rebalance {as_of}: {len(done.parents)} parents ({cfg.execution.algo}), {len(children)} children"
              + (" (resumed)" if done.resumed else "") + ("" if done.finished else "; not finished"), soft_wrap=True)
    return ExitCode.SUCCESS if done.finished else ExitCode.PARTIALLY_FILLED


def report_rebalance(done: LiveRebalance, as_of: str) -> ExitCode:
    """Print what a rebalance did per symbol and return the exit code that says whether it did what was asked."""
    orders = done.orders
    counts = orders["status"].value_counts().to_dict()
    head = f"rebalance {as_of}: {len(orders)} orders {counts}"
    if done.rebalance_key and done.rebalance_key != as_of:
        head += f" (key {done.rebalance_key})"
    out.print(head + (" (resumed)" if done.resumed else ""), soft_wrap=True)
    if done.summary is not None and not done.summary.empty:
        table = Table(title="per symbol", title_justify="left")
        for name in ("symbol", "target", "planned", "plan", "sent", "filled", "status", "risk"):
            table.add_column(name, justify="left" if name in ("symbol", "plan", "status", "risk") else "right")
        for symbol, row in done.summary.iterrows():
            table.add_row(str(symbol), f"{row['target']:,.6g}", f"{row['planned']:,.6g}", str(row["plan_reason"]),
                          f"{row['sent']:,.6g}", f"{row['filled']:,.6g}", str(row["status"]),
                          str(row["risk_reason"]))
        out.print(table)
    if counts.get("denied", 0):
        return ExitCode.DENIED
    ended_short = orders["status"].isin(["partially_filled", "cancelled", "expired", "rejected"]) & (
        orders["filled_quantity"].fillna(0.0) < orders["quantity"] - 1e-9)
    if not done.complete or ended_short.any():
        return ExitCode.PARTIALLY_FILLED
    if done.cut:
        print_error(f"the plan cut the targets of {', '.join(done.cut[:10])} (see the plan column)", "cut")
        return ExitCode.CUT
    return ExitCode.SUCCESS


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
    cash: Annotated[float, typer.Option(help="Starting cash.")] = 100_000.0,
    prices: Annotated[Path | None, typer.Option(help="CSV of starting quotes: 'symbol,price' or "
                                                     "'symbol,bid,ask[,last]'.", exists=True, dir_okay=False)] = None,
    bars: Annotated[Path | None, typer.Option(help="Long OHLCV bars (.parquet/.csv) to replay at start.",
                                              exists=True, dir_okay=False)] = None,
    allow_short: Annotated[bool, typer.Option(help="Let sells beyond the position open shorts.")] = False,
) -> None:
    """Serve a local Alpaca Trading API v2 (and trade_updates) backed by the simulated venue.

    Keys come from APCA_API_KEY_ID / APCA_API_SECRET_KEY (else test keys are printed); prices from --prices or
    --bars, or later from POST /_quotes with the printed harness token.
    """
    from execlab.venues.alpaca import serve

    argv = ["--port", str(port), "--host", host, "--rate-limit", str(rate_limit), "--cash", repr(cash)]
    argv += ["--prices", str(prices)] if prices is not None else []
    argv += ["--bars", str(bars)] if bars is not None else []
    argv += ["--allow-short"] if allow_short else []
    raise typer.Exit(serve(argv))


def venue_ibkr(
    port: Annotated[int, typer.Option(help="Port of the TWS API (0 picks a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    cash: Annotated[list[str] | None, typer.Option(help="Starting balance, CUR=AMOUNT (repeatable; a bare number is "
                                                        "USD). Default: USD=1000000.")] = None,
    key: Annotated[str | None, typer.Option(help="The paper account id (default DU1234567).")] = None,
    prices: Annotated[Path | None, typer.Option(help="CSV of starting quotes: 'symbol,price' or "
                                                     "'symbol,bid,ask[,last]'.", exists=True, dir_okay=False)] = None,
    bars: Annotated[Path | None, typer.Option(help="Long OHLCV bars (.parquet/.csv) to replay at start.",
                                              exists=True, dir_okay=False)] = None,
    quote: Annotated[list[str] | None, typer.Option(help="An initial quote SYMBOL=BID,ASK[,LAST] (repeatable).")
                     ] = None,
    server_version: Annotated[int, typer.Option(help="TWS API server version: 157, 176 or 178.")] = 178,
    harness_port: Annotated[int, typer.Option(help="HTTP port of the harness routes (0: a free one).")] = 0,
    rate_limit: Annotated[int | None, typer.Option(help="Messages per second per client (IB: 50).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of ids and fault draws.")] = 0,
    allow_short: Annotated[bool, typer.Option(help="Let sells beyond the position open shorts.")] = False,
    any_stock: Annotated[bool, typer.Option(help="Also list any other US stock a client asks for.")] = False,
    secret_file: Annotated[Path | None, typer.Option(help="Accepted for the kit's common options and not used: TWS "
                                                          "has no API secret.")] = None,
) -> None:
    """Serve a local TWS / IB Gateway (the socket protocol ib_async speaks) backed by the simulated venue.

    A paper account with cash and AAPL, MSFT, SPY, EUR.USD, GBP.USD, EUR.GBP, USD.JPY and ESZ6, quoted out of the
    box: connect with IB().connect("127.0.0.1", PORT, clientId=1). Other quotes from --quote, --prices or --bars,
    or later from POST /_quotes on the harness port with the printed harness token.
    """
    from execlab.venues.ibkr import serve

    argv = ["--port", str(port), "--host", host, "--server-version", str(server_version), "--harness-port",
            str(harness_port), "--seed", str(seed)]
    for amount in cash or []:
        argv += ["--cash", amount]
    argv += ["--key", key] if key else []
    argv += ["--prices", str(prices)] if prices is not None else []
    argv += ["--bars", str(bars)] if bars is not None else []
    argv += ["--rate-limit", str(rate_limit)] if rate_limit is not None else []
    for q in quote or []:
        argv += ["--quote", q]
    argv += ["--allow-short"] if allow_short else []
    argv += ["--any-stock"] if any_stock else []
    raise typer.Exit(serve(argv))


def venue_oanda(
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    key: Annotated[str | None, typer.Option(help="Bearer token clients must send (default: $OANDA_ACCESS_TOKEN, "
                                                 "else a printed test value).")] = None,
    cash: Annotated[float, typer.Option(help="Starting balance in the home currency.")] = 100_000.0,
    currency: Annotated[str, typer.Option(help="The account's home currency.")] = "USD",
    prices: Annotated[Path | None, typer.Option(help="CSV of starting quotes: 'symbol,bid,ask' (EUR_USD or "
                                                     "EUR/USD).", exists=True, dir_okay=False)] = None,
    rate_limit: Annotated[int, typer.Option(help="Requests per token per second.")] = 100,
) -> None:
    """Serve a local OANDA v20 REST venue (and its pricing and transaction streams): one practice account with
    EUR_USD, GBP_USD, NZD_USD, EUR_GBP and USD_JPY priced.
    """
    from execlab.venues.oanda import serve

    argv = ["--port", str(port), "--host", host, "--rate-limit", str(rate_limit), "--cash", repr(cash),
            "--currency", currency]
    argv += ["--key", key] if key is not None else []
    argv += ["--prices", str(prices)] if prices is not None else []
    raise typer.Exit(serve(argv))


def _crypto_venue_argv(port: int, host: str, cash: list[str], prices: Path | None, bars: Path | None,
                       key: str | None, secret_file: Path | None) -> list[str]:
    argv = ["--port", str(port), "--host", host]
    argv += [a for c in cash for a in ("--cash", c)]
    argv += ["--prices", str(prices)] if prices is not None else []
    argv += ["--bars", str(bars)] if bars is not None else []
    argv += ["--key", key] if key is not None else []
    argv += ["--secret-file", str(secret_file)] if secret_file is not None else []
    return argv


_CASH_HELP = "Starting balance CUR=AMOUNT (repeatable; default USDT=100000)."
_PRICES_HELP = "CSV of starting quotes: 'symbol,price' or 'symbol,bid,ask[,last]' (default: built-in quotes)."


def venue_binance(
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    key: Annotated[str | None, typer.Option(help="API key (default $BINANCE_API_KEY, else a printed test key).")]
    = None,
    secret_file: Annotated[Path | None, typer.Option(help="File holding the API secret (default "
                                                          "$BINANCE_API_SECRET, else a printed test secret).",
                                                     exists=True, dir_okay=False)] = None,
    cash: Annotated[list[str] | None, typer.Option(help=_CASH_HELP)] = None,
    prices: Annotated[Path | None, typer.Option(help=_PRICES_HELP, exists=True, dir_okay=False)] = None,
    bars: Annotated[Path | None, typer.Option(help="Long OHLCV bars (.parquet/.csv) to replay at start.",
                                              exists=True, dir_okay=False)] = None,
) -> None:
    """Serve a local Binance spot venue (REST /api/v3, the websocket API user-data stream) for ccxt / ccxt.pro.

    It lists BTC/USDT, ETH/USDT and SOL/USDT with Binance's filters and starts with a USDT balance; the secret comes
    from BINANCE_API_SECRET or --secret-file (never the command line).
    """
    from execlab.venues.binance._cli import serve

    raise typer.Exit(serve(_crypto_venue_argv(port, host, cash or [], prices, bars, key, secret_file)))


def venue_okx(
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 0,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    key: Annotated[str | None, typer.Option(help="API key (default $OKX_API_KEY, else a printed test key).")] = None,
    secret_file: Annotated[Path | None, typer.Option(help="File holding the API secret (default $OKX_API_SECRET, "
                                                          "else a printed test secret).",
                                                     exists=True, dir_okay=False)] = None,
    cash: Annotated[list[str] | None, typer.Option(help=_CASH_HELP)] = None,
    prices: Annotated[Path | None, typer.Option(help=_PRICES_HELP, exists=True, dir_okay=False)] = None,
    bars: Annotated[Path | None, typer.Option(help="Long OHLCV bars (.parquet/.csv) to replay at start.",
                                              exists=True, dir_okay=False)] = None,
) -> None:
    """Serve a local OKX v5 venue (REST /api/v5, the private websocket) for ccxt / ccxt.pro.

    It lists BTC-USDT, ETH-USDT and SOL-USDT and starts with a USDT balance; the secret comes from OKX_API_SECRET
    or --secret-file, the passphrase from OKX_API_PASSPHRASE.
    """
    from execlab.venues.okx._cli import serve

    raise typer.Exit(serve(_crypto_venue_argv(port, host, cash or [], prices, bars, key, secret_file)))


def register(app: typer.Typer) -> None:
    """Add the trading commands to the ``execlab`` app."""
    app.command()(rebalance)
    venue_app = typer.Typer(help="Local broker venues on loopback.", no_args_is_help=True, rich_markup_mode=None)
    venue_app.command("alpaca")(venue_alpaca)
    venue_app.command("ibkr")(venue_ibkr)
    venue_app.command("oanda")(venue_oanda)
    venue_app.command("binance")(venue_binance)
    venue_app.command("okx")(venue_okx)
    app.add_typer(venue_app, name="venue")
