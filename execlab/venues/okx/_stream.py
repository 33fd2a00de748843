"""OKX's private websocket (``/ws/v5/private``) as ccxt.pro uses it: ``login`` (base64 HMAC of
``timestamp + "GET/users/self/verify"``), ``subscribe`` to the ``orders`` channel, pushes
``{"arg": {...}, "data": [order]}``, and the text keep-alive ``"ping"`` → ``"pong"``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSCloseCode, WSMsgType, web

from execlab.venues._spot import VenueAccount, VenueEvent
from execlab.venues.okx._auth import AuthFailure, check_login
from execlab.venues.okx._mapping import order_push
from execlab.venues.okx._rules import inst_id

__all__ = ["PRIVATE_PATH", "PrivateStreamHub"]

PRIVATE_PATH: Final = "/ws/v5/private"


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    conn_id: str
    logged_in: bool = False
    order_args: list[dict[str, Any]] = field(default_factory=list)
    outbox: asyncio.Queue[str] = field(default_factory=asyncio.Queue)


class PrivateStreamHub:
    """Private websocket connections and their ``orders`` subscriptions."""

    def __init__(self, account: VenueAccount, api_key: str, secret: str, passphrase: str,
                 now_ms: Callable[[], int]) -> None:
        self.account = account
        self.api_key, self.secret, self.passphrase = api_key, secret, passphrase
        self.now_ms = now_ms
        self._connections: set[_Connection] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.drops = 0

    @property
    def connections(self) -> int:
        """Open private connections."""
        return len(self._connections)

    def attach(self) -> None:
        """Start forwarding account events (call on the serving loop)."""
        self._loop = asyncio.get_running_loop()
        self.account.subscribe(self._publish)

    async def shutdown(self) -> None:
        """Stop forwarding and close every connection."""
        self.account.unsubscribe(self._publish)
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=WSCloseCode.GOING_AWAY), 2)

    async def drop_all(self) -> int:
        """Abort every connection (no close frame); returns how many."""
        conns = list(self._connections)
        for conn in conns:
            transport = conn.ws._req.transport if conn.ws._req is not None else None
            if transport is not None:
                transport.abort()
        self.drops += len(conns)
        return len(conns)

    def _publish(self, event: VenueEvent) -> None:
        loop = self._loop
        if loop is None or not self._connections:
            return
        order = event.order
        executions = [e for e in self.account.executions(order.symbol) if e.order_id == order.order_id]
        data = order_push(order, executions, event.execution)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self._fan_out, data)

    def _fan_out(self, data: dict[str, Any]) -> None:
        for conn in list(self._connections):
            for arg in conn.order_args:
                if arg.get("instId") not in (None, data["instId"]):
                    continue
                if arg.get("instType") not in (None, "ANY", "SPOT"):
                    continue
                conn.outbox.put_nowait(json.dumps({"arg": {**arg, "uid": "44705892343619584"}, "data": [data]}))

    @staticmethod
    async def _write(conn: _Connection) -> None:
        with contextlib.suppress(Exception):
            while True:
                await conn.ws.send_str(await conn.outbox.get())

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``GET /ws/v5/private`` websocket handler."""
        ws = web.WebSocketResponse(autoping=True, heartbeat=None)
        await ws.prepare(request)
        conn = _Connection(ws, secrets.token_hex(4))
        self._connections.add(conn)
        writer = asyncio.ensure_future(self._write(conn))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if msg.data == "ping":
                    conn.outbox.put_nowait("pong")
                    continue
                for answer in self._answer(conn, msg.data):
                    conn.outbox.put_nowait(json.dumps(answer))
        finally:
            self._connections.discard(conn)
            writer.cancel()
        return ws

    def _answer(self, conn: _Connection, raw: str) -> list[dict[str, Any]]:
        def error(code: str, msg: str) -> list[dict[str, Any]]:
            return [{"event": "error", "code": code, "msg": msg, "connId": conn.conn_id}]

        try:
            body = json.loads(raw)
        except ValueError:
            return error("60012", f"Illegal request: {raw}")
        if not isinstance(body, dict) or not isinstance(body.get("args"), list):
            return error("60012", f"Illegal request: {raw}")
        op = body.get("op")
        if op == "login":
            try:
                args = body["args"][0]
                check_login(args, self.api_key, self.secret, self.passphrase, self.now_ms())
            except AuthFailure as exc:
                return error(exc.code, exc.message)
            except (IndexError, TypeError, AttributeError):
                return error("60012", f"Illegal request: {raw}")
            conn.logged_in = True
            return [{"event": "login", "code": "0", "msg": "", "connId": conn.conn_id}]
        if op in ("subscribe", "unsubscribe"):
            if not conn.logged_in:
                return error("60011", "Please log in")
            answers = []
            for arg in body["args"]:
                if not isinstance(arg, dict) or arg.get("channel") != "orders":
                    return error("60018", f"Wrong URL or channel:{arg}, doesn't exist.")
                if arg.get("instId") and arg["instId"] not in {inst_id(s) for s in self.account.instruments}:
                    return error("60018", f"Wrong URL or channel:{arg}, doesn't exist.")
                if op == "subscribe":
                    conn.order_args.append(dict(arg))
                else:
                    conn.order_args = [a for a in conn.order_args if a != arg]
                answers.append({"event": op, "arg": arg, "connId": conn.conn_id})
            return answers
        return error("60012", f"Illegal request: {raw}")
