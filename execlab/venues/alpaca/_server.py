"""``AlpacaVenue``: the local Alpaca Trading API v2 server, on 127.0.0.1, in a background thread."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final

import pandas as pd
from aiohttp import web

from execlab._config import VenueConfig
from execlab._data.feeds import FeedEvent
from execlab.venues._base.account import VenueAccount
from execlab.venues._base.faults import FaultInjector
from execlab.venues._base.rate_limit import RateLimiter
from execlab.venues._base.server import VenueServer
from execlab.venues._harness import HARNESS_TOKEN_HEADER, HarnessGuard, new_harness_token
from execlab.venues.alpaca._app import build_app, credentials_match
from execlab.venues.alpaca._faults import AlpacaFaults
from execlab.venues.alpaca._state import AlpacaState, TradeUpdateListener
from execlab.venues.alpaca._stream import STREAM_PATH, StreamHub

__all__ = ["DEFAULT_API_KEY", "DEFAULT_SECRET_KEY", "AlpacaVenue"]

#: Keys a venue uses when none are given: test values, printed by the command line, never real credentials.
DEFAULT_API_KEY: Final = "PKEXECLABLOCAL000001"
DEFAULT_SECRET_KEY: Final = "execlab-local-venue-not-a-secret"


class AlpacaVenue(VenueServer):
    """A local server speaking Alpaca's Trading API v2 (REST and the ``trade_updates`` websocket) in front of
    execlab's simulated venue.

    Point alpaca-py at it with ``TradingClient(key, secret, paper=True, url_override=venue.base_url)`` and
    ``TradingStream(key, secret, paper=True, url_override=venue.stream_url)``. Orders
    fill against quotes given by :meth:`set_quote` (or a bar replay, :meth:`replay_bars`); fault knobs are
    :attr:`faults` (or ``POST /_faults``). Use as a context manager, or :meth:`start` and :meth:`stop`.

    Args:
        api_key: the ``APCA-API-KEY-ID`` requests must carry.
        secret_key: the ``APCA-API-SECRET-KEY`` requests must carry.
        host: interface to bind; loopback by default.
        port: TCP port; 0 picks a free one (read :attr:`port` or :attr:`base_url` after :meth:`start`).
        initial_cash: the account's starting cash (USD).
        venue_config: fees, slippage on top of the spread, participation cap (against quote ``volume``) and
            margin (``margin.max_leverage`` is the account ``multiplier``), as in the backtest.
        allow_short: whether sells beyond the position open shorts (else 403 "insufficient qty available").
        symbols: if given, the only tradable symbols (others: 422 on orders, 404 on assets).
        rate_limit: requests allowed per API key in any rolling ``rate_window`` seconds (Alpaca: 200 a minute).
        rate_window: the rolling window in seconds.
        faults: initial fault knobs (default: none).
        harness_token: the token the harness routes (``/_…``) require in the ``X-Execlab-Harness-Token`` header
            (default: a fresh random one, read it from :attr:`harness_token`); the API key headers work too.
        allowed_hosts: host names, besides loopback and ``host``, that requests may name in their ``Host`` header.
        seed: seeds order and account ids and the fault draws, so runs repeat.
        clock: the venue's time source (default: the system clock, UTC).
        always_open: the clock reports the market open at any hour (the venue trades at any hour regardless).
    """

    def __init__(self, api_key: str = DEFAULT_API_KEY, secret_key: str = DEFAULT_SECRET_KEY, *,
                 host: str = "127.0.0.1", port: int = 0, initial_cash: float = 100_000.0,
                 venue_config: VenueConfig | None = None, allow_short: bool = False,
                 symbols: Iterable[str] | None = None, rate_limit: int = 200, rate_window: float = 60.0,
                 faults: AlpacaFaults | None = None, seed: int = 0,
                 clock: Callable[[], datetime] | None = None, always_open: bool = True,
                 harness_token: str | None = None, allowed_hosts: Iterable[str] = ()) -> None:
        if not api_key or not secret_key:
            raise ValueError("api_key and secret_key must be non-empty")
        if not (math.isfinite(initial_cash) and initial_cash >= 0):
            raise ValueError(f"initial_cash must be a finite amount >= 0, got {initial_cash!r}")
        super().__init__(host, port)
        self.api_key = api_key
        self.secret_key = secret_key
        self.guard = HarnessGuard.for_bind(harness_token or new_harness_token(), host, allowed_hosts,
                                           keys_match=self.keys_match)
        self.injector = FaultInjector(faults if faults is not None else AlpacaFaults())
        self.limiter = RateLimiter(rate_limit, rate_window)
        self.state = AlpacaState(initial_cash=initial_cash, venue_config=venue_config, allow_short=allow_short,
                                 symbols=symbols, clock=clock, injector=self.injector, seed=seed,
                                 always_open=always_open)
        self._streams: StreamHub | None = None

    name = "alpaca"

    # -- serving ---------------------------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        """The aiohttp application (on the serving loop)."""
        assert self.stopping is not None
        self._streams = StreamHub(self.state, self.api_key, self.secret_key, self.injector, self.stopping)
        self._streams.attach()
        return build_app(self)

    async def shutdown(self) -> None:
        """Let hanging requests go, close stream clients with ``1001 going away``, stop the app."""
        if self._streams is not None:
            await self._streams.shutdown()
        await super().shutdown()

    @property
    def streams(self) -> StreamHub:
        """The ``trade_updates`` hub (after :meth:`start`)."""
        if self._streams is None:
            raise RuntimeError("AlpacaVenue is not started: call start() or use it as a context manager")
        return self._streams

    @property
    def account(self) -> VenueAccount:
        """The neutral account behind the wire protocol."""
        return self.state.account_

    @property
    def base_url(self) -> str:
        """``http://host:port``: pass it to ``TradingClient(url_override=...)`` (alpaca-py adds ``/v2``)."""
        return self.url()

    @property
    def stream_url(self) -> str:
        """``ws://host:port/stream``: the ``trade_updates`` websocket, for ``TradingStream(url_override=...)``."""
        return self.url("ws", STREAM_PATH)

    @property
    def harness_token(self) -> str:
        """The token the harness routes (``/_stats``, ``/_quotes``, ``/_faults``, …) require."""
        return self.guard.token

    @property
    def harness_headers(self) -> dict[str, str]:
        """Headers for a harness request: ``requests.post(venue.base_url + "/_faults", json=...,
        headers=venue.harness_headers)``."""
        return {HARNESS_TOKEN_HEADER: self.guard.token}

    def keys_match(self, headers: Mapping[str, str]) -> bool:
        """Whether ``headers`` carry this venue's API key id and secret."""
        return credentials_match(headers, self.api_key, self.secret_key)

    @property
    def faults(self) -> AlpacaFaults:
        """The live fault knobs: assign attributes (or use ``POST /_faults``) to change them."""
        knobs = self.injector.faults
        assert isinstance(knobs, AlpacaFaults)
        return knobs

    # -- price source --------------------------------------------------------------------------------------
    def set_quote(self, symbol: str, bid: float | None, ask: float | None, last: float | None = None,
                  volume: float | None = None) -> None:
        """Set one symbol's quote and match every working order against it.

        ``None`` for ``bid`` or ``ask`` means that side is unknown (``last`` stands in); ``last`` defaults to the
        mid. ``volume`` is what the participation cap (``venue_config.participation_cap``) may take from it.
        """
        self.set_quotes({symbol: (bid, ask, last, volume)})

    def set_quotes(self, quotes: Mapping[str, tuple[float | None, float | None, float | None, float | None]]
                   ) -> None:
        """Set several quotes ``{symbol: (bid, ask, last, volume)}`` as one market step, then match."""
        nan = math.nan
        self.state.set_quotes(
            (s, nan if b is None else float(b), nan if a is None else float(a), last, volume)
            for s, (b, a, last, volume) in quotes.items()
        )

    def set_time(self, when: datetime | None) -> None:
        """Freeze the venue's clock at ``when`` (naive means UTC), or follow the clock again with None."""
        self.state.set_time(when)

    def replay_bars(self, bars: Any) -> Iterator[pd.Timestamp]:
        """Step through bars (a long pandas or polars table, as for the backtest), one timestamp per ``next``.

        Each step freezes the venue clock at the bar's timestamp and sets every symbol's quote from its bar: the
        ``bid``/``ask`` columns when present, else the close on both sides; last = close; volume = the bar's
        volume. Orders are matched after each step; the timestamp is yielded so the caller can trade between bars.
        """
        return self.state.account_.replay_bars(bars)

    def step_bars(self, event: FeedEvent) -> None:
        """Make one bar event (:class:`execlab.FeedEvent`) the venue's next market step, matched as the backtest
        matches a bar; the clock freezes at its time (:meth:`VenueAccount.step_bars`)."""
        self.state.account_.step_bars(event)

    def replay_bar_steps(self, bars: Any) -> Iterator[pd.Timestamp]:
        """Step through bars one timestamp per ``next``, matched as the backtest matches them (unlike
        :meth:`replay_bars`, which quotes each bar's close): a test trades between bars on a clock it controls."""
        return self.state.account_.replay_bar_steps(bars)

    # -- introspection -------------------------------------------------------------------------------------
    def trade_updates(self, since: int = 0) -> list[dict[str, Any]]:
        """Trade-update events (the ``data`` of Alpaca's ``trade_updates`` stream messages) from index ``since``."""
        with self.state.lock:
            return list(self.state.events[since:])

    def add_trade_update_listener(self, listener: TradeUpdateListener) -> None:
        """Call ``listener(event)`` for every new trade update (under the venue lock: hand off, do not block)."""
        with self.state.lock:
            self.state.listeners.append(listener)

    def remove_trade_update_listener(self, listener: TradeUpdateListener) -> None:
        """Stop calling ``listener``."""
        with self.state.lock:
            self.state.listeners.remove(listener)

    def stats(self) -> dict[str, Any]:
        """What ``GET /_stats`` answers: requests, answers by status, 429s, order attempts per client order id,
        stream counts."""
        return self.state.stats()

    def drop_streams(self, timeout: float = 10.0) -> int:
        """Drop every ``trade_updates`` websocket connection abruptly (as ``POST /_streams/drop`` does), as a
        network failure would; returns how many were dropped."""
        return self.call(self.streams.drop_all(), timeout)
