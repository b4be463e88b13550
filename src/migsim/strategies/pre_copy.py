"""Iterative pre-copy (Clark et al. NSDI'05; Xen ``xc_domain_save``; QEMU options).

Round 0 sends every needed page; round i sends the pages dirtied during round i-1, skipping
pages written again before their turn (peek/skip). Stop rules of Xen (rounds, 3x memory, fewer
than 50 pages left, no progress at the maximum rate) or QEMU's switchover (remaining bytes fit
in ``downtime_limit`` at the measured bandwidth); dynamic rate limiting; auto-converge
throttling; stunning of write-heavy guests. Exact rules: docs/semantics.md, *Pre-copy*.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import simpy

from migsim.config import StrategyOptions
from migsim.engine.pages import WRITTEN
from migsim.engine.primitives import (
    DirtyLog,
    RoundSender,
    Sent,
    queue_len,
    resume_at_destination,
    send_paused,
    sorted_dirty,
)
from migsim.options import option
from migsim.registry import register_strategy
from migsim.strategies.base import Strategy

__all__ = ["PreCopy", "PreCopyOptions", "next_dynamic_limit"]

_XEN = "Xen `xc_domain_save`"


@dataclass(frozen=True)
class PreCopyOptions(StrategyOptions):
    """Pre-copy's options, with Xen's and QEMU's defaults."""

    max_rounds: int = option(
        30,
        kind="int",
        unit="rounds",
        lo=1,
        help="round cap (1 = one full pass, then stop-and-copy)",
        source=_XEN,
    )
    max_factor: float = option(
        3.0,
        kind="float",
        unit="x memory",
        lo=0,
        lo_open=True,
        help="stop when more than this x memory has been sent",
        source=_XEN,
    )
    stop_pages: int = option(
        50,
        kind="int",
        unit="pages",
        lo=0,
        help="converged when fewer pages remain (~200 KiB)",
        source=f"{_XEN}, [Clark05]",
    )
    skip: bool = option(
        True,
        kind="bool",
        help="peek/skip pages re-dirtied before their turn",
        source="Xen, [Clark05] (rapid page dirtying)",
    )
    scan_order: str = option(
        "sequential",
        kind="choice",
        choices=("sequential", "random"),
        help="order of a round's queue (random: a seeded permutation)",
        source="SPEC §2",
    )
    switchover: str = option(
        "xen",
        kind="choice",
        choices=("xen", "qemu"),
        help="stop rule: Xen's, or QEMU's remaining-bytes-fit-in-downtime-limit",
        source="Xen, [QEMU]",
    )
    downtime_limit: float = option(
        0.3,
        kind="duration",
        lo=0,
        help="QEMU switchover target",
        source="[QEMU] `downtime-limit`",
    )
    auto_converge: bool = option(
        False,
        kind="bool",
        help="throttle the guest when dirtying outpaces sending",
        source="[QEMU] auto-converge",
    )
    throttle_initial: float = option(
        0.2,
        kind="float",
        unit="fraction",
        lo=0,
        hi=1,
        help="first throttle",
        source="[QEMU] `cpu-throttle-initial` 20",
    )
    throttle_increment: float = option(
        0.1,
        kind="float",
        unit="fraction",
        lo=0,
        hi=1,
        help="throttle step",
        source="[QEMU] `cpu-throttle-increment` 10",
    )
    throttle_max: float = option(
        0.99,
        kind="float",
        unit="fraction",
        lo=0,
        hi=1,
        help="throttle cap",
        source="[QEMU] `max-cpu-throttle` 99",
    )
    throttle_threshold: float = option(
        0.5,
        kind="float",
        unit="fraction",
        lo=0,
        hi=1,
        help='dirtied bytes / sent bytes above which a round counts as "high"',
        source="[QEMU] (50 %)",
    )
    throttle_trigger_rounds: int = option(
        2,
        kind="int",
        unit="rounds",
        lo=1,
        help='"high" rounds before each throttle step',
        source="[QEMU] (`dirty_rate_high_cnt >= 2`)",
    )
    stun_write_faults: int = option(
        0,
        kind="int",
        unit="first-writes per round",
        lo=0,
        help="stun the guest for the rest of the round after this many (0 = off)",
        source="[Clark05] §5.5 (suggests 40)",
    )
    write_fault_cost: float = option(
        2e-6,
        kind="duration",
        lo=0,
        help="service lost per first write in a pre-copy round (dirty logging)",
        source="migsim estimate of a write-protection fault",
    )
    max_time: float = option(
        0.0,
        kind="duration",
        lo=0,
        help="cancel the migration if the rounds have not ended after this long (0 = never); "
        "the VM keeps running on the source, stop reason `cancelled`",
        source="QEMU `migrate_cancel`, as guestperf's --max-time uses it",
    )


