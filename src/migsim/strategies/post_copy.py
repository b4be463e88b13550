"""Post-copy (Hines & Gopalan VEE'09; QEMU postcopy): pause, send the CPU state (and, as in
Hines' Xen prototype, non-pageable memory), resume at the destination, then fetch each missing
page on a network fault while the source pushes the rest (sequentially, or by bubbling around
the latest faults). Each page crosses the network at most once. Exact rules:
docs/semantics.md, *Post-copy*.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from migsim.config import ConfigError, StrategyOptions, VMSpec
from migsim.engine.primitives import pull, switch_to_destination
from migsim.options import option
from migsim.registry import register_strategy
from migsim.strategies.base import Strategy

__all__ = ["PostCopy", "PostCopyOptions"]


@dataclass(frozen=True)
class PostCopyOptions(StrategyOptions):
    """Post-copy's options (Hines & Gopalan 2009; Hines et al. 2009)."""

    push: bool = option(
        True,
        kind="bool",
        help="active push of the remaining pages (false: demand paging only)",
        source="[Hines09]",
    )
    prepaging: str = option(
        "none",
        kind="choice",
        choices=("none", "bubble", "multi_pivot"),
        help="push order: ascending, or bubbling around the latest fault(s)",
        source="[Hines09], [Hines09b]",
    )
    pivots: int = option(
        7,
        kind="int",
        unit="pivots",
        lo=1,
        help="pivots kept by `multi_pivot`",
        source="[Hines09b] (k = 7 best)",
    )
    direction: str = option(
        "dual",
        kind="choice",
        choices=("forward", "dual"),
        help="bubbling direction",
        source="[Hines09]",
    )
    demand_timeout: float = option(
        30.0,
        kind="duration",
        lo=0,
        help="demand paging only: when the source starts pushing the rest",
        source="migsim",
    )

    def check(self, vm: VMSpec) -> None:
        super().check(vm)
        if not self.push and self.prepaging != "none":
            raise ConfigError(
                f"strategy.prepaging: {self.prepaging!r} is out of range; allowed: 'none' "
                "when strategy.push is false (pre-paging pushes pages)"
            )


def post_copy_phase(ctx, opts: PostCopyOptions, absent: np.ndarray) -> Generator:
    """Switch over to the destination at ``ctx.t`` and pull the pages of ``absent``; sets
    the stop reason ``demand_timeout`` when a demand-only pull had to push the rest."""
    rate = opts.final_rate(ctx.cfg.link)
    yield from switch_to_destination(ctx, rate)
    started = yield from pull(
        ctx,
        absent,
        rate,
        order=opts.prepaging,
        pivots=opts.pivots,
        dual=opts.direction == "dual",
        push_after=0.0 if opts.push else opts.demand_timeout,
    )
    if not opts.push and started:
        ctx.stop_reason = "demand_timeout"


@register_strategy("post_copy")
class PostCopy(Strategy):
    """Post-copy of every needed page."""

    Options = PostCopyOptions

    def process(self, ctx) -> Generator:
        ctx.stop_reason = "complete"
        ctx.converged = True
        yield from post_copy_phase(ctx, self.opts, ctx.pages.needed.copy())
