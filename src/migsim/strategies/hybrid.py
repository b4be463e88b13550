"""Hybrid: ``precopy_rounds`` pre-copy rounds (default 1, a full pass), then post-copy of the
pages dirtied since (Hines & Gopalan VEE'09, section 3; QEMU's postcopy after precopy)."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from migsim.options import option
from migsim.registry import register_strategy
from migsim.strategies.post_copy import PostCopyOptions, post_copy_phase
from migsim.strategies.pre_copy import PreCopy, PreCopyOptions

__all__ = ["Hybrid", "HybridOptions"]


@dataclass(frozen=True)
class HybridOptions(PostCopyOptions, PreCopyOptions):
    """Pre-copy's and post-copy's options, and how many pre-copy rounds come first."""

    precopy_rounds: int = option(
        1,
        kind="int",
        unit="rounds",
        lo=1,
        help="pre-copy rounds before switching to post-copy",
        source="SPEC §2, [Hines09]",
    )


@register_strategy("hybrid")
class Hybrid(PreCopy):
    """Pre-copy rounds, then post-copy of the pages whose destination copy is stale."""

    Options = HybridOptions

    def process(self, ctx) -> Generator:
        st = self.opts
        if not (yield from self.rounds(ctx, min(st.max_rounds, st.precopy_rounds))):
            return  # cancelled by max_time before the switchover
        reason = ctx.stop_reason
        absent = np.zeros(ctx.memory_pages, dtype=np.bool_)
        absent[self.remaining] = True
        yield from post_copy_phase(ctx, st, absent)
        ctx.stop_reason = reason  # the pre-copy one (docs/semantics.md, Hybrid)
        ctx.converged = reason == "converged"
