"""Numba kernels: the per-page hot loops of pre-copy rounds and the post-copy phase.

The page-cost choice, the grid-bin search, the push pick and the application of one write (in
the pre-copy kernel's per-event path and again in its block path) are written out inline at each
use on purpose: as separate @njit helpers (even with inline="always") they measured 1.3-3.5x
slower per page on this machine (benchmarks/engine.py), because numba calls them through its
calling convention with reference counting of every array argument. The post-copy push order
(``pick_next``, ``add_pivot`` from engine/push_order.py) is compiled in with numba's
``inline="always"`` instead: called, it took about 30% of the post-copy kernel's time.

Both kernels are *resumable*: all their state lives in what is passed in (one record of
:data:`PRECOPY_STATE` or :data:`POSTCOPY_STATE`, the per-page arrays), so the caller may stop them after any number of pages (a
chunk, one SimPy event), when the buffered trace runs out (``NEED_MORE``) or when the timeline
grid is full (``GRID_FULL``), and call again with the same state. Results therefore do not
depend on the chunk size: the same float operations run in the same order.

The rules implemented here are those of docs/semantics.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit
from numba.cpython.unsafe.numbers import trailing_zeros

from migsim.engine.indexing import u
from migsim.engine.pages import STALE, WRITTEN, ZERO
from migsim.engine.push_order import add_pivot, pick_next


def drop_stale_cache(cache: Path, name: str, deps: list[Path]) -> list[Path]:
    """Delete ``cache``'s numba cache files of module ``name`` older than any of ``deps``;
    returns those deleted. numba keys a cached function on its own source file only, while
    the kernels compile in functions (inlined) and constants from other modules: without
    this, editing one of those would leave the old code running from the cache."""
    try:
        newest = max(dep.stat().st_mtime for dep in deps)
        stale = [f for f in cache.glob(f"{name}.*.nb[ic]") if f.stat().st_mtime < newest]
        for f in stale:
            f.unlink(missing_ok=True)
    except OSError:  # no cache yet, a read-only install (numba then caches elsewhere), a race
        return []
    return stale


_HERE = Path(__file__).resolve().parent
drop_stale_cache(
    _HERE / "__pycache__",
    "kernels",
    [_HERE / "indexing.py", _HERE / "pages.py", _HERE / "push_order.py"],
)

DONE = 0
NEED_MORE = 1
GRID_FULL = 2
CHUNK = 3
UNTIL = 4

#: The pre-copy kernel's state, one record (``np.zeros(1, PRECOPY_STATE)``): wall time ``t``
#: reached, the round's start (``tk`` wall, ``gk`` guest) and guest ``speed``, the send ``rate``
#: (bit/s), the stun's guest and wall times, the write-fault cost collected in grid bin ``wc``,
#: the wall time ``until`` which the guest's writes are applied (its speed may change there);
#: queue position ``pos``, trace buffer position ``wpos``, first writes ``faults`` (entries of
#: the dirty log), ``stunned``, pages ``sent`` and ``skipped``, ``bytes``, ``zero`` markers, the
#: ``stale`` and ``present`` page counts and the next timeline sample ``gj``.
PRECOPY_STATE = np.dtype(
    [
        ("t", np.float64),
        ("tk", np.float64),
        ("gk", np.float64),
        ("speed", np.float64),
        ("rate", np.float64),
        ("g_stun", np.float64),
        ("t_stun", np.float64),
        ("wacc", np.float64),
        ("until", np.float64),
        ("pos", np.int64),
        ("wpos", np.int64),
        ("faults", np.int64),
        ("stunned", np.int64),
        ("sent", np.int64),
        ("skipped", np.int64),
        ("bytes", np.int64),
        ("zero", np.int64),
        ("stale", np.int64),
        ("present", np.int64),
        ("gj", np.int64),
        ("wc", np.int64),
    ]
)

#: The post-copy kernel's state, one record (``np.zeros(1, POSTCOPY_STATE)``): guest ``lag``
#: behind wall time (stalls), end of the push in flight, push start ``t_push``, last arrival
#: ``t_last``, summed ``stall`` time, resume times (``t_resume`` wall, ``g_resume`` guest), the
#: ``rate`` (bit/s), the wall time ``until`` which events are handled; trace position ``tpos``, page ``inflight`` (-1: none) and its bytes,
#: whether the push ``started``, pages ``remain``-ing, ``faults``, pages ``sent``, ``bytes``,
#: ``zero`` markers, the next timeline sample ``gj`` and the ``present`` page count.
POSTCOPY_STATE = np.dtype(
    [
        ("lag", np.float64),
        ("push_end", np.float64),
        ("t_push", np.float64),
        ("t_last", np.float64),
        ("stall", np.float64),
        ("t_resume", np.float64),
        ("g_resume", np.float64),
        ("rate", np.float64),
        ("until", np.float64),
        ("tpos", np.int64),
        ("inflight", np.int64),
        ("started", np.int64),
        ("remain", np.int64),
        ("faults", np.int64),
        ("sent", np.int64),
        ("bytes", np.int64),
        ("zero", np.int64),
        ("gj", np.int64),
        ("present", np.int64),
        ("inflight_bytes", np.int64),
    ]
)


@njit(cache=True, error_model="numpy")
def xbzrle_hit(seed: np.uint64, page: np.int64, j: np.int64) -> float:
    """SplitMix64 of (seed, page, j) mapped to [0, 1) (docs/semantics.md, page cost)."""
    x = (
        np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15)
        + np.uint64(page) * np.uint64(0xBF58476D1CE4E5B9)
        + np.uint64(j)
    )
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    return float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, error_model="numpy")
def _spread(grid, t0, t1, w, step, cap):
    """Add weight ``w`` per second of the interval [t0, t1) to the bins it overlaps."""
    if t1 <= t0:
        return
    j = int(t0 // step)
    while j < cap:
        lo = max(t0, j * step)
        hi = min(t1, (j + 1) * step)
        if hi > lo:
            grid[u(j)] += (hi - lo) * w
        if (j + 1) * step >= t1:
            break
        j += 1


@njit(cache=True, error_model="numpy")
def precopy_run(
    order,
    by_mask,
    mask,
    end_pos,
    w_g,
    w_p,
    w_words,
    w_all,
    cover_g,
    finish,
    skip,
    stun_n,
    fault_cost,
    flags,
    wlist,
    sends,
    cost,
    hit_rate,
    state,
    grid_bytes,
    grid_lost,
    grid_stale,
    grid_present,
    step,
):
    """Send ``order[pos:end_pos]`` of a pre-copy round (or a stop-and-copy) at the state's
    ``rate``, applying the guest's writes in wall-time order; with ``finish``, also apply the
    writes before the round end. See docs/semantics.md, pre-copy steps 3-5.

    ``state``: a one-element :data:`PRECOPY_STATE` array, read at entry and written at exit.
    Returns DONE (``end_pos`` reached, or the round ended), NEED_MORE (the write buffer is
    exhausted), GRID_FULL, or UNTIL: the next send starts after the state's ``until`` and the
    writes before ``until`` are applied; the caller may change the guest's speed from there.

    With ``by_mask`` the queue is the pages set in ``mask``, in ascending order, and positions
    are page numbers (no queue array is built for a sequential full pass)."""
    rec = state[0]
    cap = grid_stale.shape[0]
    T = rec.t
    until = rec.until
    tk = rec.tk
    gk = rec.gk
    v = rec.speed
    rate = rec.rate
    pos = rec.pos
    wpos = rec.wpos
    faults = rec.faults
    stunned = rec.stunned != 0
    sent = rec.sent
    skipped = rec.skipped
    nbytes = rec.bytes
    nzero = rec.zero
    stale = rec.stale
    present = rec.present
    gj = rec.gj
    c = cost[0]
    full, hdr, xbz = c.full, c.hdr, c.xbz
    zero_opt = c.zero_opt != 0
    xbz_on = c.xbzrle != 0
    seed = np.uint64(c.seed)
    nw = w_g.shape[0]
    cover_wall = tk + (cover_g - gk) / v
    status = DONE
    # the three possible transfer times, each computed as bytes * 8.0 / rate
    d_full = (full * 8.0) / rate
    d_hdr = (hdr * 8.0) / rate
    d_xbz = (xbz * 8.0) / rate
    # current bin of the send-rate grid: [jlo, jhi), bytes accumulated in it
    jc = -1
    jlo = 0.0
    jhi = -1.0
    acc = 0
    tick = gj * step
    # current bin of the lost-service grid for write faults (-1: none) and the cost collected
    # in it; kept across calls and added to the grid only when the bin changes or the round
    # ends, so that a float sum never depends on where a chunk ended
    wc = rec.wc
    wacc = rec.wacc
    wlo = wc * step if wc >= 0 else 0.0
    whi = (wc + 1) * step if wc >= 0 else -1.0
    unit_speed = v == 1.0
    block_ok = not xbz_on
    min_block = 8.0 * d_full
    slow_until = T
    memory = flags.shape[0]
    bcap = 1024
    b_pos = np.empty(bcap, dtype=np.int64)
    b_t = np.empty(bcap)
    b_stale = np.empty(bcap, dtype=np.bool_)
    have_ntw = False
    ntw = 0.0
    while True:
        # apply the writes strictly before T (and before ``until``, where the guest's speed
        # may change: the caller stops the kernel there)
        wb = T if until > T else until
        if not stunned:
            while True:
                if not have_ntw:  # the wall time of the next write, computed once
                    # reads never dirty a page: skip them eight flags at a time (a loop
                    # over single flags mispredicts its exit at nearly every write)
                    # (``w_all``: the buffer holds only writes, nothing to skip)
                    while not w_all and wpos < nw:
                        word = w_words[u(wpos >> 3)] >> np.uint64((wpos & 7) * 8)
                        if word != 0:
                            wpos += trailing_zeros(word) >> 3
                            break
                        wpos = (wpos | 7) + 1
                    if wpos > nw:
                        wpos = nw
                    if wpos < nw:
                        # tk + (g - gk) / v; dividing by 1.0 is exact, so skip it at full speed
                        g = w_g[u(wpos)]
                        ntw = tk + (g - gk) if unit_speed else tk + (g - gk) / v
                    have_ntw = True
                if wpos >= nw:
                    if cover_wall < wb:
                        status = NEED_MORE
                    break
                if not ntw < wb:
                    break
                tw = ntw
                have_ntw = False
                while tick < tw and gj < cap:
                    grid_stale[u(gj)] = stale
                    grid_present[u(gj)] = present
                    gj += 1
                    tick = gj * step
                if tick < tw:
                    status = GRID_FULL
                    break
                p = w_p[u(wpos)]
                f = flags[u(p)]
                flags[u(p)] = (f | STALE | WRITTEN) & ~ZERO
                if not f & STALE:
                    stale += 1
                if not f & WRITTEN:
                    wlist[u(faults)] = p
                    faults += 1
                    if fault_cost > 0.0:
                        if not (wlo <= tw < whi):
                            if wc >= 0:
                                grid_lost[u(wc)] += wacc
                            wc = int(tw / step)
                            while (wc + 1) * step <= tw:
                                wc += 1
                            while wc > 0 and wc * step > tw:
                                wc -= 1
                            wacc = 0.0
                            wlo = wc * step
                            whi = (wc + 1) * step
                            if wc >= cap:  # beyond the grid: not recorded (never happens:
                                wc = -1  # samples up to tw were just filled)
                        wacc += fault_cost
                    if stun_n > 0 and faults == stun_n:
                        stunned = True
                        rec.g_stun = w_g[u(wpos)]
                        rec.t_stun = tw
                        wpos += 1
                        break
                wpos += 1
            if status != DONE:
                break
        if until < T:  # writes from ``until`` on wait for the caller
            status = UNTIL
            break
        if pos >= end_pos:
            break
        # block path: the sends that complete before the next grid sample, the end of the
        # current send-rate bin and the end of the buffered trace, then the writes before
        # the last of them, each in a tight loop with no send-or-write decision per event
        # (that decision follows the trace and mispredicted at about every write). Writes
        # and sends of different pages commute, and no grid sample falls inside a block.
        # A write that precedes the send of its page in the block is a clash: the sends
        # from the first one that starts after that write are undone, and the general path
        # below takes events one at a time up to the block's end (``slow_until``).
        if block_ok and jc >= 0 and slow_until <= T:
            lim = jhi if tick > jhi else tick
            if not stunned and cover_wall < lim:
                lim = cover_wall
            if until < lim:
                lim = until
            if T + min_block < lim:
                # 1. the sends, recording for each its queue position, start time and
                # whether its page was stale. The loop keeps as few running values as it
                # can (counts, bytes, the stale count and the page range are worked out
                # after it): with more, numba's code kept the send time in a stack slot
                # and the loop took about 1.4x as long per page.
                n_b = 0
                n_z = 0
                while pos < end_pos and n_b < bcap:
                    # (no ``continue`` in this loop: numba's code redid the loop's setup,
                    # about twenty instructions, on each one, so that walking past a page
                    # not in the queue cost as much as sending one)
                    if by_mask:
                        while pos < end_pos and not mask[u(pos)]:
                            pos += 1
                        if pos >= end_pos:
                            break
                        q = pos
                    else:
                        q = order[u(pos)]
                    f = flags[u(q)]
                    if skip and f & WRITTEN:
                        skipped += 1
                    else:
                        zero = zero_opt and f & ZERO != 0
                        tn = T + (d_hdr if zero else d_full)
                        if not tn < lim:
                            break
                        b_pos[u(n_b)] = pos
                        b_t[u(n_b)] = T
                        b_stale[u(n_b)] = f & STALE != 0
                        flags[u(q)] = f & ~STALE
                        present += sends[u(q)] == 0
                        sends[u(q)] += 1
                        n_z += zero
                        n_b += 1
                        T = tn
                    pos += 1
                b = (n_b - n_z) * full + n_z * hdr
                acc += b
                nbytes += b
                sent += n_b
                nzero += n_z
                # the range of pages sent (a sequential pass sends in page order)
                lo = memory
                hi = -1
                if by_mask:
                    if n_b > 0:
                        lo = b_pos[0]
                        hi = b_pos[u(n_b - 1)]
                else:
                    for k in range(n_b):
                        q = order[u(b_pos[u(k)])]
                        lo = min(lo, q)
                        hi = max(hi, q)
                for k in range(n_b):
                    stale -= b_stale[u(k)]
                # 2. the writes before T
                clash = False
                while not stunned:
                    while not w_all and wpos < nw:
                        word = w_words[u(wpos >> 3)] >> np.uint64((wpos & 7) * 8)
                        if word != 0:
                            wpos += trailing_zeros(word) >> 3
                            break
                        wpos = (wpos | 7) + 1
                    if wpos >= nw:
                        wpos = nw
                        break
                    g = w_g[u(wpos)]
                    tw = tk + (g - gk) if unit_speed else tk + (g - gk) / v
                    if not tw < T:
                        break
                    p = w_p[u(wpos)]
                    clashes = lo <= p <= hi and n_b > 0 and b_t[u(n_b - 1)] > tw
                    if clashes and by_mask:
                        # the block sent pages in page order: a clash only if it sent p,
                        # and after tw (a write to a page it skipped, or sent before tw,
                        # or that is not in the queue, commutes with the block's sends)
                        a = 0
                        z = n_b - 1
                        while a < z:
                            c = (a + z) >> 1
                            if b_pos[u(c)] < p:
                                a = c + 1
                            else:
                                z = c
                        clashes = b_pos[u(a)] == p and b_t[u(a)] > tw
                    if clashes:
                        # undo the sends that start after tw; the general path goes on
                        # from there, beginning with this write
                        i = n_b
                        while i > 0 and b_t[u(i - 1)] > tw:
                            i -= 1
                        slow_until = T
                        for k in range(n_b - 1, i - 1, -1):
                            pk = b_pos[u(k)]
                            q = pk if by_mask else order[u(pk)]
                            zero = zero_opt and flags[u(q)] & ZERO != 0
                            b = hdr if zero else full
                            acc -= b
                            nbytes -= b
                            sent -= 1
                            if zero:
                                nzero -= 1
                            sends[u(q)] -= 1
                            if sends[u(q)] == 0:
                                present -= 1
                            if b_stale[u(k)]:
                                flags[u(q)] |= STALE
                                stale += 1
                        # the skips at or after the first undone send are undone too
                        pk = b_pos[u(i)]
                        for k in range(pk, pos):
                            q = k if by_mask else order[u(k)]
                            if (not by_mask or mask[u(k)]) and skip and flags[u(q)] & WRITTEN:
                                skipped -= 1
                        pos = pk
                        T = b_t[u(i)]
                        clash = True
                        break
                    f = flags[u(p)]
                    flags[u(p)] = (f | STALE | WRITTEN) & ~ZERO
                    if not f & STALE:
                        stale += 1
                    if not f & WRITTEN:
                        wlist[u(faults)] = p
                        faults += 1
                        if fault_cost > 0.0:
                            if not (wlo <= tw < whi):
                                if wc >= 0:
                                    grid_lost[u(wc)] += wacc
                                wc = int(tw / step)
                                while (wc + 1) * step <= tw:
                                    wc += 1
                                while wc > 0 and wc * step > tw:
                                    wc -= 1
                                wacc = 0.0
                                wlo = wc * step
                                whi = (wc + 1) * step
                                if wc >= cap:
                                    wc = -1
                            wacc += fault_cost
                        if stun_n > 0 and faults == stun_n:
                            stunned = True
                            rec.g_stun = g
                            rec.t_stun = tw
                            wpos += 1
                            break
                    wpos += 1
                have_ntw = False
                if n_b == 0 and not clash:
                    slow_until = T + min_block
                continue
        if by_mask:
            while pos < end_pos and not mask[u(pos)]:  # not in the queue (in long runs)
                pos += 1
            if pos >= end_pos:
                continue
            q = pos
        else:
            q = order[u(pos)]
        f = flags[u(q)]
        if skip and f & WRITTEN:
            skipped += 1
            pos += 1
            continue
        zero = False
        if zero_opt and f & ZERO:
            b = hdr
            d = d_hdr
            zero = True
        elif xbz_on and sends[u(q)] > 0 and xbzrle_hit(seed, q, sends[u(q)]) < hit_rate:
            b = xbz
            d = d_xbz
        else:
            b = full
            d = d_full
        tn = T + d
        if not (jlo <= tn < jhi):  # the send completes in another bin
            j = int(tn / step)
            while (j + 1) * step <= tn:
                j += 1
            while j > 0 and j * step > tn:
                j -= 1
            if j >= cap:
                status = GRID_FULL
                break
            if jc >= 0:
                grid_bytes[u(jc)] += acc
            jc = j
            acc = 0
            jlo = j * step
            jhi = (j + 1) * step
        while tick < tn:
            grid_stale[u(gj)] = stale
            grid_present[u(gj)] = present
            gj += 1
            tick = gj * step
        acc += b
        T = tn
        if sends[u(q)] == 0:
            present += 1
        sends[u(q)] += 1
        if f & STALE:
            flags[u(q)] = f & ~STALE
            stale -= 1
        sent += 1
        nbytes += b
        if zero:
            nzero += 1
        pos += 1
        if not finish and pos >= end_pos:
            break
    if jc >= 0:
        grid_bytes[u(jc)] += acc
    if wc >= 0 and finish and status == DONE:  # the round is over
        grid_lost[u(wc)] += wacc
        wc = -1
        wacc = 0.0
    rec.t = T
    rec.wacc = wacc
    rec.wc = wc
    rec.pos = pos
    rec.wpos = wpos
    rec.faults = faults
    rec.stunned = 1 if stunned else 0
    rec.sent = sent
    rec.skipped = skipped
    rec.bytes = nbytes
    rec.zero = nzero
    rec.stale = stale
    rec.present = present
    rec.gj = gj
    return status


@njit(cache=True, error_model="numpy")
def sorted_dirty(pages, flags):
    """``pages`` (distinct, each with its WRITTEN bit set) in ascending order, their WRITTEN
    bits cleared: set in a bitmap of memory, then read out a 64-page word at a time."""
    bits = np.zeros((flags.shape[0] + 63) >> 6, dtype=np.uint64)
    for i in range(pages.shape[0]):
        p = pages[i]
        flags[u(p)] &= ~WRITTEN
        bits[u(p >> 6)] |= np.uint64(1) << np.uint64(p & 63)
    out = np.empty(pages.shape[0], dtype=np.int64)
    j = 0
    for w in range(bits.shape[0]):
        x = bits[w]
        while x != 0:
            out[j] = (w << 6) + np.int64(trailing_zeros(x))
            j += 1
            x &= x - np.uint64(1)
    return out


@njit(cache=True, error_model="numpy")
def postcopy_run(
    t_g,
    t_p,
    cover_g,
    max_done,
    rtt,
    vcpus,
    st,
    sends,
    flags,
    cost,
    hit_rate,
    piv,
    pstate,
    mode,
    dual,
    state,
    grid_bytes,
    grid_lost,
    grid_stale,
    grid_present,
    step,
):
    """Run the post-copy phase over the buffered touches (docs/semantics.md, post-copy 3-6).

    Stops with DONE (nothing absent), NEED_MORE (touches exhausted; the push was advanced up
    to the buffer's coverage), GRID_FULL, CHUNK after ``max_done`` page completions, or UNTIL:
    the pushes completing by the state's ``until`` are done and the next touch comes after
    it."""
    rec = state[0]
    cap = grid_stale.shape[0]
    n = t_g.shape[0]
    until = rec.until
    tr = rec.t_resume
    gr = rec.g_resume
    rate = rec.rate
    lag = rec.lag
    push_end = rec.push_end
    t_push = rec.t_push
    t_last = rec.t_last
    stall_sum = rec.stall
    tpos = rec.tpos
    inflight = rec.inflight
    started = rec.started != 0
    remain = rec.remain
    faults = rec.faults
    sent = rec.sent
    nbytes = rec.bytes
    nzero = rec.zero
    gj = rec.gj
    present = rec.present
    inflight_b = rec.inflight_bytes
    c = cost[0]
    full, hdr, xbz = c.full, c.hdr, c.xbz
    zero_opt = c.zero_opt != 0
    xbz_on = c.xbzrle != 0
    seed = np.uint64(c.seed)
    start_sent = sent
    status = DONE
    d_full = (full * 8.0) / rate
    d_hdr = (hdr * 8.0) / rate
    d_xbz = (xbz * 8.0) / rate
    # current bin of the send-rate grid: [jlo, jhi), bytes accumulated in it
    jc = -1
    jlo = 0.0
    jhi = -1.0
    acc = 0
    tick = gj * step
    while True:
        if remain == 0:
            status = DONE
            break
        if sent - start_sent >= max_done:
            status = CHUNK
            break
        # fast path: touches of present pages before the next push event change nothing
        while tpos < n:
            ti = tr + (t_g[u(tpos)] - gr) + lag
            if (inflight >= 0 and push_end <= ti) or (not started and t_push <= ti):
                break
            if st[t_p[u(tpos)]] != 0:
                break
            tpos += 1
        if tpos >= n:
            limit = tr + (cover_g - gr) + lag
            ti = -1.0
        else:
            ti = tr + (t_g[u(tpos)] - gr) + lag
            limit = ti
        # the caller's ``until``: pushes up to it, then stop before the next touch
        at_until = until < limit
        if at_until:
            limit = until
        # (a) start the push if due; complete every push ending at or before the limit
        if not started and t_push <= limit:
            started = True
            nxt = pick_next(st, piv, pstate, mode, dual)
            if nxt >= 0:
                st[u(nxt)] = 2
                if zero_opt and flags[u(nxt)] & ZERO:
                    inflight_b = hdr
                    nzero += 1
                elif (
                    xbz_on and sends[u(nxt)] > 0 and xbzrle_hit(seed, nxt, sends[u(nxt)]) < hit_rate
                ):
                    inflight_b = xbz
                else:
                    inflight_b = full
                push_end = t_push + (inflight_b * 8.0) / rate
            inflight = nxt
        full_grid = False
        while inflight >= 0 and push_end <= limit and sent - start_sent < max_done:
            if not (jlo <= push_end < jhi):  # completes in another bin
                j = int(push_end / step)
                while (j + 1) * step <= push_end:
                    j += 1
                while j > 0 and j * step > push_end:
                    j -= 1
                if j >= cap:
                    full_grid = True
                    break
                if jc >= 0:
                    grid_bytes[u(jc)] += acc
                jc = j
                acc = 0
                jlo = j * step
                jhi = (j + 1) * step
            while tick < push_end:
                grid_stale[u(gj)] = remain
                grid_present[u(gj)] = present
                gj += 1
                tick = gj * step
            st[u(inflight)] = 0
            sends[u(inflight)] += 1
            acc += inflight_b
            nbytes += inflight_b
            sent += 1
            remain -= 1
            present += 1
            if push_end > t_last:
                t_last = push_end
            nxt = pick_next(st, piv, pstate, mode, dual)
            if nxt >= 0:
                st[u(nxt)] = 2
                if zero_opt and flags[u(nxt)] & ZERO:
                    inflight_b = hdr
                    nzero += 1
                    d = d_hdr
                elif (
                    xbz_on and sends[u(nxt)] > 0 and xbzrle_hit(seed, nxt, sends[u(nxt)]) < hit_rate
                ):
                    inflight_b = xbz
                    d = d_xbz
                else:
                    inflight_b = full
                    d = d_full
                push_end = push_end + d
            inflight = nxt
        if full_grid:
            status = GRID_FULL
            break
        if remain == 0:
            status = DONE
            break
        if inflight >= 0 and push_end <= limit:
            status = CHUNK
            break
        if at_until:
            status = UNTIL
            break
        if tpos >= n:
            status = NEED_MORE
            break
        p = t_p[u(tpos)]
        s = st[u(p)]
        if s == 0:
            tpos += 1
            continue
        if s == 2:
            # the page is on the wire: wait for it
            stall = push_end - ti
            arrive = push_end
            b = inflight_b
        else:
            if zero_opt and flags[u(p)] & ZERO:
                b = hdr
                nzero += 1
            elif xbz_on and sends[u(p)] > 0 and xbzrle_hit(seed, p, sends[u(p)]) < hit_rate:
                b = xbz
            else:
                b = full
            dt = (b * 8.0) / rate
            stall = rtt + dt
            arrive = ti + stall
        j = int(arrive / step)
        if j >= cap or int(ti / step) + 1 >= cap:
            status = GRID_FULL
            break
        while tick < ti:
            grid_stale[u(gj)] = remain
            grid_present[u(gj)] = present
            gj += 1
            tick = gj * step
        st[u(p)] = 0
        sends[u(p)] += 1
        grid_bytes[u(j)] += b
        nbytes += b
        sent += 1
        remain -= 1
        present += 1
        if arrive > t_last:
            t_last = arrive
        if s == 2:
            # the fault (at ti) updates the pivots before the next pick (at push_end > ti)
            add_pivot(piv, pstate, p, mode)
            nxt = pick_next(st, piv, pstate, mode, dual)
            if nxt >= 0:
                st[u(nxt)] = 2
                if zero_opt and flags[u(nxt)] & ZERO:
                    inflight_b = hdr
                    nzero += 1
                    d = d_hdr
                elif (
                    xbz_on and sends[u(nxt)] > 0 and xbzrle_hit(seed, nxt, sends[u(nxt)]) < hit_rate
                ):
                    inflight_b = xbz
                    d = d_xbz
                else:
                    inflight_b = full
                    d = d_full
                push_end = push_end + d
            inflight = nxt
        elif inflight >= 0:
            push_end = push_end + dt
        faults += 1
        lag = lag + stall / vcpus
        stall_sum = stall_sum + stall
        _spread(grid_lost, ti, ti + stall, 1.0 / vcpus, step, cap)
        if s != 2:
            add_pivot(piv, pstate, p, mode)
        tpos += 1
    if jc >= 0:
        grid_bytes[u(jc)] += acc
    rec.lag = lag
    rec.push_end = push_end
    rec.t_last = t_last
    rec.stall = stall_sum
    rec.tpos = tpos
    rec.inflight = inflight
    rec.started = 1 if started else 0
    rec.remain = remain
    rec.faults = faults
    rec.sent = sent
    rec.bytes = nbytes
    rec.zero = nzero
    rec.gj = gj
    rec.present = present
    rec.inflight_bytes = inflight_b
    return status
