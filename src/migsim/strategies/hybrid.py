"""Hybrid: ``precopy_rounds`` pre-copy rounds (default 1, a full pass), then post-copy of the
pages dirtied since (Hines & Gopalan VEE'09, section 3; QEMU's postcopy after precopy)."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np

from migsim.strategies.post_copy import postcopy_phase
from migsim.strategies.pre_copy import precopy_phase


def run(ctx) -> Generator:
    """Pre-copy rounds, then post-copy of the pages whose destination copy is stale."""
    st = ctx.cfg.strategy
    yield from precopy_phase(ctx, min(st.max_rounds, st.precopy_rounds))
    reason = ctx.stop_reason
    absent = np.zeros(ctx.memory_pages, dtype=np.bool_)
    absent[ctx.remaining] = True
    yield from postcopy_phase(ctx, absent)
    ctx.stop_reason = reason  # the pre-copy one (docs/semantics.md, Hybrid)
    ctx.converged = reason == "converged"
