"""The ``trade_updates`` websocket of the local Alpaca venue: ``GET /stream``, as Alpaca's paper endpoint speaks it.

Protocol (Alpaca's): the client authenticates with ``{"action": "authenticate", "data": {"key_id", "secret_key"}}``
(or the newer ``{"action": "auth", "key", "secret"}``) and is answered on the ``authorization`` stream; wrong keys are
answered ``unauthorized`` and the connection is closed. ``{"action": "listen", "data": {"streams": [...]}}`` sets the
streams the connection listens to (only ``trade_updates`` exists; an empty list stops it) and is acknowledged on the
``listening`` stream with the streams actually joined. Each trade update is then sent as
``{"stream": "trade_updates", "data": {...}}``. Like the paper endpoint, every server message is a binary frame.

Connections, ordered writers, the stream fault knobs and drops are :class:`execlab.venues._base.WebsocketHub`'s.
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Final

from execlab.venues._base.ws import Connection, WebsocketHub
from execlab.venues.alpaca._state import AlpacaState

__all__ = ["STREAM_PATH", "StreamHub"]

#: The websocket's path, as on ``wss://paper-api.alpaca.markets/stream``.
STREAM_PATH: Final = "/stream"
_TRADE_UPDATES: Final = "trade_updates"


def _encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode()


def _authorization(status: str, action: str = "authenticate") -> bytes:
    return _encode({"stream": "authorization", "data": {"status": status, "action": action}})


class StreamHub(WebsocketHub):
    """Alpaca's ``trade_updates`` protocol on the venue's websocket hub. :meth:`attach` on the serving loop starts
    the fan-out of the state's trade updates; :meth:`shutdown` stops it."""

    def __init__(self, state: AlpacaState, api_key: str, secret_key: str, *args: Any) -> None:
        super().__init__(state.account_, *args)
        self.state = state
        self._api_key = api_key
        self._secret_key = secret_key

    def attach(self) -> None:
        """Start receiving the venue's trade updates (call on the serving event loop)."""
        super().attach()
        with self.state.lock:
            self.state.listeners.append(self.publish)

    async def shutdown(self) -> None:
        """Stop receiving updates and close every connection."""
        with self.state.lock:
            if self.publish in self.state.listeners:
                self.state.listeners.remove(self.publish)
        await super().shutdown()

    def publish(self, update: dict[str, Any]) -> None:
        """Hand one trade update to the listening connections; never blocks (a state listener)."""
        self.broadcast(_TRADE_UPDATES, lambda: _encode({"stream": _TRADE_UPDATES, "data": update}))

    def _refuse(self, conn: Connection, action: str) -> None:
        self.send(conn, _authorization("unauthorized", action))
        self.close_after_replies(conn)

    def receive(self, conn: Connection, data: str | bytes) -> None:
        """Authenticate (``authenticate`` or ``auth``), then ``listen`` to ``trade_updates``."""
        try:
            msg = json.loads(data)
        except ValueError:
            msg = None
        action = msg.get("action") if isinstance(msg, dict) else None
        if not isinstance(msg, dict) or action not in ("authenticate", "auth", "listen"):
            self.send(conn, _encode({"stream": "error", "data": {
                "error": "invalid message: expected a JSON object with action authenticate, auth or listen"}}))
            return
        if action == "listen":
            if not conn.authorized:
                self._refuse(conn, "listen")
                return
            body = msg.get("data")
            streams = body.get("streams") if isinstance(body, dict) else None
            listening = _TRADE_UPDATES in conn.topics
            if not isinstance(streams, list):
                self.send(conn, _encode({"stream": "listening", "data": {
                    "streams": [_TRADE_UPDATES] if listening else [],
                    "error": "listen expects data.streams, a list of stream names"}}))
                return
            conn.topics = {_TRADE_UPDATES} if _TRADE_UPDATES in streams else set()
            self.send(conn, _encode({"stream": "listening", "data": {"streams": sorted(conn.topics)}}))
            return
        if action == "authenticate":
            body = msg.get("data")
            creds = body if isinstance(body, dict) else {}
            key, secret = creds.get("key_id"), creds.get("secret_key")
        else:
            key, secret = msg.get("key"), msg.get("secret")
        if self._keys_match(key, secret):
            conn.authorized = True
            self.account.count_stream(authorized=1)
            self.send(conn, _authorization("authorized"))
        else:
            self.account.count_stream(auth_failures=1)
            self._refuse(conn, "authenticate")

    def _keys_match(self, key: object, secret: object) -> bool:
        if not isinstance(key, str) or not isinstance(secret, str):
            return False
        key_ok = hmac.compare_digest(key.encode(), self._api_key.encode())
        return hmac.compare_digest(secret.encode(), self._secret_key.encode()) and key_ok
