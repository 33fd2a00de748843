"""Price feeds for paper trading: bars or quotes replayed from a table (paced or as fast as possible), or pushed live.

A feed is anything iterable that yields :class:`FeedEvent` values in time order and says which symbols it may
carry (:class:`PriceFeed`). An event is one market step: every symbol that printed at that timestamp, either as an
OHLCV bar (optionally with the bid and ask at the bar's close) or as a quote (bid, ask, last, volume).
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from execlab._core.arrays import FloatArray
from execlab._data.bars import BarsError, MarketData, inconsistencies
from execlab._data.frames import as_pandas

__all__ = ["FeedError", "FeedEvent", "PriceFeed", "QueueFeed", "ReplayFeed"]


_TIME_ALIASES: Final = ("timestamp", "date", "ts", "time")
_ALIASES: Final = {"bid_close": "bid", "ask_close": "ask", "last": "close", "price": "close"}


class FeedError(BarsError):
    """A price feed is malformed or broke off; the message names the row, symbol and time at fault."""


@dataclass(frozen=True, eq=False)
class FeedEvent:
    """One market step at ``timestamp``: per symbol, a bar (``open`` is not None) or a quote.

    Arrays are aligned with ``symbols``; NaN means unknown. ``close`` is the bar's close or the quote's last trade,
    ``volume`` what traded in the bar or since the last quote (``inf``: unknown, no participation limit). ``bid`` and
    ``ask`` are the quote (for a bar, at its close), None when the feed has no quotes. Build events with
    :meth:`bars` or :meth:`quotes`, which check them.
    """

    timestamp: pd.Timestamp
    symbols: tuple[str, ...]
    close: FloatArray
    volume: FloatArray
    open: FloatArray | None = None
    high: FloatArray | None = None
    low: FloatArray | None = None
    bid: FloatArray | None = None
    ask: FloatArray | None = None
    open_from_close: npt.NDArray[np.bool_] | None = None
    """Per symbol, a bar whose open was missing and is the close (None: no open was given at all)."""

    @property
    def is_bar(self) -> bool:
        """True for a bar event (open, high, low, close, volume), False for a quote event."""
        return self.open is not None

    def __len__(self) -> int:
        return len(self.symbols)

    @classmethod
    def bars(cls, timestamp: Any, symbols: Sequence[str], close: Any, *, open: Any = None, high: Any = None,
             low: Any = None, volume: Any = None, bid: Any = None, ask: Any = None) -> FeedEvent:
        """A bar event: missing open/high/low fall back to the close, a missing volume is unlimited."""
        ts, syms = _when(timestamp), _symbols(symbols)
        c = _column(close, "close", syms, ts)
        given = {name: _column(v, name, syms, ts) for name, v in (("open", open), ("high", high), ("low", low))}
        fields = {name: _fallback(arr, c) for name, arr in given.items()}
        vol = _volume(volume, syms, ts, unknown=math.inf)
        b = None if bid is None else _column(bid, "bid", syms, ts)
        a = None if ask is None else _column(ask, "ask", syms, ts)
        no_open = None if open is None else np.isnan(given["open"]) & ~np.isnan(c)
        event = cls(ts, syms, c, vol, fields["open"], fields["high"], fields["low"], b, a, no_open)
        _check(event)
        broken = inconsistencies(given["open"], given["high"], given["low"], c)
        if broken:
            what, mask = broken[0]
            k = int(np.flatnonzero(mask)[0])
            raise FeedError(f"feed: {what} for symbol {syms[k]!r} at {ts} ({_values(given, c, k)}; "
                            f"{int(mask.sum())} such symbols)")
        return event

    @classmethod
    def quotes(cls, timestamp: Any, symbols: Sequence[str], bid: Any, ask: Any, *, last: Any = None,
               volume: Any = None) -> FeedEvent:
        """A quote event: bid and ask per symbol (NaN: that side is empty), optionally the last trade and the
        volume traded since the previous quote (unknown: unlimited)."""
        ts, syms = _when(timestamp), _symbols(symbols)
        nan = np.full(len(syms), np.nan)
        event = cls(ts, syms, nan if last is None else _column(last, "last", syms, ts),
                    _volume(volume, syms, ts, unknown=math.inf), bid=_column(bid, "bid", syms, ts),
                    ask=_column(ask, "ask", syms, ts))
        _check(event)
        return event


@runtime_checkable
class PriceFeed(Protocol):
    """What the paper loop reads: events in time order, and the symbols they may carry (None: not known ahead)."""

    @property
    def symbols(self) -> tuple[str, ...] | None:
        """Every symbol the feed can carry, when known in advance (a replay), else None (a live feed)."""

    def __iter__(self) -> Iterator[FeedEvent]:
        """Events in non-decreasing time order; blocks while a live feed waits for the next one."""


# -- event checks ---------------------------------------------------------------------------------------------
def _when(timestamp: Any) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(timestamp)
    except (TypeError, ValueError) as exc:
        raise FeedError(f"feed: timestamp {timestamp!r} is not a time ({exc})") from None
    if pd.isna(ts):
        raise FeedError("feed: an event has no timestamp (NaT)")
    return ts


def _symbols(symbols: Sequence[str]) -> tuple[str, ...]:
    syms = tuple(symbols) if not isinstance(symbols, str) else (symbols,)
    bad = [s for s in syms if not isinstance(s, str) or not s]
    if bad:
        raise FeedError(f"feed: symbols must be non-empty strings, got {bad[0]!r}")
    if len(set(syms)) != len(syms):
        dup = next(s for s in syms if syms.count(s) > 1)
        raise FeedError(f"feed: symbol {dup!r} appears twice in one event")
    return syms


def _column(values: Any, name: str, symbols: tuple[str, ...], ts: pd.Timestamp) -> FloatArray:
    if values is None:
        return np.full(len(symbols), np.nan)
    try:
        arr = np.array(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise FeedError(f"feed: {name} at {ts} must be numbers ({exc})") from None
    if arr.size == 1 and len(symbols) != 1:
        arr = np.full(len(symbols), arr[0])
    if arr.size != len(symbols):
        raise FeedError(f"feed: {name} at {ts} has {arr.size} values for {len(symbols)} symbols")
    return arr


def _values(given: Mapping[str, FloatArray | None], close: FloatArray, k: int) -> str:
    """The given prices of one row, e.g. ``open 10.0, high 9.0, close 9.5``."""
    named = [(name, given.get(name)) for name in ("open", "high", "low")] + [("close", close)]
    return ", ".join(f"{name} {float(arr[k])}" for name, arr in named if arr is not None and not np.isnan(arr[k]))


def _fallback(values: FloatArray, close: FloatArray) -> FloatArray:
    out: FloatArray = np.where(np.isnan(values), close, values)
    return out


def _volume(values: Any, symbols: tuple[str, ...], ts: pd.Timestamp, unknown: float) -> FloatArray:
    if values is None:
        return np.full(len(symbols), unknown)
    arr = _column(values, "volume", symbols, ts)
    bad = arr < 0
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise FeedError(f"feed: negative volume {arr[k]} for symbol {symbols[k]!r} at {ts}")
    out: FloatArray = np.nan_to_num(arr, nan=0.0, posinf=np.inf)
    return out


def _check(event: FeedEvent) -> None:
    ts, syms = event.timestamp, event.symbols
    for name in ("close", "open", "high", "low", "bid", "ask"):
        arr = getattr(event, name)
        if arr is None:
            continue
        bad = ~np.isnan(arr) & ~(np.isfinite(arr) & (arr > 0))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise FeedError(f"feed: {name} price {arr[k]} for symbol {syms[k]!r} at {ts} must be positive and finite")
    if event.bid is not None and event.ask is not None:
        crossed = event.bid > event.ask
        if crossed.any():
            k = int(np.flatnonzero(crossed)[0])
            raise FeedError(f"feed: crossed quote for symbol {syms[k]!r} at {ts}: bid {event.bid[k]} is above "
                            f"ask {event.ask[k]}")
    priced = ~np.isnan(event.close)
    for side in (event.bid, event.ask):
        if side is not None:
            priced |= ~np.isnan(side)
    if not priced.all():
        k = int(np.flatnonzero(~priced)[0])
        raise FeedError(f"feed: symbol {syms[k]!r} at {ts} has no price (close, bid and ask are all missing)")


def _after(ts: pd.Timestamp, before: pd.Timestamp, what: str) -> None:
    """Raise unless ``ts`` is at or after ``before``."""
    try:
        late = ts < before
    except TypeError:
        raise FeedError(f"{what}: time {ts} mixes time-zone-aware and naive timestamps with {before}") from None
    if late:
        raise FeedError(f"{what}: time went backwards, {ts} after {before}")


# -- replay ---------------------------------------------------------------------------------------------------
class ReplayFeed:
    """Recorded events replayed in time order.

    ``speed`` paces the replay against a clock: None replays as fast as possible, 1.0 in real time (an event
    ``t`` seconds after the first is yielded ``t`` seconds after the replay started), 60.0 sixty times faster.
    ``clock`` (seconds, monotonic) and ``sleep`` are injectable so that tests need not wait.
    """

    def __init__(self, events: Sequence[FeedEvent], *, speed: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if speed is not None and not (math.isfinite(speed) and speed > 0):
            raise ValueError(f"speed must be a positive number or None, got {speed!r}")
        self._events = list(events)
        for before, event in zip(self._events, self._events[1:], strict=False):
            _after(event.timestamp, before.timestamp, "feed")
        self.speed = speed
        self._clock = clock
        self._sleep = sleep
        self._symbols = tuple(sorted({s for e in self._events for s in e.symbols}))

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol that appears in the replay, sorted."""
        return self._symbols

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        """The time of each event."""
        return pd.DatetimeIndex([e.timestamp for e in self._events], name="timestamp")

    def __len__(self) -> int:
        return len(self._events)

    def paced(self, speed: float | None, clock: Callable[[], float] | None = None,
              sleep: Callable[[float], None] | None = None) -> ReplayFeed:
        """The same events replayed at another ``speed`` (None: as fast as possible)."""
        return ReplayFeed(self._events, speed=speed, clock=clock or self._clock, sleep=sleep or self._sleep)

    def __iter__(self) -> Iterator[FeedEvent]:
        speed, clock = self.speed, self._clock
        start = first = None
        for event in self._events:
            if speed is not None:
                if start is None or first is None:
                    start, first = clock(), event.timestamp
                due = start + (event.timestamp - first).total_seconds() / speed
                wait = due - clock()
                if wait > 0:
                    self._sleep(wait)
            yield event

    @classmethod
    def from_bars(cls, bars: Any, *, speed: float | None = None, clock: Callable[[], float] = time.monotonic,
                  sleep: Callable[[float], None] = time.sleep) -> ReplayFeed:
        """Replay a long table of bars (pandas or polars, daily or intraday), or a :class:`MarketData`.

        Columns: a time (``timestamp``, ``date``, ``ts`` or ``time``), ``symbol``, ``close``, and optionally
        ``open, high, low`` (missing values fall back to the close), ``volume`` (missing values: nothing traded;
        no column: unlimited) and the quote at the bar's close, ``bid`` and ``ask`` (or ``bid_close`` and
        ``ask_close``). A row may have only a quote (no trade printed) or only a trade. Every row is checked:
        a :class:`FeedError` names the first bad row, its symbol and time.
        """
        if isinstance(bars, MarketData):
            return cls(_market_events(bars), speed=speed, clock=clock, sleep=sleep)
        frame = _table(bars, required=("symbol", "close"))
        return cls(_table_events(frame, bars=True), speed=speed, clock=clock, sleep=sleep)

    @classmethod
    def from_quotes(cls, quotes: Any, *, speed: float | None = None, clock: Callable[[], float] = time.monotonic,
                    sleep: Callable[[float], None] = time.sleep) -> ReplayFeed:
        """Replay a long table of quotes: a time column, ``symbol``, ``bid``, ``ask``, and optionally ``last``
        (or ``price``/``close``) and ``volume`` (traded since the previous quote; no column: unlimited)."""
        frame = _table(quotes, required=("symbol", "bid", "ask"))
        return cls(_table_events(frame, bars=False), speed=speed, clock=clock, sleep=sleep)


