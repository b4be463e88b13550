"""Post-copy push orders: sequential, bubbling around one pivot, or around several pivots.

Hines & Gopalan (VEE'09) push pages outward from a *pivot* at the last network fault
("bubbling"), forward only or in both directions; Hines et al. (OSR'09) keep the k most recent
faults as pivots (k = 7 worked best). The exact rules are in docs/semantics.md (push order).

Page states (``st``): 0 present or not needed, 1 absent (not yet sent), 2 in flight.
Pivots live in a ring buffer ``piv[K, 3]`` of (forward cursor, backward cursor, next direction);
``pstate = [head, count, rotation, sequential cursor]``.

The functions are inlined into the post-copy kernel (numba ``inline="always"``); the kernel
module drops its cached code when this file is newer (numba would not notice).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from migsim.engine.indexing import u

__all__ = ["ORDER_CODES", "add_pivot", "new_pivots", "pick_next"]

#: push order name (a strategy's ``prepaging`` option) -> kernel code
ORDER_CODES = {"none": 0, "bubble": 1, "multi_pivot": 2}


def new_pivots(mode: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Initial pivot state: one pivot at page 0 (forward cursor 0, backward cursor -1)."""
    piv = np.zeros((max(k, 1), 3), dtype=np.int64)
    pstate = np.zeros(4, dtype=np.int64)
    if mode != 0:
        piv[0, 0] = 0
        piv[0, 1] = -1
        piv[0, 2] = 0
        pstate[1] = 1
    return piv, pstate


@njit(error_model="numpy", inline="always")
def add_pivot(piv: np.ndarray, pstate: np.ndarray, page: int, mode: int) -> None:
    """Make ``page`` (a network fault) the newest pivot; bubble keeps one, multi-pivot K."""
    if mode == 0:
        return
    k = piv.shape[0] if mode == 2 else 1
    head = (pstate[0] + 1) % k
    piv[head, 0] = page + 1
    piv[head, 1] = page - 1
    piv[head, 2] = 0
    pstate[0] = head
    if pstate[1] < k:
        pstate[1] += 1
    pstate[2] = 0


@njit(error_model="numpy", inline="always")
def _forward(piv: np.ndarray, i: int, st: np.ndarray) -> int:
    f = piv[i, 0]
    m = st.shape[0]
    while f < m and st[u(f)] != 1:
        f += 1
    if f < m:
        piv[i, 0] = f + 1
        return f
    piv[i, 0] = m
    return -1


@njit(error_model="numpy", inline="always")
def _backward(piv: np.ndarray, i: int, st: np.ndarray) -> int:
    b = piv[i, 1]
    while b >= 0 and st[u(b)] != 1:
        b -= 1
    if b >= 0:
        piv[i, 1] = b - 1
        return b
    piv[i, 1] = -1
    return -1


@njit(error_model="numpy", inline="always")
def _candidate(piv: np.ndarray, i: int, st: np.ndarray, dual: bool) -> int:
    if not dual:
        return _forward(piv, i, st)
    d = piv[i, 2]
    for _ in range(2):
        c = _forward(piv, i, st) if d == 0 else _backward(piv, i, st)
        if c >= 0:
            piv[i, 2] = 1 - d
            return c
        d = 1 - d
    return -1


@njit(error_model="numpy", inline="always")
def pick_next(st: np.ndarray, piv: np.ndarray, pstate: np.ndarray, mode: int, dual: bool) -> int:
    """The next page to push (marked in flight by the caller), or -1 if none is absent."""
    if mode != 0:
        k = piv.shape[0]
        n = pstate[1]
        head = pstate[0]
        rot = pstate[2]
        # (ring arithmetic by compare and subtract: rot < n <= k and head < k, so each wraps
        # at most once; a % here is an integer division, tens of cycles, on every push)
        for attempt in range(n):
            off = rot + attempt
            if off >= n:
                off -= n
            i = head - off
            if i < 0:
                i += k
            c = _candidate(piv, i, st, dual)
            if c >= 0:
                pstate[2] = off + 1 if off + 1 < n else 0
                return c
    m = st.shape[0]
    s = pstate[3]
    while s < m and st[u(s)] != 1:
        s += 1
    pstate[3] = s
    if s < m:
        return s
    return -1
