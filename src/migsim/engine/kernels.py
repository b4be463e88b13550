"""Numba kernels: the per-page hot loops of pre-copy rounds and the post-copy phase.

Both kernels are *resumable*: all their state lives in arrays passed in (``fs`` floats,
``is_`` integers, per-page arrays), so the caller may stop them after any number of pages (a
chunk, one SimPy event), when the buffered trace runs out (``NEED_MORE``) or when the timeline
grid is full (``GRID_FULL``), and call again with the same state. Results therefore do not
depend on the chunk size: the same float operations run in the same order.

The rules implemented here are those of docs/semantics.md.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from migsim.strategies.prepaging import add_pivot, pick_next

DONE = 0
NEED_MORE = 1
GRID_FULL = 2
CHUNK = 3

# indices into the float state of the pre-copy kernel
PF_T, PF_TK, PF_GK, PF_V, PF_RATE, PF_GSTUN, PF_TSTUN = range(7)
# indices into the integer state of the pre-copy kernel
(PI_POS, PI_WPOS, PI_FAULTS, PI_STUNNED, PI_SENT, PI_SKIPPED, PI_BYTES, PI_ZERO, PI_STALE,
 PI_PRESENT, PI_GJ) = range(11)

# post-copy float state
QF_LAG, QF_PUSHEND, QF_TPUSH, QF_TLAST, QF_STALL, QF_TR, QF_GR, QF_RATE = range(8)
# post-copy integer state
(QI_TPOS, QI_INFLIGHT, QI_STARTED, QI_REMAIN, QI_FAULTS, QI_SENT, QI_BYTES, QI_ZERO, QI_GJ,
 QI_PRESENT, QI_INFLIGHT_BYTES) = range(11)


@njit(cache=True)
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


@njit(cache=True)
def page_bytes(p, is_zero, sends, cost):
    """Bytes to send page ``p`` now; ``cost`` = [page+hdr, hdr, xbzrle bytes+hdr, zero_opt,
    xbzrle_on, hit_rate, seed]. Returns (bytes, is_zero_marker)."""
    if cost[3] != 0.0 and is_zero[p]:
        return np.int64(cost[1]), True
    if cost[4] != 0.0 and sends[p] > 0:
        if xbzrle_hit(np.uint64(np.int64(cost[6])), np.int64(p), np.int64(sends[p])) < cost[5]:
            return np.int64(cost[2]), False
    return np.int64(cost[0]), False


@njit(cache=True)
def _fill(gj, upto, step, cap, grid_stale, grid_present, stale, present):
    """Record samples for grid times t_j < upto; returns the new index (or -1 if full)."""
    while gj * step < upto:
        if gj >= cap:
            return -1
        grid_stale[gj] = stale
        grid_present[gj] = present
        gj += 1
    return gj


@njit(cache=True)
def _spread(grid, t0, t1, w, step, cap):
    """Add weight ``w`` per second of the interval [t0, t1) to the bins it overlaps."""
    if t1 <= t0:
        return
    j = int(t0 // step)
    while j < cap:
        lo = max(t0, j * step)
        hi = min(t1, (j + 1) * step)
        if hi > lo:
            grid[j] += (hi - lo) * w
        if (j + 1) * step >= t1:
            break
        j += 1


@njit(cache=True)
def precopy_run(order, end_pos, w_g, w_p, cover_g, finish, skip, stun_n, fault_cost,
                written, is_zero, sends, stale_pg, cost, fs, is_,
                grid_bytes, grid_lost, grid_stale, grid_present, step):
    """Send ``order[pos:end_pos]`` of a pre-copy round (or a stop-and-copy) at ``fs[PF_RATE]``,
    applying the guest's writes in wall-time order; with ``finish``, also apply the writes
    before the round end. See docs/semantics.md, pre-copy steps 3-5."""
    cap = grid_stale.shape[0]
    T = fs[PF_T]
    tk = fs[PF_TK]
    gk = fs[PF_GK]
    v = fs[PF_V]
    rate = fs[PF_RATE]
    pos = is_[PI_POS]
    wpos = is_[PI_WPOS]
    nw = w_g.shape[0]
    while True:
        # apply the writes strictly before T
        while is_[PI_STUNNED] == 0:
            if wpos >= nw:
                if T > tk + (cover_g - gk) / v:
                    fs[PF_T] = T
                    is_[PI_POS] = pos
                    is_[PI_WPOS] = wpos
                    return NEED_MORE
                break
            tw = tk + (w_g[wpos] - gk) / v
            if not tw < T:
                break
            gj = _fill(is_[PI_GJ], tw, step, cap, grid_stale, grid_present,
                       is_[PI_STALE], is_[PI_PRESENT])
            if gj < 0:
                fs[PF_T] = T
                is_[PI_POS] = pos
                is_[PI_WPOS] = wpos
                return GRID_FULL
            is_[PI_GJ] = gj
            p = w_p[wpos]
            is_zero[p] = False
            if not stale_pg[p]:
                stale_pg[p] = True
                is_[PI_STALE] += 1
            if not written[p]:
                written[p] = True
                is_[PI_FAULTS] += 1
                if fault_cost > 0.0:
                    j = int(tw // step)
                    if j < cap:
                        grid_lost[j] += fault_cost
                if stun_n > 0 and is_[PI_FAULTS] == stun_n:
                    is_[PI_STUNNED] = 1
                    fs[PF_GSTUN] = w_g[wpos]
                    fs[PF_TSTUN] = tw
            wpos += 1
        if pos >= end_pos:
            fs[PF_T] = T
            is_[PI_POS] = pos
            is_[PI_WPOS] = wpos
            return DONE
        q = order[pos]
        if skip and written[q]:
            is_[PI_SKIPPED] += 1
            pos += 1
            continue
        b, zero = page_bytes(q, is_zero, sends, cost)
        tn = T + (b * 8.0) / rate
        gj = _fill(is_[PI_GJ], tn, step, cap, grid_stale, grid_present,
                   is_[PI_STALE], is_[PI_PRESENT])
        j = int(tn // step)
        if gj < 0 or j >= cap:
            fs[PF_T] = T
            is_[PI_POS] = pos
            is_[PI_WPOS] = wpos
            if gj >= 0:
                is_[PI_GJ] = gj
            return GRID_FULL
        is_[PI_GJ] = gj
        grid_bytes[j] += b
        T = tn
        if sends[q] == 0:
            is_[PI_PRESENT] += 1
        sends[q] += 1
        if stale_pg[q]:
            stale_pg[q] = False
            is_[PI_STALE] -= 1
        is_[PI_SENT] += 1
        is_[PI_BYTES] += b
        if zero:
            is_[PI_ZERO] += 1
        pos += 1
        if not finish and pos >= end_pos:
            fs[PF_T] = T
            is_[PI_POS] = pos
            is_[PI_WPOS] = wpos
            return DONE


@njit(cache=True)
def _complete_push(st, sends, fs, is_, grid_bytes, grid_stale, grid_present, step,
                   piv, pstate, mode, dual, is_zero, cost):
    """Complete the in-flight push at fs[QF_PUSHEND] and pick the next one. False if the grid
    is full (nothing changed)."""
    cap = grid_stale.shape[0]
    te = fs[QF_PUSHEND]
    j = int(te // step)
    gj = _fill(is_[QI_GJ], te, step, cap, grid_stale, grid_present,
               is_[QI_REMAIN], is_[QI_PRESENT])
    if gj < 0 or j >= cap:
        if gj >= 0:
            is_[QI_GJ] = gj
        return False
    is_[QI_GJ] = gj
    c = is_[QI_INFLIGHT]
    st[c] = 0
    sends[c] += 1
    b = is_[QI_INFLIGHT_BYTES]
    grid_bytes[j] += b
    is_[QI_BYTES] += b
    is_[QI_SENT] += 1
    is_[QI_REMAIN] -= 1
    is_[QI_PRESENT] += 1
    if te > fs[QF_TLAST]:
        fs[QF_TLAST] = te
    _start_push(te, st, sends, fs, is_, piv, pstate, mode, dual, is_zero, cost)
    return True


@njit(cache=True)
def _start_push(t0, st, sends, fs, is_, piv, pstate, mode, dual, is_zero, cost):
    nxt = pick_next(st, piv, pstate, mode, dual)
    if nxt < 0:
        is_[QI_INFLIGHT] = -1
        return
    st[nxt] = 2
    b, zero = page_bytes(nxt, is_zero, sends, cost)
    if zero:
        is_[QI_ZERO] += 1
    is_[QI_INFLIGHT] = nxt
    is_[QI_INFLIGHT_BYTES] = b
    fs[QF_PUSHEND] = t0 + (b * 8.0) / fs[QF_RATE]


@njit(cache=True)
def _advance_push(limit, st, sends, fs, is_, grid_bytes, grid_stale, grid_present, step,
                  piv, pstate, mode, dual, is_zero, cost):
    """Start the push if due and complete every push ending at or before ``limit``."""
    if is_[QI_STARTED] == 0:
        if fs[QF_TPUSH] <= limit:
            is_[QI_STARTED] = 1
            _start_push(fs[QF_TPUSH], st, sends, fs, is_, piv, pstate, mode, dual, is_zero, cost)
        else:
            return True
    while is_[QI_INFLIGHT] >= 0 and fs[QF_PUSHEND] <= limit:
        if not _complete_push(st, sends, fs, is_, grid_bytes, grid_stale, grid_present, step,
                              piv, pstate, mode, dual, is_zero, cost):
            return False
    return True


@njit(cache=True)
def postcopy_run(t_g, t_p, cover_g, max_done, rtt, vcpus, st, sends, is_zero, cost,
                 piv, pstate, mode, dual, fs, is_, grid_bytes, grid_lost, grid_stale,
                 grid_present, step):
    """Run the post-copy phase over the buffered touches (docs/semantics.md, post-copy 3-6).

    Stops with DONE (nothing absent), NEED_MORE (touches exhausted; the push was advanced up
    to the buffer's coverage), GRID_FULL, or CHUNK after ``max_done`` page completions."""
    cap = grid_stale.shape[0]
    n = t_g.shape[0]
    tr = fs[QF_TR]
    gr = fs[QF_GR]
    rate = fs[QF_RATE]
    start_done = is_[QI_SENT]
    while True:
        if is_[QI_REMAIN] == 0:
            return DONE
        if is_[QI_SENT] - start_done >= max_done:
            return CHUNK
        tpos = is_[QI_TPOS]
        if tpos >= n:
            limit = tr + (cover_g - gr) + fs[QF_LAG]
            if not _advance_push(limit, st, sends, fs, is_, grid_bytes, grid_stale,
                                 grid_present, step, piv, pstate, mode, dual, is_zero, cost):
                return GRID_FULL
            if is_[QI_REMAIN] == 0:
                return DONE
            return NEED_MORE
        ti = tr + (t_g[tpos] - gr) + fs[QF_LAG]
        if not _advance_push(ti, st, sends, fs, is_, grid_bytes, grid_stale, grid_present,
                             step, piv, pstate, mode, dual, is_zero, cost):
            return GRID_FULL
        if is_[QI_REMAIN] == 0:
            return DONE
        p = t_p[tpos]
        s = st[p]
        if s == 0:
            is_[QI_TPOS] = tpos + 1
            continue
        if s == 2:
            stall = fs[QF_PUSHEND] - ti
            gj = _fill(is_[QI_GJ], ti, step, cap, grid_stale, grid_present,
                       is_[QI_REMAIN], is_[QI_PRESENT])
            if gj < 0:
                return GRID_FULL
            is_[QI_GJ] = gj
            if not _complete_push(st, sends, fs, is_, grid_bytes, grid_stale, grid_present,
                                  step, piv, pstate, mode, dual, is_zero, cost):
                return GRID_FULL
        else:
            b, zero = page_bytes(p, is_zero, sends, cost)
            dt = (b * 8.0) / rate
            stall = rtt + dt
            arrive = ti + stall
            j = int(arrive // step)
            gj = _fill(is_[QI_GJ], ti, step, cap, grid_stale, grid_present,
                       is_[QI_REMAIN], is_[QI_PRESENT])
            if gj < 0 or j >= cap:
                if gj >= 0:
                    is_[QI_GJ] = gj
                return GRID_FULL
            is_[QI_GJ] = gj
            st[p] = 0
            sends[p] += 1
            grid_bytes[j] += b
            is_[QI_BYTES] += b
            is_[QI_SENT] += 1
            is_[QI_REMAIN] -= 1
            is_[QI_PRESENT] += 1
            if zero:
                is_[QI_ZERO] += 1
            if arrive > fs[QF_TLAST]:
                fs[QF_TLAST] = arrive
            if is_[QI_INFLIGHT] >= 0:
                fs[QF_PUSHEND] = fs[QF_PUSHEND] + dt
        is_[QI_FAULTS] += 1
        fs[QF_LAG] = fs[QF_LAG] + stall / vcpus
        fs[QF_STALL] = fs[QF_STALL] + stall
        _spread(grid_lost, ti, ti + stall, 1.0 / vcpus, step, cap)
        add_pivot(piv, pstate, p, mode)
        is_[QI_TPOS] = tpos + 1
