"""Stop-and-copy: pause, send all memory and the CPU/device state, resume. Downtime equals
total migration time (Clark et al. 2005, section 3)."""

from __future__ import annotations

from collections.abc import Generator

from migsim.engine.link import final_rate
from migsim.strategies.pre_copy import send_paused


def run(ctx) -> Generator:
    """Pause at t = 0, send every needed page in ascending order and the state, resume."""
    ctx.pause(0.0)
    rate = final_rate(ctx.cfg.strategy, ctx.cfg.link)
    # the queue: every needed page, in ascending order (as a mask: see pre_copy.queue)
    yield from send_paused(ctx, ctx.pages.needed, rate, extra_bytes=ctx.cfg.vm.state_bytes)
    resume = ctx.t + ctx.cfg.vm.resume_time
    ctx.t_end = resume
    ctx.resume(resume)
    ctx.stop_reason = "stop_and_copy"
    ctx.converged = True
    yield ctx.env.timeout(max(0.0, resume - ctx.env.now))
