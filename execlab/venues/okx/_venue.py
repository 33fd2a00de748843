"""``OkxVenue``: a local OKX v5 venue (REST ``/api/v5`` and the private websocket) on 127.0.0.1, in a background
thread."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from aiohttp import web

from execlab._config import FeeConfig, VenueConfig
from execlab.venues._base import VenueAccount, VenueInstrument
from execlab.venues._base.spot_venue import SpotVenue
from execlab.venues.okx._app import OkxContext, build_app, venue_stats
from execlab.venues.okx._rules import DEFAULT_MARKETS, spot_market
from execlab.venues.okx._stream import PRIVATE_PATH, PrivateStreamHub

__all__ = ["DEFAULT_API_KEY", "DEFAULT_PASSPHRASE", "DEFAULT_SECRET", "OkxVenue"]

#: Credentials a venue uses when none are given: test values, never real credentials.
DEFAULT_API_KEY: Final = "execlab-local-okx-key"
DEFAULT_SECRET: Final = "execlab-local-okx-secret-not-a-secret"
DEFAULT_PASSPHRASE: Final = "execlab-local"


class OkxVenue(SpotVenue):
    """A local server speaking OKX's v5 REST API and private websocket, in front of one spot account.

    Args:
        api_key, secret, passphrase: the credentials requests must be signed with.
        host, port: where to listen (port 0 picks a free one).
        markets: the spot instruments (default BTC-USDT, ETH-USDT, SOL-USDT).
        balances: starting balances (default 100,000 USDT).
        limit_scale: multiplies OKX's per-endpoint limits (requests per 2 s); 0 turns them off.
        taker_fee, maker_fee: fee rates (OKX's base spot rates: 0.10 % / 0.08 %).
        harness_token: the token the ``/_`` routes require (default: a fresh random one).
        seed: seeds ids and fault draws.
        open_markets: a symbol quoted through the harness (``POST /_quotes``) that is not listed becomes a market
            (a bare ``AAA`` is ``AAA/USDT``; step 0.001, fee in the quote asset): for test universes.
        venue_config: the matching and fee model (default: ``maker_fee`` / ``taker_fee`` as maker/taker rates).
    """

    name = "okx"

    def __init__(self, api_key: str = DEFAULT_API_KEY, secret: str = DEFAULT_SECRET,
                 passphrase: str = DEFAULT_PASSPHRASE, *, host: str = "127.0.0.1", port: int = 0,
                 markets: Iterable[VenueInstrument] = DEFAULT_MARKETS, balances: Mapping[str, float] | None = None,
                 limit_scale: float = 1.0, taker_fee: float = 0.001, maker_fee: float = 0.0008,
                 harness_token: str | None = None, seed: int = 0,
                 open_markets: bool = False, venue_config: VenueConfig | None = None) -> None:
        if not api_key or not secret or not passphrase:
            raise ValueError("api_key, secret and passphrase must be non-empty")
        super().__init__(host, port)
        self.api_key, self.secret, self.passphrase = api_key, secret, passphrase
        fees = FeeConfig(model="maker_taker", maker_bps=maker_fee * 10_000, taker_bps=taker_fee * 10_000)
        self.account = VenueAccount(dict(balances) if balances is not None else {"USDT": 100_000.0},
                                    currency="USDT", venue_config=venue_config or VenueConfig(fees=fees),
                                    instruments=markets, symbols_closed=True, seed=seed,
                                    execution_id=str)
        self._setup_harness(host, harness_token, open_markets, seed)
        self.ctx = OkxContext(self.account, api_key, secret, passphrase, self.guard, self.injector,
                              limit_scale=limit_scale)
        self._follow_open_markets()

    def open_market(self, symbol: str) -> VenueInstrument:
        """A quoted test symbol's market: step 0.001, fee in the quote asset."""
        return spot_market(symbol, lot=0.001, tick=0.01, min_qty=0.001, fee_in="quote")

    def make_app(self) -> web.Application:
        """The aiohttp application (on the serving loop)."""
        assert self.stopping is not None
        self.ctx.stopping = self.stopping
        self.ctx.hub = PrivateStreamHub(self.account, self.injector, self.stopping, self.api_key, self.secret,
                                        self.passphrase, self.ctx.now_ms)
        self.ctx.hub.attach()
        return build_app(self.ctx)

    def _keys_match(self, headers: Mapping[str, str]) -> bool:
        return headers.get("OK-ACCESS-KEY") == self.api_key and headers.get("OK-ACCESS-PASSPHRASE") == \
            self.passphrase

    @property
    def private_ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/ws/v5/private``."""
        return self.url("ws", PRIVATE_PATH)

    def stats(self) -> dict[str, Any]:
        """Requests, statuses, 429s, placements per client id, stream connections."""
        return venue_stats(self.ctx)