def _table(data: Any, required: tuple[str, ...]) -> pd.DataFrame:
    frame = as_pandas(data, "feed", FeedError)
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    time_cols = [c for c in _TIME_ALIASES if c in frame.columns]
    renames = {k: v for k, v in _ALIASES.items() if k in frame.columns and v not in frame.columns}
    if time_cols and time_cols[0] != "timestamp":
        renames[time_cols[0]] = "timestamp"
    frame = frame.rename(columns=renames)
    missing = [c for c in ("timestamp", *required) if c not in frame.columns]
    if missing:
        raise FeedError(f"feed: missing columns {missing}; got {list(frame.columns)}")
    if len(frame) == 0:
        raise FeedError("feed: the table has no rows")
    return frame.reset_index(drop=True)


def _row(frame: pd.DataFrame, k: int) -> str:
    return f"row {k} (symbol {frame['symbol'].iloc[k]!r} at {frame['timestamp'].iloc[k]})"


def _numbers(frame: pd.DataFrame, name: str) -> FloatArray:
    raw = frame[name]
    values = pd.to_numeric(raw, errors="coerce")
    bad = values.isna().to_numpy() & raw.notna().to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise FeedError(f"feed: {name} {raw.iloc[k]!r} at {_row(frame, k)} is not a number")
    out: FloatArray = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return out


