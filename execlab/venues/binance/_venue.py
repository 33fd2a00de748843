"""``BinanceVenue``: a local Binance spot venue (REST ``/api/v3`` and the websocket API user-data stream) on
127.0.0.1, in a background thread."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import web

from execlab.venues._harness import HARNESS_TOKEN_HEADER, HarnessGuard, new_harness_token
from execlab.venues._spot import FaultKnobs, VenueAccount, VenueInstrument, VenueServer
from execlab.venues.binance._app import BinanceContext, build_app, venue_stats
from execlab.venues.binance._limits import BinanceLimits
from execlab.venues.binance._rules import DEFAULT_MARKETS
from execlab.venues.binance._stream import WS_API_PATH, UserStreamHub

__all__ = ["DEFAULT_API_KEY", "DEFAULT_SECRET", "BinanceVenue"]

#: Keys a venue uses when none are given: test values, never real credentials.
DEFAULT_API_KEY: Final = "execlab-local-binance-key"
DEFAULT_SECRET: Final = "execlab-local-binance-secret-not-a-secret"


class BinanceVenue:
    """A local server speaking Binance's spot REST API and websocket API, in front of one spot account.

    Point ccxt at it with :func:`execlab.adapters.ccxt.make_exchange` (``"binance"``, :attr:`base_url`). Orders fill
    against quotes from :meth:`set_quote`.

    Args:
        api_key, secret: the key pair requests must be signed with (HMAC-SHA256).
        host, port: where to listen (port 0 picks a free one).
        markets: the spot markets listed (default BTC/USDT, ETH/USDT, SOL/USDT with Binance-like filters).
        balances: starting free balances (default 100,000 USDT).
        weight_limit: request weight allowed per IP per rolling minute (Binance spot: 6000).
        orders_per_10s: new orders allowed per 10 seconds.
        taker_fee, maker_fee: fee rates (Binance's base rate: 0.1 %).
        strict_signature: check every HMAC (else only the key and the clock).
        harness_token: the token the ``/_`` routes require (default: a fresh random one).
    """

    def __init__(self, api_key: str = DEFAULT_API_KEY, secret: str = DEFAULT_SECRET, *, host: str = "127.0.0.1",
                 port: int = 0, markets: Iterable[VenueInstrument] = DEFAULT_MARKETS,
                 balances: Mapping[str, float] | None = None, weight_limit: int = 6000, orders_per_10s: int = 100,
                 taker_fee: float = 0.001, maker_fee: float = 0.001, strict_signature: bool = True,
                 harness_token: str | None = None) -> None:
        if not api_key or not secret:
            raise ValueError("api_key and secret must be non-empty")
        self.api_key, self.secret = api_key, secret
        self.account = VenueAccount(markets, balances if balances is not None else {"USDT": 100_000.0},
                                    taker_fee=taker_fee, maker_fee=maker_fee)
        self.guard = HarnessGuard.for_bind(harness_token or new_harness_token(), host, keys_match=self._keys_match)
        self.limits = BinanceLimits(weight_limit, orders_per_10s)
        self.ctx = BinanceContext(self.account, api_key, secret, self.guard, self.limits, FaultKnobs(),
                                  strict_signature)
        self.ctx.hub = UserStreamHub(self.account, api_key, secret, self.ctx.now_ms)
        self.server = VenueServer(self._make_app, host=host, port=port, name="binance-venue",
                                  on_stop=self.ctx.hub.shutdown)

    def _make_app(self) -> web.Application:
        app = build_app(self.ctx)
        assert self.ctx.hub is not None
        self.ctx.hub.attach()
        return app

    def _keys_match(self, headers: Mapping[str, str]) -> bool:
        return headers.get("X-MBX-APIKEY") == self.api_key

    # -- life cycle ----------------------------------------------------------------------------------------
    def start(self) -> Self:
        """Serve in a background thread."""
        self.server.start()
        return self

    def stop(self) -> None:
        """Stop serving; safe twice."""
        if self.ctx.stopping is not None and self.server._loop is not None:
            self.server.loop.call_soon_threadsafe(self.ctx.stopping.set)
        self.server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        return self.server.port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (the REST routes are under ``/api/v3``)."""
        return self.server.base_url

    @property
    def ws_api_url(self) -> str:
        """``ws://127.0.0.1:PORT/ws-api/v3``."""
        return self.server.base_url.replace("http://", "ws://", 1) + WS_API_PATH

    @property
    def harness_headers(self) -> dict[str, str]:
        """Headers for a harness request."""
        return {HARNESS_TOKEN_HEADER: self.guard.token}

    # -- harness -------------------------------------------------------------------------------------------
    @property
    def faults(self) -> FaultKnobs:
        """Fault knobs of the order route."""
        return self.ctx.faults

    def set_clock_skew(self, ms: int) -> None:
        """Run the venue's clock ``ms`` ahead of this machine's (negative: behind)."""
        self.ctx.clock_skew_ms = int(ms)

    def set_quote(self, symbol: str, bid: float, ask: float) -> None:
        """Set a market's touch (``BTC/USDT``) and fill what it reaches."""
        self.account.set_quote(symbol, bid, ask)

    def stats(self) -> dict[str, Any]:
        """Requests, statuses, 429s/418s, placements per client id, stream connections."""
        return venue_stats(self.ctx)

    def drop_streams(self) -> int:
        """Abort every websocket API connection; returns how many."""
        assert self.ctx.hub is not None
        return self.server.call(self.ctx.hub.drop_all())
