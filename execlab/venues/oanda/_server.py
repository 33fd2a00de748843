"""``OandaVenue``: the local OANDA v20 server on 127.0.0.1, in a background thread.

Interim (stage 1 of issue 15): the thread-and-loop life cycle here is replaced by the broker kit's
``execlab.venues._base.VenueServer`` once it lands.
"""

from __future__ import annotations

import asyncio
import math
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

from aiohttp import web

from execlab.venues._harness import HARNESS_TOKEN_HEADER, HarnessGuard, new_harness_token
from execlab.venues.alpaca._faults import AlpacaFaults, FaultInjector, RateLimiter
from execlab.venues.oanda._app import AppContext, build_app, token_matches
from execlab.venues.oanda._instruments import DEFAULT_QUOTES, V20Instrument
from execlab.venues.oanda._state import DEFAULT_ACCOUNT_ID, OandaState

__all__ = ["DEFAULT_TOKEN", "OandaVenue"]

#: The bearer token a venue takes when none is given: a test value, printed by the command line, never a real one.
DEFAULT_TOKEN: Final = "execlab-local-oanda-token-not-a-secret"


class OandaVenue:
    """A local server speaking OANDA's v20 REST API and its two streams, for one practice account.

    Point oandapyV20 at it with :meth:`environment` (a ``TRADING_ENVIRONMENTS`` entry with :attr:`base_url` for both
    ``api`` and ``stream``). Prices come from :meth:`set_quote` (the default instruments start priced); fault knobs
    are :attr:`faults` (or ``POST /_faults``).

    Args:
        token: the bearer token requests must carry.
        account_id: the one account's id.
        home_currency: the account currency (P&L, NAV and margin are in it).
        balance: the starting balance, in the home currency.
        instruments: the tradeable instruments (default: EUR_USD, GBP_USD, NZD_USD, EUR_GBP, USD_JPY).
        quotes: starting (bid, ask) per instrument (default: :data:`DEFAULT_QUOTES` for those listed).
        rate_limit: requests per token in any rolling ``rate_window`` seconds (OANDA: 100 a second).
        heartbeat_seconds: the streams' heartbeat interval (OANDA: 5 s).
        commission_per_million: home-currency commission per million units traded (OANDA's standard pricing: 0).
    """

    def __init__(self, token: str = DEFAULT_TOKEN, *, account_id: str = DEFAULT_ACCOUNT_ID,
                 home_currency: str = "USD", balance: float = 100_000.0,
                 instruments: Mapping[str, V20Instrument] | None = None,
                 quotes: Mapping[str, tuple[float, float]] | None = None, host: str = "127.0.0.1", port: int = 0,
                 rate_limit: int = 100, rate_window: float = 1.0, heartbeat_seconds: float = 5.0,
                 commission_per_million: float = 0.0, faults: AlpacaFaults | None = None,
                 harness_token: str | None = None, allowed_hosts: Iterable[str] = (),
                 clock: Callable[[], datetime] | None = None) -> None:
        if not token:
            raise ValueError("token must be non-empty")
        if not (math.isfinite(heartbeat_seconds) and heartbeat_seconds > 0):
            raise ValueError(f"heartbeat_seconds must be > 0, got {heartbeat_seconds!r}")
        self.token = token
        self.host = host
        self._requested_port = int(port)
        self.state = OandaState(account_id=account_id, home=home_currency, balance=balance,
                                instruments=instruments, commission_per_million=commission_per_million, clock=clock)
        start = dict(quotes) if quotes is not None else {
            n: q for n, q in DEFAULT_QUOTES.items() if n in self.state.instruments}
        self.state.set_quotes((n, b, a) for n, (b, a) in start.items())
        self.injector = FaultInjector(faults or AlpacaFaults(hang_match=f"POST /v3/accounts/{account_id}/orders"))
        self.limiter = RateLimiter(rate_limit, rate_window)
        self.heartbeat_seconds = float(heartbeat_seconds)
        self._guard = HarnessGuard.for_bind(harness_token or new_harness_token(), host, allowed_hosts,
                                            keys_match=lambda headers: token_matches(headers, self.token))
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ctx: AppContext | None = None
        self._runner: web.AppRunner | None = None

    # -- life cycle ----------------------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind the port and serve in a background thread; returns once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError("OandaVenue is already started")
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._port = int(sock.getsockname()[1])
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._serve(sock))
            except BaseException as exc:  # handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"oanda-venue:{self._port}", daemon=True)
        self._thread.start()
        if not ready.wait(30) or failure:
            self._thread = None
            sock.close()
            raise RuntimeError(f"OandaVenue did not start on {self.host}:{self._port}") from (
                failure[0] if failure else None)
        return self

    async def _serve(self, sock: socket.socket) -> None:
        self._ctx = AppContext(self.state, self.token, self.limiter, self.injector, self._guard,
                               self.heartbeat_seconds)
        runner = web.AppRunner(build_app(self._ctx), access_log=None, shutdown_timeout=2.0,
                               handler_cancellation=True)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner
        self._ctx.streams.attach()

    async def _shutdown(self) -> None:
        if self._ctx is not None:
            self._ctx.stopping.set()
            await self._ctx.streams.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        """Stop serving (streams end, hanging requests are let go) and join the thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            self._thread = None
            self._loop = None
            self._runner = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound TCP port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("OandaVenue is not started: call start() or use it as a context manager")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``: both the ``api`` and the ``stream`` root (oandapyV20 appends ``/v3/...``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def account_id(self) -> str:
        """The practice account's id."""
        return self.state.account_id

    def environment(self) -> dict[str, str]:
        """The oandapyV20 ``TRADING_ENVIRONMENTS`` entry for this venue."""
        return {"api": self.base_url, "stream": self.base_url}

    @property
    def harness_headers(self) -> dict[str, str]:
        """Headers for a harness request (``/_stats``, ``/_quotes``, ``/_faults``, ``/_streams/drop``)."""
        return {HARNESS_TOKEN_HEADER: self._guard.token}

    @property
    def harness_token(self) -> str:
        """The token the harness routes require."""
        return self._guard.token

    # -- harness -------------------------------------------------------------------------------------------
    @property
    def faults(self) -> AlpacaFaults:
        """The live fault knobs (5xx, delays, hangs; ``hang_match`` defaults to order creation)."""
        return self.injector.faults

    def set_quote(self, instrument: str, bid: float, ask: float) -> None:
        """Price one instrument (publishes it on the pricing stream and fills the limits it reaches)."""
        self.state.set_quotes([(instrument, bid, ask)])

    def set_quotes(self, quotes: Mapping[str, tuple[float, float]]) -> None:
        """Price several instruments at once."""
        self.state.set_quotes((n, b, a) for n, (b, a) in quotes.items())

    def set_halted(self, instrument: str, halted: bool = True) -> None:
        """Halt or reopen an instrument (market orders on a halted one are cancelled MARKET_HALTED)."""
        self.state.set_halted(instrument, halted)

    def set_liquidity(self, instrument: str, units: float) -> None:
        """Units at the top of the book (a FOK order for more is cancelled INSUFFICIENT_LIQUIDITY)."""
        self.state.set_liquidity(instrument, units)

    def set_stream_silence(self, silent: bool) -> None:
        """Keep the stream connections open but send nothing, heartbeats included (a stale stream)."""
        if self._ctx is None:
            raise RuntimeError("OandaVenue is not started")
        self._ctx.streams.silent = silent

    def drop_streams(self, timeout: float = 10.0) -> int:
        """Cut every stream connection abruptly; returns how many were cut."""
        loop, ctx = self._loop, self._ctx
        if loop is None or ctx is None:
            raise RuntimeError("OandaVenue is not started")
        return asyncio.run_coroutine_threadsafe(ctx.streams.drop_all(), loop).result(timeout=timeout)

    def stats(self) -> dict[str, Any]:
        """Requests, answers by status, 429s, order-create attempts and placements per client id."""
        return self.state.stats()

    def transactions(self, since: str | None = None) -> list[dict[str, Any]]:
        """The transaction log after id ``since``."""
        return self.state.transactions_since(since)
