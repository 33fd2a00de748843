"""Command line of the local Alpaca venue: ``python -m execlab.venues.alpaca`` (and ``execlab venue alpaca``)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

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
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: 0, a free port, printed)")
    p.add_argument("--key", default=None, help="API key id clients must send (default: $APCA_API_KEY_ID, else a "
                                               "printed test value)")
    p.add_argument("--secret", default=None, help="API secret clients must send (default: $APCA_API_SECRET_KEY, "
                                                  "else a printed test value)")
    p.add_argument("--rate-limit", type=int, default=200, help="requests per key per rolling minute (default 200)")
    p.add_argument("--cash", type=float, default=100_000.0, help="starting cash (default 100000)")
    p.add_argument("--allow-short", action="store_true", help="let sells beyond the position open shorts")
    p.add_argument("--quote", type=_quote, action="append", default=[], metavar="SYMBOL=BID,ASK[,LAST]",
                   help="an initial quote (repeatable); more can be POSTed to /_quotes")
    p.add_argument("--seed", type=int, default=0, help="seed of ids and fault draws (default 0)")
    return p


def serve(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, start the venue and block until SIGINT or SIGTERM; returns the exit status."""
    from execlab.venues.alpaca._server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, AlpacaVenue

    args = _parser().parse_args(argv)
    key = args.key or os.environ.get("APCA_API_KEY_ID")
    secret = args.secret or os.environ.get("APCA_API_SECRET_KEY")
    show_keys = key is None and secret is None
    venue = AlpacaVenue(key or DEFAULT_API_KEY, secret or DEFAULT_SECRET_KEY, host=args.host, port=args.port,
                        initial_cash=args.cash, allow_short=args.allow_short, rate_limit=args.rate_limit,
                        seed=args.seed)
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with venue:
            if args.quote:
                venue.set_quotes(dict(args.quote))
            print(f"Alpaca venue listening on {venue.base_url}  (TradingClient(..., url_override={venue.base_url!r}))")
            if show_keys:
                print(f"  APCA_API_KEY_ID={venue.api_key}")
                print(f"  APCA_API_SECRET_KEY={venue.secret_key}")
            else:
                print("  keys: from --key/--secret or APCA_API_KEY_ID/APCA_API_SECRET_KEY (not shown)")
            print(f"  trade_updates stream: {venue.stream_url}  (TradingStream(..., url_override=...))")
            print("  harness: GET /_stats, POST /_quotes, GET|POST|DELETE /_faults, GET /_trade_updates, "
                  "POST /_streams/drop; Ctrl-C stops")
            sys.stdout.flush()
            while not done.wait(0.5):
                pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
