"""What the scheduler sees of the market at a broker on the clock: the minute bars known at the broker's time.

A live schedule ticks on the broker's clock; its market is a table of minute bars (a recorded or replayed feed, or
the broker's own bars saved as they arrive). :class:`MinuteMarket` answers, for a time ``now``, each symbol's last
trade, the bid and ask at the close of its latest bar, and the volume traded in a window, from the bars stamped at
or before ``now`` only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from execlab._data.bars import MarketData

__all__ = ["MinuteMarket"]


class MinuteMarket:
    """Minute bars (a long table or :class:`MarketData`), read as of a time."""

    def __init__(self, bars: Any):
        self.data = bars if isinstance(bars, MarketData) else MarketData.from_bars(bars)
        stamps = self.data.timestamps
        self._stamps = stamps if stamps.tz is not None else stamps.tz_localize("UTC")
        close = self.data.close
        # The last trade known at each row: the latest close at or before it.
        self._last = pd.DataFrame(close).ffill().to_numpy()
        self._cum_volume = np.vstack([np.zeros((1, close.shape[1])),
                                      np.nancumsum(np.nan_to_num(self.data.volume, nan=0.0), axis=0)])
        self._col = {s: k for k, s in enumerate(self.data.symbols)}
        self._long: pd.DataFrame | None = None

    def long_volume(self) -> pd.DataFrame:
        """The bars' volume as a long table (``ts``, ``symbol``, ``volume``), as :func:`execlab._algos.volume_profile`
        reads it."""
        if self._long is None:
            n_t, n_s = self.data.volume.shape
            self._long = pd.DataFrame({"ts": np.repeat(self._stamps.to_numpy(), n_s),
                                       "symbol": np.tile(np.array(self.data.symbols, dtype=object), n_t),
                                       "volume": self.data.volume.reshape(-1)}).dropna(subset=["volume"])
            self._long["ts"] = pd.DatetimeIndex(self._long["ts"]).tz_localize("UTC") \
                if pd.DatetimeIndex(self._long["ts"]).tz is None else self._long["ts"]
        return self._long

    @property
    def timestamps(self) -> pd.DatetimeIndex:
        """Every bar time (UTC)."""
        return self._stamps

    def _row(self, now: pd.Timestamp) -> int:
        """Number of bars stamped at or before ``now``."""
        return int(self._stamps.searchsorted(_utc(now), side="right"))

    def quote(self, symbol: str, now: pd.Timestamp) -> tuple[float, float | None, float | None] | None:
        """``(last, bid, ask)`` of ``symbol`` at ``now`` (bid/ask of its latest bar, None when that bar has none);
        None before its first trade."""
        rows = self._row(now)
        k = self._col.get(symbol)
        if k is None or rows == 0:
            return None
        last = float(self._last[rows - 1, k])
        if math.isnan(last):
            return None
        bid = ask = None
        if self.data.bid is not None and self.data.ask is not None:
            b, a = float(self.data.bid[rows - 1, k]), float(self.data.ask[rows - 1, k])
            bid = None if math.isnan(b) else b
            ask = None if math.isnan(a) else a
        return last, bid, ask

    def volume_between(self, symbol: str, after: pd.Timestamp, upto: pd.Timestamp, *,
                       from_after: bool = False) -> float:
        """Volume of ``symbol``'s bars stamped after ``after`` (at or after it with ``from_after``) and at or before
        ``upto``."""
        k = self._col.get(symbol)
        if k is None:
            return 0.0
        lo = int(self._stamps.searchsorted(_utc(after), side="left")) if from_after else self._row(after)
        hi = self._row(upto)
        return float(self._cum_volume[hi, k] - self._cum_volume[lo, k]) if hi > lo else 0.0


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tz is None else ts
