"""The v20 transaction stream as execlab's order stream: oandapyV20's ``TransactionsStream`` read in a thread, with
reconnect after heartbeat silence.

OANDA sends a ``HEARTBEAT`` every 5 s and recommends reconnecting after 20 s without data on the transaction stream.
The stream's HTTP read timeout is that silence window: no byte for ``silence_timeout`` seconds ends the read, the
stream counts a gap (``on_gap``) and connects again. The stream is *connected* from the ``200`` answer on.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from oandapyV20.endpoints.transactions import TransactionsStream
from oandapyV20.exceptions import V20Error

from execlab._brokers.contract import BrokerError, BrokerUnavailableError
from execlab.adapters.oanda._client import make_api
from execlab.adapters.oanda._mapping import to_error

__all__ = ["OandaTransactionStream"]


class OandaTransactionStream:
    """Calls ``on_transaction(txn)`` for every transaction (heartbeats excluded) until stopped; ``on_gap()`` after
    every lost connection (updates may have been missed)."""

    def __init__(self, token: str, environment: str, account_id: str,
                 on_transaction: Callable[[dict[str, Any]], None], on_gap: Callable[[], None], *,
                 silence_timeout: float = 20.0, connect_timeout: float = 5.0, reconnect_delay: float = 0.5) -> None:
        self._token = token
        self._environment = environment
        self._account_id = account_id
        self._on_transaction = on_transaction
        self._on_gap = on_gap
        self.silence_timeout = silence_timeout
        self._connect_timeout = connect_timeout
        self._reconnect_delay = reconnect_delay
        self._stopping = threading.Event()
        self._live = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: requests.Response | None = None
        self._failure: BrokerError | None = None
        self.reconnects = 0
        """Connections lost and made again."""
        self.heartbeats = 0

    @property
    def connected(self) -> bool:
        """Whether the stream's connection is open now."""
        return self._live.is_set()

    def start(self, timeout: float = 10.0) -> OandaTransactionStream:
        """Connect; returns once the venue answered 200. Raises BrokerAuthError (refused token) or
        BrokerUnavailableError."""
        self._thread = threading.Thread(target=self._run, name="oanda-transactions", daemon=True)
        self._thread.start()
        end = time.monotonic() + timeout
        while not self._live.wait(0.05):
            if self._failure is not None or time.monotonic() >= end or not self._thread.is_alive():
                break
        if not self._live.is_set():
            self.stop()
            raise self._failure or BrokerUnavailableError(f"the OANDA transaction stream did not connect in "
                                                          f"{timeout:g} s")
        return self

    def _hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._response = response
        if response.status_code == 200:
            self._live.set()

    def _run(self) -> None:
        first = True
        while not self._stopping.is_set():
            api = make_api(self._token, self._environment, (self._connect_timeout, self.silence_timeout))
            api.client.hooks["response"].append(self._hook)
            try:
                for message in api.request(TransactionsStream(self._account_id)):
                    if self._stopping.is_set():
                        break
                    if message.get("type") == "HEARTBEAT":
                        self.heartbeats += 1
                    else:
                        self._on_transaction(message)
            except (V20Error, requests.RequestException, ValueError, OSError) as exc:
                error = to_error(exc)
                if first and not self._live.is_set():
                    self._failure = error
                if not isinstance(error, BrokerUnavailableError):
                    self._failure = error
                    self._live.clear()
                    break
            finally:
                self._live.clear()
                self._response = None
                with contextlib.suppress(Exception):
                    api.close()
            if self._stopping.is_set() or (first and self._failure is not None):
                break
            first = False
            self.reconnects += 1
            self._on_gap()
            self._stopping.wait(self._reconnect_delay)

    def stop(self, timeout: float = 10.0) -> None:
        """End the stream and join its thread."""
        self._stopping.set()
        response = self._response
        if response is not None:  # wake the blocked read at once instead of after the silence timeout
            with contextlib.suppress(Exception):
                response.raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
