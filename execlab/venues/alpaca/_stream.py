"""The ``trade_updates`` websocket of the local Alpaca venue: ``GET /stream``, as Alpaca's paper endpoint speaks it.

Protocol (Alpaca's): the client authenticates with ``{"action": "authenticate", "data": {"key_id", "secret_key"}}``
(or the newer ``{"action": "auth", "key", "secret"}``) and is answered on the ``authorization`` stream; wrong keys are
answered ``unauthorized`` and the connection is closed. ``{"action": "listen", "data": {"streams": [...]}}`` sets the
streams the connection listens to (only ``trade_updates`` exists; an empty list stops it) and is acknowledged on the
``listening`` stream with the streams actually joined. Each trade update is then sent as
``{"stream": "trade_updates", "data": {...}}``. Like the paper endpoint, every server message is a binary frame.

Threading: the venue publishes updates under its lock from whatever thread changed it. :meth:`StreamHub.publish`
only hands each one to the event loop (``call_soon_threadsafe``, first in first out), where it is put into the queue
of every listening connection; one writer task per connection sends its queue in order. Nothing waits on the loop
while the venue lock is held.

Fault knobs (:class:`AlpacaFaults`): ``stream_delay_seconds`` delays every trade update (order kept),
``stream_drop_after`` drops a connection abruptly (no close frame) after it has sent that many trade updates;
:meth:`StreamHub.drop_all` (``POST /_streams/drop``) drops every connection at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSCloseCode, WSMsgType, web

from execlab.venues.alpaca._faults import FaultInjector
from execlab.venues.alpaca._mapping import error_body
from execlab.venues.alpaca._state import AlpacaState

__all__ = ["STREAM_PATH", "StreamHub"]

#: The websocket's path, as on ``wss://paper-api.alpaca.markets/stream``.
STREAM_PATH: Final = "/stream"
_TRADE_UPDATES: Final = "trade_updates"
_CLOSE_TIMEOUT: Final = 1.0
_MAX_MESSAGE: Final = 64 * 1024


@dataclass(frozen=True)
class _Frame:
    """One message to send: ``due`` is the monotonic time before which it must not go out (stream delay)."""

    data: bytes
    due: float = 0.0
    update: bool = False


@dataclass(frozen=True)
class _Close:
    """Close the connection (gracefully, with ``code``) once everything queued before it is sent."""

    code: int = WSCloseCode.POLICY_VIOLATION


@dataclass(eq=False)
class _Connection:
    """One websocket client."""

    ws: web.WebSocketResponse
    transport: asyncio.Transport | None
    queue: asyncio.Queue[_Frame | _Close] = field(default_factory=asyncio.Queue)
    authorized: bool = False
    listening: bool = False
    closing: bool = False
    """No more trade updates: the connection is being refused, dropped or closed."""
    graceful: bool = False
    """A close frame is (to be) sent by the writer once the queued replies are out."""
    updates_sent: int = 0


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def _authorization(status: str, action: str = "authenticate") -> bytes:
    return _encode({"stream": "authorization", "data": {"status": status, "action": action}})


class StreamHub:
    """Serves ``GET /stream`` and fans the venue's trade updates out to the listening connections.

    Create it on the event loop that serves the app, :meth:`attach` it to start receiving the venue's updates, and
    :meth:`shutdown` it before the app stops.
    """

    def __init__(self, state: AlpacaState, api_key: str, secret_key: str, injector: FaultInjector,
                 stopping: asyncio.Event) -> None:
        self.state = state
        self._api_key = api_key
        self._secret_key = secret_key
        self.injector = injector
        self.stopping = stopping
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connections: dict[_Connection, asyncio.Task[None]] = {}
        for name in ("connections", "open", "authorized", "auth_failures", "drops", "messages"):
            state.stream_counts.setdefault(name, 0)

    # -- life cycle ----------------------------------------------------------------------------------------
    def attach(self) -> None:
        """Start receiving the venue's trade updates (call on the serving event loop)."""
        self._loop = asyncio.get_running_loop()
        with self.state.lock:
            self.state.listeners.append(self.publish)

    async def shutdown(self) -> None:
        """Stop receiving updates and close every connection (``1001 going away``), aborting laggards."""
        with self.state.lock:
            if self.publish in self.state.listeners:
                self.state.listeners.remove(self.publish)
        conns = list(self._connections)
        for conn in conns:
            conn.closing = True
            self._connections[conn].cancel()
        if conns:
            await asyncio.gather(*(self._close(conn, WSCloseCode.GOING_AWAY) for conn in conns),
                                 return_exceptions=True)

    async def _close(self, conn: _Connection, code: int) -> None:
        """Close with ``code``, waiting briefly for the client's close frame; then make sure the socket is gone."""
        try:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=code), _CLOSE_TIMEOUT)
        finally:
            if conn.transport is not None and not conn.transport.is_closing():
                conn.transport.abort()

    async def drop_all(self) -> int:
        """Drop every connection abruptly (TCP closed, no close frame), as a network failure would; returns how
        many were dropped."""
        conns = [c for c in self._connections if not c.closing]
        for conn in conns:
            self._drop(conn)
        return len(conns)

    def _drop(self, conn: _Connection) -> None:
        conn.closing = True
        with self.state.lock:
            self.state.stream_counts["drops"] += 1
        if conn.transport is not None:
            conn.transport.abort()

    # -- publishing (any thread, under the venue lock) -----------------------------------------------------
    def publish(self, update: dict[str, Any]) -> None:
        """Hand one trade update to the event loop; never blocks (a venue listener)."""
        loop = self._loop
        if loop is None or not self._connections:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: the venue is stopping
            loop.call_soon_threadsafe(self._fan_out, update)

    def _fan_out(self, update: dict[str, Any]) -> None:
        frame: _Frame | None = None
        for conn in self._connections:
            if conn.listening and not conn.closing:
                if frame is None:
                    delay = float(self.injector.faults.stream_delay_seconds)
                    frame = _Frame(_encode({"stream": _TRADE_UPDATES, "data": update}),
                                   time.monotonic() + delay, update=True)
                conn.queue.put_nowait(frame)

    # -- connections ---------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """``GET /stream``: one websocket client, until it or the venue closes the connection."""
        ws = web.WebSocketResponse(autoping=True, timeout=_CLOSE_TIMEOUT, max_msg_size=_MAX_MESSAGE)
        if not ws.can_prepare(request).ok:
            return web.json_response(error_body(40010000, "websocket upgrade required"), status=400)
        await ws.prepare(request)
        conn = _Connection(ws, request.transport)
        writer = asyncio.create_task(self._write(conn))
        self._connections[conn] = writer
        self._count(connections=1, open=1)
        try:
            async for msg in ws:
                if conn.closing:
                    break
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self._receive(conn, msg.data)
        finally:
            self._connections.pop(conn, None)
            self._count(open=-1)
            if conn.graceful:  # let the writer finish the closing handshake it started
                await asyncio.wait([writer], timeout=_CLOSE_TIMEOUT)
            writer.cancel()
        return ws

    def _count(self, **changes: int) -> None:
        with self.state.lock:
            for name, step in changes.items():
                self.state.stream_counts[name] += step

    def _send(self, conn: _Connection, data: bytes) -> None:
        conn.queue.put_nowait(_Frame(data))

    def _refuse(self, conn: _Connection, action: str) -> None:
        self._send(conn, _authorization("unauthorized", action))
        conn.closing = conn.graceful = True
        conn.queue.put_nowait(_Close())

    def _receive(self, conn: _Connection, data: str | bytes) -> None:
        try:
            msg = json.loads(data)
        except ValueError:
            msg = None
        action = msg.get("action") if isinstance(msg, dict) else None
        if not isinstance(msg, dict) or action not in ("authenticate", "auth", "listen"):
            self._send(conn, _encode({"stream": "error", "data": {
                "error": "invalid message: expected a JSON object with action authenticate, auth or listen"}}))
            return
        if action == "listen":
            if not conn.authorized:
                self._refuse(conn, "listen")
                return
            body = msg.get("data")
            streams = body.get("streams") if isinstance(body, dict) else None
            if not isinstance(streams, list):
                self._send(conn, _encode({"stream": "listening", "data": {
                    "streams": [_TRADE_UPDATES] if conn.listening else [],
                    "error": "listen expects data.streams, a list of stream names"}}))
                return
            conn.listening = _TRADE_UPDATES in streams
            self._send(conn, _encode({"stream": "listening",
                                      "data": {"streams": [_TRADE_UPDATES] if conn.listening else []}}))
            return
        if action == "authenticate":
            body = msg.get("data")
            creds = body if isinstance(body, dict) else {}
            key, secret = creds.get("key_id"), creds.get("secret_key")
        else:
            key, secret = msg.get("key"), msg.get("secret")
        if self._keys_match(key, secret):
            conn.authorized = True
            self._count(authorized=1)
            self._send(conn, _authorization("authorized"))
        else:
            self._count(auth_failures=1)
            self._refuse(conn, "authenticate")

    def _keys_match(self, key: object, secret: object) -> bool:
        if not isinstance(key, str) or not isinstance(secret, str):
            return False
        key_ok = hmac.compare_digest(key.encode(), self._api_key.encode())
        return hmac.compare_digest(secret.encode(), self._secret_key.encode()) and key_ok

    async def _write(self, conn: _Connection) -> None:
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
                await conn.ws.send_bytes(item.data)
                if item.update:
                    conn.updates_sent += 1
                    self._count(messages=1)
                    after = self.injector.faults.stream_drop_after
                    if after and conn.updates_sent >= after:
                        self._drop(conn)
                        return
        except (ConnectionError, RuntimeError):  # the client went away while we were sending
            return