def _table_events(frame: pd.DataFrame, bars: bool) -> list[FeedEvent]:
    raw_ts = frame["timestamp"]
    mixed = raw_ts.dtype == object or pd.api.types.is_string_dtype(raw_ts.dtype)
    try:
        ts = pd.DatetimeIndex(pd.to_datetime(raw_ts, errors="coerce", format="mixed" if mixed else None))
    except (TypeError, ValueError) as exc:
        raise FeedError(f"feed: column 'timestamp' cannot be read as times ({exc})") from None
    if ts.isna().any():
        k = int(np.flatnonzero(ts.isna())[0])
        raise FeedError(f"feed: row {k} has a missing or unreadable time {raw_ts.iloc[k]!r}")
    sym_raw = frame["symbol"]
    no_symbol = sym_raw.isna().to_numpy() | (sym_raw.astype(str).str.len() == 0).to_numpy()
    if no_symbol.any():
        k = int(np.flatnonzero(no_symbol)[0])
        raise FeedError(f"feed: row {k} at {raw_ts.iloc[k]} has no symbol")
    symbols = sym_raw.astype(str).to_numpy(dtype=object)
    frame = frame.assign(timestamp=ts, symbol=symbols)
    dup = pd.Series(list(zip(ts.asi8, symbols, strict=True))).duplicated(keep=False).to_numpy()
    if dup.any():
        rows = np.flatnonzero(dup)
        first = rows[0]
        again = next(int(r) for r in rows[1:] if ts.asi8[r] == ts.asi8[first] and symbols[r] == symbols[first])
        raise FeedError(f"feed: duplicate rows {int(first)} and {again} for symbol {symbols[first]!r} at "
                        f"{ts[first]}")
    n = len(frame)
    cols = {name: _numbers(frame, name) for name in ("close", "open", "high", "low", "bid", "ask", "volume")
            if name in frame.columns}
    close = cols.get("close", np.full(n, np.nan))
    for name in ("close", "open", "high", "low", "bid", "ask"):
        arr = cols.get(name)
        if arr is None:
            continue
        bad = ~np.isnan(arr) & ~(np.isfinite(arr) & (arr > 0))
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise FeedError(f"feed: {name} price {arr[k]} at {_row(frame, k)} must be positive and finite")
    if "volume" in cols:
        bad = cols["volume"] < 0
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise FeedError(f"feed: negative volume {cols['volume'][k]} at {_row(frame, k)}")
        volume = np.nan_to_num(cols["volume"], nan=0.0, posinf=np.inf)
    else:
        volume = np.full(n, np.inf)
    bid, ask = cols.get("bid"), cols.get("ask")
    if bid is not None and ask is not None:
        crossed = bid > ask
        if crossed.any():
            k = int(np.flatnonzero(crossed)[0])
            raise FeedError(f"feed: crossed quote at {_row(frame, k)}: bid {bid[k]} is above ask {ask[k]}")
    broken = inconsistencies(cols.get("open"), cols.get("high"), cols.get("low"), close)
    if broken:
        what, mask = broken[0]
        k = int(np.flatnonzero(mask)[0])
        raise FeedError(f"feed: {what} at {_row(frame, k)} ({_values(cols, close, k)}; {int(mask.sum())} such rows)")
    priced = ~np.isnan(close)
    for side in (bid, ask):
        if side is not None:
            priced |= ~np.isnan(side)
    if not priced.all():
        k = int(np.flatnonzero(~priced)[0])
        what = "close, bid and ask are all missing" if bid is not None or ask is not None else "close is missing"
        raise FeedError(f"feed: {_row(frame, k)} has no price ({what})")
    fields: dict[str, FloatArray | None] = {"open": None, "high": None, "low": None}
    no_open = None
    if bars:
        fields = {name: _fallback(cols[name], close) if name in cols else close for name in fields}
        no_open = np.isnan(cols["open"]) & ~np.isnan(close) if "open" in cols else None
    order = np.lexsort((symbols.astype(str), ts.asi8))  # by time, then symbol
    stamps = ts.asi8[order]
    starts = np.flatnonzero(np.r_[True, stamps[1:] != stamps[:-1]])
    ends = np.r_[starts[1:], stamps.size]

    def take(arr: FloatArray | None, rows: npt.NDArray[np.intp]) -> FloatArray | None:
        return None if arr is None else arr[rows]

    events = []
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        rows = order[a:b]
        events.append(FeedEvent(
            ts[int(rows[0])], tuple(symbols[rows].tolist()), close[rows], volume[rows],
            take(fields["open"], rows), take(fields["high"], rows), take(fields["low"], rows),
            take(bid, rows), take(ask, rows), None if no_open is None else no_open[rows]))
    return events


