"""A backtest's money in its home currency when it trades currency pairs quoted in another (``EUR/GBP``: prices, P&L,
fees and the cash it pays are in GBP).

The bar loop (compiled or per step) keeps one cash figure in price units. For a pair quoted in the home currency that
is exact; for a cross it is not: the cash a cross's fills moved is a balance in its quote currency, and every bar
values that balance and the positions at the bar's rates (:class:`execlab._core.fx.FxRates` over the bars' mids,
OANDA's convention: a cross's P&L is converted at the current rate). The loop's plan and cash check read the same
rates (:func:`bar_rates`, passed in), the result converts its money afterwards (:func:`home_conversion`). Runs
without such a pair are left as they are.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from execlab._core.arrays import FloatArray, IntArray
from execlab._core.fx import FxRates, fx_quote

__all__ = ["HomeConversion", "LatestRates", "bar_rates", "fx_quote", "home_conversion"]


@dataclass(frozen=True, slots=True)
class HomeConversion:
    """Per bar and symbol, the home-currency value of one unit of the symbol's price currency (``rate``), and the
    cash in the home currency (``cash``: the home balance plus the quote-currency balances at the bar's rates)."""

    rate: FloatArray
    cash: FloatArray


def bar_rates(symbols: Sequence[str], marks: FloatArray, home: str) -> FloatArray | None:
    """Per bar and symbol of a run over ``symbols`` (``marks``: last known mid per bar and symbol), the home-currency
    value of one unit of the symbol's price currency, or None when every symbol is priced in ``home``. Before a
    converting pair is priced the nearest later rate is carried back; a quote currency no pair of the run converts
    into ``home`` is left at 1.0, with a warning. The loop's plan and cash check and the result's valuation read
    these same rates."""
    home = home.upper()
    quotes = [fx_quote(s) for s in symbols]
    foreign = sorted({q for q in quotes if q is not None and q != home})
    if not foreign:
        return None
    pairs = [i for i, q in enumerate(quotes) if q is not None]
    n_t, n_s = marks.shape
    by_currency = {q: np.ones(n_t) for q in foreign}
    missing: set[str] = set()
    for t in range(n_t):
        rates = FxRates({symbols[i]: float(marks[t, i]) for i in pairs}, home)
        for q in foreign:
            try:
                by_currency[q][t] = rates.rate(q)
            except ValueError:
                by_currency[q][t] = np.nan
    for q, series in by_currency.items():  # before a pair is priced (or never): carry the nearest rate
        known = ~np.isnan(series)
        if not known.any():
            missing.add(q)
            series[:] = 1.0
            continue
        index = np.where(known, np.arange(n_t), 0)
        np.maximum.accumulate(index, out=index)
        first = int(np.argmax(known))
        index[:first] = first
        by_currency[q] = series[index]
    if missing:
        warnings.warn(f"no pair of the run converts {sorted(missing)} into {home}: amounts in them are left "
                      "unconverted", stacklevel=3)
    rate = np.ones((n_t, n_s))
    for i, quote in enumerate(quotes):
        if quote is not None and quote in by_currency:
            rate[:, i] = by_currency[quote]
    return rate


class LatestRates:
    """Per symbol of a paper run, the home-currency value of one unit of its price currency at the latest mids a
    feed gave (:func:`bar_rates` for one event, with no look ahead: a currency no pair has priced yet keeps its
    last rate, 1.0 before the first, with a warning)."""

    def __init__(self, symbols: Sequence[str], home: str) -> None:
        self.home = home.upper()
        self._quotes = [fx_quote(s) for s in symbols]
        self._mids: dict[str, float] = {}
        self.rate = np.ones(len(self._quotes))
        self._warned: set[str] = set()

    def update(self, mids: Mapping[str, float]) -> FloatArray:
        """Enter the pairs' latest mids (NaN: not priced in this event) and return the rates now."""
        self._mids.update((s, float(v)) for s, v in mids.items() if fx_quote(s) is not None and v == v)
        rates = FxRates(self._mids, self.home)
        for i, quote in enumerate(self._quotes):
            if quote is None or quote == self.home:
                continue
            try:
                self.rate[i] = rates.rate(quote)
            except ValueError:
                if quote not in self._warned:
                    self._warned.add(quote)
                    warnings.warn(f"no pair priced so far converts {quote} into {self.home}: its amounts stay at "
                                  "their last rate until one is", stacklevel=2)
        return self.rate.copy()


def home_conversion(rate: FloatArray, cash: FloatArray, fill_bar: IntArray, fill_symbol: IntArray,
                    fill_quantity: FloatArray, fill_price: FloatArray, fill_fee: FloatArray) -> HomeConversion:
    """The conversion of a run whose per-bar rates are ``rate`` (:func:`bar_rates`; ``cash``: the loop's cash per
    bar; fills by bar, symbol index, signed quantity, price and fee)."""
    n_t, n_s = rate.shape
    # The loop took each foreign-quoted fill's cash from one pot; it is a balance in the quote currency instead.
    flow = np.zeros((n_t, n_s))
    np.add.at(flow, (fill_bar, fill_symbol), -(fill_quantity * fill_price + fill_fee))
    balance = np.cumsum(flow, axis=0)
    home_cash = cash + np.sum(balance * (rate - 1.0), axis=1)
    return HomeConversion(rate, home_cash)
