"""Stop-and-copy: pause, send all memory and the CPU/device state, resume. Downtime equals
total migration time (Clark et al. 2005, section 3)."""

from __future__ import annotations

from collections.abc import Generator

from migsim.engine.primitives import resume_at_destination, send_paused
from migsim.registry import register_strategy
from migsim.strategies.base import Strategy


@register_strategy("stop_and_copy")
class StopAndCopy(Strategy):
    """Pause at t = 0, send every needed page in ascending order and the state, resume."""

    def process(self, ctx) -> Generator:
        ctx.pause(0.0)
        rate = self.opts.final_rate(ctx.cfg.link)
        # the queue: every needed page, in ascending order (a bool mask the kernel walks)
        yield from send_paused(ctx, ctx.pages.needed, rate, extra_bytes=ctx.cfg.vm.state_bytes)
        ctx.stop_reason = "stop_and_copy"
        ctx.converged = True
        yield from resume_at_destination(ctx)
