"""The command-line options every ``execlab venue <broker>`` takes, and :class:`VenueOptions`, their parsed value.

Common options: ``--host --port --key --secret-file --cash CUR=AMOUNT (repeatable; a bare number is the base
currency) --prices CSV --bars FILE --rate-limit --rate-window --seed``.
Secrets never come from the command line (``ps`` shows it to every user): ``--secret`` is refused with a pointer to
the environment variable or ``--secret-file``; the harness token comes from ``$EXECLAB_VENUE_TOKEN`` (else the venue
makes one and prints it).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from execlab.venues._harness import HARNESS_TOKEN_ENV, is_loopback_bind

__all__ = ["Quote", "VenueOptions", "add_common_options", "options_from_args", "read_quotes", "read_secret",
           "serve_until_signal", "until_signal"]

Quote = tuple[float | None, float | None, float | None, float | None]
"""``(bid, ask, last, volume)``."""


@dataclass(frozen=True)
class VenueOptions:
    """What ``execlab venue <broker>`` was asked for (handed to ``BrokerSpec.make_venue``). ``key``/``secret`` are
    None when not given (the venue then uses its printed test keys); ``cash`` maps currency → amount (empty: the
    venue's default); ``quotes`` come from ``--prices``; ``bars`` is a table to replay, or None."""

    host: str = "127.0.0.1"
    port: int = 0
    key: str | None = None
    secret: str | None = None
    cash: dict[str, float] = field(default_factory=dict)
    quotes: dict[str, Quote] = field(default_factory=dict)
    bars: Any = None
    rate_limit: int | None = None
    rate_window: float | None = None
    seed: int = 0
    harness_token: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Broker-specific options (e.g. Alpaca's ``allow_short``)."""

    def cash_in(self, base: str, default: float) -> dict[str, float]:
        """Starting balances: ``cash`` with a bare amount (key ``""``) given to ``base``, or ``{base: default}``."""
        if not self.cash:
            return {base: default}
        return {(c or base): v for c, v in self.cash.items()}


def _cash(text: str) -> tuple[str, float]:
    cur, _, amount = text.rpartition("=")
    try:
        value = float(amount)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--cash {text!r}: expected CUR=AMOUNT or AMOUNT") from None
    if not (value >= 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"--cash {text!r}: the amount must be finite and >= 0")
    return cur.strip().upper(), value


def add_common_options(p: argparse.ArgumentParser, *, key_env: str, secret_env: str,
                       rate_limit: int | None = None) -> None:
    """Add the common venue options to ``p`` (``key_env``/``secret_env``: where the keys come from by default)."""
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only); "
                                                        "another one is reachable from the network: a warning is "
                                                        "printed, and requests must name it in their Host header")
    p.add_argument("--port", type=int, default=0, help="TCP port (default: 0, a free port, printed)")
    p.add_argument("--key", default=None, help=f"API key clients must send (default: ${key_env}, else a printed "
                                               "test value)")
    p.add_argument("--secret-file", type=Path, default=None,
                   help=f"file holding the API secret clients must send (default: ${secret_env}, else a printed "
                        "test value)")
    p.add_argument("--secret", default=None, help=argparse.SUPPRESS)
    p.add_argument("--cash", type=_cash, action="append", default=[], metavar="CUR=AMOUNT",
                   help="starting balance (repeatable; a bare number is the account's currency)")
    p.add_argument("--prices", type=Path, default=None, metavar="CSV",
                   help="initial quotes from a CSV: 'symbol,price' (bid = ask = last = price) or "
                        "'symbol,bid,ask[,last]'")
    p.add_argument("--bars", type=Path, default=None, metavar="FILE",
                   help="long OHLCV bars (.parquet or .csv) replayed at start, one timestamp per step")
    p.add_argument("--rate-limit", type=int, default=rate_limit,
                   help="requests per key per rolling window" + (f" (default {rate_limit})" if rate_limit else ""))
    p.add_argument("--rate-window", type=float, default=None, metavar="SECONDS",
                   help="the rolling window of --rate-limit in seconds (default: the broker's)")
    p.add_argument("--seed", type=int, default=0, help="seed of ids and fault draws (default 0)")


def read_secret(path: Path) -> str:
    """The secret in ``path``: its first line, stripped."""
    lines = path.read_text().strip().splitlines()
    if not lines or not lines[0].strip():
        raise ValueError(f"{path} is empty")
    return lines[0].strip()


