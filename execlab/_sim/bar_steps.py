"""Bar events as market steps of a :class:`QuoteVenue`, priced as the backtest prices a bar.

:class:`BarSteps` turns one bar :class:`execlab._data.feeds.FeedEvent` into :meth:`QuoteVenue.set_bars` (the bar per
symbol, the bid and ask at its close, σ and ADV known before it for square-root impact), the way the paper executor
steps its venue, so a local broker venue replaying bars fills an order where the backtest and paper fill it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from execlab._config import VenueConfig
from execlab._core.arrays import FloatArray
from execlab._data.feeds import FeedEvent
from execlab._sim.estimators import RollingStats
from execlab._sim.quote_venue import QuoteVenue

__all__ = ["BarSteps"]


class BarSteps:
    """Feeds bar events to a :class:`QuoteVenue` as :meth:`QuoteVenue.set_bars` steps (match them with
    :meth:`QuoteVenue.match_bars`).

    ``delay`` says where an order sent between two bars trades: 0 (``fill_price: close``) at the close of the bar it
    was sent after, 1 (``next_open``, ``vwap``) from the next bar on; latency is not modelled here.
    """

    def __init__(self, config: VenueConfig):
        if config.fill_price == "quote":
            raise ValueError("venue.fill_price 'quote' trades against quotes, not bars: replay quotes instead")
        if config.latency_bars:
            raise ValueError("bar replay at a local broker venue does not model latency: set venue.latency_bars "
                             "to 0")
        self.config = config
        self.delay = 0 if config.fill_price == "close" else 1
        slip = config.slippage
        self._needs_impact = slip.model == "sqrt_impact"
        self._vol_window = slip.volatility_window
        self._adv_window = slip.adv_window
        self._symbols: list[str] = []
        self._index: dict[str, int] = {}
        self._stats = RollingStats(0, slip.volatility_window, (slip.adv_window,))
        self._marks = np.zeros(0)

    def _grow(self, symbols: tuple[str, ...]) -> None:
        new = [s for s in symbols if s not in self._index]
        if not new:
            return
        if self._symbols and self._needs_impact:  # σ and ADV are kept over a fixed universe
            raise ValueError(f"bar replay: symbols {new[:5]} appeared after the first event; with square-root "
                             "impact the first event must list every symbol the replay carries (NaN rows are fine)")
        for s in new:
            self._index[s] = len(self._symbols)
            self._symbols.append(s)
        self._stats = RollingStats(len(self._symbols), self._vol_window, (self._adv_window,))
        self._marks = np.concatenate([self._marks, np.full(len(new), np.nan)])

    def step(self, venue: QuoteVenue, event: FeedEvent) -> None:
        """Make ``event`` (a bar event) the venue's next market step."""
        if not event.is_bar:
            raise ValueError(f"bar replay: the event at {event.timestamp} is a quote, not a bar")
        self._grow(event.symbols)
        n = len(self._symbols)
        cols = np.fromiter((self._index[s] for s in event.symbols), dtype=np.int64, count=len(event))
        impact: Mapping[str, tuple[float, float]] | None = None
        if self._needs_impact:  # known before this bar
            sigma, adv = self._stats.sigma(), self._stats.adv(self._adv_window)
            impact = {s: (float(sigma[c]), float(adv[c])) for s, c in zip(event.symbols, cols.tolist(), strict=True)}
        assert event.open is not None and event.high is not None and event.low is not None
        rows = [(s, float(event.open[k]), float(event.high[k]), float(event.low[k]), float(event.close[k]),
                 float(event.volume[k])) for k, s in enumerate(event.symbols)]
        quotes = None if event.bid is None and event.ask is None else {
            s: (_at(event.bid, k), _at(event.ask, k)) for k, s in enumerate(event.symbols)}
        venue.set_bars(rows, quotes=quotes, impact=impact)
        close = np.full(n, np.nan)
        volume = np.zeros(n)
        close[cols] = event.close
        volume[cols] = event.volume
        np.copyto(self._marks, close, where=~np.isnan(close))
        self._stats.update(self._marks, volume)


def _at(values: FloatArray | None, k: int) -> float:
    return math.nan if values is None else float(values[k])
