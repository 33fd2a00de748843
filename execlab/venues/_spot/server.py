"""``VenueServer``: an aiohttp application served on 127.0.0.1 from a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

__all__ = ["VenueServer"]

T = TypeVar("T")


class VenueServer:
    """Serves ``make_app()`` (called on the server's loop) on ``host:port``; ``port=0`` picks a free one.

    ``on_stop`` (a coroutine function) runs on the loop before the runner is cleaned up (close websockets there).
    """

    def __init__(self, make_app: Callable[[], web.Application], *, host: str = "127.0.0.1", port: int = 0,
                 name: str = "venue", on_stop: Callable[[], Awaitable[None]] | None = None) -> None:
        self._make_app = make_app
        self.host = host
        self._requested_port = int(port)
        self.name = name
        self._on_stop = on_stop
        self._port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def start(self) -> Self:
        """Bind and serve; returns once requests are accepted."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name} is already started")
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

        async def serve() -> None:
            runner = web.AppRunner(self._make_app(), access_log=None, shutdown_timeout=2.0,
                                   handler_cancellation=True)
            await runner.setup()
            await web.SockSite(runner, sock).start()
            self._runner = runner

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            except BaseException as exc:  # handed to the starting thread
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"{self.name}:{self._port}", daemon=True)
        self._thread.start()
        if not ready.wait(30) or failure:
            self._thread = None
            sock.close()
            raise RuntimeError(f"{self.name} did not start on {self.host}:{self._port}") from (
                failure[0] if failure else None)
        return self

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run ``coro`` on the server's loop and wait for its result."""
        if self._loop is None:
            coro.close()
            raise RuntimeError(f"{self.name} is not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=timeout)

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop (after :meth:`start`)."""
        if self._loop is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._loop

    def stop(self) -> None:
        """Stop serving and join the thread; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            if self._on_stop is not None:
                await self._on_stop()
            if self._runner is not None:
                await self._runner.cleanup()

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
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

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError(f"{self.name} is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"
