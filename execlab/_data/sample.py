"""The project's own sample data: real daily bars for five US stocks, back-adjusted.

Source: the ``bokeh-sampledata`` package (a declared dependency), file ``_data/stocks.csv.gz``: Quandl WIKI
daily prices for AAPL, FB, GOOG (the class A history, WIKI ``GOOGL``), IBM and MSFT, 2000-03-01 .. 2013-03-01.
Licence: public domain (Quandl's WIKI terms, recorded in the package's ``licenses/datasets.json``).

The source OHLC are unadjusted and come with an adjusted close (from a 2018 snapshot, so it also reflects
later corporate actions). The bars returned here are back-adjusted for splits and dividends: each row's open,
high, low and close are multiplied by ``adj_close / close`` and its volume is divided by the same factor,
so that volume × close (traded notional) is unchanged.
"""

from __future__ import annotations

import os
from importlib.resources import as_file, files
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

__all__ = ["sample_bars", "write_sample_bars"]

_PACKAGE: Final = "bokeh_sampledata"
_FILE: Final = "stocks.csv.gz"


def _read_source() -> pd.DataFrame:
    resource = files(_PACKAGE).joinpath("_data", _FILE)
    with as_file(resource) as path:
        return pd.read_csv(path, compression="gzip")


def sample_bars() -> pd.DataFrame:
    """Daily back-adjusted bars for AAPL, FB, GOOG, IBM and MSFT, 2000-03-01 .. 2013-03-01.

    Long format, one row per (timestamp, symbol), sorted by timestamp then symbol, with columns
    ``timestamp`` (tz-naive datetime64, the trading date at midnight), ``symbol`` (str) and
    ``open, high, low, close, volume`` (float64). ``close`` has no missing values.

    Raises ``ModuleNotFoundError`` when ``bokeh-sampledata`` is not installed and ``ValueError`` when the
    source holds a row whose adjustment factor is not a finite positive number.
    """
    raw = _read_source()
    raw = raw.dropna(subset=["Close", "Adj Close"])
    factor = (raw["Adj Close"] / raw["Close"]).to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(factor) & (factor > 0))
    if bad.any():
        row = raw.iloc[int(np.flatnonzero(bad)[0])]
        raise ValueError(
            f"{_FILE}: bad adjustment factor for {row['Ticker']} on {row['Date']} "
            f"(close={row['Close']}, adj close={row['Adj Close']})"
        )
    bars = pd.DataFrame(
        {
            "timestamp": pd.to_datetime(raw["Date"], format="%Y-%m-%d"),
            "symbol": raw["Ticker"].astype(str),
            "open": raw["Open"].to_numpy(dtype=np.float64) * factor,
            "high": raw["High"].to_numpy(dtype=np.float64) * factor,
            "low": raw["Low"].to_numpy(dtype=np.float64) * factor,
            "close": raw["Adj Close"].to_numpy(dtype=np.float64),
            "volume": raw["Volume"].to_numpy(dtype=np.float64) / factor,
        }
    )
    return bars.sort_values(["timestamp", "symbol"], kind="stable", ignore_index=True)


def write_sample_bars(path: str | os.PathLike[str]) -> Path:
    """Write :func:`sample_bars` to ``path`` as Parquet, creating parent folders; return the path written."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sample_bars().to_parquet(target, index=False)
    return target
