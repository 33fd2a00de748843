"""Command line of the local Alpaca venue: ``python -m execlab.venues.alpaca`` (and ``execlab venue alpaca``).

Secrets never come from the command line, where every user of the machine can read them (``ps``, /proc): the API
secret comes from ``$APCA_API_SECRET_KEY`` or ``--secret-file``, the harness token from ``$EXECLAB_VENUE_TOKEN`` (else a
fresh one is printed once). Binding a non-loopback ``--host`` prints a warning.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from execlab.venues._harness import HARNESS_TOKEN_ENV, HARNESS_TOKEN_HEADER, is_loopback_bind

__all__ = ["serve"]


def _quote(text: str) -> tuple[str, tuple[float | None, float | None, float | None, float | None]]:
    try:
        symbol, prices = text.split("=", 1)
        values = [float(v) for v in prices.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--quote {text!r}: expected SYMBOL=BID,ASK[,LAST]") from None
    if len(values) not in (2, 3):
        raise argparse.ArgumentTypeError(f"--quote {text!r}: expected SYMBOL=BID,ASK[,LAST]")
    return symbol.strip().upper(), (values[0], values[1], values[2] if len(values) == 3 else None, None)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m execlab.venues.alpaca",
        description="Serve a local Alpaca Trading API v2 venue (REST and the trade_updates websocket) backed by "
                    "execlab's simulated venue.",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only); "
                                                        "another one is reachable from the network: a warning is "
                                                        "printed, and requests must name it in their Host header")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: 0, a free port, printed)")
    p.add_argument("--key", default=None, help="API key id clients must send (default: $APCA_API_KEY_ID, else a "
                                               "printed test value)")
    p.add_argument("--secret-file", type=Path, default=None,
                   help="file holding the API secret clients must send (default: $APCA_API_SECRET_KEY, else a printed "
                        "test value)")
    p.add_argument("--secret", default=None, help=argparse.SUPPRESS)
    p.add_argument("--rate-limit", type=int, default=200, help="requests per key per rolling minute (default 200)")
    p.add_argument("--cash", type=float, default=100_000.0, help="starting cash (default 100000)")
    p.add_argument("--allow-short", action="store_true", help="let sells beyond the position open shorts")
    p.add_argument("--quote", type=_quote, action="append", default=[], metavar="SYMBOL=BID,ASK[,LAST]",
                   help="an initial quote (repeatable); more can be POSTed to /_quotes")
    p.add_argument("--prices", type=Path, default=None, metavar="CSV",
                   help="initial quotes from a CSV: 'symbol,price' (bid = ask = last = price) or "
                        "'symbol,bid,ask[,last]'")
    p.add_argument("--bars", type=Path, default=None, metavar="FILE",
                   help="long OHLCV bars (.parquet or .csv) replayed at start, one timestamp per step: the venue "
                        "ends at the last bar's time and closes, with yesterday's equity known")
    p.add_argument("--seed", type=int, default=0, help="seed of ids and fault draws (default 0)")
    return p


def read_quotes(path: Path) -> dict[str, tuple[float | None, float | None, float | None, float | None]]:
    """Quotes from a CSV of ``symbol,price`` or ``symbol,bid,ask[,last]`` (symbols normalised, numbers strict)."""
    import pandas as pd

    from execlab._data.symbols import SymbolError, normalise_symbol, read_symbol_values

    header = [c.strip() for c in path.read_text().splitlines()[0].split(",")] if path.stat().st_size else []
    if len(header) == 2:
        return {str(s): (p, p, p, None) for s, p in read_symbol_values(path, "prices").items()}
    if header[:3] != ["symbol", "bid", "ask"] or len(header) > 4:
        raise SymbolError(f"prices: {path} must have columns 'symbol,price' or 'symbol,bid,ask[,last]'; got {header}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    out: dict[str, tuple[float | None, float | None, float | None, float | None]] = {}
    for k, row in enumerate(frame.itertuples(index=False)):
        where = f"prices: {path} line {k + 2}"
        symbol = normalise_symbol(row[0], where)
        try:
            values = [float(v) for v in row[1:]]
        except ValueError:
            raise SymbolError(f"{where}: bid, ask and last must be numbers, got {list(row[1:])}") from None
        if not all(v > 0 and v < float("inf") for v in values) or values[0] > values[1]:
            raise SymbolError(f"{where}: symbol {symbol!r} needs 0 < bid <= ask (and a positive last), got {values}")
        out[symbol] = (values[0], values[1], values[2] if len(values) == 3 else None, None)
    return out


def _read_bars(path: Path) -> object:
    import pandas as pd

    return pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)


def _read_secret(path: Path) -> str:
    """The secret in ``path``: its first line, stripped."""
    lines = path.read_text().strip().splitlines()
    if not lines or not lines[0].strip():
        raise ValueError(f"{path} is empty")
    return lines[0].strip()


def serve(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, start the venue and block until SIGINT or SIGTERM; returns the exit status."""
    from execlab.venues.alpaca._server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, AlpacaVenue

    parser = _parser()
    args = parser.parse_args(argv)
    if args.secret is not None:
        parser.error("--secret puts the secret in the process's command line, readable by every user of the "
                     "machine; set APCA_API_SECRET_KEY or pass --secret-file instead")
    key = args.key or os.environ.get("APCA_API_KEY_ID")
    try:
        secret = _read_secret(args.secret_file) if args.secret_file else os.environ.get("APCA_API_SECRET_KEY")
    except (OSError, ValueError) as exc:
        parser.error(f"--secret-file: {exc}")
    try:
        quotes = read_quotes(args.prices) if args.prices is not None else {}
        bars = _read_bars(args.bars) if args.bars is not None else None
    except (OSError, ValueError) as exc:  # SymbolError is a ValueError
        parser.error(str(exc))
    show_keys = key is None and secret is None
    token = os.environ.get(HARNESS_TOKEN_ENV) or None
    if not is_loopback_bind(args.host):
        print(f"WARNING: --host {args.host} makes this venue reachable from other machines. The API keys and the "
              "harness token are its only protection; do not use the default test keys.", file=sys.stderr)
    venue = AlpacaVenue(key or DEFAULT_API_KEY, secret or DEFAULT_SECRET_KEY, host=args.host, port=args.port,
                        initial_cash=args.cash, allow_short=args.allow_short, rate_limit=args.rate_limit,
                        seed=args.seed, harness_token=token)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with venue:
            if bars is not None:
                try:
                    steps = sum(1 for _ in venue.replay_bars(bars))
                except ValueError as exc:
                    parser.error(f"--bars: {exc}")
                print(f"  replayed {steps} bar timestamps from {args.bars}")
            if quotes or args.quote:
                venue.set_quotes({**quotes, **dict(args.quote)})
            print(f"Alpaca venue listening on {venue.base_url}  (TradingClient(..., url_override={venue.base_url!r}))")
            if show_keys:
                print(f"  APCA_API_KEY_ID={venue.api_key}")
                print(f"  APCA_API_SECRET_KEY={venue.secret_key}")
            else:
                print("  keys: from --key, APCA_API_KEY_ID, APCA_API_SECRET_KEY or --secret-file (not shown)")
            print(f"  trade_updates stream: {venue.stream_url}  (TradingStream(..., url_override=...))")
            if token is None:
                print(f"  harness token (send it as {HARNESS_TOKEN_HEADER}): {venue.harness_token}")
            else:
                print(f"  harness token: from {HARNESS_TOKEN_ENV} (not shown)")
            print("  harness: GET /_stats, POST /_quotes, GET|POST|DELETE /_faults, GET /_trade_updates, "
                  f"POST /_streams/drop (header {HARNESS_TOKEN_HEADER} or the API key headers; POST bodies "
                  "application/json); Ctrl-C stops")
            sys.stdout.flush()
            while not done.wait(0.5):
                pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
