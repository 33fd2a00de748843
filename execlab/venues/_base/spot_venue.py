"""``SpotVenue``: the broker-neutral life of a local spot exchange venue over one :class:`VenueAccount` (Binance's and
OKX's share it): quotes, bar replay, open markets for test universes, the harness token and headers, fault knobs,
clock skew, statistics and the stream drop. A broker's venue adds its wire protocol: the context its routes share
(``ctx``, with ``hub``, ``clock_skew_ms`` and ``list_market``), :meth:`make_app` (its API routes, then
:func:`spot_app`), :meth:`open_market` and :meth:`_keys_match`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from aiohttp import web

from execlab.venues._base.account import VenueAccount, VenueInstrument
from execlab.venues._base.faults import FaultInjector, FaultKnobs
from execlab.venues._base.server import ErrorRenderer, VenueServer, harness_routes
from execlab.venues._base.ws import WebsocketHub
from execlab.venues._harness import HARNESS_TOKEN_HEADER, HarnessGuard, new_harness_token

__all__ = ["SpotContext", "SpotVenue", "spot_app"]


class SpotContext(Protocol):
    """What a spot venue's routes share that :func:`spot_app` uses."""

    account: VenueAccount
    injector: FaultInjector
    clock_skew_ms: int

    @property
    def hub(self) -> WebsocketHub | None: ...
    @property
    def list_market(self) -> Callable[[str], None] | None: ...


def spot_app(routes: web.RouteTableDef, ctx: SpotContext, *, gateway: Any, error: ErrorRenderer,
             stats: Callable[[], dict[str, Any]], stream_path: str) -> web.Application:
    """The application of a spot venue: its API ``routes`` behind ``gateway`` (its middleware), the harness routes
    (quotes of unlisted symbols listed on the way when ``ctx.list_market`` is set; streams dropped through
    ``ctx.hub``), ``POST /_clock`` (``{"skew_ms": n}``: how far the venue's clock runs ahead) and the private
    stream's websocket at ``stream_path``. ``error(status, message)`` renders a harness refusal in the venue's
    error shape."""
    account = ctx.account

    def check_symbol(symbol: str) -> None:
        if ctx.list_market is not None:
            ctx.list_market(symbol)
        if symbol not in account.instruments:
            raise ValueError(f"unknown symbol {symbol!r} (listed: {', '.join(account.instruments)})")

    async def drop_streams() -> int:
        return await ctx.hub.drop_all() if ctx.hub is not None else 0

    harness_routes(routes, account, ctx.injector, error, stats=stats, check_symbol=check_symbol,
                   drop_streams=drop_streams)

    @routes.post("/_clock")
    async def clock(request: web.Request) -> web.StreamResponse:
        ctx.clock_skew_ms = int((await request.json()).get("skew_ms", 0))
        return web.json_response({"skew_ms": ctx.clock_skew_ms})

    app = web.Application(middlewares=[gateway])
    app.add_routes(routes)
    if ctx.hub is not None:
        app.router.add_get(stream_path, ctx.hub.handle)
    return app


class SpotVenue(VenueServer):
    """A local spot venue in front of :attr:`account` (set ``ctx`` in the subclass's ``__init__``)."""

    account: VenueAccount
    injector: FaultInjector
    guard: HarnessGuard
    ctx: Any
    open_markets: bool

    def _setup_harness(self, host: str, harness_token: str | None, open_markets: bool, seed: int) -> None:
        """The fault injector, the harness guard and open markets (call before making ``ctx``)."""
        self.injector = FaultInjector(FaultKnobs(seed=seed))
        self.open_markets = open_markets
        self.guard = HarnessGuard.for_bind(harness_token or new_harness_token(), host, keys_match=self._keys_match)

    def _follow_open_markets(self) -> None:
        """Let the harness routes list quoted symbols (an ``open_markets`` venue; call after making ``ctx``)."""
        if self.open_markets:
            self.ctx.list_market = self.list_market

    # -- what a broker's venue provides ----------------------------------------------------------------------
    def open_market(self, symbol: str) -> VenueInstrument:
        """The market an ``open_markets`` venue lists for a quoted ``symbol``."""
        raise NotImplementedError

    def _keys_match(self, headers: Mapping[str, str]) -> bool:
        raise NotImplementedError

    # -- shared ----------------------------------------------------------------------------------------------
    def list_market(self, symbol: str) -> None:
        """List ``symbol`` if it is not (an ``open_markets`` venue does it for every quoted symbol)."""
        with self.account.lock:
            if symbol not in self.account.instruments:
                self.account.instruments[symbol] = self.open_market(symbol)

    async def shutdown(self) -> None:
        """Close the stream connections, then stop serving."""
        if self.ctx.hub is not None:
            await self.ctx.hub.shutdown()
        await super().shutdown()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.url()

    @property
    def harness_token(self) -> str:
        """The token the ``/_`` routes require."""
        return self.guard.token

    @property
    def harness_headers(self) -> dict[str, str]:
        """Headers for a harness request."""
        return {HARNESS_TOKEN_HEADER: self.guard.token}

    @property
    def faults(self) -> FaultKnobs:
        """The fault knobs (:class:`execlab.venues._base.FaultKnobs`)."""
        return self.injector.faults

    def set_clock_skew(self, ms: int) -> None:
        """Run the venue's clock ``ms`` ahead of this machine's (negative: behind)."""
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

    def drop_streams(self) -> int:
        """Abort every stream connection; returns how many."""
        assert self.ctx.hub is not None
        dropped: int = self.call(self.ctx.hub.drop_all())
        return dropped
