"""Command line of the local Alpaca venue: ``python -m execlab.venues.alpaca`` (and ``execlab venue alpaca``).

The common venue options are :mod:`execlab.venues._base.cli`'s; Alpaca adds ``--allow-short`` and ``--quote``. Keys
default to ``$APCA_API_KEY_ID`` / ``$APCA_API_SECRET_KEY``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from execlab.venues._base.cli import Quote, VenueOptions, add_common_options, options_from_args, until_signal
from execlab.venues._harness import HARNESS_TOKEN_ENV, HARNESS_TOKEN_HEADER

__all__ = ["make_venue", "serve"]

_KEY_ENV = "APCA_API_KEY_ID"
_SECRET_ENV = "APCA_API_SECRET_KEY"


def _quote(text: str) -> tuple[str, Quote]:
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
    add_common_options(p, key_env=_KEY_ENV, secret_env=_SECRET_ENV, rate_limit=200)
    p.add_argument("--allow-short", action="store_true", help="let sells beyond the position open shorts")
    p.add_argument("--quote", type=_quote, action="append", default=[], metavar="SYMBOL=BID,ASK[,LAST]",
                   help="an initial quote (repeatable); more can be POSTed to /_quotes")
    return p


def make_venue(options: VenueOptions) -> object:
    """The (not started) :class:`AlpacaVenue` of ``options`` (``BrokerSpec.make_venue``)."""
    from execlab.venues.alpaca._server import DEFAULT_API_KEY, DEFAULT_SECRET_KEY, AlpacaVenue

    cash = options.cash_in("USD", 100_000.0)
    others = sorted(c for c in cash if c != "USD")
    if others:
        raise ValueError(f"--cash: the Alpaca venue keeps USD only, got {', '.join(others)}")
    return AlpacaVenue(options.key or DEFAULT_API_KEY, options.secret or DEFAULT_SECRET_KEY, host=options.host,
                       port=options.port, initial_cash=cash["USD"],
                       allow_short=bool(options.extra.get("allow_short", False)),
                       rate_limit=options.rate_limit or 200, rate_window=options.rate_window or 60.0,
                       seed=options.seed, harness_token=options.harness_token)


def serve(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, start the venue and block until SIGINT or SIGTERM; returns the exit status."""
    from execlab.venues.alpaca._server import AlpacaVenue

    parser = _parser()
    args = parser.parse_args(argv)
    options = options_from_args(args, parser, key_env=_KEY_ENV, secret_env=_SECRET_ENV,
                                allow_short=args.allow_short)
    try:
        venue = make_venue(options)
    except ValueError as exc:
        parser.error(str(exc))
    assert isinstance(venue, AlpacaVenue)
    show_keys = options.key is None and options.secret is None
    with until_signal() as wait, venue:
        if options.bars is not None:
            try:
                steps = sum(1 for _ in venue.replay_bars(options.bars))
            except ValueError as exc:
                parser.error(f"--bars: {exc}")
            print(f"  replayed {steps} bar timestamps from {args.bars}")
        if options.quotes or args.quote:
            venue.set_quotes({**options.quotes, **dict(args.quote)})
        print(f"Alpaca venue listening on {venue.base_url}  (TradingClient(..., url_override={venue.base_url!r}))")
        if show_keys:
            print(f"  {_KEY_ENV}={venue.api_key}")
            print(f"  {_SECRET_ENV}={venue.secret_key}")
        else:
            print(f"  keys: from --key, {_KEY_ENV}, {_SECRET_ENV} or --secret-file (not shown)")
        print(f"  trade_updates stream: {venue.stream_url}  (TradingStream(..., url_override=...))")
        if options.harness_token is None:
            print(f"  harness token (send it as {HARNESS_TOKEN_HEADER}): {venue.harness_token}")
        else:
            print(f"  harness token: from {HARNESS_TOKEN_ENV} (not shown)")
        print("  harness: GET /_stats, POST /_quotes, GET|POST|DELETE /_faults, GET /_trade_updates, "
              f"POST /_streams/drop (header {HARNESS_TOKEN_HEADER} or the API key headers; POST bodies "
              "application/json); Ctrl-C stops")
        sys.stdout.flush()
        wait()
    return 0
