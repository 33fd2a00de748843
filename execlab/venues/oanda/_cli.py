"""Command line of the local OANDA venue: ``execlab venue oanda --port N --key TOKEN`` (or ``python -m
execlab.venues.oanda``).

The common venue options are :mod:`execlab.venues._base.cli`'s (``--cash`` is the home currency's balance); OANDA
adds ``--currency`` and ``--heartbeat``. The token defaults to ``$OANDA_ACCESS_TOKEN`` (else a printed test value).
Out of the box the venue serves one practice account in USD with EUR_USD, GBP_USD, NZD_USD, EUR_GBP and USD_JPY
priced, so an oandapyV20 script can list accounts and instruments and trade at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from execlab.venues._base.cli import VenueOptions, add_common_options, options_from_args, until_signal
from execlab.venues._harness import HARNESS_TOKEN_HEADER

__all__ = ["TOKEN_ENV", "make_venue", "serve"]

#: The environment variable the venue reads its bearer token from.
TOKEN_ENV = "OANDA_ACCESS_TOKEN"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m execlab.venues.oanda",
                                description="Serve a local OANDA v20 REST venue (and its pricing and transaction "
                                            "streams) for one practice account.")
    add_common_options(p, key_env=TOKEN_ENV, secret_env=TOKEN_ENV, rate_limit=100)
    p.add_argument("--currency", default="USD", help="the account's home currency (default USD)")
    p.add_argument("--heartbeat", type=float, default=5.0, help="stream heartbeat interval in seconds (default 5)")
    p.add_argument("--open-instruments", action="store_true",
                   help="list an unknown instrument at its first quote (a CFD in the home currency; for tests)")
    return p


def make_venue(options: VenueOptions) -> object:
    """The (not started) :class:`OandaVenue` of ``options`` (``BrokerSpec.make_venue``)."""
    from execlab.venues.oanda._server import DEFAULT_TOKEN, OandaVenue

    home = str(options.extra.get("currency", "USD")).upper()
    cash = options.cash_in(home, 100_000.0)
    others = sorted(c for c in cash if c != home)
    if others:
        raise ValueError(f"--cash: the OANDA venue's account holds its home currency {home} only, got "
                         f"{', '.join(others)}")
    venue = OandaVenue(options.key or options.secret or DEFAULT_TOKEN, home_currency=home, balance=cash[home],
                       host=options.host, port=options.port, rate_limit=options.rate_limit or 100,
                       rate_window=options.rate_window or 1.0,
                       heartbeat_seconds=float(options.extra.get("heartbeat", 5.0)), seed=options.seed,
                       harness_token=options.harness_token,
                       open_instruments=bool(options.extra.get("open_instruments", False)))
    quotes = {s.replace("/", "_"): (b if b is not None else last, a if a is not None else last)
              for s, (b, a, last, _v) in options.quotes.items()}
    venue.set_quotes({s: (float(b), float(a)) for s, (b, a) in quotes.items() if b is not None and a is not None})
    return venue


def serve(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, start the venue and block until SIGINT or SIGTERM; returns the exit status."""
    from execlab.venues.oanda._server import OandaVenue

    parser = _parser()
    args = parser.parse_args(argv)
    options = options_from_args(args, parser, key_env=TOKEN_ENV, secret_env=TOKEN_ENV, currency=args.currency,
                                heartbeat=args.heartbeat, open_instruments=args.open_instruments)
    try:
        venue = make_venue(options)
    except ValueError as exc:
        parser.error(str(exc))
    assert isinstance(venue, OandaVenue)
    with until_signal() as wait, venue:
        if options.bars is not None:
            try:
                steps = sum(1 for _ in venue.replay_bars(options.bars))
            except ValueError as exc:
                parser.error(f"--bars: {exc}")
            print(f"  replayed {steps} bar timestamps")
        print(f"OANDA v20 venue listening on {venue.base_url}  (account {venue.account_id}, {venue.state.home})")
        print(f'  oandapyV20: TRADING_ENVIRONMENTS["local"] = {{"api": "{venue.base_url}", '
              f'"stream": "{venue.base_url}"}}; API(access_token=..., environment="local")')
        print(f"  token: {venue.token}" if options.key is None and options.secret is None else
              "  token: as given (not shown)")
        priced = ", ".join(f"{n} {q[0]:g}/{q[1]:g}" for n in sorted(venue.state.instruments)
                           if (q := venue.state.quote(n)) is not None)
        print(f"  priced: {priced}")
        if options.harness_token is None:
            print(f"  harness token (send it as {HARNESS_TOKEN_HEADER}): {venue.harness_token}")
        print("  harness: GET /_stats, POST /_quotes ({\"symbol\": \"EUR_USD\", \"bid\", \"ask\"}), "
              "GET|POST|DELETE /_faults, POST /_streams/drop; Ctrl-C stops")
        sys.stdout.flush()
        wait()
    return 0
