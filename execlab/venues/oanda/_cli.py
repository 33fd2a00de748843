"""Command line of the local OANDA venue: ``python -m execlab.venues.oanda --port N --key TOKEN``.

Out of the box it serves one practice account in USD with EUR_USD, GBP_USD, NZD_USD, EUR_GBP and USD_JPY priced, so
an oandapyV20 script can list accounts and instruments and trade at once. The token comes from ``--key``, else
``$OANDA_ACCESS_TOKEN`` or ``--secret-file`` (a printed test value when none is given); the harness token from
``$EXECLAB_VENUE_TOKEN`` (else a fresh one is printed).

Interim (stage 1 of issue 15): the broker kit's common venue options (``execlab.venues._base.cli``) replace this
parser once the kit lands.
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

__all__ = ["TOKEN_ENV", "serve"]

#: The environment variable the venue reads its bearer token from.
TOKEN_ENV = "OANDA_ACCESS_TOKEN"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m execlab.venues.oanda",
                                description="Serve a local OANDA v20 REST venue (and its pricing and transaction "
                                            "streams) for one practice account.")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback only)")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: 0, a free port, printed)")
    p.add_argument("--key", default=None, help=f"bearer token clients must send (default: ${TOKEN_ENV}, "
                                               "--secret-file, else a printed test value)")
    p.add_argument("--secret-file", type=Path, default=None, help="file holding the bearer token")
    p.add_argument("--account-id", default=None, help="the practice account's id")
    p.add_argument("--currency", default="USD", help="the account's home currency (default USD)")
    p.add_argument("--cash", type=float, default=100_000.0, help="starting balance in the home currency")
    p.add_argument("--prices", type=Path, default=None, metavar="CSV",
                   help="starting quotes: 'symbol,bid,ask' (EUR_USD or EUR/USD), or 'symbol,price'")
    p.add_argument("--rate-limit", type=int, default=100, help="requests per token per second (default 100)")
    p.add_argument("--heartbeat", type=float, default=5.0, help="stream heartbeat interval in seconds (default 5)")
    return p


def serve(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, start the venue and block until SIGINT or SIGTERM; returns the exit status."""
    from execlab.venues.alpaca._cli import read_quotes
    from execlab.venues.oanda._server import DEFAULT_TOKEN, OandaVenue
    from execlab.venues.oanda._state import DEFAULT_ACCOUNT_ID

    parser = _parser()
    args = parser.parse_args(argv)
    token = args.key or os.environ.get(TOKEN_ENV)
    if token is None and args.secret_file is not None:
        try:
            token = args.secret_file.read_text().strip().splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            parser.error(f"--secret-file: {exc or 'empty'}")
    try:
        quotes = read_quotes(args.prices) if args.prices is not None else {}
    except (OSError, ValueError) as exc:
        parser.error(str(exc))
    if not is_loopback_bind(args.host):
        print(f"WARNING: --host {args.host} makes this venue reachable from other machines; the token is its only "
              "protection.", file=sys.stderr)
    harness = os.environ.get(HARNESS_TOKEN_ENV) or None
    try:
        venue = OandaVenue(token or DEFAULT_TOKEN, account_id=args.account_id or DEFAULT_ACCOUNT_ID,
                           home_currency=args.currency.upper(), balance=args.cash, host=args.host, port=args.port,
                           rate_limit=args.rate_limit, heartbeat_seconds=args.heartbeat, harness_token=harness)
        start = {s.replace("/", "_"): (b if b is not None else last, a if a is not None else last)
                 for s, (b, a, last, _v) in quotes.items()}
        venue.set_quotes({s: (float(b), float(a)) for s, (b, a) in start.items() if b is not None and a is not None})
    except ValueError as exc:
        parser.error(str(exc))
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with venue:
            print(f"OANDA v20 venue listening on {venue.base_url}  (account {venue.account_id}, "
                  f"{venue.state.account.home})")
            print(f'  oandapyV20: TRADING_ENVIRONMENTS["local"] = {{"api": "{venue.base_url}", '
                  f'"stream": "{venue.base_url}"}}; API(access_token=..., environment="local")')
            print(f"  token: {venue.token}" if token is None else "  token: as given (not shown)")
            priced = ", ".join(f"{n} {b:g}/{a:g}" for n, (b, a) in sorted(venue.state.quotes.items()))
            print(f"  priced: {priced}")
            if harness is None:
                print(f"  harness token (send it as {HARNESS_TOKEN_HEADER}): {venue.harness_token}")
            print("  harness: GET /_stats, POST /_quotes, GET|POST|DELETE /_faults, POST /_streams/drop; "
                  "Ctrl-C stops")
            sys.stdout.flush()
            while not done.wait(0.5):
                pass
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0
