"""``BinanceVenue``: a local Binance spot venue (REST ``/api/v3`` and the websocket API user-data stream) on
127.0.0.1, in a background thread, over the kit's :class:`~execlab.venues._base.VenueAccount`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from aiohttp import web

from execlab._config import FeeConfig, VenueConfig
from execlab.venues._base import VenueAccount, VenueInstrument
from execlab.venues._base.spot_venue import SpotVenue
from execlab.venues.binance._app import BinanceContext, build_app, venue_stats
from execlab.venues.binance._limits import BinanceLimits
from execlab.venues.binance._rules import DEFAULT_MARKETS, spot_market
from execlab.venues.binance._stream import WS_API_PATH, UserStreamHub

__all__ = ["DEFAULT_API_KEY", "DEFAULT_SECRET", "BinanceVenue"]

#: Keys a venue uses when none are given: test values, never real credentials.
DEFAULT_API_KEY: Final = "execlab-local-binance-key"
DEFAULT_SECRET: Final = "execlab-local-binance-secret-not-a-secret"


class BinanceVenue(SpotVenue):
    """A local server speaking Binance's spot REST API and websocket API, in front of one spot account.

    Point ccxt at it with :func:`execlab.adapters.ccxt.make_exchange` (``"binance"``, :attr:`base_url`). Orders fill
    against quotes from :meth:`set_quote` (buys at the ask, sells at the bid; resting limits when reached).

    Args:
        api_key, secret: the key pair requests must be signed with (HMAC-SHA256).
        host, port: where to listen (port 0 picks a free one).
        markets: the spot markets listed (default BTC/USDT, ETH/USDT, SOL/USDT with Binance-like filters).
        balances: starting balances (default 100,000 USDT).
        weight_limit: request weight allowed per IP per rolling minute (Binance spot: 6000).
        weight_window: the window of ``weight_limit`` in seconds (60; smaller for tests and benchmarks).
        orders_per_10s: new orders allowed per 10 seconds.
        taker_fee, maker_fee: fee rates (Binance's base rate: 0.1 %), charged in the asset received.
        strict_signature: check every HMAC (else only the key and the clock).
        harness_token: the token the ``/_`` routes require (default: a fresh random one).
        seed: seeds ids and fault draws.
        open_markets: a symbol quoted through the harness (``POST /_quotes``) that is not listed becomes a market
            (a bare ``AAA`` is ``AAA/USDT``; step 0.001, fee in the quote asset): for test universes.
        venue_config: the matching and fee model (default: ``maker_fee`` / ``taker_fee`` as maker/taker rates).
    """

    name = "binance"

    def __init__(self, api_key: str = DEFAULT_API_KEY, secret: str = DEFAULT_SECRET, *, host: str = "127.0.0.1",
                 port: int = 0, markets: Iterable[VenueInstrument] = DEFAULT_MARKETS,
                 balances: Mapping[str, float] | None = None, weight_limit: int = 6000, weight_window: float = 60.0,
                 orders_per_10s: int = 100, taker_fee: float = 0.001, maker_fee: float = 0.001,
                 strict_signature: bool = True, harness_token: str | None = None, seed: int = 0,
                 open_markets: bool = False, venue_config: VenueConfig | None = None) -> None:
        if not api_key or not secret:
            raise ValueError("api_key and secret must be non-empty")
        super().__init__(host, port)
        self.api_key, self.secret = api_key, secret
        fees = FeeConfig(model="maker_taker", maker_bps=maker_fee * 10_000, taker_bps=taker_fee * 10_000)
        self.account = VenueAccount(dict(balances) if balances is not None else {"USDT": 100_000.0},
                                    currency="USDT", venue_config=venue_config or VenueConfig(fees=fees),
                                    instruments=markets, symbols_closed=True, seed=seed,
                                    execution_id=str)
        self._setup_harness(host, harness_token, open_markets, seed)
        self.limits = BinanceLimits(weight_limit, orders_per_10s, window=weight_window)
        self.ctx = BinanceContext(self.account, api_key, secret, self.guard, self.limits, self.injector,
                                  strict_signature)
        self._follow_open_markets()

    def open_market(self, symbol: str) -> VenueInstrument:
        """A quoted test symbol's market: step 0.001, fee in the quote asset."""
        return spot_market(symbol, lot=0.001, tick=0.01, min_qty=0.001, fee_in="quote")

    def make_app(self) -> web.Application:
        """The aiohttp application (on the serving loop)."""
        assert self.stopping is not None
        self.ctx.stopping = self.stopping
        self.ctx.hub = UserStreamHub(self.account, self.injector, self.stopping, self.api_key, self.secret,
                                     self.ctx.now_ms)
        self.ctx.hub.attach()
        return build_app(self.ctx)

    def _keys_match(self, headers: Mapping[str, str]) -> bool:
        return headers.get("X-MBX-APIKEY") == self.api_key

    @property
    def ws_api_url(self) -> str:
        """``ws://127.0.0.1:PORT/ws-api/v3``."""
        return self.url("ws", WS_API_PATH)

    def stats(self) -> dict[str, Any]:
        """Requests, answers by status, order attempts per client id, streams, 429s and 418s."""
        return venue_stats(self.ctx)
