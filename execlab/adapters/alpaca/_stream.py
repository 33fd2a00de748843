"""``AlpacaTradeStream``: Alpaca's ``trade_updates`` websocket through alpaca-py's ``TradingStream``, on the kit's
loop thread (:class:`execlab._brokers.async_bridge.AsyncStream`).

alpaca-py's stream, left alone, hides the things an executor needs to
know: refused keys become an endless reconnect loop, the ``listening`` acknowledgement is ignored, and reconnects are
silent. :class:`_HookedStream` overrides a few private hooks of ``TradingStream`` (0.44) to surface them, and
:class:`AlpacaTradeStream` reports them to the kit's :class:`AsyncStream` (a blocking start, the
:class:`StreamAuthError`, ``connected``, ``reconnects`` and the ``on_reconnect`` gap callback).

What the stream does not do: replay. Updates published while the connection was down are gone; ``on_reconnect``
is the moment to ask REST for open and recently closed orders (and to dedupe fills seen both ways, for instance by
``execution_id`` or by cumulative filled quantity).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from alpaca.trading.enums import TradeEvent
from alpaca.trading.models import TradeUpdate
from alpaca.trading.stream import TradingStream

from execlab._brokers.async_bridge import AsyncStream, LoopThread
from execlab._brokers.client_ids import ClientIdStyle
from execlab._brokers.contract import BrokerAuthError, BrokerOrder
from execlab.adapters.alpaca._mapping import WIRE_IDS, to_broker_order

__all__ = ["AlpacaTradeStream", "StreamAuthError", "TradeUpdateEvent"]

log = logging.getLogger(__name__)

_TRADE_UPDATES: Final = "trade_updates"
#: The parts of alpaca-py's TradingStream (0.44) the hooks rely on.
_INTERNALS: Final = ("_auth", "_connect", "_consume", "_run_forever", "_subscribe_trade_updates", "_should_run",
                     "_loop", "_stop_stream_queue", "_reconnect_min_backoff", "_reconnect_max_backoff", "_endpoint")


class StreamAuthError(BrokerAuthError):
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
    def from_alpaca(cls, update: TradeUpdate, received_at: float,
                    ids: ClientIdStyle = WIRE_IDS) -> TradeUpdateEvent:
        """The neutral view of an alpaca-py ``TradeUpdate``."""
        event = update.event.value if isinstance(update.event, TradeEvent) else str(update.event)
        return cls(
            event=event,
            order=to_broker_order(update.order, ids),
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
        self._owner._mark_down()
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
            self._owner._mark_refused()
            await self.stop_ws()
            return
        await self._subscribe_trade_updates()

    async def _dispatch(self, msg: dict[Any, Any]) -> None:
        if msg.get("stream") == "listening":
            data = msg.get("data")
            streams = data.get("streams") if isinstance(data, dict) else None
            if isinstance(streams, list) and _TRADE_UPDATES in streams:
                self._owner._mark_live()
            else:
                self._owner._mark_down()
        await super()._dispatch(msg)

    async def close(self) -> None:
        self._owner._mark_down()
        await super().close()

    async def stop_ws(self) -> None:
        await super().stop_ws()
        await self.close()


class AlpacaTradeStream(AsyncStream):
    """Alpaca's ``trade_updates`` websocket: alpaca-py's ``TradingStream`` on a :class:`LoopThread`.

    ``on_update`` receives every :class:`TradeUpdateEvent`; ``on_reconnect`` is called after the stream is live
    again following a dropped connection (poll REST then: updates sent while it was down are not replayed). Both
    run on the stream's loop thread, one at a time, in arrival order: keep them short or hand off (updates wait
    while they run); an exception they raise is logged and the stream carries on.

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
        ids: how the wire writes execlab's client order ids (parsed back in the updates).
        loop: a loop thread to share (default: the stream's own).
    """

    name = "alpaca-trade-stream"

    def __init__(self, api_key: str, secret_key: str, on_update: Callable[[TradeUpdateEvent], None], *,
                 url: str | None = None, paper: bool = True, on_reconnect: Callable[[], None] | None = None,
                 reconnect_min_backoff: float = 0.5, reconnect_max_backoff: float = 30.0,
                 open_timeout: float = 10.0, ids: ClientIdStyle = WIRE_IDS, loop: LoopThread | None = None) -> None:
        if not api_key or not secret_key:
            raise ValueError("api_key and secret_key must be non-empty")
        if not 0 < reconnect_min_backoff <= reconnect_max_backoff:
            raise ValueError(f"need 0 < reconnect_min_backoff <= reconnect_max_backoff, got "
                             f"{reconnect_min_backoff} and {reconnect_max_backoff}")
        super().__init__(on_gap=on_reconnect, loop=loop)
        self._on_update = on_update
        self._ids = ids
        params: dict[str, Any] = {"ping_interval": 10, "ping_timeout": 180, "max_queue": 1024,
                                  "open_timeout": open_timeout, "close_timeout": 2.0}
        self._stream = _HookedStream(self, api_key, secret_key, paper=paper, url=url, websocket_params=params)
        self._stream._reconnect_min_backoff = float(reconnect_min_backoff)
        self._stream._reconnect_max_backoff = float(reconnect_max_backoff)
        self._stream.subscribe_trade_updates(self._handle)
        self.url = str(self._stream._endpoint)
        self._updates = 0

    def _describe(self) -> str:
        return f"alpaca trade_updates stream {self.url}"

    def _auth_error(self) -> StreamAuthError:
        return StreamAuthError(f"{self._describe()}: the API keys were refused (unauthorized)")

    @property
    def updates_received(self) -> int:
        """How many trade updates were handed to ``on_update``."""
        return self._updates

    def start(self, timeout: float = 10.0) -> None:
        """Start and block until the stream is authorized and listening to ``trade_updates``.

        Raises:
            StreamAuthError: the server refused the keys (the stream has ended by then).
            BrokerUnavailableError: not live within ``timeout`` seconds (the stream is stopped first).
        """
        self.start_until_live(timeout)

    def __enter__(self) -> AlpacaTradeStream:
        self.start()
        return self

    async def _run(self) -> None:
        await self._stream._run_forever()  # type: ignore[no-untyped-call]

    async def _close(self) -> None:
        await self._stream.stop_ws()

    def _stopping(self, value: bool) -> None:
        thread = self.loop_thread.thread if self.loop_thread is not None else None
        if thread is not None and thread.ident is not None:
            (_STOPPING.add if value else _STOPPING.discard)(thread.ident)

    async def _handle(self, update: TradeUpdate) -> None:
        received = time.monotonic()
        self._updates += 1
        try:
            self._on_update(TradeUpdateEvent.from_alpaca(update, received, self._ids))
        except Exception:
            log.exception("alpaca trade stream: on_update failed")
