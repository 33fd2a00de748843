"""The Binance websocket API (``/ws-api/v3``) as ccxt.pro 4.5.90 uses it for spot user data: the
``userDataStream.subscribe.signature`` request (HMAC-SHA256 over the key-sorted parameters), then
``{"subscriptionId": N, "event": {...}}`` pushes of ``executionReport`` and ``outboundAccountPosition``; plus ``ping``,
``time`` and ``userDataStream.unsubscribe``."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSCloseCode, WSMsgType, web

from execlab.venues._spot import VenueAccount, VenueEvent
from execlab.venues.binance._auth import sign
from execlab.venues.binance._mapping import execution_report, position_event

__all__ = ["WS_API_PATH", "UserStreamHub"]

WS_API_PATH: Final = "/ws-api/v3"
_RATE_LIMITS: Final = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000,
                        "count": 2}]


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    subscriptions: set[int] = field(default_factory=set)
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


def _error(request_id: Any, status: int, code: int, message: str) -> dict[str, Any]:
    return {"id": request_id, "status": status, "error": {"code": code, "msg": message}, "rateLimits": _RATE_LIMITS}


class UserStreamHub:
    """Websocket API connections and their user-data subscriptions; account events are pushed to every subscription.

    Args:
        account: the venue account whose events are pushed.
        api_key, secret: the key a subscription must be signed with.
        now_ms: the venue's clock (for ``recvWindow``).
    """

    def __init__(self, account: VenueAccount, api_key: str, secret: str, now_ms: Callable[[], int]) -> None:
        self.account = account
        self.api_key = api_key
        self.secret = secret
        self.now_ms = now_ms
        self._connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_subscription = 0
        self.drops = 0

    @property
    def connections(self) -> int:
        """Open websocket API connections."""
        return len(self._connections)

    def attach(self) -> None:
        """Start forwarding account events (call on the serving loop)."""
        self._loop = asyncio.get_running_loop()
        self.account.subscribe(self._publish)

    async def shutdown(self) -> None:
        """Stop forwarding and close every connection (1001 going away)."""
        self.account.unsubscribe(self._publish)
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=WSCloseCode.GOING_AWAY), 2)

    async def drop_all(self) -> int:
        """Abort every connection (no close frame), as a network failure would; returns how many."""
        conns = list(self._connections)
        for conn in conns:
            transport = conn.ws._req.transport if conn.ws._req is not None else None
            if transport is not None:
                transport.abort()
        self.drops += len(conns)
        return len(conns)

    # -- events (any thread, under the account lock) ---------------------------------------------------------
    def _publish(self, event: VenueEvent) -> None:
        loop = self._loop
        if loop is None or not self._connections:
            return
        now = int(time.time() * 1000)
        frames = [execution_report(event, now)]
        if event.kind != "partial_fill" or event.execution is not None:
            frames.append(position_event(self.account.balances(), now))
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._fan_out, frames)

    def _fan_out(self, frames: list[dict[str, Any]]) -> None:
        for conn in list(self._connections):
            for sub in conn.subscriptions:
                for frame in frames:
                    conn.outbox.put_nowait(json.dumps({"subscriptionId": sub, "event": frame}))

    @staticmethod
    async def _write(conn: _Connection) -> None:
        """Send a connection's answers and events in the order they were queued."""
        with contextlib.suppress(Exception):
            while True:
                await conn.ws.send_str(await conn.outbox.get())

    # -- requests --------------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``GET /ws-api/v3`` websocket handler."""
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.add(conn)
        writer = asyncio.ensure_future(self._write(conn))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    body = json.loads(msg.data)
                except ValueError:
                    conn.outbox.put_nowait(json.dumps(_error(None, 400, -1100, "Malformed request.")))
                    continue
                conn.outbox.put_nowait(json.dumps(self._answer(conn, body)))
        finally:
            self._connections.discard(conn)
            writer.cancel()
        return ws

    def _answer(self, conn: _Connection, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            return _error(None, 400, -1100, "Malformed request.")
        request_id, method = body.get("id"), body.get("method")
        params = body.get("params") or {}
        if method == "ping":
            return {"id": request_id, "status": 200, "result": {}, "rateLimits": _RATE_LIMITS}
        if method == "time":
            return {"id": request_id, "status": 200, "result": {"serverTime": self.now_ms()},
                    "rateLimits": _RATE_LIMITS}
        if method == "userDataStream.subscribe.signature":
            problem = self._signature_problem(params)
            if problem is not None:
                return _error(request_id, *problem)
            sub = self._next_subscription
            self._next_subscription += 1
            conn.subscriptions.add(sub)
            return {"id": request_id, "status": 200, "result": {"subscriptionId": sub}, "rateLimits": _RATE_LIMITS}
        if method == "userDataStream.unsubscribe":
            sub_id = params.get("subscriptionId")
            if sub_id is None:
                conn.subscriptions.clear()
            else:
                conn.subscriptions.discard(int(sub_id))
            return {"id": request_id, "status": 200, "result": {}, "rateLimits": _RATE_LIMITS}
        return _error(request_id, 400, -1100, f"Unknown method {method!r}.")

    def _signature_problem(self, params: dict[str, Any]) -> tuple[int, int, str] | None:
        if not hmac.compare_digest(str(params.get("apiKey", "")).encode(), self.api_key.encode()):
            return 401, -2015, "Invalid API-key, IP, or permissions for action."
        signature = str(params.get("signature", ""))
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "signature")
        if not hmac.compare_digest(sign(payload, self.secret), signature):
            return 400, -1022, "Signature for this request is not valid."
        try:
            timestamp, window = int(params["timestamp"]), int(params.get("recvWindow", 5000))
        except (KeyError, TypeError, ValueError):
            return 400, -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        now = self.now_ms()
        if timestamp - now > 1000 or now - timestamp > window:
            return 400, -1021, "Timestamp for this request is outside of the recvWindow."
        return None
