"""The analytical workloads: ``uniform`` (Poisson writes) and ``idle`` (no touches)."""

from __future__ import annotations

import numpy as np

from migsim.workloads.base import BlockWorkload, ServiceModel, Touches, block_rng, register


@register("uniform")
class Uniform(BlockWorkload):
    """Poisson writes at ``rate`` pages/s, each to a page drawn uniformly from the first
    ``pages`` pages (default: all of memory). The workload of the closed-form pre-copy model
    (SPEC section 5): distinct pages dirtied in ``t`` seconds are ``P (1 - exp(-rate t / P))``.

    Service: progress/s, baseline 1.
    """

    service = ServiceModel(baseline=1.0, unit="progress/s")

    def __init__(
        self,
        memory_pages: int,
        page_size: int = 4096,
        seed: int = 0,
        rate: float = 1000.0,
        pages: int = 0,
    ):
        rate = float(rate)
        pages = int(pages) or memory_pages
        if rate < 0:
            raise ValueError(f"uniform: rate must be >= 0 pages/s, got {rate}")
        if not 1 <= pages <= memory_pages:
            raise ValueError(f"uniform: pages must be in [1, {memory_pages}], got {pages}")
        super().__init__(memory_pages, page_size, seed, rate=rate, pages=pages)
        self.rate = rate
        self.pages = pages

    def _block(self, k: int) -> Touches:
        rng = block_rng(self.seed, 1, k)
        n = int(rng.poisson(self.rate * self.block_s))
        # sorted uniform times in O(n): normalised partial sums of n + 1 exponential spacings
        c = np.cumsum(rng.standard_exponential(n + 1))
        t = k * self.block_s + self.block_s * (c[:n] / c[n])
        page = rng.integers(0, self.pages, n, dtype=np.int64)
        return Touches(t, page, np.ones(n, dtype=np.bool_))


@register("idle")
class Idle(BlockWorkload):
    """A guest that touches nothing; every page is in use and none is zero, so migration
    moves all of memory exactly once. Service: progress/s, baseline 1."""

    service = ServiceModel(baseline=1.0, unit="progress/s")

    def _block(self, k: int) -> Touches:
        return Touches(np.empty(0), np.empty(0, np.int64), np.empty(0, np.bool_))
