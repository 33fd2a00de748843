"""``WebsocketHub``: the websocket connections of a venue's stream endpoint: register, broadcast, drop all.

A broker's stream protocol subclasses the hub and implements :meth:`WebsocketHub.receive` (authentication,
subscriptions); the hub owns the connections, one ordered writer per connection, the stream fault knobs
(``stream_delay_seconds``, ``stream_drop_after``), abrupt drops (as a network failure) and shutdown.

Threading: :meth:`WebsocketHub.broadcast` may be called from any thread (a venue listener, under the account's
lock): it only hands the message to the event loop (``call_soon_threadsafe``, first in first out). Nothing waits on
the loop while the account lock is held.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSCloseCode, WSMsgType, web

from execlab.venues._base.account import VenueAccount
from execlab.venues._base.faults import FaultInjector

__all__ = ["Connection", "WebsocketHub"]

_CLOSE_TIMEOUT: Final = 1.0
_MAX_MESSAGE: Final = 64 * 1024


@dataclass(frozen=True)
class _Frame:
    """One message to send: ``due`` is the monotonic time before which it must not go out (stream delay)."""

    data: bytes | str
    due: float = 0.0
    update: bool = False


@dataclass(frozen=True)
class _Close:
    """Close the connection (gracefully, with ``code``) once everything queued before it is sent."""

    code: int = WSCloseCode.POLICY_VIOLATION


@dataclass(eq=False)
class Connection:
    """One websocket client; ``topics`` are what it listens to (the protocol sets them); ``data`` is the
    protocol's own."""

    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    queue: asyncio.Queue[_Frame | _Close] = field(default_factory=asyncio.Queue)
    authorized: bool = False
    topics: set[str] = field(default_factory=set)
    closing: bool = False
    graceful: bool = False
    updates_sent: int = 0
    data: dict[str, Any] = field(default_factory=dict)


class WebsocketHub:
    """Serves one websocket endpoint (:meth:`handle`) and fans updates out to the connections listening to a topic.

    Create it on the serving event loop, :meth:`attach` it, and :meth:`shutdown` it before the app stops. Stream
    counts (connections, open, authorized, auth_failures, drops, messages) go to ``account.count_stream``.
    """

    binary = True
    """Send frames as binary (Alpaca's paper stream) or text."""

    def __init__(self, account: VenueAccount, injector: FaultInjector, stopping: asyncio.Event) -> None:
        self.account = account
        self.injector = injector
        self.stopping = stopping
        self._loop: asyncio.AbstractEventLoop | None = None
        self.connections: dict[Connection, asyncio.Task[None]] = {}
        account.count_stream(connections=0, open=0, authorized=0, auth_failures=0, drops=0, messages=0)

    # -- the protocol --------------------------------------------------------------------------------------
    def receive(self, conn: Connection, data: str | bytes) -> None:
        """Handle one client message (authenticate, subscribe, …); reply with :meth:`send`."""
        raise NotImplementedError

    def on_open(self, conn: Connection) -> None:
        """Called when a client connects (e.g. to send a greeting)."""

    # -- life cycle ----------------------------------------------------------------------------------------
    def attach(self) -> None:
        """Remember the serving loop (call on it)."""
        self._loop = asyncio.get_running_loop()

    async def shutdown(self) -> None:
        """Close every connection (``1001 going away``), aborting laggards."""
        conns = list(self.connections)
        for conn in conns:
            conn.closing = True
            self.connections[conn].cancel()
        if conns:
            await asyncio.gather(*(self._close(conn, WSCloseCode.GOING_AWAY) for conn in conns),
                                 return_exceptions=True)

    async def _close(self, conn: Connection, code: int) -> None:
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=code), _CLOSE_TIMEOUT)
        finally:
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.abort()

    async def drop_all(self) -> int:
        """Drop every connection abruptly (TCP closed, no close frame); returns how many were dropped."""
        conns = [c for c in self.connections if not c.closing]
        for conn in conns:
            self.drop(conn)
        return len(conns)

    def drop(self, conn: Connection) -> None:
        """Drop one connection abruptly."""
        conn.closing = True
        self.account.count_stream(drops=1)
        if conn.transport is not None:
            conn.transport.abort()

    # -- sending -------------------------------------------------------------------------------------------
    def broadcast(self, topic: str, render: Callable[[], bytes | str]) -> None:
        """Send ``render()`` to every connection listening to ``topic``; any thread, never blocks."""
        loop = self._loop
        if loop is None or not self.connections:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the venue is stopping
            loop.call_soon_threadsafe(self._fan_out, topic, render)

    def _fan_out(self, topic: str, render: Callable[[], bytes | str]) -> None:
        frame: _Frame | None = None
        for conn in self.connections:
            if topic in conn.topics and not conn.closing:
                if frame is None:
                    delay = float(self.injector.faults.stream_delay_seconds)
                    frame = _Frame(render(), time.monotonic() + delay, update=True)
                conn.queue.put_nowait(frame)

    def send(self, conn: Connection, data: bytes | str) -> None:
        """Queue a reply to one connection (not an update: no delay, not counted)."""
        conn.queue.put_nowait(_Frame(data))

    def close_after_replies(self, conn: Connection, code: int = WSCloseCode.POLICY_VIOLATION) -> None:
        """Close gracefully once the queued replies are out (a refused login)."""
        conn.closing = conn.graceful = True
        conn.queue.put_nowait(_Close(code))

    # -- connections ---------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """One websocket client, until it or the venue closes the connection."""
        ws = web.WebSocketResponse(autoping=True, timeout=_CLOSE_TIMEOUT, max_msg_size=_MAX_MESSAGE)
        if not ws.can_prepare(request).ok:
            return web.json_response({"message": "websocket upgrade required"}, status=400)
        await ws.prepare(request)
        conn = Connection(ws, request.transport)
        writer = asyncio.create_task(self._write(conn))
        self.connections[conn] = writer
        self.account.count_stream(connections=1, open=1)
        self.on_open(conn)
        try:
            async for msg in ws:
                if conn.closing:
                    break
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self.receive(conn, msg.data)
        finally:
            self.connections.pop(conn, None)
            self.account.count_stream(open=-1)
            if conn.graceful:  # let the writer finish the closing handshake it started
                await asyncio.wait([writer], timeout=_CLOSE_TIMEOUT)
            writer.cancel()
        return ws

    async def _write(self, conn: Connection) -> None:
        """Send the connection's queue in order, honouring the stream delay and the drop-after knob."""
        try:
            while True:
                item = await conn.queue.get()
                if isinstance(item, _Close):
                    await self._close(conn, item.code)
                    return
                wait = item.due - time.monotonic()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), timeout=wait)
                if self.stopping.is_set() or (conn.closing and item.update):
                    return
                data = item.data
                if self.binary:
                    await conn.ws.send_bytes(data.encode() if isinstance(data, str) else data)
                else:
                    await conn.ws.send_str(data.decode() if isinstance(data, bytes) else data)
                if item.update:
                    conn.updates_sent += 1
                    self.account.count_stream(messages=1)
                    after = self.injector.faults.stream_drop_after
                    if after and conn.updates_sent >= after:
                        self.drop(conn)
                        return
        except (ConnectionError, RuntimeError):  # the client went away while we were sending
            return