def read_quotes(path: Path) -> dict[str, Quote]:
    """Quotes from a CSV of ``symbol,price`` or ``symbol,bid,ask[,last]`` (symbols normalised, numbers strict)."""
    import pandas as pd

    from execlab._data.symbols import SymbolError, normalise_symbol, read_symbol_values

    header = [c.strip() for c in path.read_text().splitlines()[0].split(",")] if path.stat().st_size else []
    if len(header) == 2:
        return {str(s): (p, p, p, None) for s, p in read_symbol_values(path, "prices").items()}
    if header[:3] != ["symbol", "bid", "ask"] or len(header) > 4:
        raise SymbolError(f"prices: {path} must have columns 'symbol,price' or 'symbol,bid,ask[,last]'; got {header}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    out: dict[str, Quote] = {}
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


def options_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser, *, key_env: str,
                      secret_env: str, **extra: Any) -> VenueOptions:
    """The :class:`VenueOptions` of parsed common options (errors go through ``parser.error``); prints the
    non-loopback warning."""
    if args.secret is not None:
        parser.error(f"--secret puts the secret in the process's command line, readable by every user of the "
                     f"machine; set {secret_env} or pass --secret-file instead")
    key = args.key or os.environ.get(key_env)
    try:
        secret = read_secret(args.secret_file) if args.secret_file else os.environ.get(secret_env)
    except (OSError, ValueError) as exc:
        parser.error(f"--secret-file: {exc}")
    try:
        quotes = read_quotes(args.prices) if args.prices is not None else {}
        bars = _read_bars(args.bars) if args.bars is not None else None
    except (OSError, ValueError) as exc:  # SymbolError is a ValueError
        parser.error(str(exc))
    if args.rate_limit is not None and args.rate_limit < 1:
        parser.error(f"--rate-limit must be >= 1, got {args.rate_limit}")
    if args.rate_window is not None and not 0 < args.rate_window < float("inf"):
        parser.error(f"--rate-window must be a positive number of seconds, got {args.rate_window}")
    if not is_loopback_bind(args.host):
        print(f"WARNING: --host {args.host} makes this venue reachable from other machines. The API keys and the "
              "harness token are its only protection; do not use the default test keys.", file=sys.stderr)
    return VenueOptions(host=args.host, port=args.port, key=key, secret=secret, cash=dict(args.cash),
                        quotes=quotes, bars=bars, rate_limit=args.rate_limit, rate_window=args.rate_window,
                        seed=args.seed,
                        harness_token=os.environ.get(HARNESS_TOKEN_ENV) or None, extra=extra)


@contextmanager
def until_signal() -> Iterator[Callable[[], None]]:
    """Install SIGINT/SIGTERM handlers; yields ``wait()``, which blocks until one arrives (handlers restored on
    exit)."""
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def wait() -> None:
        while not done.wait(0.5):
            pass

    try:
        yield wait
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def serve_until_signal(venue: Any, options: VenueOptions, *, title: str, default_quotes: dict[str, tuple[float, float]],
                       lines: Callable[[], list[str]], credentials: dict[str, str]) -> None:
    """Start ``venue`` (a :class:`~execlab.venues._base.spot_venue.SpotVenue`), replay ``--bars``, quote ``--prices``
    (else ``default_quotes``, ``{symbol: (bid, ask)}``), print what it serves (``title``, ``lines()`` once it is
    started, and the
    ``credentials`` ``{ENV_NAME: value}`` when none were given) and block until SIGINT or SIGTERM."""
    from execlab.venues._harness import HARNESS_TOKEN_HEADER

    with until_signal() as wait, venue:
        if options.bars is not None:
            steps = sum(1 for _ in venue.replay_bars(options.bars))
            print(f"  replayed {steps} bar timestamps")
        quotes = options.quotes or ({} if options.bars is not None else
                                    {s: (b, a, None, None) for s, (b, a) in default_quotes.items()})
        for symbol, (bid, ask, last, volume) in quotes.items():
            venue.set_quote(symbol, bid, ask, last, volume)
        print(f"{title} listening on {venue.base_url}  (markets: {', '.join(venue.account.instruments)}; "
              f"balances: {', '.join(f'{b.currency} {b.free:g}' for b in venue.account.balances())})")
        for line in lines():
            print(f"  {line}")
        if options.key is None and options.secret is None:
            for name, value in credentials.items():
                print(f"  {name}={value}")
        if options.harness_token is None:
            print(f"  harness token (send it as {HARNESS_TOKEN_HEADER}): {venue.harness_token}")
        else:
            print(f"  harness token: from {HARNESS_TOKEN_ENV} (not shown)")
        print("  harness: GET /_stats, POST /_quotes, GET|POST|DELETE /_faults, POST /_clock, POST /_streams/drop; "
              "Ctrl-C stops")
        sys.stdout.flush()
        wait()
