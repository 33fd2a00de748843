"""``OandaVenue``: the local OANDA v20 server (the broker kit's :class:`VenueServer`), on 127.0.0.1."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Final

from aiohttp import web

from execlab._config import VenueConfig
from execlab.venues._base.account import VenueAccount
from execlab.venues._base.faults import FaultInjector
from execlab.venues._base.rate_limit import RateLimiter
from execlab.venues._base.server import VenueServer
from execlab.venues._harness import HARNESS_TOKEN_HEADER, HarnessGuard, new_harness_token
from execlab.venues.oanda._app import AppContext, build_app, token_matches
from execlab.venues.oanda._faults import OandaFaults
from execlab.venues.oanda._instruments import DEFAULT_QUOTES, V20Instrument
from execlab.venues.oanda._state import DEFAULT_ACCOUNT_ID, OandaState
from execlab.venues.oanda._stream import StreamHub

__all__ = ["DEFAULT_TOKEN", "OandaVenue"]

#: The bearer token a venue takes when none is given: a test value, printed by the command line, never a real one.
DEFAULT_TOKEN: Final = "execlab-local-oanda-token-not-a-secret"


class OandaVenue(VenueServer):
    """A local server speaking OANDA's v20 REST API and its two streams, for one practice account.

    Point oandapyV20 at it with :meth:`environment` (a ``TRADING_ENVIRONMENTS`` entry with :attr:`base_url` for both
    ``api`` and ``stream``). Prices come from :meth:`set_quote` (the default instruments start priced); fault knobs
    are :attr:`faults` (or ``POST /_faults``).

    Args:
        token: the bearer token requests must carry.
        account_id: the one account's id.
        home_currency: the account currency (P&L, NAV and margin are in it).
        balance: the starting balance, in the home currency.
        instruments: the tradeable instruments (default: EUR_USD, GBP_USD, NZD_USD, EUR_GBP, USD_JPY).
        quotes: starting (bid, ask) per instrument (default: :data:`DEFAULT_QUOTES` for those listed).
        venue_config: fees (OANDA's commission), slippage, participation cap and margin of the kit's account
            (default: no fees, margin up to 1 / the smallest ``marginRate``).
        rate_limit: requests per token in any rolling ``rate_window`` seconds (OANDA: 100 a second).
        heartbeat_seconds: the streams' heartbeat interval (OANDA: 5 s).
        open_instruments: list an unknown name at its first quote as a CFD in the home currency (what the
            broker-neutral conformance suite needs; OANDA itself lists a fixed set).
    """

    name = "oanda"

    def __init__(self, token: str = DEFAULT_TOKEN, *, account_id: str = DEFAULT_ACCOUNT_ID,
                 home_currency: str = "USD", balance: float = 100_000.0,
                 instruments: Mapping[str, V20Instrument] | None = None,
                 quotes: Mapping[str, tuple[float, float]] | None = None, host: str = "127.0.0.1", port: int = 0,
                 venue_config: VenueConfig | None = None, rate_limit: int = 100, rate_window: float = 1.0,
                 heartbeat_seconds: float = 5.0, faults: OandaFaults | None = None,
                 harness_token: str | None = None, allowed_hosts: Iterable[str] = (),
                 clock: Callable[[], datetime] | None = None, seed: int = 0,
                 open_instruments: bool = False) -> None:
        if not token:
            raise ValueError("token must be non-empty")
        if not (math.isfinite(heartbeat_seconds) and heartbeat_seconds > 0):
            raise ValueError(f"heartbeat_seconds must be > 0, got {heartbeat_seconds!r}")
        super().__init__(host, port)
        self.token = token
        self.injector = FaultInjector(faults if faults is not None else OandaFaults())
        self.limiter = RateLimiter(rate_limit, rate_window)
        self.heartbeat_seconds = float(heartbeat_seconds)
        self.state = OandaState(account_id=account_id, home=home_currency, balance=balance, instruments=instruments,
                                venue_config=venue_config, injector=self.injector, clock=clock, seed=seed,
                                open_instruments=open_instruments)
        start = dict(quotes) if quotes is not None else {
            n: q for n, q in DEFAULT_QUOTES.items() if n in self.state.instruments}
        self.state.set_quotes((n, b, a) for n, (b, a) in start.items())
        self.guard = HarnessGuard.for_bind(harness_token or new_harness_token(), host, allowed_hosts,
                                           keys_match=lambda headers: token_matches(headers, self.token))
        self._streams: StreamHub | None = None

    # -- serving -------------------------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        """The aiohttp application (on the serving loop)."""
        self._streams = StreamHub(self.state, self.faults, self.heartbeat_seconds)
        self._streams.attach()
        return build_app(AppContext(self.state, self.token, self.limiter, self.injector, self.guard,
                                    self._streams, self.pause))

    async def shutdown(self) -> None:
        """End the streams, then stop the app."""
        if self._streams is not None:
            await self._streams.close_all()
        await super().shutdown()

    # -- addresses -----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://host:port``: both the ``api`` and the ``stream`` root (oandapyV20 appends ``/v3/...``)."""
        return self.url()

    @property
    def account_id(self) -> str:
        """The practice account's id."""
        return self.state.account_id

    @property
    def account(self) -> VenueAccount:
        """The broker kit's account behind the wire protocol."""
        return self.state.account

    def environment(self) -> dict[str, str]:
        """The oandapyV20 ``TRADING_ENVIRONMENTS`` entry for this venue."""
        return {"api": self.base_url, "stream": self.base_url}

    @property
    def harness_token(self) -> str:
        """The token the harness routes require."""
        return self.guard.token

    @property
    def harness_headers(self) -> dict[str, str]:
        """Headers for a harness request (``/_stats``, ``/_quotes``, ``/_faults``, ``/_streams/drop``)."""
        return {HARNESS_TOKEN_HEADER: self.guard.token}

    # -- harness -------------------------------------------------------------------------------------------
    @property
    def faults(self) -> OandaFaults:
        """The live fault knobs (5xx, delays, hangs on order creation, rejects, partial fills, silent streams)."""
        knobs = self.injector.faults
        assert isinstance(knobs, OandaFaults)
        return knobs

    def set_quote(self, instrument: str, bid: float | None, ask: float | None, last: float | None = None,
                  volume: float | None = None) -> None:
        """Price one instrument (published on the pricing stream; fills the limits it reaches). ``last`` and
        ``volume`` are accepted for the kit's harness and ignored."""
        if bid is None or ask is None:
            raise ValueError(f"{instrument}: the v20 venue needs both bid and ask")
        self.state.set_quotes([(instrument.replace("/", "_"), bid, ask)])

    def set_quotes(self, quotes: Mapping[str, tuple[float, float]]) -> None:
        """Price several instruments at once."""
        self.state.set_quotes((n.replace("/", "_"), b, a) for n, (b, a) in quotes.items())

    def replay_bars(self, bars: Any) -> Iterator[Any]:
        """Step through bid/ask bars (v20 instrument names), one timestamp per ``next`` (the kit's replay)."""
        return self.state.account.replay_bars(bars)

    def set_halted(self, instrument: str, halted: bool = True) -> None:
        """Halt or reopen an instrument (market orders on a halted one are cancelled MARKET_HALTED)."""
        self.state.set_halted(instrument, halted)

    def set_liquidity(self, instrument: str, units: float) -> None:
        """Units at the top of the book (a FOK order for more is cancelled INSUFFICIENT_LIQUIDITY)."""
        self.state.set_liquidity(instrument, units)

    def set_stream_silence(self, silent: bool) -> None:
        """Keep the stream connections open but send nothing, heartbeats included (a stale stream)."""
        self.faults.update({"stream_silent": silent})

    def drop_streams(self, timeout: float = 10.0) -> int:
        """Cut every stream connection abruptly; returns how many were cut."""
        if self._streams is None:
            raise RuntimeError("OandaVenue is not started")
        return self.call(self._streams.drop_all(), timeout)

    def stats(self) -> dict[str, Any]:
        """Requests, answers by status, 429s, order-create attempts and placements per client id."""
        return self.state.stats()

    def rollover(self, days: float = 1.0) -> dict[str, Any] | None:
        """Book the daily financing of every open position now (the knob tests use for v20's 5 pm New York
        rollover): the ``DAILY_FINANCING`` transaction, also sent on the transaction stream; None when nothing is
        held."""
        return self.state.daily_financing(days)

    def transactions(self, since: str | None = None) -> list[dict[str, Any]]:
        """The transaction log after id ``since``."""
        return self.state.transactions_since(since)
