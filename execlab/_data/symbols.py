"""Symbols and per-symbol values as every trading path reads them: one normalisation, strict numbers.

A symbol is text, trimmed and upper-cased (``" aapl "`` → ``"AAPL"``), 1 to 32 characters of letters, digits and
``. / _ : -`` (``BRK.B``, ``BTC/USDT``, ``EUR_USD``), starting with a letter or digit. Tickers such as ``NA``,
``NAN`` or ``NULL`` are symbols like any other: files are read as text, never through pandas' missing-value guesses.
A value is a finite number; booleans, strings and bytes are refused, not coerced (a file's text is parsed as a
number, strictly: ``1e3`` yes, ``true``, ``1,5`` or an empty cell no).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from execlab._data.errors import TargetError
from execlab._data.frames import as_pandas

__all__ = ["SYMBOL_MAX_LENGTH", "SymbolError", "normalise_symbol", "read_symbol_values", "symbol_values"]

SYMBOL_MAX_LENGTH: Final = 32
_SYMBOL: Final = re.compile(r"[A-Z0-9][A-Z0-9./_:\-]*\Z")
_NUMBER: Final = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")


class SymbolError(TargetError):
    """A symbol or a per-symbol value is unusable; the message names the file, row and symbol. Nothing was sent."""


def normalise_symbol(raw: object, where: str) -> str:
    """``raw`` as execlab's symbol (trimmed, upper case), or :class:`SymbolError` naming ``where`` it came from."""
    if not isinstance(raw, str):
        kind = "empty" if raw is None or (isinstance(raw, float) and math.isnan(raw)) else type(raw).__name__
        raise SymbolError(f"{where}: a symbol must be text, got {kind} ({raw!r})")
    symbol = raw.strip().upper()
    if not symbol:
        raise SymbolError(f"{where}: empty symbol")
    if len(symbol) > SYMBOL_MAX_LENGTH:
        raise SymbolError(f"{where}: symbol {symbol[:20]!r}… is {len(symbol)} characters long (at most "
                          f"{SYMBOL_MAX_LENGTH})")
    if not _SYMBOL.match(symbol):
        raise SymbolError(f"{where}: symbol {symbol!r} has characters other than letters, digits and . / _ : -")
    return symbol


def _number(raw: object, where: str, text: bool) -> float:
    if isinstance(raw, bool | np.bool_) or raw is None:
        raise SymbolError(f"{where}: {raw!r} is not a number")
    if isinstance(raw, str) and not text:
        raise SymbolError(f"{where}: {raw!r} is text, not a number (convert it first; files are parsed for you)")
    if isinstance(raw, str):
        cell = raw.strip()
        if not _NUMBER.match(cell):
            raise SymbolError(f"{where}: {raw!r} is not a number" if cell else f"{where}: empty value")
        value = float(cell)
    elif isinstance(raw, int | float | np.integer | np.floating):
        value = float(raw)
    else:
        raise SymbolError(f"{where}: {raw!r} ({type(raw).__name__}) is not a number")
    if not math.isfinite(value):
        raise SymbolError(f"{where}: {raw!r} is not a finite number")
    return value


def _from_pairs(pairs: list[tuple[object, object, str]], what: str, text: bool = False) -> pd.Series:
    symbols: dict[str, str] = {}
    values: list[float] = []
    for raw_symbol, raw_value, where in pairs:
        symbol = normalise_symbol(raw_symbol, where)
        if symbol in symbols:
            raise SymbolError(f"{where}: duplicate symbol {symbol!r} (also {symbols[symbol]})")
        symbols[symbol] = where
        values.append(_number(raw_value, f"{where}, symbol {symbol!r}", text))
    return pd.Series(values, index=pd.Index(list(symbols), name="symbol", dtype=object), dtype=np.float64, name=what)


def symbol_values(values: Any, what: str) -> pd.Series:
    """One finite value per normalised symbol, from a Series, a mapping, a one-row frame or a ``symbol, value``
    table (pandas or polars). ``what`` names the input in errors (``"targets"``, ``"prices"`` …)."""
    if isinstance(values, pd.Series):
        pairs = [(s, v, f"{what}[{s!r}]") for s, v in zip(values.index, values.tolist(), strict=True)]
    elif isinstance(values, Mapping):
        pairs = [(s, v, f"{what}[{s!r}]") for s, v in values.items()]
    else:
        frame = as_pandas(values, what, SymbolError)
        if "symbol" in frame.columns and frame.shape[1] == 2:
            column = next(c for c in frame.columns if c != "symbol")
            pairs = [(s, v, f"{what} row {k}") for k, (s, v) in
                     enumerate(zip(frame["symbol"].tolist(), frame[column].tolist(), strict=True))]
        elif len(frame) == 1:
            pairs = [(s, v, f"{what}[{s!r}]") for s, v in zip(frame.columns, frame.iloc[0].tolist(), strict=True)]
        else:
            raise SymbolError(f"{what}: expected a Series, a mapping, a one-row frame or a (symbol, value) table; "
                              f"got a frame of {len(frame)} rows and columns {list(frame.columns)[:5]}")
    return _from_pairs(pairs, what)


def read_symbol_values(path: Path, what: str) -> pd.Series:
    """A CSV of two columns, ``symbol`` and a value, as one finite value per normalised symbol.

    Every cell is read as text (``NA`` is a ticker, not a missing value); errors name the file and its line.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise SymbolError(f"{what}: cannot read {path}: {exc}") from None
    columns = [str(c).strip() for c in frame.columns]
    if columns[:1] != ["symbol"] or len(columns) != 2:
        raise SymbolError(f"{what}: {path} must have two columns, 'symbol' and a value; got {columns}")
    if frame.empty:
        raise SymbolError(f"{what}: {path} has a header but no rows")
    # line 1 is the header
    pairs = [(s, v, f"{what}: {path} line {k + 2}") for k, (s, v) in
             enumerate(zip(frame.iloc[:, 0].tolist(), frame.iloc[:, 1].tolist(), strict=True))]
    return _from_pairs(pairs, what, text=True)