def next_dynamic_limit(
    opts: StrategyOptions, dirtied: int, page_size: int, duration: float
) -> float:
    """Xen's dynamic rate limit for the next round: last round's dirtying rate + increment,
    within [min_rate, max_rate] (Clark et al. 2005, section 5.2)."""
    if duration <= 0:
        return opts.max_rate
    dirty_bps = dirtied * page_size * 8 / duration
    return min(opts.max_rate, max(opts.min_rate, dirty_bps + opts.rate_increment))


@register_strategy("pre_copy")
class PreCopy(Strategy):
    """Pre-copy rounds, then stop-and-copy of what is left and the state, then resume."""

    Options = PreCopyOptions

    def __init__(self, options: PreCopyOptions):
        super().__init__(options)
        self.perm: np.ndarray | None = None  # random scan order, drawn once per run
        self.rank: np.ndarray | None = None  # position of each page in perm
        self.remaining: np.ndarray | None = None  # stale pages when the rounds stop
        self.throttle = 0.0  # auto-converge: the share of the vCPU taken away
        self.high = 0  # auto-converge: high rounds since the last throttle step
        self.cap = self.demand = 0.0  # link capacity, the workload's traffic (bit/s)
        self.stretch = (0.0, 1.0, 0.0)  # the stretch not yet accounted: start, speed, app
        self.in_rounds = False  # the rounds are running (max_time may cancel them)

    def process(self, ctx) -> Generator:
        if not (yield from self.rounds(ctx, self.opts.max_rounds)):
            return
        ctx.pause(ctx.t)
        rate = self.opts.final_rate(ctx.cfg.link)
        yield from send_paused(ctx, self.remaining, rate, ctx.cfg.vm.state_bytes)
        yield from resume_at_destination(ctx)

    # -- queues ---------------------------------------------------------------------------

    def _perm(self, ctx) -> np.ndarray:
        """The random scan order, drawn once per run: a seeded permutation of all pages."""
        if self.perm is None:
            self.perm = np.random.default_rng(ctx.cfg.seed).permutation(ctx.memory_pages)
        return self.perm

    def queue(self, ctx, mask: np.ndarray) -> np.ndarray:
        """The pages of ``mask`` in scan order: in a seeded permutation's order (an array of
        pages), or sequentially, given as the bool mask itself (the kernel walks it; building
        the array of a full pass took about a tenth of a short run)."""
        if self.opts.scan_order == "random":
            perm = self._perm(ctx)
            return perm[mask[perm]].astype(np.int64, copy=False)
        return mask

    def dirty_queue(self, ctx, pages: np.ndarray) -> np.ndarray:
        """The next round's queue: ``pages`` (distinct, dirtied this round) in scan order,
        with their WRITTEN bits cleared (Xen reads and clears the dirty bitmap)."""
        if self.opts.scan_order == "random":
            if self.rank is None:
                perm = self._perm(ctx)
                self.rank = np.empty_like(perm)
                self.rank[perm] = np.arange(perm.shape[0])
            out = pages[np.argsort(self.rank[pages], kind="stable")]
            ctx.pages.clear(WRITTEN, out)
            return out
        return sorted_dirty(ctx, pages)

    # -- the rounds -----------------------------------------------------------------------

    def send_round(self, ctx, sender: RoundSender, limit: float) -> Generator:
        """Send one round's queue (``sender``) under the rate ``limit`` (bit/s), and account
        the guest's progress and lost service over it (:meth:`account`). Returns the rate the
        round was sent at (the mean when it changed: on a shared link, another migration
        started or ended). A strategy that changes the guest's speed within a round overrides
        this; it keeps ``self.stretch`` (start, speed, link share of the guest's traffic) of the
        stretch not yet accounted, which a cancel accounts up to its time."""
        speed = 1.0 - self.throttle
        ctx.link.want(limit, self.demand * speed)
        while True:
            mig, app = yield from ctx.link.rates()
            self.stretch = (sender.stopped_at, speed, app)
            if (yield from sender.run(mig, speed)):
                break
            self.account(ctx, sender.stopped_at, sender.result())  # the link's rates changed
        self.account(ctx, ctx.t, sender.result())
        return sender.mean_rate()

    def account(self, ctx, t1: float, r: Sent) -> None:
        """The guest ran the current stretch (``self.stretch``: from ``t0`` at ``speed``, its
        traffic at ``app`` bit/s) up to wall time ``t1``: advance guest time, book lost
        service (throttling or link share; nothing is served after a stun)."""
        t0, speed, app = self.stretch
        ctx.g = r.g_stun if r.stunned else ctx.g + speed * (t1 - t0)
        frac = app / self.demand if self.demand > 0 else speed
        ctx.ledger.rounds += (1.0 - frac) * (t1 - t0)
        ctx.grid.add_interval(t0, t1, 1.0 - frac)
        if r.stunned and t1 > r.t_stun:
            ts = max(t0, r.t_stun)  # (a stretch before the stun's may end after it)
            ctx.ledger.rounds += frac * (t1 - ts)
            ctx.grid.add_interval(ts, t1, frac)
        self.stretch = (t1, speed, app)

    def cancel_at(self, ctx, deadline: float) -> None:
        """``max_time``: a SimPy timeout at ``deadline`` whose callback interrupts the
        migration process if its rounds are still running then (QEMU's ``migrate_cancel``).
        An event in SimPy's queue from now on, so no kernel runs past it."""
        migration = ctx.env.active_process

        def cancel(_event) -> None:
            if self.in_rounds:
                migration.interrupt("max_time")

        ctx.add_alarm(deadline)
        ctx.wait_until(deadline).callbacks.append(cancel)

    def after_round(self, k: int, r: Sent, page: int) -> None:
        """QEMU's auto-converge (migration/ram.c, ``migration_trigger_throttle``): from the
        second round on, a round that dirtied more than ``throttle_threshold`` of the bytes it
        sent counts as high; every ``throttle_trigger_rounds`` high rounds the throttle
        steps up."""
        st = self.opts
        if st.auto_converge and k >= 1:
            if r.dirtied * page > st.throttle_threshold * r.bytes:
                self.high += 1
            if self.high >= st.throttle_trigger_rounds:
                self.throttle = (
                    st.throttle_initial
                    if self.throttle == 0
                    else min(st.throttle_max, self.throttle + st.throttle_increment)
                )
                self.high = 0

    def rounds(self, ctx, max_rounds: int) -> Generator:
        """The iterative rounds while the guest runs on the source. Leaves in
        ``self.remaining`` the pages whose destination copy is stale (in scan order), and
        sets the stop reason. Returns False when ``max_time`` cancelled the migration (the
        VM keeps running on the source), True when it is time to switch over."""
        st = self.opts
        self.cap = ctx.cfg.link.capacity_bps
        self.demand = ctx.workload.service.network_demand_bps
        m = ctx.memory_pages
        page = ctx.page_size
        hdr = st.page_header_bytes
        log = DirtyLog(ctx)
        order = self.queue(ctx, ctx.pages.needed)
        limit = self.cap if st.rate_limit == "fixed" else st.min_rate
        if st.max_time > 0:
            self.in_rounds = True
            self.cancel_at(ctx, ctx.t + st.max_time)
        total_sent, prev_sent = 0, -1
        k = 0
        while True:
            t_k, to_send = ctx.t, queue_len(order)
            sender = RoundSender(
                ctx,
                order,
                log=log,
                skip=st.skip,
                stun=st.stun_write_faults,
                fault_cost=st.write_fault_cost,
            )
            throttle = self.throttle
            try:
                mig = yield from self.send_round(ctx, sender, limit)
            except simpy.Interrupt:  # max_time: the VM stays on the source
                now = ctx.now
                self.account(ctx, now, sender.result())
                sender.close(now)
                mig, cancelled = sender.state[0]["rate"], True
            else:
                cancelled = False
            r = sender.result()
            t_end = ctx.t
            duration = t_end - t_k
            faults = r.dirtied
            ctx.ledger.write_faults += faults * st.write_fault_cost
            ctx.add_round(
                round=k,
                phase="precopy",
                start_s=t_k,
                duration_s=duration,
                to_send=to_send,
                sent=r.sent,
                skipped=r.skipped,
                dirtied=faults,
                bytes=r.bytes,
                rate_limit_bps=float(mig),
                dirty_rate_pps=faults / duration if duration > 0 else 0.0,
                throttle=throttle,
            )
            n = k + 1
            ctx.precopy_rounds = n
            if cancelled:
                ctx.cancel(t_end)
                ctx.touches_processed += ctx.stream.count_before(ctx.g)
                return False
            total_sent += r.sent
            # the next queue: pages written this round (the dirty log), then clear the log
            order = self.dirty_queue(ctx, log.dirtied(faults))
            rem = int(faults)
            self.after_round(k, r, page)
            reason = None
            if st.switchover == "xen":
                if rem < st.stop_pages:
                    reason = "converged"
            else:
                bw = r.bytes * 8 / duration if duration > 0 else mig
                if rem * (page + hdr) * 8 <= bw * st.downtime_limit:
                    reason = "converged"
            if reason is None and n >= max_rounds:
                reason = "max_rounds"
            if reason is None and st.switchover == "xen":
                if total_sent > st.max_factor * m:
                    reason = "max_factor"
                elif (
                    st.rate_limit == "dynamic"
                    and k >= 1
                    and r.sent > prev_sent
                    and limit == st.max_rate
                ):
                    reason = "no_progress"
            if reason is not None:
                ctx.stop_reason = reason
                ctx.converged = reason == "converged"
                self.remaining = order
                self.in_rounds = False
                ctx.touches_processed += ctx.stream.count_before(ctx.g)
                return True
            if st.rate_limit == "dynamic":
                limit = next_dynamic_limit(st, faults, page, duration)
            prev_sent = r.sent
            k += 1
