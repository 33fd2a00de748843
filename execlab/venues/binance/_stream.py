"""The Binance websocket API (``/ws-api/v3``) as ccxt.pro 4.5.90 uses it for spot user data: the
``userDataStream.subscribe.signature`` request (HMAC-SHA256 over the key-sorted parameters), then
``{"subscriptionId": N, "event": {...}}`` pushes of ``executionReport`` and ``outboundAccountPosition``; plus ``ping``,
``time`` and ``userDataStream.unsubscribe``."""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable
from typing import Any, Final

from execlab.venues._base import FaultInjector, VenueAccount, VenueEvent, WebsocketHub
from execlab.venues._base.ws import Connection
from execlab.venues.binance._auth import sign
from execlab.venues.binance._mapping import execution_report, position_event

__all__ = ["WS_API_PATH", "UserStreamHub"]

WS_API_PATH: Final = "/ws-api/v3"
_RATE_LIMITS: Final = [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000,
                        "count": 2}]


def _error(request_id: Any, status: int, code: int, message: str) -> str:
    return json.dumps({"id": request_id, "status": status, "error": {"code": code, "msg": message},
                       "rateLimits": _RATE_LIMITS})


def _ok(request_id: Any, result: dict[str, Any]) -> str:
    return json.dumps({"id": request_id, "status": 200, "result": result, "rateLimits": _RATE_LIMITS})


class UserStreamHub(WebsocketHub):
    """Websocket API connections and their user-data subscriptions; account events go to every subscription."""

    binary = False

    def __init__(self, account: VenueAccount, injector: FaultInjector, stopping: asyncio.Event, api_key: str,
                 secret: str, now_ms: Callable[[], int]) -> None:
        super().__init__(account, injector, stopping)
        self.api_key, self.secret, self.now_ms = api_key, secret, now_ms
        self._next_subscription = 0
        self._active: frozenset[int] = frozenset()

    def attach(self) -> None:
        """Remember the serving loop and start forwarding account events."""
        super().attach()
        self.account.subscribe(self._on_event)

    async def shutdown(self) -> None:
        """Stop forwarding, then close every connection."""
        self.account.unsubscribe(self._on_event)
        await super().shutdown()

    def _on_event(self, event: VenueEvent) -> None:  # any thread, under the account lock
        active = self._active
        if not active:
            return
        now = int(time.time() * 1000)
        frames = [execution_report(event, now)]
        if event.kind != "partial_fill" or event.execution is not None:
            frames.append(position_event(self.account.balances(), now))
        for sub in active:
            for frame in frames:
                payload = json.dumps({"subscriptionId": sub, "event": frame})
                self.broadcast(f"user:{sub}", lambda p=payload: p)  # type: ignore[misc]

    def receive(self, conn: Connection, data: str | bytes) -> None:
        """Answer one websocket API request."""
        try:
            body = json.loads(data)
        except ValueError:
            self.send(conn, _error(None, 400, -1100, "Malformed request."))
            return
        if not isinstance(body, dict):
            self.send(conn, _error(None, 400, -1100, "Malformed request."))
            return
        request_id, method = body.get("id"), body.get("method")
        params = body.get("params") or {}
        if method == "ping":
            self.send(conn, _ok(request_id, {}))
        elif method == "time":
            self.send(conn, _ok(request_id, {"serverTime": self.now_ms()}))
        elif method == "userDataStream.subscribe.signature":
            problem = self._signature_problem(params)
            if problem is not None:
                self.account.count_stream(auth_failures=1)
                self.send(conn, _error(request_id, *problem))
                return
            sub = self._next_subscription
            self._next_subscription += 1
            conn.topics.add(f"user:{sub}")
            self._active = self._active | {sub}
            conn.authorized = True
            self.account.count_stream(authorized=1)
            self.send(conn, _ok(request_id, {"subscriptionId": sub}))
        elif method == "userDataStream.unsubscribe":
            ids = [int(params["subscriptionId"])] if "subscriptionId" in params else [
                int(t.split(":")[1]) for t in conn.topics if t.startswith("user:")]
            for sub in ids:
                conn.topics.discard(f"user:{sub}")
            self._active = self._active - set(ids)
            self.send(conn, _ok(request_id, {}))
        else:
            self.send(conn, _error(request_id, 400, -1100, f"Unknown method {method!r}."))

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
