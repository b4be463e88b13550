"""Page state as numpy arrays (one entry per guest page).

``needed``   bool, the page must reach the destination (in use, or all pages without DSB)
``flags``    uint8, bits :data:`WRITTEN` (the page was written in the current pre-copy round:
             Xen's dirty bitmap), :data:`ZERO` (the page's source copy is all zeros; writes
             clear it) and :data:`STALE` (the destination lacks the page's latest contents:
             pre-copy bookkeeping). One byte per page rather than three bool arrays, so that
             a write to a page, or a send of a page away from the pass, touches one cache
             line of page state instead of three.
``sends``    int32, how many times the page was sent
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from migsim.config import StrategyOptions, VMSpec

__all__ = ["COST", "STALE", "WRITTEN", "ZERO", "PageState", "cost_vector"]

WRITTEN = 1
ZERO = 2
STALE = 4

#: The page-cost parameters of a run (one record): bytes on the wire of a ``full`` page (page +
#: header), of a zero-page marker (``hdr``) and of an XBZRLE hit (``xbz``, + header); whether
#: zero-page detection (``zero_opt``) and XBZRLE (``xbzrle``) are on; the run's ``seed``.
COST = np.dtype(
    [
        ("full", np.int64),
        ("hdr", np.int64),
        ("xbz", np.int64),
        ("zero_opt", np.int64),
        ("xbzrle", np.int64),
        ("seed", np.int64),
    ]
)


@dataclass
class PageState:
    """The per-page arrays of one run."""

    needed: np.ndarray
    flags: np.ndarray
    sends: np.ndarray

    @classmethod
    def create(cls, needed: np.ndarray, zero: np.ndarray) -> PageState:
        """The state at the start of migration: every needed page stale, none written."""
        flags = _initial_flags(zero, needed)
        return cls(needed=needed, flags=flags, sends=np.zeros(needed.shape[0], dtype=np.int32))

    def clear(self, bit: int, pages: np.ndarray) -> None:
        """Clear ``bit`` of ``pages`` (an index array or a bool mask)."""
        self.flags[pages] &= np.uint8(~bit & 0xFF)


@njit(cache=True)
def _initial_flags(zero: np.ndarray, needed: np.ndarray) -> np.ndarray:
    """ZERO where ``zero``, STALE where ``needed`` (one pass, no temporaries)."""
    flags = np.empty(zero.shape[0], dtype=np.uint8)
    for i in range(zero.shape[0]):
        flags[i] = (ZERO if zero[i] else 0) | (STALE if needed[i] else 0)
    return flags


def cost_vector(strategy: StrategyOptions, vm: VMSpec, seed: int) -> np.ndarray:
    """The page-cost record of a run for the kernels (docs/semantics.md, page cost), as a
    one-element array of :data:`COST`."""
    hdr = strategy.page_header_bytes
    xbz = int(np.ceil(strategy.xbzrle_ratio * vm.page_size))
    out = np.zeros(1, dtype=COST)
    out[0] = (
        vm.page_size + hdr,
        hdr,
        xbz + hdr,
        int(strategy.zero_pages),
        int(strategy.compression == "xbzrle"),
        seed,
    )
    return out
