"""Command line of the local Binance venue: ``python -m execlab.venues.binance`` (and ``execlab venue binance``).

The common venue options are :mod:`execlab.venues._base.cli`'s; keys default to ``$BINANCE_API_KEY`` /
``$BINANCE_API_SECRET`` (else printed test keys). Without ``--prices`` or ``--bars`` the default markets start with
quotes near recent prices, so a ccxt script can load markets and trade at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from execlab.venues._base.cli import VenueOptions, add_common_options, options_from_args, serve_until_signal

__all__ = ["DEFAULT_QUOTES", "make_venue", "serve"]

_KEY_ENV: Final = "BINANCE_API_KEY"
_SECRET_ENV: Final = "BINANCE_API_SECRET"
#: Starting quotes of the default markets (bid, ask).
DEFAULT_QUOTES: Final = {"BTC/USDT": (60_000.00, 60_000.01), "ETH/USDT": (3_000.00, 3_000.01),
                         "SOL/USDT": (150.00, 150.01)}


def make_venue(options: VenueOptions) -> object:
    """The (not started) :class:`BinanceVenue` of ``options`` (``BrokerSpec.make_venue``)."""
    from execlab.venues.binance._venue import DEFAULT_API_KEY, DEFAULT_SECRET, BinanceVenue

    return BinanceVenue(options.key or DEFAULT_API_KEY, options.secret or DEFAULT_SECRET, host=options.host,
                        port=options.port, balances=options.cash_in("USDT", 100_000.0),
                        weight_limit=options.rate_limit or 6000,
                        weight_window=options.rate_window or 60.0, harness_token=options.harness_token,
                        open_markets=bool(options.extra.get("open_markets", False)),
                        seed=options.seed)


def serve(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, start the venue and block until SIGINT or SIGTERM; returns the exit status."""
    import argparse

    from execlab.venues.binance._venue import BinanceVenue

    parser = argparse.ArgumentParser(prog="execlab venue binance",
                                     description="Serve a local Binance spot venue (REST /api/v3 and the websocket "
                                                 "API user-data stream) for ccxt and ccxt.pro.")
    add_common_options(parser, key_env=_KEY_ENV, secret_env=_SECRET_ENV, rate_limit=6000)
    parser.add_argument("--open-markets", action="store_true",
                        help="list every symbol quoted through POST /_quotes (a bare AAA is AAA/USDT)")
    args = parser.parse_args(argv)
    options = options_from_args(args, parser, key_env=_KEY_ENV, secret_env=_SECRET_ENV,
                                open_markets=args.open_markets)
    try:
        venue = make_venue(options)
    except ValueError as exc:
        parser.error(str(exc))
    assert isinstance(venue, BinanceVenue)
    serve_until_signal(venue, options, title="Binance venue", default_quotes=DEFAULT_QUOTES, lines=lambda: [
        f"ccxt: execlab.adapters.ccxt.make_exchange('binance', api_key=..., secret=..., "
        f"base_url={venue.base_url!r}); websocket API: {venue.ws_api_url}"],
        credentials={_KEY_ENV: venue.api_key, _SECRET_ENV: venue.secret})
    return 0
