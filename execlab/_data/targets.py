"""Target positions: accepted from pandas or polars (wide or long), validated whole, aligned to the bars."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from execlab._core.arrays import FloatArray
from execlab._core.instruments import InstrumentTable
from execlab._data.bars import MarketData
from execlab._data.errors import TargetError
from execlab._data.frames import as_pandas
from execlab._data.symbols import SymbolError, normalise_symbol
from execlab._data.target_scan import scan_targets

__all__ = ["TargetError", "TargetMatrix", "align_targets", "bar_positions", "check_unit", "targets_to_wide"]

Unit = Literal["shares", "weight", "notional"]
_VALUE_COLUMNS = ("target", "value", "weight", "shares", "notional", "quantity")
_TIME_COLUMNS = ("timestamp", "date", "ts", "time")


@dataclass(frozen=True, eq=False)
class TargetMatrix:
    """Targets as a (rebalance × symbol) array, with the bar index of each rebalance."""

    bars: npt.NDArray[np.int64]
    values: FloatArray
    symbols: tuple[str, ...]
    unit: Unit


def _first(mask: npt.NDArray[np.bool_], frame: pd.DataFrame) -> tuple[Any, Any, int]:
    r, c = np.argwhere(mask)[0]
    return frame.index[r], frame.columns[c], int(mask.sum())


def targets_to_wide(targets: Any) -> pd.DataFrame:
    """Wide form (timestamps × symbols) of pandas/polars targets in wide or long form."""
    frame = targets
    if not isinstance(frame, pd.DataFrame | pd.Series):
        frame = as_pandas(frame, "targets", TargetError)
        time_cols = [c for c in _TIME_COLUMNS if c in frame.columns]
        if "symbol" not in frame.columns and time_cols:
            frame = frame.set_index(time_cols[0])
    if isinstance(frame, pd.Series):
        raise TargetError("targets: a Series has no rebalance time; use a one-row DataFrame indexed by timestamp")
    if "symbol" in frame.columns:
        time_cols = [c for c in _TIME_COLUMNS if c in frame.columns]
        value_cols = [c for c in _VALUE_COLUMNS if c in frame.columns]
        if not time_cols or len(value_cols) != 1:
            raise TargetError(f"long targets need one time column {_TIME_COLUMNS} and one value column "
                              f"{_VALUE_COLUMNS}; got {list(frame.columns)}")
        dup = frame.duplicated([time_cols[0], "symbol"], keep=False)
        if dup.any():
            row = frame[dup].iloc[0]
            raise TargetError(f"targets: duplicate symbol {row['symbol']!r} at {row[time_cols[0]]} "
                              f"(row {int(np.flatnonzero(dup.to_numpy())[0])})")
        frame = frame.pivot(index=time_cols[0], columns="symbol", values=value_cols[0])
    if frame.columns.duplicated().any():
        raise TargetError(f"targets: duplicate symbol column {frame.columns[frame.columns.duplicated()][0]!r}")
    wide: pd.DataFrame = frame
    return wide


@lru_cache(maxsize=64)
def _normalised(columns: tuple[Any, ...]) -> tuple[str, ...]:
    """Each column name as a symbol (:func:`normalise_symbol`), remembered for the column sets seen last (a sweep and
    repeated backtests pass the same columns)."""
    return tuple(normalise_symbol(c, f"targets: column {c!r}") for c in columns)


def checked_target_values(targets: Any) -> tuple[pd.DataFrame, pd.DatetimeIndex, npt.NDArray[np.float64]]:
    """Targets in wide form with their rebalance times and values, after the checks that need no bars: times
    parse, are unique and increasing; values are finite numbers."""
    frame = targets_to_wide(targets)
    if isinstance(frame.index, pd.DatetimeIndex):
        index = frame.index
    else:
        try:
            index = pd.DatetimeIndex(pd.to_datetime(frame.index))
        except (TypeError, ValueError) as exc:
            raise TargetError(f"targets: the index must be rebalance timestamps ({exc})") from None
    columns = tuple(frame.columns.tolist())
    symbols = _normalised(columns)
    if index is not frame.index:
        frame = frame.set_axis(index, axis=0)
    if symbols != columns:
        frame = frame.set_axis(list(symbols), axis=1)
    if len(set(symbols)) != len(symbols):
        raise SymbolError(f"targets: duplicate symbol {frame.columns[frame.columns.duplicated()][0]!r} (columns that "
                          "differ only in case or spaces name one symbol)")
    if not index.is_unique:
        raise TargetError(f"targets: duplicate rebalance time {index[index.duplicated()][0]}")
    if not index.is_monotonic_increasing:
        raise TargetError("targets: rebalance times must be in increasing order")
    try:
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise TargetError(f"targets: values must be numbers ({exc})") from None
    bad = ~np.isfinite(values)
    if bad.any():
        ts, sym, n = _first(bad, frame)
        raise TargetError(f"targets: {values[np.argwhere(bad)[0][0], np.argwhere(bad)[0][1]]} for symbol "
                          f"{sym!r} at {ts} is not a finite number ({n} such values)")
    return frame, index, values


def align_targets(
    targets: Any,
    market: MarketData,
    unit: Unit,
    allow_short: bool,
    max_leverage: float = 1.0,
    instruments: InstrumentTable | None = None,
) -> TargetMatrix:
    """Validate every row of ``targets`` against the bars and the config, then align it.

    Raises :class:`TargetError` for NaN or infinite values, duplicate symbols or times, symbols without bars,
    times without a bar, negative targets when shorting is off, values in the wrong unit, and non-zero
    targets where the symbol has no price.
    """
    frame, index, values = checked_target_values(targets)
    symbols = tuple(frame.columns.tolist())
    same = symbols == market.symbols
    if not same:
        known = set(market.symbols)
        unknown = [s for s in symbols if s not in known]
        if unknown:
            raise TargetError(f"targets: no bars for symbols {unknown[:10]}{' …' if len(unknown) > 10 else ''}")
    bars = bar_positions(market.timestamps, index)
    if (bars < 0).any():
        missing = index[bars < 0]
        raise TargetError(f"targets: no bar at rebalance time {missing[0]} ({len(missing)} times do not "
                          f"match a bar timestamp; are the dates aligned with the bars?)")
    cols = np.arange(len(symbols)) if same else np.array([market.symbols.index(c) for c in symbols], dtype=np.int64)
    scan = scan_targets(values, market.last_close(), bars, cols)
    if scan.negative and not allow_short:
        ts, sym, n = _first(values < 0, frame)
        raise TargetError(f"targets: negative target for symbol {sym!r} at {ts} but plan.allow_short is false "
                          f"({n} such values)")
    if unit == "weight" or scan.small_row:
        check_unit(frame, values, unit, max_leverage, instruments)
    if scan.no_price:
        # A symbol halted or missing a bar is held; one never priced up to then cannot be traded at all.
        no_price = (values != 0) & np.isnan(market.last_close()[bars][:, cols])
        ts, sym, n = _first(no_price, frame)
        raise TargetError(f"targets: symbol {sym!r} has a target at {ts} but no price at or before that time "
                          f"({n} such values)")
    return TargetMatrix(bars, scan.values, symbols, unit)


def bar_positions(timestamps: pd.DatetimeIndex, times: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """The bar index of each of ``times`` in ``timestamps`` (-1: no such bar), as ``get_indexer`` gives it."""
    if (timestamps.dtype == times.dtype and timestamps.is_monotonic_increasing and timestamps.is_unique
            and len(timestamps)):
        stamps = timestamps.asi8
        wanted = times.asi8
        at = np.minimum(np.searchsorted(stamps, wanted), len(stamps) - 1)
        return np.where(stamps[at] == wanted, at, -1).astype(np.int64)
    return np.asarray(timestamps.get_indexer(times), dtype=np.int64)


def check_unit(frame: pd.DataFrame, values: FloatArray, unit: Unit, max_leverage: float,
               instruments: InstrumentTable | None) -> None:
    """Raise :class:`TargetError` when rows look like another unit than ``unit`` (weights vs shares)."""
    nonzero = values != 0
    if unit == "weight":
        gross = np.abs(values).sum(axis=1)
        over = gross > max_leverage + 1e-9
        if over.any():
            r = int(np.flatnonzero(over)[0])
            raise TargetError(f"targets: row {frame.index[r]} has weights summing (in absolute value) to "
                              f"{gross[r]:.6g}, more than the allowed leverage {max_leverage:g}: are these "
                              f"shares or notionals? (plan.target_unit is 'weight')")
        return
    small = (np.abs(values) < 1.0) | ~nonzero
    row_small = small.all(axis=1) & nonzero.any(axis=1)
    if unit == "shares" and instruments is not None:
        whole_lots = instruments.arrays(list(frame.columns)).lot_size >= 1
        fractional = (values != np.round(values)) & whole_lots[None, :]
        row_small &= fractional.any(axis=1)
    if row_small.any():
        r = int(np.flatnonzero(row_small)[0])
        raise TargetError(f"targets: row {frame.index[r]} has only values below 1 in magnitude: these look like "
                          f"weights, but plan.target_unit is {unit!r}")
