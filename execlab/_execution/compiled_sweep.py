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
from typing import Any

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
    are written into each tuple's own arrays."""
    if not runs:
        return []
    chunk = List()
    for args in _private(runs):
        chunk.append(args)
    return [tuple(out) for out in _loop_many(chunk)]


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
def _loop_many(runs: Any) -> Any:
    outs = List()
    for k in range(len(runs)):
        outs.append(_loop(*runs[k]))
    return outs
