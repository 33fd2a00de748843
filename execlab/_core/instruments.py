"""Per-symbol trading rules: lot size, tick size, minimum quantity and notional, fractional or not."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["DEFAULT_INSTRUMENTS", "AssetClass", "Instrument", "InstrumentArrays", "InstrumentTable"]

AssetClass = Literal["us_equity", "crypto", "fx"]


@dataclass(frozen=True, slots=True)
class Instrument:
    """Trading rules for one symbol. ``lot_size`` 0 means any quantity (continuous)."""

    symbol: str
    asset_class: AssetClass = "us_equity"
    currency: str = "USD"
    lot_size: float = 1.0
    tick_size: float = 0.01
    min_quantity: float = 0.0
    min_notional: float = 0.0
    fractional: bool = False

    def __post_init__(self) -> None:
        for name in ("lot_size", "tick_size", "min_quantity", "min_notional"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"instrument {self.symbol!r}: {name} must be finite and >= 0, got {value!r}")
        if not self.fractional and self.lot_size <= 0:
            raise ValueError(f"instrument {self.symbol!r}: a non-fractional instrument needs lot_size > 0")


#: Defaults by asset class: whole US shares; crypto to 1e-8 with a 10-unit minimum notional; FX in 1-unit lots.
DEFAULT_INSTRUMENTS: Final[dict[str, Instrument]] = {
    "us_equity": Instrument("*", "us_equity", "USD", lot_size=1.0, tick_size=0.01, min_quantity=1.0),
    "crypto": Instrument(
        "*", "crypto", "USDT", lot_size=1e-8, tick_size=0.01, min_quantity=1e-5, min_notional=10.0, fractional=True
    ),
    "fx": Instrument("*", "fx", "USD", lot_size=1.0, tick_size=1e-5, min_quantity=1.0),
}


@dataclass(frozen=True, slots=True)
class InstrumentArrays:
    """Instrument rules as arrays aligned to a symbol universe, for columnar steps."""

    lot_size: npt.NDArray[np.float64]
    min_quantity: npt.NDArray[np.float64]
    min_notional: npt.NDArray[np.float64]
    tick_size: npt.NDArray[np.float64]


class InstrumentTable:
    """Instruments by symbol, with a default for symbols not listed."""

    def __init__(
        self,
        instruments: Iterable[Instrument] = (),
        default_asset_class: AssetClass = "us_equity",
        default: Instrument | None = None,
    ):
        self._by_symbol: dict[str, Instrument] = {}
        for inst in instruments:
            if inst.symbol in self._by_symbol:
                raise ValueError(f"instrument table: symbol {inst.symbol!r} is listed twice")
            self._by_symbol[inst.symbol] = inst
        if default_asset_class not in DEFAULT_INSTRUMENTS:
            raise ValueError(f"instrument table: unknown default asset class {default_asset_class!r}")
        self.default_asset_class: AssetClass = default_asset_class
        self._default = default or DEFAULT_INSTRUMENTS[default_asset_class]

    @classmethod
    def uniform(cls, default: Instrument) -> InstrumentTable:
        """A table that applies ``default`` (its symbol ignored) to every symbol."""
        return cls((), default.asset_class, default)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, default_asset_class: AssetClass = "us_equity") -> InstrumentTable:
        """Load from a table with a ``symbol`` column and any :class:`Instrument` field as columns."""
        if "symbol" not in frame.columns:
            raise ValueError("instrument table: a 'symbol' column is required")
        allowed = set(Instrument.__dataclass_fields__)
        unknown = [c for c in frame.columns if c not in allowed]
        if unknown:
            raise ValueError(f"instrument table: unknown columns {unknown}; allowed: {sorted(allowed)}")
        out = []
        for row_number, row in enumerate(frame.to_dict("records")):
            asset_class = row.get("asset_class", default_asset_class)
            if asset_class not in DEFAULT_INSTRUMENTS:
                raise ValueError(f"instrument table row {row_number} ({row['symbol']}): unknown asset_class "
                                 f"{asset_class!r}")
            base = DEFAULT_INSTRUMENTS[asset_class]
            values = {str(k): v for k, v in row.items() if not (isinstance(v, float) and np.isnan(v))}
            try:
                out.append(replace(base, **values))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"instrument table row {row_number} ({row['symbol']}): {exc}") from None
        return cls(out, default_asset_class)

    @classmethod
    def from_csv(cls, path: str | Path, default_asset_class: AssetClass = "us_equity") -> InstrumentTable:
        """Load from a CSV file; see :meth:`from_frame`."""
        return cls.from_frame(pd.read_csv(path), default_asset_class)

    def get(self, symbol: str) -> Instrument:
        """The instrument for ``symbol``, or the default of the table's asset class."""
        found = self._by_symbol.get(symbol)
        if found is not None:
            return found
        return replace(self._default, symbol=symbol)

    def arrays(self, symbols: Sequence[str]) -> InstrumentArrays:
        """Rules for ``symbols`` as aligned arrays (lot size 0 for continuous quantities)."""
        if not self._by_symbol:  # every symbol gets the default
            d, n = self._default, len(symbols)
            return InstrumentArrays(np.full(n, d.lot_size if d.lot_size > 0 else 0.0), np.full(n, d.min_quantity),
                                    np.full(n, d.min_notional), np.full(n, d.tick_size))
        insts = [self.get(s) for s in symbols]
        return InstrumentArrays(
            lot_size=np.array([i.lot_size if (i.lot_size > 0) else 0.0 for i in insts], dtype=np.float64),
            min_quantity=np.array([i.min_quantity for i in insts], dtype=np.float64),
            min_notional=np.array([i.min_notional for i in insts], dtype=np.float64),
            tick_size=np.array([i.tick_size for i in insts], dtype=np.float64),
        )

    def __len__(self) -> int:
        return len(self._by_symbol)

    def __bool__(self) -> bool:
        return True  # a table with only a default still applies to every symbol

    def __repr__(self) -> str:
        return f"InstrumentTable({len(self)} listed, default={self.default_asset_class})"
