"""The data-gap policy (config ``data.gaps``): what a run does when a price it needs is missing.

Two gaps are checked: a symbol with a non-zero target or position has no price (NaN close, or no bar) at a
rebalance time, so its order cannot be planned; and a bar has a close but no open where the venue would fill or
trigger at the open, so the open is taken from the close. ``error`` raises :class:`DataGapError`, ``warn`` issues
a :class:`DataGapWarning`; either names the symbol and time and counts the others.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from execlab._config import Config
from execlab._core.arrays import FloatArray
from execlab._core.models import OrderType, TimeInForce
from execlab._data.bars import BarsError

__all__ = ["DataGapError", "DataGapWarning", "GapPolicy", "check_event_open", "check_open_gaps",
           "check_rebalance_prices", "open_use", "report_gap"]

GapPolicy = Literal["error", "warn"]


class DataGapError(BarsError):
    """Market data has a gap where the run needs a price (``data.gaps: error``); the message names symbol and time."""


class DataGapWarning(UserWarning):
    """Market data has a gap where the run needs a price and ``data.gaps`` is ``warn``: the run went on (the symbol's
    order was skipped, or the open was taken from the close); the message names symbol and time."""


def report_gap(policy: GapPolicy, message: str) -> None:
    """Raise :class:`DataGapError` (``error``) or warn with :class:`DataGapWarning` (``warn``)."""
    if policy == "warn":
        warnings.warn(message + " (data.gaps: warn, so the run goes on)", DataGapWarning, stacklevel=3)
        return
    raise DataGapError(message + "; set data.gaps: warn to trade on without it")


def check_rebalance_prices(policy: GapPolicy, symbols: Sequence[str], when: Any, tradable: npt.NDArray[np.bool_],
                           target: FloatArray, position: FloatArray) -> None:
    """Apply the policy at one rebalance: a symbol not ``tradable`` now (no price) with a target or a position."""
    gap = ~tradable & ((target != 0) | (position != 0))
    if gap.any():
        k = np.flatnonzero(gap)
        names = ", ".join(repr(symbols[j]) for j in k[:10]) + (" …" if k.size > 10 else "")
        report_gap(policy, f"data gap: symbol {symbols[int(k[0])]!r} has a target or a position at rebalance time "
                           f"{when} but no price then (close missing), so its order cannot be planned "
                           f"({k.size} such symbols: {names})")


def check_open_gaps(policy: GapPolicy, symbols: Sequence[str], timestamps: Any,
                    open_from_close: npt.NDArray[np.bool_] | None, start: int, why: str) -> None:
    """Apply the policy to bars from ``start`` on that had a close but no open (``why`` says what uses the open)."""
    if open_from_close is None:
        return
    gap = open_from_close[start:]
    if gap.any():
        t, s = np.argwhere(gap)[0]
        report_gap(policy, f"data gap: symbol {symbols[int(s)]!r} at {timestamps[start + int(t)]} has a close but "
                           f"no open, and {why}; the open would be taken from the close ({int(gap.sum())} such bars)")


def check_event_open(policy: GapPolicy, symbols: Sequence[str], when: Any,
                     open_from_close: npt.NDArray[np.bool_] | None, why: str) -> None:
    """Apply the policy to one feed event's bars that had a close but no open (``why`` says what uses the open)."""
    if open_from_close is None or not open_from_close.any():
        return
    k = np.flatnonzero(open_from_close)
    report_gap(policy, f"data gap: symbol {symbols[int(k[0])]!r} at {when} has a close but no open, and {why}; the "
                       f"open would be taken from the close ({k.size} such bars)")


def open_use(config: Config) -> str | None:
    """Why the venue would price a fill or trigger at a bar's open under ``config`` (None: it never does)."""
    if config.venue.fill_price == "next_open":
        return "venue.fill_price is 'next_open'"
    if config.plan.time_in_force == TimeInForce.OPG:
        return "plan.time_in_force is 'opg' (opening auction)"
    if config.plan.order_type == OrderType.LIMIT:
        return "limit orders working overnight fill at the open when it gaps through the limit"
    return None
