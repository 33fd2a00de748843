"""What every ``execlab`` command shares: consoles, exit codes, reading input files, the broker executor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import TYPE_CHECKING, Final

import typer
from rich.console import Console
from rich.text import Text

import execlab as xl

if TYPE_CHECKING:  # imported where used: `execlab --help` loads no pandas, numba or broker machinery
    import pandas as pd

    from execlab._brokers.executor import BrokerExecutor
    from execlab._oms.journal import Journal

__all__ = ["ExitCode", "InputError", "bad_input", "broker_executor", "err", "one_line", "out", "print_error",
           "read_symbol_values", "read_table", "read_targets", "set_sim_market",
           "sim_account_path"]

_TIME_COLUMNS: Final = ("timestamp", "date", "ts", "time")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class InputError(ValueError):
    """A file given on the command line cannot be read as a table."""


@contextmanager
def bad_input() -> Iterator[None]:
    """Turn bad-input errors into one red line on stderr and exit code 2; let everything else through."""
    try:
        yield
    except (xl.TargetError, xl.ConfigError, xl.BarsError, InputError) as exc:
        print_error(exc)
        raise typer.Exit(2) from None


def one_line(message: str | BaseException) -> str:
    """A (possibly multi-line) error message as one line: the first line, then the others joined by ``; ``."""
    lines = [line.strip().rstrip(";") for line in str(message).splitlines() if line.strip()]
    lines = lines or [type(message).__name__ if isinstance(message, BaseException) else "error"]
    return lines[0] + (" " + "; ".join(lines[1:]) if len(lines) > 1 else "")


def print_error(message: str | BaseException, label: str = "error") -> None:
    """Print ``label: message`` as one red line on stderr (the message is text, never rich markup)."""
    err.print(Text(f"{label}: {one_line(message)}", style="bold red"), soft_wrap=True)


def read_symbol_values(path: Path, what: str) -> pd.Series:
    """:func:`execlab.read_symbol_values` (imported when first used)."""
    from execlab._data.symbols import read_symbol_values as read

    return read(path, what)


def sim_account_path(journal: Path) -> Path:
    """Where ``broker: sim`` keeps the simulated account of ``journal`` (imported when first used)."""
    from execlab._brokers.sim_adapter import sim_account_path as where

    return where(journal)


def read_table(path: Path, what: str) -> pd.DataFrame:
    """Read a ``.parquet`` or ``.csv`` file; unreadable files raise :class:`InputError` naming the file."""
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InputError(f"{what}: {path} must be a .parquet or .csv file")
    import pandas as pd

    try:
        return pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{what}: cannot read {path}: {exc}") from None


def read_targets(path: Path) -> pd.DataFrame:
    """Targets, wide (a time column or index, one column per symbol) or long (time, symbol, value)."""
    frame = read_table(path, "targets")
    if "symbol" in frame.columns:
        return frame
    time_columns = [c for c in _TIME_COLUMNS if c in frame.columns]
    if time_columns:
        return frame.set_index(time_columns[0])
    if path.suffix.lower() == ".csv" and len(frame.columns) > 1:
        return frame.set_index(frame.columns[0])
    return frame


class ExitCode(IntEnum):
    """What a scheduler can act on."""

    SUCCESS = 0
    BAD_INPUT = 2
    DENIED = 3
    HALTED = 4
    PARTIALLY_FILLED = 5
    """Some orders were not completely filled: still working at the timeout, rejected, or ended with a remainder."""
    CUT = 6
    """The plan cut a target (not enough cash, the symbol not trading), beyond rounding to lots or the band."""


def broker_executor(cfg: xl.Config, journal: Path | None,
                    progress: Callable[[str, str], None] | None = None,
                    *, read_only: bool = False) -> tuple[BrokerExecutor, Journal]:
    """The broker executor a paper or live config names, with its journal (in memory when ``journal`` is None).

    ``broker: sim`` is the local simulated venue as a broker (:class:`SimAdapter`); its account is kept next to the
    journal (:func:`sim_account_path`), so a re-run resumes it; ``read_only`` leaves that file as it is. Raises
    ``typer.Exit(2)`` naming the config key when the broker is not one this command line can reach.
    """
    from execlab._brokers.errors import BrokerError
    from execlab._brokers.registry import make_broker_executor
    from execlab._oms.journal import Journal

    try:
        book = Journal(journal if journal is not None else ":memory:", secrets=cfg.broker.secrets())
        return make_broker_executor(cfg, book, progress=progress, read_only=read_only), book
    except (xl.ConfigError, BrokerError) as exc:
        print_error(exc)
        raise typer.Exit(ExitCode.BAD_INPUT) from None


def set_sim_market(executor: BrokerExecutor, prices: pd.Series, when: pd.Timestamp,
                   bars: xl.MarketData | None = None) -> None:
    """With ``broker: sim``, make ``prices`` the simulated venue's market at ``when`` (a no-op for other brokers).

    The volume the participation cap may take is that of each symbol's last bar at or before ``when`` in ``bars``
    (unlimited without bars). Raises :class:`execlab.TargetError` for prices the input gate refuses.
    """
    from execlab._brokers.sim_adapter import SimAdapter
    from execlab._data.symbols import symbol_values

    adapter = executor.adapter
    if not isinstance(adapter, SimAdapter):
        return
    px = symbol_values(prices, "prices")
    bad = px[~(px > 0)]
    if len(bad):
        raise xl.TargetError(f"prices: price for symbol {bad.index[0]!r} must be positive, got {bad.iloc[0]:g}")
    volume: dict[str, float] | None = None
    if bars is not None:
        stamps = bars.timestamps
        at = when
        if (stamps.tz is None) != (at.tz is None):
            at = at.tz_localize(stamps.tz) if at.tz is None else at.tz_convert(stamps.tz).tz_localize(None)
        row = int(stamps.searchsorted(at, side="right")) - 1
        if row >= 0:
            volume = {s: float(bars.volume[row, k]) for k, s in enumerate(bars.symbols)}
    adapter.set_market({str(s): float(v) for s, v in px.items()}, when.to_pydatetime(), volume)
