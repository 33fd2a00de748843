"""Bars aligned into time × symbol arrays, validated once, for the columnar steps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from execlab._core.arrays import FloatArray
from execlab._data.frames import as_pandas
from execlab._data.symbols import SymbolError, normalise_symbol

__all__ = ["BarsError", "MarketData", "inconsistencies", "widen_ranges"]


_ALIASES = {"date": "timestamp", "ts": "timestamp", "time": "timestamp", "bid_close": "bid", "ask_close": "ask"}
_REQUIRED = ("timestamp", "symbol", "close")
_PRICE_FIELDS = ("close", "open", "high", "low", "bid", "ask")  # close first: the others fall back to it


_ROUNDING: Final = 1e-9
"""Relative slack of the bar-consistency checks: adjusted prices carry rounding of about 1e-16, never this much."""


class BarsError(ValueError):
    """Bars are malformed; the message names the symbol and timestamp at fault."""


def inconsistencies(open: FloatArray | None, high: FloatArray | None, low: FloatArray | None,
                    close: FloatArray | None, bid: FloatArray | None = None,
                    ask: FloatArray | None = None) -> list[tuple[str, npt.NDArray[np.bool_]]]:
    """The consistency rules that values break, each with the mask of the values breaking it.

    Rules: bid ≤ ask, low ≤ high, and open and close within [low, high]. Arrays share one shape; a NaN or a
    None array is a value not given, which breaks nothing (so check values before any fallback fills them in).
    """
    def above(a: FloatArray | None, b: FloatArray | None) -> npt.NDArray[np.bool_] | None:
        if a is None or b is None:
            return None
        with np.errstate(invalid="ignore"):
            out: npt.NDArray[np.bool_] = a > b * (1.0 + _ROUNDING)  # NaN compares False
        return out

    rules = (("bid above ask (a crossed quote)", above(bid, ask)), ("high below low", above(low, high)),
             ("open above high", above(open, high)), ("open below low", above(low, open)),
             ("close above high", above(close, high)), ("close below low", above(low, close)))
    return [(what, mask) for what, mask in rules if mask is not None and mask.any()]


def _check_consistency(open: FloatArray | None, high: FloatArray | None, low: FloatArray | None,
                       close: FloatArray, bid: FloatArray | None, ask: FloatArray | None, symbols: tuple[str, ...],
                       timestamps: pd.DatetimeIndex) -> None:
    """Raise :class:`BarsError` for the first rule of :func:`inconsistencies` broken, naming symbol and time."""
    broken = inconsistencies(open, high, low, close, bid, ask)
    if broken:
        what, mask = broken[0]
        t, s = np.argwhere(mask)[0]
        values = ", ".join(f"{name} {float(arr[t, s])}" for name, arr in
                           (("open", open), ("high", high), ("low", low), ("close", close), ("bid", bid),
                            ("ask", ask)) if arr is not None and not np.isnan(arr[t, s]))
        hint = ("; if the vendor's high and low are the fault, execlab.widen_ranges(bars) widens each bar's range to "
                "its open and close") if not what.startswith("bid") else ""
        raise BarsError(f"bars: {what} for symbol {symbols[s]!r} at {timestamps[t]} ({values}); "
                        f"{int(mask.sum())} such bars{hint}")


def widen_ranges(bars: Any) -> pd.DataFrame:
    """A copy of a long bars table whose ``high`` and ``low`` cover each bar's open, high, low and close.

    Vendor bars sometimes contradict themselves (a high below the low, an adjusted close outside the day's range),
    which :meth:`MarketData.from_bars` refuses; this is the usual repair, to apply knowingly.
    """
    frame = as_pandas(bars, "bars", BarsError)
    prices = frame[[c for c in ("open", "high", "low", "close") if c in frame.columns]]
    return frame.assign(high=prices.max(axis=1), low=prices.min(axis=1))


def _ffill(a: FloatArray) -> FloatArray:
    """Carry the last non-NaN value of each column forward (NaN before the first)."""
    valid = ~np.isnan(a)
    idx = np.where(valid, np.arange(a.shape[0])[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    out: FloatArray = np.take_along_axis(a, idx, axis=0)
    return out


@dataclass(frozen=True, eq=False)
class MarketData:
    """OHLCV (and optional quotes) as ``(time, symbol)`` float arrays; NaN means no bar."""

    timestamps: pd.DatetimeIndex
    symbols: tuple[str, ...]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    bid: FloatArray | None = None
    ask: FloatArray | None = None
    open_from_close: npt.NDArray[np.bool_] | None = None
    """True where a bar had a close but no open, so its open was taken from the close (None: not recorded, or the
    bars had no open column, whose fallback to the close is documented)."""

    @classmethod
    def from_bars(cls, bars: Any) -> MarketData:
        """Build from a long table (pandas or polars) with ``timestamp, symbol, open, high, low, close, volume``.

        ``date``/``ts`` are accepted for ``timestamp`` and ``bid_close``/``ask_close`` for ``bid``/``ask``.
        Missing open/high/low fall back to close; missing volume means unlimited volume. Prices must be positive
        and finite, volumes not negative, and given values consistent (bid ≤ ask, low ≤ high, open and close within
        [low, high]): else a :class:`BarsError` names the first symbol and time at fault and counts the others.
        """
        frame = as_pandas(bars, "bars", BarsError)
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        frame = frame.rename(columns={k: v for k, v in _ALIASES.items() if k in frame.columns and v not in frame})
        missing = [c for c in _REQUIRED if c not in frame.columns]
        if missing:
            raise BarsError(f"bars: missing columns {missing}; got {list(frame.columns)}")
        ts_codes, ts_uniques = pd.factorize(pd.to_datetime(frame["timestamp"]), sort=True)
        try:
            names = {raw: normalise_symbol(raw, f"bars: symbol {raw!r}") for raw in frame["symbol"].unique()}
        except SymbolError as exc:
            raise BarsError(str(exc)) from None
        frame = frame.assign(symbol=frame["symbol"].map(names))
        sym_codes, sym_uniques = pd.factorize(frame["symbol"], sort=True)
        n_t, n_s = len(ts_uniques), len(sym_uniques)
        flat = ts_codes.astype(np.int64) * n_s + sym_codes
        if len(np.unique(flat)) != len(flat):
            dup = frame[pd.Series(flat).duplicated(keep=False).to_numpy()].iloc[0]
            raise BarsError(f"bars: duplicate bar for symbol {dup['symbol']!r} at {dup['timestamp']}")

        def grid(column: str) -> FloatArray | None:
            if column not in frame.columns:
                return None
            out = np.full(n_t * n_s, np.nan)
            out[flat] = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
            arr: FloatArray = out.reshape(n_t, n_s)
            return arr

        close = grid("close")
        assert close is not None
        given = {name: grid(name) for name in ("open", "high", "low")}
        bid, ask = grid("bid"), grid("ask")
        timestamps = pd.DatetimeIndex(ts_uniques, name="timestamp")
        symbols = tuple(str(s) for s in sym_uniques)
        fields = {name: close.copy() if arr is None else np.where(np.isnan(arr), close, arr)
                  for name, arr in given.items()}
        opened = given["open"]
        volume = grid("volume")
        data = cls(
            timestamps=timestamps,
            symbols=symbols,
            open=fields["open"],
            high=fields["high"],
            low=fields["low"],
            close=close,
            volume=np.full_like(close, np.inf) if volume is None else np.nan_to_num(volume, nan=0.0),
            bid=bid,
            ask=ask,
            open_from_close=None if opened is None else np.isnan(opened) & ~np.isnan(close),
        )
        data._check_prices()
        _check_consistency(given["open"], given["high"], given["low"], close, bid, ask, symbols, timestamps)
        return data

    def _check_prices(self) -> None:
        for name in _PRICE_FIELDS:
            arr = getattr(self, name)
            if arr is None:
                continue
            bad = ~np.isnan(arr) & ~(np.isfinite(arr) & (arr > 0))
            if bad.any():
                t, s = np.argwhere(bad)[0]
                raise BarsError(f"bars: {name} price {float(arr[t, s])} for symbol {self.symbols[s]!r} at "
                                f"{self.timestamps[t]} must be positive and finite ({int(bad.sum())} bad values)")
        if (self.volume < 0).any():
            t, s = np.argwhere(self.volume < 0)[0]
            raise BarsError(f"bars: negative volume for symbol {self.symbols[s]!r} at {self.timestamps[t]}")

    @property
    def has_quotes(self) -> bool:
        """True when bid and ask columns are present."""
        return self.bid is not None and self.ask is not None

    def last_close(self) -> FloatArray:
        """Close carried forward over missing bars (the mark price for valuation); computed once, read-only."""
        cached: FloatArray | None = self.__dict__.get("_last_close")
        if cached is None:
            cached = _ffill(self.close)
            cached.setflags(write=False)
            self.__dict__["_last_close"] = cached
        return cached

    def trading_days(self) -> npt.NDArray[np.int64]:
        """Trading-day number of every bar: days since the first bar's date (computed once, read-only)."""
        cached: npt.NDArray[np.int64] | None = self.__dict__.get("_trading_days")
        if cached is None:
            ts = self.timestamps
            if len(ts) == 0:
                cached = np.zeros(0, dtype=np.int64)
            else:
                dates = ts.normalize()
                cached = np.asarray((dates - dates[0]) // pd.Timedelta(days=1), dtype=np.int64)
            cached.setflags(write=False)
            self.__dict__["_trading_days"] = cached
        return cached

    def select(self, symbols: Sequence[str]) -> MarketData:
        """The same bars restricted to (and ordered as) ``symbols``."""
        index = {s: i for i, s in enumerate(self.symbols)}
        unknown = [s for s in symbols if s not in index]
        if unknown:
            raise BarsError(f"bars: no bars for symbols {unknown[:10]}")
        cols = np.array([index[s] for s in symbols], dtype=np.intp)

        def take(a: npt.NDArray[Any] | None) -> Any:
            return None if a is None else np.ascontiguousarray(a[:, cols])

        return MarketData(self.timestamps, tuple(symbols), take(self.open), take(self.high), take(self.low),
                          take(self.close), take(self.volume), take(self.bid), take(self.ask),
                          take(self.open_from_close))
