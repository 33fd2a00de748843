"""FX bars: quote bars with bid and ask sides (OANDA's candles, LEAN's FX data) as execlab's long bars.

OANDA prices both sides of a pair; a backtest that buys at the ask and sells at the bid (``venue.fill_price:
quote``) needs both. :func:`quote_bars` keeps the bid and ask closes as ``bid``/``ask`` and makes the OHLC columns
the mids, so marks and signals use the mid.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from execlab._core.fx import FxRates, split_pair

__all__ = ["home_prices", "quote_bars"]

_SIDES = ("open", "high", "low", "close")


def quote_bars(frame: pd.DataFrame) -> pd.DataFrame:
    """``date|timestamp, symbol, bid_open..bid_close, ask_open..ask_close`` → ``timestamp, symbol, open, high, low,
    close`` (mids), ``bid``, ``ask`` (the closes). Raises ValueError naming a missing column."""
    when = "timestamp" if "timestamp" in frame.columns else "date"
    needed = [when, "symbol", *(f"{s}_{f}" for s in ("bid", "ask") for f in _SIDES)]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"FX quote bars need the columns {needed}; missing {missing}")
    out = pd.DataFrame({"timestamp": frame[when].to_numpy(), "symbol": frame["symbol"].to_numpy()})
    for f in _SIDES:
        out[f] = (frame[f"bid_{f}"].to_numpy() + frame[f"ask_{f}"].to_numpy()) / 2
    out["bid"] = frame["bid_close"].to_numpy()
    out["ask"] = frame["ask_close"].to_numpy()
    return out


def home_prices(mids: Mapping[str, float], home: str = "USD") -> dict[str, float]:
    """Per pair, the home-currency value of one unit of it at ``mids``: its price times its quote currency's rate
    (``EUR/GBP`` → EUR/GBP × GBP/USD), what the plan divides a home-currency notional target by (the plan converts
    by itself: give it the pairs' own prices)."""
    rates = FxRates(mids, home)
    return {pair: price * rates.rate(split_pair(pair)[1]) for pair, price in mids.items()}