def _market_events(market: MarketData) -> list[FeedEvent]:
    syms = np.array(market.symbols, dtype=object)
    events = []
    for i, ts in enumerate(market.timestamps):
        here = ~np.isnan(market.close[i])
        if market.bid is not None:
            here |= ~np.isnan(market.bid[i])
        if market.ask is not None:
            here |= ~np.isnan(market.ask[i])
        cols = np.flatnonzero(here)
        events.append(FeedEvent(
            ts, tuple(syms[cols].tolist()), market.close[i, cols], market.volume[i, cols], market.open[i, cols],
            market.high[i, cols], market.low[i, cols], None if market.bid is None else market.bid[i, cols],
            None if market.ask is None else market.ask[i, cols],
            None if market.open_from_close is None else market.open_from_close[i, cols]))
    return events


# -- live -----------------------------------------------------------------------------------------------------
_CLOSED: Final = object()


class QueueFeed:
    """A live feed: other threads push events, the paper loop iterates (blocking until the next event).

    ``symbols`` (optional) lists the symbols allowed; ``timeout`` (seconds) makes iteration raise a
    :class:`FeedError` when no event arrives for that long (None: wait forever). :meth:`close` ends the feed,
    optionally with the producer's error, which the consumer then sees as a :class:`FeedError`.
    """

    def __init__(self, symbols: Sequence[str] | None = None, *, timeout: float | None = None):
        self._symbols = None if symbols is None else _symbols(symbols)
        self._allowed = None if self._symbols is None else frozenset(self._symbols)
        self.timeout = timeout
        self._queue: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._last: pd.Timestamp | None = None
        self._closed = False

    @property
    def symbols(self) -> tuple[str, ...] | None:
        """The symbols this feed may carry (None: any)."""
        return self._symbols

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def push(self, event: FeedEvent) -> None:
        """Queue one event; raises :class:`FeedError` if the feed is closed, time goes backwards or a symbol is
        not allowed (in the pushing thread: nothing is queued)."""
        with self._lock:
            if self._closed:
                raise FeedError("live feed: push after close")
            if self._allowed is not None:
                unknown = [s for s in event.symbols if s not in self._allowed]
                if unknown:
                    raise FeedError(f"live feed: symbols {unknown[:10]} at {event.timestamp} are not in the feed's "
                                    f"symbols {list(self._symbols or ())[:10]}")
            if self._last is not None:
                _after(event.timestamp, self._last, "live feed")
            self._last = event.timestamp
            self._queue.put(event)

    def push_quotes(self, quotes: Mapping[str, tuple[float, float]], *, timestamp: Any = None,
                    last: Mapping[str, float] | None = None, volume: Mapping[str, float] | None = None) -> FeedEvent:
        """Push ``{symbol: (bid, ask)}`` as one quote event (``timestamp`` defaults to now, UTC); returns it."""
        syms = list(quotes)
        event = FeedEvent.quotes(
            pd.Timestamp.now(tz="UTC") if timestamp is None else timestamp, syms,
            [quotes[s][0] for s in syms], [quotes[s][1] for s in syms],
            last=None if last is None else [last.get(s, math.nan) for s in syms],
            volume=None if volume is None else [volume.get(s, math.inf) for s in syms])
        self.push(event)
        return event

    def close(self, error: BaseException | None = None) -> None:
        """End the feed (the consumer stops after the queued events); ``error`` is raised to the consumer."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put((_CLOSED, error))

    def __iter__(self) -> Iterator[FeedEvent]:
        while True:
            try:
                item = self._queue.get(timeout=self.timeout)
            except queue.Empty:
                raise FeedError(f"live feed: no event for {self.timeout} s; is the producer still running?") from None
            if isinstance(item, tuple) and item and item[0] is _CLOSED:
                if item[1] is not None:
                    raise FeedError(f"live feed: the producer failed: {item[1]}") from item[1]
                return
            yield item
