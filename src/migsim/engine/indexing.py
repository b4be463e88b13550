"""``u(i)``: an array index as unsigned, for the numba kernels' per-page loops.

numba adds a negative-index wraparound (three instructions) to every array access with a
signed index; with an unsigned one it leaves it out. The kernels never index with a negative
number, so ``a[u(i)]`` reads the same element as ``a[i]``. In the pre-copy kernel this made
the per-page loops 7-18% faster end to end (benchmarks/engine.py cases, in-process A/B).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["u"]


@njit(inline="always")
def u(i):
    """``i`` (a non-negative integer) as ``uint64``, for indexing only: never mix it into
    arithmetic with signed integers (numba would promote the result to float64)."""
    return np.uint64(i)
