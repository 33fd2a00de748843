"""``AlpacaTradeStream``: Alpaca's ``trade_updates`` websocket through alpaca-py's ``TradingStream``, in a thread.

alpaca-py's stream runs its own event loop (``asyncio.run``) and, left alone, hides the things an executor needs to
know: refused keys become an endless reconnect loop, the ``listening`` acknowledgement is ignored, and reconnects are
silent. :class:`_HookedStream` overrides a few private hooks of ``TradingStream`` (0.44) to surface them, and
:class:`AlpacaTradeStream` turns them into a blocking :meth:`~AlpacaTradeStream.start`, the
:class:`StreamAuthError`, the ``connected`` and ``reconnects`` properties and the ``on_reconnect`` callback.

What the stream does not do: replay. Updates published while the connection was down are gone; ``on_reconnect``
is the moment to ask REST for open and recently closed orders (and to dedupe fills seen both ways, for instance by
``execution_id`` or by cumulative filled quantity).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from alpaca.trading.enums import TradeEvent
from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream

from execlab._brokers.contract import BrokerError, BrokerOrder, BrokerUnavailableError
from execlab.adapters.alpaca._mapping import to_broker_order

__all__ = ["AlpacaTradeStream", "StreamAuthError", "TradeUpdateEvent"]

log = logging.getLogger(__name__)

_TRADE_UPDATES: Final = "trade_updates"
#: The parts of alpaca-py's TradingStream (0.44) the hooks rely on.
_INTERNALS: Final = ("_auth", "_connect", "_consume", "_run_forever", "_subscribe_trade_updates", "_should_run",
                     "_loop", "_stop_stream_queue", "_reconnect_min_backoff", "_reconnect_max_backoff", "_endpoint")


class StreamAuthError(BrokerError):
    """The ``trade_updates`` stream refused the API keys (the message names the URL, never the secret)."""


@dataclass(frozen=True, slots=True)
class TradeUpdateEvent:
    """One message of Alpaca's ``trade_updates`` stream, in neutral terms.

    ``event`` is Alpaca's event name (``new``, ``partial_fill``, ``fill``, ``canceled``, ``rejected``, ``expired``,
    ...); ``order`` is the order after the event. ``price``, ``qty`` and ``execution_id`` describe the execution of a
    fill or partial fill (``qty`` is that execution's quantity, not the cumulative one) and are None otherwise;
    ``position_qty`` is the position after it. ``received_at`` is ``time.monotonic()`` when the message was
    dispatched, for latency measurements.
    """

    event: str
    order: BrokerOrder
    timestamp: datetime
    price: float | None
    qty: float | None
    position_qty: float | None
    execution_id: str | None
    received_at: float

    @classmethod
    def from_alpaca(cls, update: TradeUpdate, received_at: float) -> TradeUpdateEvent:
        """The neutral view of an alpaca-py ``TradeUpdate``."""
        event = update.event.value if isinstance(update.event, TradeEvent) else str(update.event)
        return cls(
            event=event,
            order=to_broker_order(update.order),
            timestamp=update.timestamp,
            price=None if update.price is None else float(update.price),
            qty=None if update.qty is None else float(update.qty),
            position_qty=None if update.position_qty is None else float(update.position_qty),
            execution_id=None if update.execution_id is None else str(update.execution_id),
            received_at=received_at,
        )


_STOPPING: set[int] = set()
"""Idents of stream threads being stopped on purpose."""


class _QuietWhileStopping(logging.Filter):
    """Drops alpaca-py's "websocket error, restarting connection" warning that our own stop causes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.thread in _STOPPING and record.levelno <= logging.WARNING)


logging.getLogger("alpaca.trading.stream").addFilter(_QuietWhileStopping())


class _HookedStream(TradingStream):
    """alpaca-py's ``TradingStream`` with hooks on connect, authentication, the listening acknowledgement and stop.

    Only private methods of ``TradingStream`` 0.44 are overridden, each calling back into the original where one
    exists: ``_connect`` (mark the stream down until it listens again), ``_start_ws`` (end the run, instead of
    retrying forever, when the keys are refused), ``_dispatch`` (see ``listening``), ``close`` (mark the stream down)
    and ``stop_ws`` (also close the socket, so a pending receive returns at once rather than after alpaca-py's 5 s
    poll).
    """

    def __init__(self, owner: AlpacaTradeStream, api_key: str, secret_key: str, *, paper: bool,
                 url: str | None, websocket_params: dict[str, Any]) -> None:
        super().__init__(api_key, secret_key, paper=paper, url_override=url,  # type: ignore[arg-type]
                         websocket_params=websocket_params)
        missing = [name for name in _INTERNALS if not hasattr(self, name)]
        if missing:
            raise RuntimeError(f"alpaca-py's TradingStream lacks {missing}: AlpacaTradeStream was written against "
                               "alpaca-py 0.44's internals")
        self._owner = owner

    async def _connect(self) -> None:
        self._owner._went_down()
        await super()._connect()  # type: ignore[no-untyped-call]

    async def _start_ws(self) -> None:
        if self._owner._halt.is_set():
            await self.stop_ws()
            return
        await self._connect()
        if not self._should_run:
            return  # stopped while connecting: _consume sees the stop request and closes the socket
        try:
            await self._auth()  # type: ignore[no-untyped-call]
        except ValueError:  # alpaca-py's "failed to authenticate": the server answered "unauthorized"
            self._owner._auth_refused()
            await self.stop_ws()
            return
        await self._subscribe_trade_updates()

    async def _dispatch(self, msg: dict[Any, Any]) -> None:
        if msg.get("stream") == "listening":
            data = msg.get("data")
            streams = data.get("streams") if isinstance(data, dict) else None
            self._owner._listening(isinstance(streams, list) and _TRADE_UPDATES in streams)
        await super()._dispatch(msg)

    async def close(self) -> None:
        self._owner._went_down()
        await super().close()

    async def stop_ws(self) -> None:
        await super().stop_ws()
        await self.close()


class AlpacaTradeStream:
    """Alpaca's ``trade_updates`` websocket, through alpaca-py's ``TradingStream`` in a daemon thread.

    ``on_update`` receives every :class:`TradeUpdateEvent`; ``on_reconnect`` is called after the stream is live
    again following a dropped connection (poll REST then: updates sent while it was down are not replayed). Both
    run on the stream's thread, one at a time, in arrival order: keep them short or hand off (updates wait while
    they run); an exception they raise is logged and the stream carries on.

    alpaca-py reconnects by itself after a dropped connection, with a jittered exponential backoff between
    ``reconnect_min_backoff`` and ``reconnect_max_backoff`` seconds.

    Args:
        api_key: the API key id.
        secret_key: the API secret (never logged, never in error messages).
        on_update: called with each trade update.
        url: the stream's URL (a local venue's ``stream_url``); None means Alpaca's own, chosen by ``paper``.
        paper: Alpaca's paper endpoint rather than the live one, when ``url`` is None.
        on_reconnect: called with no argument once the stream is live again after a drop.
        reconnect_min_backoff: the first reconnect delay's scale, in seconds (alpaca-py's default is 1).
        reconnect_max_backoff: the longest reconnect delay, in seconds.
        open_timeout: how long one connection attempt may take, in seconds.
    """

    def __init__(self, api_key: str, secret_key: str, on_update: Callable[[TradeUpdateEvent], None], *,
                 url: str | None = None, paper: bool = True, on_reconnect: Callable[[], None] | None = None,
                 reconnect_min_backoff: float = 0.5, reconnect_max_backoff: float = 30.0,
                 open_timeout: float = 10.0) -> None:
        if not api_key or not secret_key:
            raise ValueError("api_key and secret_key must be non-empty")
        if not 0 < reconnect_min_backoff <= reconnect_max_backoff:
            raise ValueError(f"need 0 < reconnect_min_backoff <= reconnect_max_backoff, got "
                             f"{reconnect_min_backoff} and {reconnect_max_backoff}")
        self._on_update = on_update
        self._on_reconnect = on_reconnect
        params: dict[str, Any] = {"ping_interval": 10, "ping_timeout": 180, "max_queue": 1024,
                                  "open_timeout": open_timeout, "close_timeout": 2.0}
        self._stream = _HookedStream(self, api_key, secret_key, paper=paper, url=url, websocket_params=params)
        self._stream._reconnect_min_backoff = float(reconnect_min_backoff)
        self._stream._reconnect_max_backoff = float(reconnect_max_backoff)
        self._stream.subscribe_trade_updates(self._handle)
        self.url = str(self._stream._endpoint)
        self._cond = threading.Condition()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._was_live = False
        self._refused = False
        self._reconnects = 0
        self._updates = 0

    # -- state -----------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while the stream is authorized and listening to ``trade_updates``."""
        return self._connected

    @property
    def reconnects(self) -> int:
        """How many times the stream became live again after having been live (dropped connections recovered);
        counted once ``on_reconnect`` has returned, so the catch-up it does is complete."""
        return self._reconnects

    @property
    def auth_refused(self) -> bool:
        """True once the server refused the keys (at :meth:`start`, or on a later reconnect): the stream has then
        ended by itself and does not retry."""
        return self._refused

    @property
    def updates_received(self) -> int:
        """How many trade updates were handed to ``on_update``."""
        return self._updates

    @property
    def running(self) -> bool:
        """True while the stream's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- life cycle ----------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> None:
        """Start the thread and block until the stream is authorized and listening.

        Raises:
            StreamAuthError: the server refused the keys (the thread has ended by then).
            BrokerUnavailableError: not live within ``timeout`` seconds (the stream is stopped first).
        """
        if self._thread is not None:
            raise RuntimeError("AlpacaTradeStream is already started (a stopped stream cannot be restarted)")
        self._thread = threading.Thread(target=self._run, name="alpaca-trade-stream", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (self._connected or self._refused or not self._thread.is_alive()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            live, refused = self._connected, self._refused
        if live:
            return
        self.stop()
        if refused:
            raise StreamAuthError(f"alpaca trade_updates stream {self.url}: the API keys were refused (unauthorized)")
        raise BrokerUnavailableError(
            f"alpaca trade_updates stream {self.url}: not connected and listening within {timeout:g} s")

    def stop(self, timeout: float = 10.0) -> None:
        """Close the connection and end the thread (joined for at most ``timeout`` seconds); safe to call twice."""
        self._halt.set()  # seen at the next (re)connect, should the loop not be running yet
        thread, loop = self._thread, self._stream._loop
        if thread is not None and thread.ident is not None:
            _STOPPING.add(thread.ident)
        if thread is not None and thread.is_alive() and loop is not None and not loop.is_closed():
            request = self._stream.stop_ws()
            try:
                asyncio.run_coroutine_threadsafe(request, loop)
            except RuntimeError:  # the loop closed meanwhile: the thread is ending by itself
                request.close()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=timeout)
            if thread.is_alive():
                log.warning("alpaca trade stream thread did not end within %g s", timeout)
            else:
                _STOPPING.discard(thread.ident or 0)
        self._set_connected(False)

    def __enter__(self) -> AlpacaTradeStream:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            self._stream.run()
        except Exception:
            log.exception("alpaca trade stream thread failed")
        finally:
            self._set_connected(False)

    # -- hooks called by _HookedStream, on the stream's thread --------------------------------------------
    def _set_connected(self, value: bool) -> None:
        with self._cond:
            self._connected = value
            self._cond.notify_all()

    def _went_down(self) -> None:
        if self._connected and not self._halt.is_set():
            log.warning("alpaca trade stream %s: connection lost; alpaca-py reconnects", self.url)
        self._set_connected(False)

    def _auth_refused(self) -> None:
        log.error("alpaca trade stream %s: the API keys were refused; not retrying", self.url)
        with self._cond:
            self._refused = True
            self._cond.notify_all()

    def _listening(self, live: bool) -> None:
        again = live and self._was_live and not self._connected
        if live:
            self._was_live = True
        self._set_connected(live)
        if again:
            if self._on_reconnect is not None:
                try:
                    self._on_reconnect()
                except Exception:
                    log.exception("alpaca trade stream: on_reconnect failed")
            self._reconnects += 1

    async def _handle(self, update: TradeUpdate) -> None:
        received = time.monotonic()
        self._updates += 1
        try:
            self._on_update(TradeUpdateEvent.from_alpaca(update, received))
        except Exception:
            log.exception("alpaca trade stream: on_update failed")
