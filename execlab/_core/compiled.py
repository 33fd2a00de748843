"""Compiled kernels that count no references: what the bar loop's kernels are compiled as.

Numba counts references to every array a compiled function holds, with an atomic operation per array at each call,
view and tuple; in a bar loop calling kernels with dozens of arrays at every rebalance those operations took about
half of the loop's time. A kernel compiled by :func:`no_refcount` counts none. It must not allocate (numba refuses
to compile one that does) nor return an array; the arrays it is given stay owned by its caller, which holds them
for the whole call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

__all__ = ["no_refcount"]

F = TypeVar("F", bound=Callable[..., Any])


def no_refcount(**options: Any) -> Callable[[F], F]:
    """``numba.njit(cache=True, nogil=True, **options)`` without the runtime's reference counting (numba's ``_nrt``
    flag)."""
    jit: Callable[[F], F] = numba.njit(cache=True, nogil=True, _nrt=False, **options)  # type: ignore[call-overload]
    return jit
