"""``OkxVenue``: a local OKX v5 venue (REST ``/api/v5`` and the private websocket) on 127.0.0.1, in a background
thread."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from aiohttp import web

from execlab._config import FeeConfig, VenueConfig
from execlab.venues._base import FaultInjector, FaultKnobs, VenueAccount, VenueInstrument, VenueServer
from execlab.venues._harness import HARNESS_TOKEN_HEADER, HarnessGuard, new_harness_token
from execlab.venues.okx._app import OkxContext, build_app, venue_stats
from execlab.venues.okx._rules import DEFAULT_MARKETS, spot_market
from execlab.venues.okx._stream import PRIVATE_PATH, PrivateStreamHub

__all__ = ["DEFAULT_API_KEY", "DEFAULT_PASSPHRASE", "DEFAULT_SECRET", "OkxVenue"]

#: Credentials a venue uses when none are given: test values, never real credentials.
DEFAULT_API_KEY: Final = "execlab-local-okx-key"
DEFAULT_SECRET: Final = "execlab-local-okx-secret-not-a-secret"
DEFAULT_PASSPHRASE: Final = "execlab-local"


class OkxVenue(VenueServer):
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
        self.injector = FaultInjector(FaultKnobs(seed=seed))
        self.open_markets = open_markets
        self.guard = HarnessGuard.for_bind(harness_token or new_harness_token(), host, keys_match=self._keys_match)
        self.ctx = OkxContext(self.account, api_key, secret, passphrase, self.guard, self.injector,
                              limit_scale=limit_scale)
        if open_markets:
            self.ctx.list_market = self.list_market

    def list_market(self, symbol: str) -> None:
        """List ``symbol`` if it is not (an ``open_markets`` venue does it for every quoted symbol)."""
        with self.account.lock:
            if symbol not in self.account.instruments:
                self.account.instruments[symbol] = spot_market(symbol, lot=0.001, tick=0.01, min_qty=0.001,
                                                               fee_in="quote")

    def make_app(self) -> web.Application:
        """The aiohttp application (on the serving loop)."""
        assert self.stopping is not None
        self.ctx.stopping = self.stopping
        self.ctx.hub = PrivateStreamHub(self.account, self.injector, self.stopping, self.api_key, self.secret,
                                        self.passphrase, self.ctx.now_ms)
        self.ctx.hub.attach()
        return build_app(self.ctx)

    async def shutdown(self) -> None:
        """Close the private websocket connections, then stop serving."""
        if self.ctx.hub is not None:
            await self.ctx.hub.shutdown()
        await super().shutdown()

    def _keys_match(self, headers: Mapping[str, str]) -> bool:
        return headers.get("OK-ACCESS-KEY") == self.api_key and headers.get("OK-ACCESS-PASSPHRASE") == \
            self.passphrase

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (REST under ``/api/v5``)."""
        return self.url()

    @property
    def private_ws_url(self) -> str:
        """``ws://127.0.0.1:PORT/ws/v5/private``."""
        return self.url("ws", PRIVATE_PATH)

    @property
    def harness_headers(self) -> dict[str, str]:
        """Headers for a harness request."""
        return {HARNESS_TOKEN_HEADER: self.guard.token}

    @property
    def harness_token(self) -> str:
        """The token the ``/_`` routes require."""
        return self.guard.token

    @property
    def faults(self) -> FaultKnobs:
        """The fault knobs (:class:`execlab.venues._base.FaultKnobs`)."""
        return self.injector.faults

    def set_clock_skew(self, ms: int) -> None:
        """Run the venue's clock ``ms`` ahead of this machine's."""
        self.ctx.clock_skew_ms = int(ms)

    def set_quote(self, symbol: str, bid: float | None, ask: float | None, last: float | None = None,
                  volume: float | None = None) -> None:
        """Set a market's touch (``BTC/USDT``) and fill what it reaches (an ``open_markets`` venue lists it)."""
        if self.open_markets:
            self.list_market(symbol)
        self.account.set_quote(symbol, bid, ask, last, volume)

    def replay_bars(self, bars: Any) -> Any:
        """Step through bars (see :meth:`VenueAccount.replay_bars`)."""
        return self.account.replay_bars(bars)

    def stats(self) -> dict[str, Any]:
        """Requests, statuses, 429s, placements per client id, stream connections."""
        return venue_stats(self.ctx)

    def drop_streams(self) -> int:
        """Abort every private websocket connection; returns how many."""
        assert self.ctx.hub is not None
        return self.call(self.ctx.hub.drop_all())
