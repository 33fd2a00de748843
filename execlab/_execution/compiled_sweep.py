"""Many backtests in one compiled call: the compiled bar loop of :mod:`execlab._execution.compiled_backtest` run back
to back over a chunk of runs (a sweep's variants sharing the bars), without Python between them and without the
GIL, so threads each running a chunk use every core.

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
from numba.typed import List

from execlab._execution.compiled_backtest import CompiledRun, _loop, compiled_run

__all__ = ["run_compiled_many"]


def run_compiled_many(runs: Sequence[tuple[Any, ...]]) -> list[CompiledRun | None]:
    """Run the compiled loop once per argument tuple of ``runs`` (from ``loop_arguments``, all of one type: the
    same market's arrays) in one compiled call; each run's :class:`CompiledRun`, or ``None`` where a run met a data
    gap (the per-step path must run it)."""
    if not runs:
        return []
    chunk = List()
    for args in runs:
        chunk.append(args)
    outs = _loop_many(chunk)
    return [compiled_run(args, tuple(out)) for args, out in zip(runs, outs, strict=True)]


@numba.njit(cache=True, nogil=True)
def _loop_many(runs: Any) -> Any:
    outs = List()
    for k in range(len(runs)):
        outs.append(_loop(*runs[k]))
    return outs
