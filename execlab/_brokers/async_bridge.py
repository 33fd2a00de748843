"""The bridge from the synchronous executor to asyncio SDKs (alpaca-py's stream, ib_async, ccxt.pro).

:class:`LoopThread` owns one asyncio loop in a daemon thread and runs coroutines on it, with a deadline.
:class:`AsyncStream` is the base of a stream that lives on such a loop: :meth:`~AsyncStream.start_until_live`
blocks until the stream is live (or raises :class:`BrokerAuthError` when the keys are refused,
:class:`BrokerUnavailableError` when it is not live in time), ``connected`` says whether updates flow now,
``on_gap`` is called when it is live again after a drop (updates may have been missed), and
:meth:`~AsyncStream.stop` ends it. A subclass implements :meth:`~AsyncStream._run` (connect, consume, reconnect,
reporting with :meth:`~AsyncStream._mark_live`, :meth:`~AsyncStream._mark_down` and
:meth:`~AsyncStream._mark_refused`) and :meth:`~AsyncStream._close`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from execlab._brokers.errors import BrokerAuthError, BrokerTimeoutError, BrokerUnavailableError

__all__ = ["AsyncStream", "LoopThread"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class LoopThread:
    """One asyncio event loop running in a daemon thread."""

    def __init__(self, name: str = "execlab-loop"):
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop (after :meth:`start`)."""
        if self._loop is None:
            raise RuntimeError(f"{self.name}: not started")
        return self._loop

    @property
    def thread(self) -> threading.Thread | None:
        """The loop's thread (None before :meth:`start`)."""
        return self._thread

    @property
    def running(self) -> bool:
        """Whether the loop's thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> LoopThread:
        """Start the thread and return once its loop runs (a loop thread starts once)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started (a stopped loop thread cannot be restarted)")
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait()
        return self

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        loop.call_soon(self._ready.set)
        try:
            loop.run_forever()
        finally:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; its future (safe to wait on from any other thread)."""
        try:
            return asyncio.run_coroutine_threadsafe(coro, self.loop)
        except RuntimeError:
            coro.close()
            raise

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coro`` on the loop and wait for its result; raises BrokerTimeoutError (after cancelling it) when
        it takes longer than ``timeout`` seconds. Not for use on the loop's own thread."""
        if threading.current_thread() is self._thread:
            raise RuntimeError(f"{self.name}: run() called on the loop's own thread (await the coroutine instead)")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise BrokerTimeoutError(f"{self.name}: no answer within {timeout:g} s") from None

    def stop(self) -> None:
        """Cancel what still runs on the loop and stop it (safe to call twice)."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                loop.call_soon_threadsafe(loop.stop)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        if self._thread is None or self._thread is threading.current_thread():
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()


class AsyncStream(ABC):
    """A stream of updates on a :class:`LoopThread` (its own unless one is given), behind blocking calls.

    Implements :class:`execlab._brokers.contract.OrderStream`. ``on_gap`` runs on the loop's thread after the
    stream is live again following a drop; an exception it raises is logged.
    """

    name: str = "stream"

    def __init__(self, *, on_gap: Callable[[], None] | None = None, loop: LoopThread | None = None):
        self.on_gap = on_gap
        self._loop_thread = loop
        self._own_loop = loop is None
        self._task: concurrent.futures.Future[None] | None = None
        self._cond = threading.Condition()
        self._halt = threading.Event()
        self._connected = False
        self._was_live = False
        self._refused = False
        self._reconnects = 0

    # -- what a subclass implements -------------------------------------------------------------------------
    @abstractmethod
    async def _run(self) -> None:
        """Connect, authenticate, consume and reconnect until :meth:`_close` is awaited or the keys are refused."""

    @abstractmethod
    async def _close(self) -> None:
        """Ask :meth:`_run` to end (close the connection)."""

    def _describe(self) -> str:
        """Names the stream in messages (its URL, never a secret)."""
        return self.name

    # -- state ---------------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while the stream is live."""
        return self._connected

    @property
    def reconnects(self) -> int:
        """How many times the stream became live again after having been live, counted once ``on_gap`` has
        returned (so the catch-up it does is complete)."""
        return self._reconnects

    @property
    def auth_refused(self) -> bool:
        """True once the keys were refused (the stream has ended by itself and does not retry)."""
        return self._refused

    @property
    def running(self) -> bool:
        """True while the stream's coroutine runs."""
        return self._task is not None and not self._task.done()

    @property
    def loop_thread(self) -> LoopThread | None:
        """The loop the stream runs on (after start)."""
        return self._loop_thread

    # -- life cycle ----------------------------------------------------------------------------------------
    def start_until_live(self, timeout: float = 10.0) -> None:
        """Start the stream and block until it is live.

        Raises:
            BrokerAuthError: the keys were refused (the stream has ended by then).
            BrokerUnavailableError: not live within ``timeout`` seconds (the stream is stopped first).
        """
        if self._task is not None:
            raise RuntimeError(f"{self._describe()}: already started (a stopped stream cannot be restarted)")
        if self._loop_thread is None:
            self._loop_thread = LoopThread(f"{self.name}-loop")
        if not self._loop_thread.running:
            self._loop_thread.start()
        self._task = self._loop_thread.submit(self._main())
        self._task.add_done_callback(lambda _: self._notify())
        deadline = time.monotonic() + timeout
        with self._cond:
            while not (self._connected or self._refused or self._task.done()):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            live, refused = self._connected, self._refused
        if live:
            return
        self.stop()
        if refused:
            raise self._auth_error()
        raise BrokerUnavailableError(f"{self._describe()}: not live within {timeout:g} s")

    def _auth_error(self) -> BrokerAuthError:
        return BrokerAuthError(f"{self._describe()}: the API keys were refused (unauthorized)")

    async def _main(self) -> None:
        try:
            await self._run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed", self._describe())
        finally:
            self._set_connected(False)

    def stop(self, timeout: float = 10.0) -> None:
        """End the stream (its coroutine awaited for at most ``timeout`` seconds) and, if it owns it, its loop
        thread; safe to call twice."""
        self._halt.set()  # seen at the next (re)connect, should the coroutine not be running yet
        task, thread = self._task, self._loop_thread
        on_loop = thread is not None and threading.current_thread() is thread.thread
        if task is not None and not task.done() and thread is not None and thread.running:
            self._stopping(True)
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                thread.submit(self._close())
            if not on_loop:
                try:
                    task.result(timeout)
                except concurrent.futures.TimeoutError:
                    log.warning("%s did not end within %g s; cancelling it", self._describe(), timeout)
                    task.cancel()
                except (concurrent.futures.CancelledError, Exception):
                    pass
        if self._own_loop and thread is not None and not on_loop:
            thread.stop()
            if not thread.join(timeout):
                log.warning("%s: loop thread did not end within %g s", self._describe(), timeout)
        self._stopping(False)
        self._set_connected(False)

    def _stopping(self, value: bool) -> None:  # noqa: B027 - an optional hook
        """Called around a deliberate stop (a subclass may quiet its SDK's warnings meanwhile)."""

    def __enter__(self) -> AsyncStream:
        self.start_until_live()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what _run reports -----------------------------------------------------------------------------------
    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _set_connected(self, value: bool) -> None:
        with self._cond:
            self._connected = value
            self._cond.notify_all()

    def _mark_down(self) -> None:
        """The connection is lost (the subclass reconnects)."""
        if self._connected and not self._halt.is_set():
            log.warning("%s: connection lost; reconnecting", self._describe())
        self._set_connected(False)

    def _mark_refused(self) -> None:
        """The keys were refused: the stream ends and does not retry."""
        log.error("%s: the API keys were refused; not retrying", self._describe())
        with self._cond:
            self._refused = True
            self._cond.notify_all()

    def _mark_live(self) -> None:
        """The stream is live (again): after a drop, ``on_gap`` runs before the reconnect is counted."""
        again = self._was_live and not self._connected
        self._was_live = True
        self._set_connected(True)
        if again:
            if self.on_gap is not None:
                try:
                    self.on_gap()
                except Exception:
                    log.exception("%s: on_gap failed", self._describe())
            self._reconnects += 1
