"""Page state as numpy arrays (one entry per guest page).

``needed``   bool, the page must reach the destination (in use, or all pages without DSB)
``is_zero``  bool, the page's source copy is all zeros (writes clear it)
``sends``    int32, how many times the page was sent
``stale``    bool, the destination lacks the page's latest contents (pre-copy bookkeeping)
``written``  bool, the page was written in the current pre-copy round (Xen's dirty bitmap)
``st``       int8, post-copy state: 0 present (or not needed), 1 absent, 2 in flight
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from migsim.config import StrategySpec, VMSpec

__all__ = ["PageState", "cost_vector"]


@dataclass
class PageState:
    """The per-page arrays of one run."""

    needed: np.ndarray
    is_zero: np.ndarray
    sends: np.ndarray
    stale: np.ndarray
    written: np.ndarray

    @classmethod
    def create(cls, needed: np.ndarray, zero: np.ndarray) -> PageState:
        """The state at the start of migration; takes ownership of ``zero`` (it changes)."""
        m = needed.shape[0]
        return cls(
            needed=needed,
            is_zero=zero,
            sends=np.zeros(m, dtype=np.int32),
            stale=needed.copy(),
            written=np.zeros(m, dtype=np.bool_),
        )


def cost_vector(strategy: StrategySpec, vm: VMSpec, seed: int) -> np.ndarray:
    """Packed page-cost parameters for the kernels (docs/semantics.md, page cost):
    int64 [page + header, header, xbzrle bytes + header, zero_opt, xbzrle_on, seed]."""
    hdr = strategy.page_header_bytes
    xbz = int(np.ceil(strategy.xbzrle_ratio * vm.page_size))
    return np.array(
        [
            vm.page_size + hdr,
            hdr,
            xbz + hdr,
            int(strategy.zero_pages),
            int(strategy.compression == "xbzrle"),
            seed,
        ],
        dtype=np.int64,
    )
