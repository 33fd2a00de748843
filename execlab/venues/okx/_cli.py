"""Command line of the local OKX venue: ``python -m execlab.venues.okx`` (and ``execlab venue okx``).

The common venue options are :mod:`execlab.venues._base.cli`'s; keys default to ``$OKX_API_KEY``,
``$OKX_API_SECRET`` and ``$OKX_API_PASSPHRASE`` (else printed test keys). Without ``--prices`` or ``--bars`` the default
markets start with quotes near recent prices, so a ccxt script can load markets and trade at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from execlab.venues._base.cli import VenueOptions, add_common_options, options_from_args, serve_until_signal

__all__ = ["DEFAULT_QUOTES", "make_venue", "serve"]

_KEY_ENV: Final = "OKX_API_KEY"
_SECRET_ENV: Final = "OKX_API_SECRET"
_PASSPHRASE_ENV: Final = "OKX_API_PASSPHRASE"
#: Starting quotes of the default markets (bid, ask).
DEFAULT_QUOTES: Final = {"BTC/USDT": (60_000.00, 60_000.01), "ETH/USDT": (3_000.00, 3_000.01),
                         "SOL/USDT": (150.00, 150.01)}


def make_venue(options: VenueOptions) -> object:
    """The (not started) :class:`OkxVenue` of ``options`` (``BrokerSpec.make_venue``)."""
    import os

    from execlab.venues.okx._venue import DEFAULT_API_KEY, DEFAULT_PASSPHRASE, DEFAULT_SECRET, OkxVenue

    return OkxVenue(options.key or DEFAULT_API_KEY, options.secret or DEFAULT_SECRET,
                    os.environ.get(_PASSPHRASE_ENV) or DEFAULT_PASSPHRASE, host=options.host, port=options.port,
                    balances=options.cash_in("USDT", 100_000.0), harness_token=options.harness_token,
                    open_markets=bool(options.extra.get("open_markets", False)),
                    seed=options.seed)


def serve(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, start the venue and block until SIGINT or SIGTERM; returns the exit status."""
    import argparse

    from execlab.venues.okx._venue import OkxVenue

    parser = argparse.ArgumentParser(prog="execlab venue okx",
                                     description="Serve a local OKX v5 venue (REST /api/v5 and the private websocket) "
                                                 "for ccxt and ccxt.pro.")
    add_common_options(parser, key_env=_KEY_ENV, secret_env=_SECRET_ENV, rate_limit=None)
    parser.add_argument("--open-markets", action="store_true",
                        help="list every symbol quoted through POST /_quotes (a bare AAA is AAA/USDT)")
    args = parser.parse_args(argv)
    options = options_from_args(args, parser, key_env=_KEY_ENV, secret_env=_SECRET_ENV,
                                open_markets=args.open_markets)
    try:
        venue = make_venue(options)
    except ValueError as exc:
        parser.error(str(exc))
    assert isinstance(venue, OkxVenue)
    serve_until_signal(venue, options, title="OKX venue", default_quotes=DEFAULT_QUOTES, lines=lambda: [
        f"ccxt: execlab.adapters.ccxt.make_exchange('okx', api_key=..., secret=..., "
        f"base_url={venue.base_url!r}); private websocket: {venue.private_ws_url}"],
        credentials={_KEY_ENV: venue.api_key, _SECRET_ENV: venue.secret, _PASSPHRASE_ENV: venue.passphrase})
    return 0
