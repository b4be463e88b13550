"""Post-copy (Hines & Gopalan VEE'09; QEMU postcopy): pause, send the CPU state (and, as in
Hines' Xen prototype, non-pageable memory), resume at the destination, then fetch each missing
page on a network fault while the source pushes the rest (sequentially, or by bubbling around
the latest faults). Each page crosses the network at most once. Exact rules:
docs/semantics.md, *Post-copy*.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np

from migsim.engine import kernels as K
from migsim.engine.link import final_rate
from migsim.engine.pages import STALE
from migsim.strategies.prepaging import ORDER_CODES, new_pivots

__all__ = ["postcopy_phase", "run"]


def destination_process(ctx, absent: np.ndarray, rate: float) -> Generator:
    """The destination after resume: serves network faults and receives the push, in chunks
    of pages (one SimPy event each), until no page is absent."""
    cfg = ctx.cfg
    st_cfg = cfg.strategy
    mode = ORDER_CODES[st_cfg.prepaging]
    piv, pstate = new_pivots(mode, st_cfg.pivots if mode == 2 else 1)
    st = np.zeros(ctx.memory_pages, dtype=np.int8)
    st[absent] = 1
    t_r, g_r = ctx.t_resume, ctx.g
    t_push = t_r if st_cfg.push else t_r + st_cfg.demand_timeout
    fs = np.array([0.0, 0.0, t_push, t_r, 0.0, t_r, g_r, rate])
    is_ = np.zeros(11, dtype=np.int64)
    is_[K.QI_INFLIGHT] = -1
    remaining = int(absent.sum())
    is_[K.QI_REMAIN] = remaining
    is_[K.QI_PRESENT] = int(ctx.pages.needed.sum()) - remaining
    is_[K.QI_GJ] = ctx.gj
    stream = ctx.stream.__class__(ctx.workload, g_r, ctx.stream.in_use, ctx.stream.name)
    tg = np.empty(0)
    tp = np.empty(0, dtype=np.int64)
    chunk = cfg.engine.chunk_pages
    dual = st_cfg.direction == "dual"
    while True:
        g = ctx.grid
        status = K.postcopy_run(
            tg,
            tp,
            stream.cover,
            chunk,
            cfg.link.rtt_s,
            float(cfg.vm.vcpus),
            st,
            ctx.pages.sends,
            ctx.pages.flags,
            ctx.cost,
            st_cfg.xbzrle_hit_rate,
            piv,
            pstate,
            mode,
            dual,
            fs,
            is_,
            g.bytes,
            g.lost,
            g.stale,
            g.present,
            g.step,
        )
        if status == K.NEED_MORE:
            processed = int(is_[K.QI_TPOS])
            ctx.touches_processed += processed
            part = stream.fetch()
            tg, tp = part.t, part.page
            is_[K.QI_TPOS] = 0
        elif status == K.GRID_FULL:
            ctx.grid.grow()
        elif status == K.CHUNK:
            yield ctx.env.timeout(max(0.0, fs[K.QF_TLAST] - ctx.env.now))
        else:
            break
    ctx.touches_processed += int(is_[K.QI_TPOS])
    ctx.t = float(fs[K.QF_TLAST])
    ctx.pages_sent += int(is_[K.QI_SENT])
    ctx.bytes_sent += int(is_[K.QI_BYTES])
    ctx.zero_sent += int(is_[K.QI_ZERO])
    ctx.faults += int(is_[K.QI_FAULTS])
    ctx.stall_time += float(fs[K.QF_STALL])
    ctx.ledger.stalls += float(fs[K.QF_STALL]) / cfg.vm.vcpus
    ctx.gj = int(is_[K.QI_GJ])
    ctx.stale_count = 0
    ctx.present_count = int(is_[K.QI_PRESENT])
    ctx.pages.clear(STALE, absent)
    if not st_cfg.push and is_[K.QI_STARTED]:
        ctx.stop_reason = "demand_timeout"
    ctx.add_round(
        round=ctx.precopy_rounds,
        phase="postcopy",
        start_s=t_r,
        duration_s=ctx.t - t_r,
        to_send=remaining,
        sent=int(is_[K.QI_SENT]),
        skipped=0,
        dirtied=0,
        bytes=int(is_[K.QI_BYTES]),
        rate_limit_bps=rate,
        dirty_rate_pps=0.0,
        throttle=0.0,
    )
    yield ctx.env.timeout(max(0.0, ctx.t - ctx.env.now))


def postcopy_phase(ctx, absent: np.ndarray) -> Generator:
    """Pause at ``ctx.t``, send state and non-pageable memory, resume, run the destination."""
    cfg = ctx.cfg
    rate = final_rate(cfg.strategy, cfg.link)
    t_p = ctx.t
    ctx.pause(t_p)
    extra = cfg.vm.state_bytes + cfg.vm.nonpageable_bytes
    t_r = t_p + (extra * 8.0) / rate + cfg.vm.resume_time
    ctx.bytes_sent += extra
    ctx.grid.add_bytes(t_r - cfg.vm.resume_time, extra)
    ctx.add_round(
        round=ctx.precopy_rounds,
        phase="stop_copy",
        start_s=t_p,
        duration_s=t_r - t_p,
        to_send=0,
        sent=0,
        skipped=0,
        dirtied=0,
        bytes=extra,
        rate_limit_bps=rate,
        dirty_rate_pps=0.0,
        throttle=0.0,
    )
    yield ctx.env.timeout(max(0.0, t_r - ctx.env.now))
    ctx.t = t_r
    ctx.resume(t_r)
    yield ctx.env.process(destination_process(ctx, absent, rate))
    ctx.t_end = ctx.t


def run(ctx) -> Generator:
    """Post-copy of every needed page."""
    ctx.stop_reason = "complete"
    ctx.converged = True
    yield from postcopy_phase(ctx, ctx.pages.needed.copy())
