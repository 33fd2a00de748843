"""Many backtests in one compiled call: the compiled bar loop of :mod:`execlab._execution.compiled_backtest` run back
to back over a chunk of runs (a sweep's variants sharing the bars), without Python between them and without the
GIL, so threads each running a chunk use every core (each call on its own copy of the arrays its runs share).

Each run's arguments are the ones :func:`~execlab._execution.compiled_backtest.loop_arguments` gives a single run,
and each run is the very loop a single run calls, so every run's orders, fills, positions and cash are the ones a
single :func:`execlab.run_backtest` gives.

Numba caches the driver keyed by this file alone, with the loop compiled into it: after changing the loop or a
kernel it calls, touch this file too (or clear its ``__pycache__``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numba
import numpy as np
from numba.typed import List

from execlab._execution.compiled_backtest import _BOOK, _POSITIONS_ARG, CompiledRun, _loop, compiled_run

__all__ = ["BOOK_STATUS", "POSITIONS_ARG", "loop_outputs", "run_compiled_many"]

POSITIONS_ARG = _POSITIONS_ARG
"""Where the loop's arguments hold the positions per bar (the cash per bar follows)."""
BOOK_STATUS = _BOOK.index("status")
"""Where the loop's book record holds each order's state code."""


def run_compiled_many(runs: Sequence[tuple[Any, ...]]) -> list[CompiledRun | None]:
    """Run the compiled loop once per argument tuple of ``runs`` (from ``loop_arguments``, all of one type: the
    same market's arrays) in one compiled call; each run's :class:`CompiledRun`, or ``None`` where a run met a data
    gap (the per-step path must run it)."""
    return [compiled_run(args, out) for args, out in zip(runs, loop_outputs(runs), strict=True)]


def loop_outputs(runs: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """What the compiled loop returns for each argument tuple of ``runs`` (see :func:`run_compiled_many`), run in
    one compiled call: ``(book record, orders, fill record, fills, data-gap bar or -1)``; the positions and cash
    are written into each tuple's own arrays. The market's arrays, the same objects in every tuple, cross into
    compiled code once per call, not once per run."""
    if not runs:
        return []
    first = runs[0]
    if not all(r[i] is first[i] for r in runs[1:] for i in _MARKET_ARGS):
        chunk = List()
        for args in _private(runs):
            chunk.append(args)
        return [tuple(out) for out in _loop_many(chunk)]
    market = tuple(_copy(first[i]) for i in _MARKET_ARGS)
    own = List()
    for args in _private([tuple(a for i, a in enumerate(r) if i not in _MARKET_SET) for r in runs]):
        own.append(args)
    return [tuple(out) for out in _loop_many_shared(market, own)]


_MARKET_ARGS: Final = (1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13)
"""Where the loop's arguments hold the market's own arrays (open, high, low, close, volume, bid, ask, whether there
are quotes; marks, tradable, trading days): the same objects for every run on that market. The driver puts them
back in these places (the arguments after them follow each run's own, whatever their number)."""
_MARKET_SET: Final = frozenset(_MARKET_ARGS)


def _copy(a: Any) -> Any:
    """``a``'s own copy for one compiled call (see :func:`_private`), keeping its compiled type."""
    if not isinstance(a, np.ndarray):
        return a
    c = a.copy()
    c.setflags(write=a.flags.writeable)
    return c


def _private(runs: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``runs`` with a copy, for this call alone, of every array more than one of them reads (the bars, a target
    frame several variants share): compiled code counts references to an array's memory atomically, and two threads
    counting on the same arrays at every bar pass that memory's cache line between the cores."""
    seen: dict[int, int] = {}
    for args in runs:
        for a in args:
            if isinstance(a, np.ndarray):
                seen[id(a)] = seen.get(id(a), 0) + 1
    copies: dict[int, np.ndarray] = {}

    def private(a: Any) -> Any:
        if not isinstance(a, np.ndarray) or seen[id(a)] < 2:
            return a
        c = copies.get(id(a))
        if c is None:
            c = copies[id(a)] = a.copy()
            c.setflags(write=a.flags.writeable)  # the same compiled type as the original
        return c

    return [tuple(private(a) for a in args) for args in runs]


@numba.njit(cache=True, nogil=True)
def _loop_many_shared(market: Any, runs: Any) -> Any:
    outs = List()
    for k in range(len(runs)):
        r = runs[k]
        # tuple concatenation (numba compiles it; starred items inside a tuple display it does not)
        outs.append(_loop(*((r[0],) + market[0:8] + (r[1], r[2]) + market[8:11] + r[3:])))  # noqa: RUF005
    return outs


@numba.njit(cache=True, nogil=True)
def _loop_many(runs: Any) -> Any:
    outs = List()
    for k in range(len(runs)):
        outs.append(_loop(*runs[k]))
    return outs
