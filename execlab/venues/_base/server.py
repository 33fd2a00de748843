"""``VenueServer``: a local venue's asyncio server in a background thread, and the harness routes every venue serves.

A broker's venue subclasses :class:`VenueServer` and implements :meth:`VenueServer.make_app` (an aiohttp
application, built on the serving loop), or overrides :meth:`VenueServer.serve` / :meth:`VenueServer.shutdown` for a
raw asyncio TCP protocol (IB's API; it then serves the harness routes from a second, HTTP ``VenueServer`` on a side
port). :func:`harness_routes` adds ``/_stats``, ``/_quotes``, ``/_faults`` and the stream drop, to be guarded by
:class:`execlab.venues._harness.HarnessGuard` (see :func:`harness_refusal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from execlab._sim.quote_venue import QuoteVenue
from execlab.venues._base.account import VenueAccount
from execlab.venues._base.faults import FaultInjector
from execlab.venues._harness import HarnessGuard

__all__ = ["VenueServer", "harness_refusal", "harness_routes", "parse_quote"]

T = TypeVar("T")


class VenueServer:
    """Serves on ``host:port`` (``port=0``: a free one) from a daemon thread running its own event loop.

    Use as a context manager or :meth:`start` / :meth:`stop`. :attr:`stopping` is set (on the loop) when the server
    stops, so hanging handlers can wake at once (:meth:`pause`).
    """

    name = "venue"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._requested_port = int(port)
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.stopping: asyncio.Event | None = None

    # -- what a venue provides -----------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        """The aiohttp application (called on the serving loop)."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_app() or serve()")

    async def serve(self, sock: socket.socket) -> None:
        """Start serving on the bound ``sock`` (default: :meth:`make_app` through aiohttp)."""
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=2.0, handler_cancellation=False)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self._runner = runner

    async def shutdown(self) -> None:
        """Stop serving (default: clean up the aiohttp runner)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- life cycle ----------------------------------------------------------------------------------------
    def start(self) -> Self:
        """Bind the port and serve in a background thread; returns once connections are accepted."""
        if self._thread is not None:
            raise RuntimeError(f"{type(self).__name__} is already started")
        QuoteVenue.warm_up()  # the kernel's first call must not stall the event loop inside a request
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
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

        async def begin() -> None:
            self.stopping = asyncio.Event()
            await self.serve(sock)

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(begin())
            except BaseException as exc:  # handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"{self.name}-venue:{self._port}", daemon=True)
        self._thread.start()
        if not ready.wait(30) or failure:
            self._thread = None
            sock.close()
            raise RuntimeError(f"{type(self).__name__} did not start on {self.host}:{self._port}") from (
                failure[0] if failure else None)
        return self

    async def _stop(self) -> None:
        if self.stopping is not None:
            self.stopping.set()
        await self.shutdown()

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._stop(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)
            self._thread = None
            self._loop = None

    def restart(self) -> Self:
        """Stop and serve again on the same port (state kept: as a venue process that came back)."""
        port = self.port
        self.stop()
        self._requested_port = port
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    @property
    def started(self) -> bool:
        """Whether the server is serving."""
        return self._thread is not None

    @property
    def port(self) -> int:
        """The bound TCP port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started: call start() or use it as a context manager")
        return self._port

    def url(self, scheme: str = "http", path: str = "") -> str:
        """``scheme://host:port`` + ``path``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}{path}"

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the serving loop from another thread and wait for its result."""
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError(f"{type(self).__name__} is not started: call start() or use it as a context manager")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=timeout)

    async def pause(self, seconds: float) -> None:
        """Sleep on the serving loop, but wake at once when the server stops."""
        if self.stopping is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)


def parse_quote(q: Mapping[str, Any]) -> tuple[str, float | None, float | None, float | None, float | None]:
    """A ``{"symbol", "bid", "ask", "last", "volume"}`` object → ``(symbol, bid, ask, last, volume)`` (ValueError)."""
    def price(key: str) -> float | None:
        value = q.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"{key} must be a number, got {value!r}")
        return float(value)

    symbol = q.get("symbol")
    if not isinstance(symbol, str):
        raise ValueError(f"symbol is required, got {symbol!r}")
    bid, ask = price("bid"), price("ask")
    return (symbol, math.nan if bid is None else bid, math.nan if ask is None else ask, price("last"),
            price("volume"))


def harness_refusal(guard: HarnessGuard, request: web.Request) -> tuple[int, str] | None:
    """Why a harness request is refused (status, reason), or None; the venue renders it in its error format."""
    return guard.harness_problem(request.method, request.headers)


ErrorRenderer = Callable[[int, str], web.Response]


def harness_routes(routes: web.RouteTableDef, account: VenueAccount, injector: FaultInjector, error: ErrorRenderer,
                   *, stats: Callable[[], dict[str, Any]] | None = None,
                   check_symbol: Callable[[str], None] | None = None,
                   drop_streams: Callable[[], Awaitable[int]] | None = None) -> None:
    """Add the harness routes: ``GET /_stats``, ``POST /_quotes`` (a quote, a list, or ``{"quotes": [...]}``),
    ``GET|POST|DELETE /_faults`` and, with ``drop_streams``, ``POST /_streams/drop`` and ``POST /_drop_stream``.

    The caller's middleware guards them (:func:`harness_refusal`). ``error(status, message)`` renders a refusal.
    """

    async def get_stats(request: web.Request) -> web.StreamResponse:
        return web.json_response(stats() if stats is not None else account.stats())

    async def post_quotes(request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read() or b"null")
            items = body.get("quotes", [body]) if isinstance(body, dict) else body
            if not isinstance(items, list) or not all(isinstance(q, dict) for q in items):
                raise ValueError("send a quote object, a list of them, or {\"quotes\": [...]}")
            batch = [parse_quote(q) for q in items]
            if check_symbol is not None:
                for q in batch:
                    check_symbol(q[0])
            account.set_quotes(batch)
        except ValueError as exc:
            return error(400, str(exc))
        return web.json_response({"quotes": len(batch)})

    async def get_faults(request: web.Request) -> web.StreamResponse:
        return web.json_response(injector.faults.to_dict())

    async def set_faults(request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read() or b"{}")
            if not isinstance(body, dict):
                raise ValueError("send a JSON object of fault knobs")
            injector.update(body)
        except ValueError as exc:
            return error(400, str(exc))
        return web.json_response(injector.faults.to_dict())

    async def reset_faults(request: web.Request) -> web.StreamResponse:
        injector.reset()
        return web.json_response(injector.faults.to_dict())

    routes.get("/_stats")(get_stats)
    routes.post("/_quotes")(post_quotes)
    routes.get("/_faults")(get_faults)
    routes.post("/_faults")(set_faults)
    routes.delete("/_faults")(reset_faults)
    if drop_streams is not None:
        drop = drop_streams

        async def drop_all(request: web.Request) -> web.StreamResponse:
            return web.json_response({"dropped": await drop()})

        routes.post("/_streams/drop")(drop_all)
        routes.post("/_drop_stream")(drop_all)
