"""Command line of the local IB venue: ``python -m execlab.venues.ibkr`` (and ``execlab venue ibkr``).

The common venue options are :mod:`execlab.venues._base.cli`'s (``--key`` names the paper account, ``DU…``; the
secret is not used: TWS has no API keys). IB adds ``--server-version`` (157, 176 or 178), ``--harness-port`` and
``--quote``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from execlab.venues._base.cli import Quote, VenueOptions, add_common_options, options_from_args, until_signal
from execlab.venues._harness import HARNESS_TOKEN_ENV, HARNESS_TOKEN_HEADER

__all__ = ["make_venue", "serve"]

_KEY_ENV = "EXECLAB_IB_ACCOUNT"
_SECRET_ENV = "EXECLAB_IB_SECRET"


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
        prog="python -m execlab.venues.ibkr",
        description="Serve a local TWS / IB Gateway (the TWS API socket protocol that ib_async speaks) backed by "
                    "execlab's simulated venue, with a paper account, US stocks, FX pairs and a future.",
    )
    add_common_options(p, key_env=_KEY_ENV, secret_env=_SECRET_ENV)
    p.add_argument("--server-version", type=int, default=178, choices=(157, 176, 178),
                   help="the TWS API server version answered to the handshake (default 178)")
    p.add_argument("--harness-port", type=int, default=0,
                   help="HTTP port of the harness routes /_stats, /_quotes, /_faults … (default: a free one)")
    p.add_argument("--allow-short", action="store_true", help="let sells beyond the position open shorts")
    p.add_argument("--any-stock", action="store_true",
                   help="also list any other US stock symbol a client asks for (SMART, USD), as TWS would")
    p.add_argument("--quote", type=_quote, action="append", default=[], metavar="SYMBOL=BID,ASK[,LAST]",
                   help="an initial quote (repeatable), by the venue's symbol: AAPL, EUR.USD, ESZ6")
    return p


def make_venue(options: VenueOptions) -> object:
    """The (not started) :class:`IBVenue` of ``options`` (``BrokerSpec.make_venue``): a paper account with
    1,000,000 USD unless ``--cash`` says otherwise."""
    from execlab.venues.ibkr._faults import IBFaults
    from execlab.venues.ibkr._server import DEFAULT_ACCOUNT_ID, IBVenue

    faults = IBFaults()
    if options.rate_limit:
        faults.max_messages_per_second = options.rate_limit
    return IBVenue(options.key or DEFAULT_ACCOUNT_ID, host=options.host, port=options.port,
                   cash=options.cash_in("USD", 1_000_000.0), allow_short=bool(options.extra.get("allow_short")),
                   server_version=int(options.extra.get("server_version", 178)), faults=faults, seed=options.seed,
                   harness_token=options.harness_token, harness_port=int(options.extra.get("harness_port", 0)),
                   any_stock=bool(options.extra.get("any_stock")))


def serve(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, start the venue and block until SIGINT or SIGTERM; returns the exit status."""
    from execlab.venues.ibkr._contracts import DEFAULT_QUOTES
    from execlab.venues.ibkr._server import IBVenue

    parser = _parser()
    args = parser.parse_args(argv)
    options = options_from_args(args, parser, key_env=_KEY_ENV, secret_env=_SECRET_ENV,
                                allow_short=args.allow_short, server_version=args.server_version,
                                harness_port=args.harness_port, any_stock=args.any_stock)
    try:
        venue = make_venue(options)
    except ValueError as exc:
        parser.error(str(exc))
    assert isinstance(venue, IBVenue)
    with until_signal() as wait, venue:
        if options.bars is not None:
            try:
                steps = sum(1 for _ in venue.replay_bars(options.bars))
            except ValueError as exc:
                parser.error(f"--bars: {exc}")
            print(f"  replayed {steps} bar timestamps from {args.bars}")
        quotes = {**options.quotes, **dict(args.quote)}
        unknown = sorted(s for s in quotes if venue.catalogue.by_key(s) is None
                         and venue.catalogue.stock_on_demand(s) is None)
        if unknown:
            parser.error(f"--quote/--prices: unknown contracts {unknown}; listed: "
                         f"{[s.key for s in venue.catalogue]}")
        if not quotes and options.bars is None:  # out of the box: every default contract quoted
            quotes = {k: (bid, ask, None, None) for k, (bid, ask) in DEFAULT_QUOTES.items()
                      if venue.catalogue.by_key(k) is not None}
            print(f"  default quotes: {', '.join(f'{k} {b:g}/{a:g}' for k, (b, a, _l, _v) in quotes.items())}")
        if quotes:
            venue.set_quotes(quotes)
        print(f"IB venue (TWS API, server version {venue.server_version}) listening on {venue.host}:{venue.port}  "
              f"(IB().connect({venue.host!r}, {venue.port}, clientId=1))")
        print(f"  paper account {venue.account_id}; contracts: {', '.join(s.key for s in venue.catalogue)}")
        if options.harness_token is None:
            print(f"  harness token (send it as {HARNESS_TOKEN_HEADER}): {venue.harness_token}")
        else:
            print(f"  harness token: from {HARNESS_TOKEN_ENV} (not shown)")
        print(f"  harness: {venue.harness_url} GET /_stats, POST /_quotes, GET|POST|DELETE /_faults, "
              "POST /_streams/drop, POST /_restart, POST /_connectivity; Ctrl-C stops")
        sys.stdout.flush()
        wait()
    return 0
