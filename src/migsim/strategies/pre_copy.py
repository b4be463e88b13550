"""Iterative pre-copy (Clark et al. NSDI'05; Xen ``xc_domain_save``; QEMU options).

Round 0 sends every needed page; round i sends the pages dirtied during round i-1, skipping
pages written again before their turn (peek/skip). Stop rules of Xen (rounds, 3x memory, fewer
than 50 pages left, no progress at the maximum rate) or QEMU's switchover (remaining bytes fit
in ``downtime_limit`` at the measured bandwidth); dynamic rate limiting; auto-converge
throttling; stunning of write-heavy guests. Exact rules: docs/semantics.md, *Pre-copy*.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, replace

import numpy as np

from migsim.engine import kernels as K
from migsim.engine.link import alloc, final_rate, next_dynamic_limit
from migsim.engine.pages import WRITTEN

__all__ = [
    "WriteBuffer",
    "dirty_queue",
    "precopy_phase",
    "queue",
    "run",
    "run_round",
    "send_paused",
]


_NO_WORDS = np.zeros(1, dtype=np.uint64)
_NO_PAGES = np.zeros(0, dtype=np.int64)
_NO_MASK = np.zeros(0, dtype=np.bool_)


def _words(w: np.ndarray) -> np.ndarray:
    """The is-write flags as little-endian uint64 words of eight flags, zero-padded (the
    kernel finds the next write a word at a time); none when every touch is a write."""
    if w.all():
        return _NO_WORDS
    n = w.shape[0]
    padded = np.zeros((n // 8 + 1) * 8, dtype=np.bool_)
    padded[:n] = w
    return padded.view(np.uint64)


@dataclass
class WriteBuffer:
    """Buffered touches (guest time, page, is_write) from index ``start`` on not yet applied,
    and the guest time up to which the buffer is complete. Reads pass through the kernel,
    which skips them; ``words`` packs the is-write flags eight to a word for that."""

    g: np.ndarray
    p: np.ndarray
    w: np.ndarray
    words: np.ndarray
    cover: float
    start: int = 0

    @classmethod
    def of(cls, g: np.ndarray, p: np.ndarray, w: np.ndarray, cover: float) -> WriteBuffer:
        return cls(g, p, w, _words(w), cover)

    @classmethod
    def empty(cls, cover: float) -> WriteBuffer:
        return cls.of(np.empty(0), np.empty(0, dtype=np.int64), np.empty(0, np.bool_), cover)


def _refill(ctx, buf: WriteBuffer, pos: int) -> WriteBuffer:
    part = ctx.stream.fetch()
    g, p, w = part.t, part.page, part.is_write
    if pos < buf.g.shape[0]:
        g = np.concatenate([buf.g[pos:], g])
        p = np.concatenate([buf.p[pos:], p])
        w = np.concatenate([buf.w[pos:], w])
    return WriteBuffer.of(g, p, w, ctx.stream.cover)


def _perm(ctx) -> np.ndarray:
    """The random scan order, drawn once per run: a seeded permutation of all pages."""
    if ctx._perm is None:
        ctx._perm = np.random.default_rng(ctx.cfg.seed).permutation(ctx.memory_pages)
    return ctx._perm


def queue(ctx, mask: np.ndarray) -> np.ndarray:
    """The pages of ``mask`` in scan order: in a seeded permutation's order (an array of
    pages), or sequentially, given as the bool mask itself (the kernel walks it; building the
    array of a full pass took about a tenth of a short run). Either form is a *queue*."""
    if ctx.cfg.strategy.scan_order == "random":
        perm = _perm(ctx)
        return perm[mask[perm]].astype(np.int64, copy=False)
    return mask


def queue_len(order: np.ndarray) -> int:
    """How many pages a queue (an array of pages, or a bool mask) holds."""
    return int(np.count_nonzero(order)) if order.dtype == np.bool_ else int(order.shape[0])


def dirty_queue(ctx, pages: np.ndarray) -> np.ndarray:
    """The next round's queue: ``pages`` (distinct, dirtied this round) in scan order, with
    their WRITTEN bits cleared (Xen reads and clears the dirty bitmap at the end of a round).
    Sequential order comes from a bitmap of memory, in O(k + memory / 64): sorting the pages
    took a tenth of a run whose later rounds each send thousands of pages."""
    if ctx.cfg.strategy.scan_order == "random":
        if ctx._rank is None:
            perm = _perm(ctx)
            ctx._rank = np.empty_like(perm)
            ctx._rank[perm] = np.arange(perm.shape[0])
        out = pages[np.argsort(ctx._rank[pages], kind="stable")]
        ctx.pages.clear(WRITTEN, out)
        return out
    return K.sorted_dirty(pages, ctx.pages.flags)


def run_round(
    ctx,
    order: np.ndarray,
    rate: float,
    speed: float,
    *,
    skip: bool,
    stun: int,
    writes: bool,
) -> Generator:
    """Drive the pre-copy kernel over the queue ``order`` in chunks (one SimPy event each).

    Returns (sent, skipped, bytes, zero markers, write faults, stunned, g_stun, t_stun).
    With ``writes`` false the guest is paused (stop-and-copy): no writes are applied.
    """
    p = ctx.pages
    t0 = ctx.t
    fs = np.array([t0, t0, ctx.g, speed, rate, 0.0, 0.0, 0.0])
    is_ = np.zeros(12, dtype=np.int64)
    is_[K.PI_WC] = -1
    is_[K.PI_STALE] = ctx.stale_count
    is_[K.PI_PRESENT] = ctx.present_count
    is_[K.PI_GJ] = ctx.gj
    buf = ctx._writes if writes else WriteBuffer.empty(np.inf)
    is_[K.PI_WPOS] = buf.start
    wlist = ctx._wlist if writes else np.empty(0, dtype=np.int64)
    fault_cost = ctx.cfg.strategy.write_fault_cost if writes else 0.0
    chunk = ctx.cfg.engine.chunk_pages
    n = order.shape[0]
    by_mask = order.dtype == np.bool_
    pages, mask = (_NO_PAGES, order) if by_mask else (order, _NO_MASK)
    step = ctx.grid.step
    while True:
        end = min(int(is_[K.PI_POS]) + chunk, n)
        finish = end == n
        while True:
            g = ctx.grid
            status = K.precopy_run(
                pages,
                by_mask,
                mask,
                end,
                buf.g,
                buf.p,
                buf.words,
                buf.words is _NO_WORDS,
                buf.cover,
                finish,
                skip,
                stun,
                fault_cost,
                p.flags,
                wlist,
                p.sends,
                ctx.cost,
                ctx.cfg.strategy.xbzrle_hit_rate,
                fs,
                is_,
                g.bytes,
                g.lost,
                g.stale,
                g.present,
                step,
            )
            if status == K.NEED_MORE:
                buf = _refill(ctx, buf, int(is_[K.PI_WPOS]))
                is_[K.PI_WPOS] = 0
            elif status == K.GRID_FULL:
                ctx.grid.grow()
            else:
                break
        yield ctx.env.timeout(max(0.0, fs[K.PF_T] - ctx.env.now))
        if finish:
            break
    if writes:
        ctx._writes = replace(buf, start=int(is_[K.PI_WPOS]))
    ctx.t = float(fs[K.PF_T])
    ctx.stale_count = int(is_[K.PI_STALE])
    ctx.present_count = int(is_[K.PI_PRESENT])
    ctx.gj = int(is_[K.PI_GJ])
    sent, skipped, nbytes, zero = (
        int(is_[i]) for i in (K.PI_SENT, K.PI_SKIPPED, K.PI_BYTES, K.PI_ZERO)
    )
    ctx.pages_sent += sent
    ctx.bytes_sent += nbytes
    ctx.zero_sent += zero
    ctx.skipped += skipped
    return (
        sent,
        skipped,
        nbytes,
        zero,
        int(is_[K.PI_FAULTS]),
        bool(is_[K.PI_STUNNED]),
        float(fs[K.PF_GSTUN]),
        float(fs[K.PF_TSTUN]),
    )


def send_paused(ctx, order: np.ndarray, rate: float, extra_bytes: int) -> Generator:
    """Stop-and-copy of the queue ``order`` and ``extra_bytes`` of state at ``rate`` (guest
    paused)."""
    t0 = ctx.t
    sent, _, nbytes, _, _, _, _, _ = yield from run_round(
        ctx, order, rate, 1.0, skip=False, stun=0, writes=False
    )
    ctx.t = ctx.t + (extra_bytes * 8.0) / rate
    ctx.bytes_sent += extra_bytes
    ctx.grid.add_bytes(ctx.t, extra_bytes)
    ctx.add_round(
        round=ctx.precopy_rounds,
        phase="stop_copy",
        start_s=t0,
        duration_s=ctx.t - t0,
        to_send=queue_len(order),
        sent=sent,
        skipped=0,
        dirtied=0,
        bytes=nbytes + extra_bytes,
        rate_limit_bps=rate,
        dirty_rate_pps=0.0,
        throttle=0.0,
    )
    yield ctx.env.timeout(max(0.0, ctx.t - ctx.env.now))


def precopy_phase(ctx, max_rounds: int) -> Generator:
    """The iterative rounds while the guest runs on the source. Leaves in ``ctx.remaining``
    the pages whose destination copy is stale (in scan order), and sets the stop reason."""
    st = ctx.cfg.strategy
    link = ctx.cfg.link
    cap = link.capacity_bps
    demand = ctx.workload.service.network_demand_bps
    m = ctx.memory_pages
    page = ctx.page_size
    hdr = st.page_header_bytes
    ctx._writes = WriteBuffer.empty(ctx.stream.cover)
    ctx._wlist = np.empty(ctx.memory_pages, dtype=np.int64)
    order = queue(ctx, ctx.pages.needed)
    limit = cap if st.rate_limit == "fixed" else st.min_rate
    throttle, high, total_sent, prev_sent = 0.0, 0, 0, -1
    k = 0
    while True:
        speed = 1.0 - throttle
        mig, app = alloc(limit, demand * speed, cap)
        t_k, to_send = ctx.t, queue_len(order)
        sent, skipped, nbytes, _, faults, stunned, g_stun, t_stun = yield from run_round(
            ctx, order, mig, speed, skip=st.skip, stun=st.stun_write_faults, writes=True
        )
        t_end = ctx.t
        duration = t_end - t_k
        ctx.g = g_stun if stunned else ctx.g + speed * (t_end - t_k)
        # service: throttling or link share for the round, nothing after a stun
        frac = app / demand if demand > 0 else speed
        ctx.ledger.rounds += (1.0 - frac) * duration
        ctx.grid.add_interval(t_k, t_end, 1.0 - frac)
        if stunned:
            ctx.ledger.rounds += frac * (t_end - t_stun)
            ctx.grid.add_interval(t_stun, t_end, frac)
        ctx.ledger.write_faults += faults * st.write_fault_cost
        ctx.add_round(
            round=k,
            phase="precopy",
            start_s=t_k,
            duration_s=duration,
            to_send=to_send,
            sent=sent,
            skipped=skipped,
            dirtied=faults,
            bytes=nbytes,
            rate_limit_bps=mig,
            dirty_rate_pps=faults / duration if duration > 0 else 0.0,
            throttle=throttle,
        )
        total_sent += sent
        # the next queue: pages written this round (Xen's dirty bitmap), then clear the bitmap
        order = dirty_queue(ctx, ctx._wlist[:faults])
        rem = int(faults)
        n = k + 1
        ctx.precopy_rounds = n
        if st.auto_converge and k >= 1:
            if faults * page > st.throttle_threshold * nbytes:
                high += 1
            if high >= st.throttle_trigger_rounds:
                throttle = (
                    st.throttle_initial
                    if throttle == 0
                    else min(st.throttle_max, throttle + st.throttle_increment)
                )
                high = 0
        reason = None
        if st.switchover == "xen":
            if rem < st.stop_pages:
                reason = "converged"
        else:
            bw = nbytes * 8 / duration if duration > 0 else mig
            if rem * (page + hdr) * 8 <= bw * st.downtime_limit:
                reason = "converged"
        if reason is None and n >= max_rounds:
            reason = "max_rounds"
        if reason is None and st.switchover == "xen":
            if total_sent > st.max_factor * m:
                reason = "max_factor"
            elif (
                st.rate_limit == "dynamic" and k >= 1 and sent > prev_sent and limit == st.max_rate
            ):
                reason = "no_progress"
        if reason is not None:
            ctx.stop_reason = reason
            ctx.converged = reason == "converged"
            ctx.remaining = order
            ctx.touches_processed += ctx.stream.count_before(ctx.g)
            return
        if st.rate_limit == "dynamic":
            limit = next_dynamic_limit(st, faults, page, duration)
        prev_sent = sent
        k += 1


def run(ctx) -> Generator:
    """Pre-copy rounds, then stop-and-copy of what is left and the state, then resume."""
    yield from precopy_phase(ctx, ctx.cfg.strategy.max_rounds)
    ctx.pause(ctx.t)
    rate = final_rate(ctx.cfg.strategy, ctx.cfg.link)
    yield from send_paused(ctx, ctx.remaining, rate, ctx.cfg.vm.state_bytes)
    resume = ctx.t + ctx.cfg.vm.resume_time
    ctx.t_end = resume
    ctx.resume(resume)
    yield ctx.env.timeout(max(0.0, resume - ctx.env.now))
