"""The two v20 streams: ``/pricing/stream`` and ``/transactions/stream``, newline-delimited JSON over one chunked
HTTP answer, with a ``HEARTBEAT`` line every ``heartbeat_seconds`` (5 s, as OANDA).

The pricing stream starts with the current price of each requested instrument and then sends every change; the
transaction stream sends the transactions made after it connected (as OANDA's, nothing is replayed). Faults: a
*silent* hub keeps its connections open but sends nothing, heartbeats included (what a stale stream looks like to a
client); :meth:`StreamHub.drop_all` cuts every connection without ending the chunked body, and the kit's
``stream_drop_after`` knob cuts a transaction stream once it has sent that many transactions (the venue counts the
transactions sent as the streams' ``messages``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Literal

from aiohttp import web

from execlab.venues.oanda._faults import OandaFaults
from execlab.venues.oanda._state import OandaState

__all__ = ["StreamHub"]

Kind = Literal["pricing", "transactions"]


class _Client:
    def __init__(self, kind: Kind, instruments: frozenset[str], response: web.StreamResponse,
                 transport: asyncio.BaseTransport | None) -> None:
        self.kind = kind
        self.transport = transport
        self.instruments = instruments
        self.response = response
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.updates_sent = 0


class StreamHub:
    """Every open stream of one venue, fed from the state's listeners (create and attach it on the serving loop)."""

    def __init__(self, state: OandaState, faults: OandaFaults, heartbeat_seconds: float = 5.0) -> None:
        self.state = state
        self.faults = faults
        self.heartbeat_seconds = heartbeat_seconds
        self.opened = 0
        self.dropped = 0
        self._clients: set[_Client] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def attach(self) -> None:
        """Subscribe to the state (call on the serving loop)."""
        self._loop = asyncio.get_running_loop()
        self.state.account.count_stream(connections=0, authorized=0, messages=0, drops=0)  # listed from the start
        with self.state.lock:
            self.state.transaction_listeners.append(self._on_transaction)
            self.state.price_listeners.append(self._on_price)

    def detach(self) -> None:
        """Unsubscribe from the state."""
        with self.state.lock:
            for listeners, fn in ((self.state.transaction_listeners, self._on_transaction),
                                  (self.state.price_listeners, self._on_price)):
                if fn in listeners:
                    listeners.remove(fn)

    def _publish(self, kind: Kind, message: dict[str, Any]) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for client in list(self._clients):
            if client.kind == kind and (kind == "transactions" or message.get("instrument") in client.instruments):
                loop.call_soon_threadsafe(client.queue.put_nowait, message)

    def _on_transaction(self, txn: dict[str, Any]) -> None:
        self._publish("transactions", txn)

    def _on_price(self, price: dict[str, Any]) -> None:
        self._publish("pricing", price)

    @property
    def connections(self) -> int:
        """Streams open now."""
        return len(self._clients)

    async def serve(self, request: web.Request, kind: Kind) -> web.StreamResponse:
        """Answer one stream request until the client leaves, the stream is dropped or the venue stops."""
        instruments: frozenset[str] = frozenset()
        if kind == "pricing":
            instruments = frozenset(n for n in request.query.get("instruments", "").split(",") if n)
            unknown = sorted(instruments - set(self.state.instruments))
            if not instruments or unknown:
                return web.json_response({"errorMessage": "Invalid value specified for 'instruments'"
                                          + (f": {','.join(unknown)}" if unknown else "")}, status=400)
        response = web.StreamResponse(status=200, headers={"Content-Type": "application/octet-stream"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        client = _Client(kind, instruments, response, request.transport)
        self._clients.add(client)
        self.opened += 1
        self.state.account.count_stream(connections=1, authorized=1)  # the gateway checked the token
        try:
            if kind == "pricing":
                with self.state.lock:
                    first = [self.state.price(n) for n in sorted(instruments)]
                for price in first:
                    if price is not None:
                        client.queue.put_nowait(price)
            while True:
                try:
                    message = await asyncio.wait_for(client.queue.get(), timeout=self.heartbeat_seconds)
                except TimeoutError:
                    message = self._heartbeat(kind)
                if message is None:
                    break
                if self.faults.stream_silent:
                    continue
                await response.write(json.dumps(message).encode() + b"\n")
                if kind == "transactions" and message.get("type") != "HEARTBEAT":
                    client.updates_sent += 1
                    self.state.account.count_stream(messages=1)
                    after = self.faults.stream_drop_after
                    if after and client.updates_sent >= after:
                        self._drop(client)
                        break
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self._clients.discard(client)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await response.write_eof()
        return response

    def _heartbeat(self, kind: Kind) -> dict[str, Any]:
        if kind == "transactions":
            return {"type": "HEARTBEAT", "lastTransactionID": self.state.last_transaction_id,
                    "time": self.state.now()}
        return {"type": "HEARTBEAT", "time": self.state.now()}

    async def drop_all(self) -> int:
        """Cut every stream connection abruptly (no end of the chunked body); returns how many."""
        clients = list(self._clients)
        for client in clients:
            self._drop(client)
        return len(clients)

    def _drop(self, client: _Client) -> None:
        """Cut one connection abruptly."""
        self._clients.discard(client)
        if isinstance(client.transport, asyncio.Transport):
            client.transport.abort()
        client.queue.put_nowait(None)
        self.dropped += 1
        self.state.account.count_stream(drops=1)

    async def close_all(self) -> None:
        """End every stream cleanly (the venue is stopping)."""
        for client in list(self._clients):
            client.queue.put_nowait(None)
        self.detach()
