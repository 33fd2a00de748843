"""OKX's private websocket (``/ws/v5/private``) as ccxt.pro uses it: ``login`` (base64 HMAC of
``timestamp + "GET/users/self/verify"``), ``subscribe`` to the ``orders`` channel, pushes
``{"arg": {...}, "data": [order]}``, and the text keep-alive ``"ping"`` → ``"pong"``."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any, Final

from execlab.venues._base import FaultInjector, VenueAccount, VenueEvent, WebsocketHub
from execlab.venues._base.ws import Connection
from execlab.venues.okx._auth import AuthFailure, check_login
from execlab.venues.okx._mapping import order_push
from execlab.venues.okx._rules import inst_id

__all__ = ["PRIVATE_PATH", "PrivateStreamHub"]

PRIVATE_PATH: Final = "/ws/v5/private"
_UID: Final = "44705892343619584"


class PrivateStreamHub(WebsocketHub):
    """Private websocket connections and their ``orders`` subscriptions (topic ``orders:<instId>``)."""

    binary = False

    def __init__(self, account: VenueAccount, injector: FaultInjector, stopping: asyncio.Event, api_key: str,
                 secret: str, passphrase: str, now_ms: Callable[[], int]) -> None:
        super().__init__(account, injector, stopping)
        self.api_key, self.secret, self.passphrase = api_key, secret, passphrase
        self.now_ms = now_ms

    def attach(self) -> None:
        """Remember the serving loop and start forwarding account events."""
        super().attach()
        self.account.subscribe(self._on_event)

    async def shutdown(self) -> None:
        """Stop forwarding, then close every connection."""
        self.account.unsubscribe(self._on_event)
        await super().shutdown()

    def on_open(self, conn: Connection) -> None:
        """Give the connection its id."""
        conn.data["conn_id"] = secrets.token_hex(4)
        conn.data["args"] = {}

    def _on_event(self, event: VenueEvent) -> None:  # any thread, under the account lock
        order = event.order
        executions = [e for e in self.account.executions() if e.order_id == order.id]
        data = order_push(order, executions, event.execution)
        for topic in (f"orders:{data['instId']}", "orders:*"):
            self.broadcast(topic, lambda t=topic: self._render(t, data))  # type: ignore[misc]

    def _render(self, topic: str, data: dict[str, Any]) -> str:
        arg = {"channel": "orders", "instType": "SPOT", "uid": _UID}
        if topic != "orders:*":
            arg["instId"] = data["instId"]
        return json.dumps({"arg": arg, "data": [data]})

    def receive(self, conn: Connection, data: str | bytes) -> None:
        """Answer ``ping``, ``login``, ``subscribe`` and ``unsubscribe``."""
        text = data.decode() if isinstance(data, bytes) else data
        if text == "ping":
            self.send(conn, "pong")
            return
        for answer in self._answer(conn, text):
            self.send(conn, json.dumps(answer))

    def _answer(self, conn: Connection, raw: str) -> list[dict[str, Any]]:
        conn_id = conn.data.get("conn_id", "")

        def error(code: str, msg: str) -> list[dict[str, Any]]:
            return [{"event": "error", "code": code, "msg": msg, "connId": conn_id}]

        try:
            body = json.loads(raw)
        except ValueError:
            return error("60012", f"Illegal request: {raw}")
        if not isinstance(body, dict) or not isinstance(body.get("args"), list):
            return error("60012", f"Illegal request: {raw}")
        op = body.get("op")
        if op == "login":
            try:
                check_login(body["args"][0], self.api_key, self.secret, self.passphrase, self.now_ms())
            except AuthFailure as exc:
                self.account.count_stream(auth_failures=1)
                return error(exc.code, exc.message)
            except (IndexError, TypeError, AttributeError):
                return error("60012", f"Illegal request: {raw}")
            conn.authorized = True
            self.account.count_stream(authorized=1)
            return [{"event": "login", "code": "0", "msg": "", "connId": conn_id}]
        if op in ("subscribe", "unsubscribe"):
            if not conn.authorized:
                return error("60011", "Please log in")
            answers = []
            listed = {inst_id(s) for s in self.account.instruments}
            for arg in body["args"]:
                if not isinstance(arg, dict) or arg.get("channel") != "orders":
                    return error("60018", f"Wrong URL or channel:{arg}, doesn't exist.")
                if arg.get("instType") not in (None, "ANY", "SPOT"):
                    return error("60018", f"Wrong URL or channel:{arg}, doesn't exist.")
                wanted = arg.get("instId")
                if wanted and wanted not in listed:
                    return error("60018", f"Wrong URL or channel:{arg}, doesn't exist.")
                topic = f"orders:{wanted}" if wanted else "orders:*"
                if op == "subscribe":
                    conn.topics.add(topic)
                else:
                    conn.topics.discard(topic)
                answers.append({"event": op, "arg": arg, "connId": conn_id})
            return answers
        return error("60012", f"Illegal request: {raw}")
