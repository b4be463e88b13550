"""A deliberately simple, per-page, event-by-event reference model of docs/semantics.md.

It shares nothing with the engine (``migsim.engine``, ``migsim.strategies``) but the input
trace: it reads the validated :class:`migsim.config.RunConfig` and builds the workload with
:func:`migsim.workloads.make_workload` (``in_use()``, ``zero_pages()``, ``service`` and
``touches(g0, g1)``). Everything else is plain Python: one loop iteration per page sent and per
touch, Python ints and floats, with the float formulas of semantics.md written in the same
operation order so that times agree with the engine to ~1e-12.

Readings of points that semantics.md leaves open (each also marked ``READING`` below):

R1. Post-copy, case 5d (fault on the page in flight): the pivots are updated with the fault page
    at the fault time ``t_i``, *before* the push completes at ``push_end`` and picks its next
    page; the pick at ``push_end`` therefore already sees the new pivot (events in time order).
R2. Post-copy, case 5e: the faulted page is marked present at once (its presence *time* is
    ``t_i + stall``, which counts for ``total_time``); a later touch of it, even one before
    ``t_i + stall`` (possible with ``vcpus > 1``), is a hit, and at the demand-paging timeout it
    does not count as absent.
R3. ``total_time`` of post-copy is the maximum presence time over all absent pages (with
    ``vcpus > 1`` a fault page can become present after a later push completion).
R4. ``bytes_transferred`` counts ``vm.nonpageable_bytes`` only where it is sent (the post-copy
    pause of ``post_copy`` and ``hybrid``); pre-copy and stop-and-copy send that memory as
    ordinary pages.
R5. The ``stop_copy`` row of ``stop_and_copy`` and ``pre_copy`` has ``duration_s`` = the time
    spent sending (``t_done - t_pause``, resume time excluded), while semantics.md defines the
    post-copy one as ``t_r - t_p`` (resume included); ``rate_limit_bps = R_f``; ``round`` of the
    ``stop_copy``/``postcopy`` rows is the number of pre-copy rounds done (0 without pre-copy).
R6. Stop-and-copy times accumulate ``T = T + cost`` in send order from the pause time (the
    general rule), rather than ``t_end + sum(cost)`` summed separately.
R7. Auto-converge: ``high`` is never reset except when the throttle is raised.
R8. The touches a post-copy phase reads are those with ``g >= g_r`` of a fresh read of the
    trace (reads and writes); pre-copy reads only writes, from ``g0`` on.
R9. ``app_lost_s`` integrates round by round: a round of service fraction ``f`` adds
    ``(1 - f) * duration`` (or ``(1 - f) * (t_stun - t_k) + (t_end - t_stun)`` when stunned,
    ``t_stun`` = wall time of the stunning write); the downtime adds itself.
R10. ``throttle_max = 1`` is allowed by the config: a round at speed ``v = 0`` computes
    ``(g - g_k) / 0`` as float64 does (+inf, or NaN for ``g == g_k``, never ``< T``), so the
    guest writes nothing in that round and its guest time stands still.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from migsim.config import RunConfig
from migsim.workloads import make_workload

__all__ = ["RefResult", "RefRound", "reference_simulate"]

MASK64 = (1 << 64) - 1
# READING R1 switch (for diagnosis only): False picks the next push page before the pivot update
PIVOTS_BEFORE_PICK = True
WINDOW_S = 0.125  # guest seconds of trace fetched at a time (results do not depend on it)


@dataclass
class RefRound:
    """One row of the rounds table."""

    round: int
    phase: str  # precopy | stop_copy | postcopy
    start: float
    duration: float
    to_send: int
    sent: int
    skipped: int
    dirtied: int
    bytes: int
    rate: float
    dirty_rate: float
    throttle: float


@dataclass
class RefResult:
    """Summary numbers of one reference run, plus its rounds."""

    total_time: float = 0.0
    downtime: float = 0.0
    pages_transferred: int = 0
    bytes_transferred: int = 0
    pages_skipped: int = 0
    zero_pages_sent: int = 0
    rounds: int = 0
    network_faults: int = 0
    stall_time: float = 0.0
    stop_reason: str = ""
    converged: bool = True
    app_lost_s: float = 0.0
    app_degradation_pct: float = 0.0
    rows: list[RefRound] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# small helpers


def xbzrle_hit(seed: int, page: int, j: int, hit_rate: float) -> bool:
    """``hit(p, j)`` of semantics.md: SplitMix64 of a (seed, page, send count) mix."""
    x = (seed * 0x9E3779B97F4A7C15 + page * 0xBF58476D1CE4E5B9 + j) & MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    z = z ^ (z >> 31)
    u = (z >> 11) * 2.0**-53
    return u < hit_rate


def ieee_div(a: float, b: float) -> float:
    """``a / b`` as float64 division does it, also for ``b == 0`` (READING R10: a guest
    throttled to speed 0 writes nothing in that round)."""
    if b != 0:
        return a / b
    if a == 0 or math.isnan(a):
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def alloc(m: float, a: float, c: float) -> tuple[float, float]:
    """Max-min fair shares ``(mig, app)`` of a link of capacity ``c``."""
    if a + m <= c:
        return m, a
    if a <= c / 2:
        return c - a, a
    if m <= c / 2:
        return m, c - m
    return c / 2, c / 2


class TouchStream:
    """The trace from a guest time on, fetched lazily in windows, one touch at a time.

    ``peek(may_matter)`` returns the next touch ``(g, page, is_write)`` or None; a new window
    starting at guest time ``g`` is fetched only while ``may_matter(g)`` is true (the caller's
    test that a touch at ``g`` or later could still be due), so infinite traces are fine.
    """

    def __init__(self, workload, g_start: float, writes_only: bool):
        self.workload = workload
        self.next_g = g_start
        self.writes_only = writes_only
        self.buffer: deque[tuple[float, int, bool]] = deque()

    def _fetch(self) -> None:
        g_a = self.next_g
        g_b = g_a + WINDOW_S
        tt = self.workload.touches(g_a, g_b)
        for g, page, is_write in zip(
            tt.t.tolist(), tt.page.tolist(), tt.is_write.tolist(), strict=True
        ):
            if is_write or not self.writes_only:
                self.buffer.append((g, page, bool(is_write)))
        self.next_g = g_b

    def peek(self, may_matter) -> tuple[float, int, bool] | None:
        while not self.buffer:
            if not may_matter(self.next_g):
                return None
            self._fetch()
        return self.buffer[0]

    def pop(self) -> tuple[float, int, bool]:
        return self.buffer.popleft()


# ---------------------------------------------------------------------------------------------
# the model


class Reference:
    """One run of the reference model. Call :meth:`run` once."""

    def __init__(self, cfg: RunConfig, workload=None):
        self.cfg = cfg
        self.st = cfg.strategy
        self.vm = cfg.vm
        self.seed = cfg.seed
        self.M = cfg.vm.pages
        self.P = cfg.vm.page_size
        self.H = self.st.page_header_bytes
        if workload is None:
            workload = make_workload(cfg.workload, cfg.vm, cfg.seed)
        self.workload = workload
        self.g0 = cfg.workload.start
        in_use = [bool(x) for x in self.workload.in_use().tolist()]
        self.needed = in_use if self.st.dsb else [True] * self.M
        self.is_zero = [bool(x) for x in self.workload.zero_pages().tolist()]
        # writes before the migration starts clear the zero state
        if self.g0 > 0:
            before = self.workload.touches(0.0, self.g0)
            for page, is_write in zip(before.page.tolist(), before.is_write.tolist(), strict=True):
                if is_write:
                    self.is_zero[page] = False
        self.C = cfg.link.bandwidth_bps * cfg.link.efficiency
        self.a = self.workload.service.network_demand_bps
        if self.st.rate_limit == "fixed":
            self.R_f = self.C
        else:
            self.R_f = min(self.st.max_rate, self.C)
        self.send_count = [0] * self.M
        self.result = RefResult()
        self.lost_downtime_etc = 0.0  # app_lost_s accumulator

    # -- page cost ------------------------------------------------------------------------

    def page_bytes(self, p: int) -> int:
        """``bytes(p)`` at this moment (zero state and earlier sends)."""
        if self.st.zero_pages and self.is_zero[p]:
            return self.H
        if (
            self.st.compression == "xbzrle"
            and self.send_count[p] > 0
            and xbzrle_hit(self.seed, p, self.send_count[p], self.st.xbzrle_hit_rate)
        ):
            return math.ceil(self.st.xbzrle_ratio * self.P) + self.H
        return self.P + self.H

    def send(self, p: int) -> int:
        """Account one send of page ``p``; return its bytes."""
        nbytes = self.page_bytes(p)
        if self.st.zero_pages and self.is_zero[p]:
            self.result.zero_pages_sent += 1
        self.send_count[p] += 1
        self.result.pages_transferred += 1
        self.result.bytes_transferred += nbytes
        return nbytes

    # -- strategies -------------------------------------------------------------------------

    def run(self) -> RefResult:
        name = self.st.name
        if name == "stop_and_copy":
            self.stop_and_copy()
        elif name == "pre_copy":
            pages_left, t_end, g_end, n = self.pre_copy(self.st.max_rounds)
            self.final_stop_copy(pages_left, t_end, n)
        elif name == "post_copy":
            self.result.stop_reason = "complete"
            absent = [p for p in range(self.M) if self.needed[p]]
            self.post_copy(absent, 0.0, self.g0, 0)
        elif name == "hybrid":
            rounds = min(self.st.max_rounds, self.st.precopy_rounds)
            pages_left, t_end, g_end, n = self.pre_copy(rounds)
            self.post_copy(pages_left, t_end, g_end, n)
        else:
            raise ValueError(name)
        res = self.result
        res.app_lost_s = (
            self.lost_downtime_etc
            # (only strategies with pre-copy rounds have dirty logging, and the option)
            + getattr(self.st, "write_fault_cost", 0.0)
            * sum(r.dirtied for r in res.rows if r.phase == "precopy")
            + res.stall_time / self.vm.vcpus
        )
        res.app_degradation_pct = (
            0.0 if res.total_time == 0 else 100 * res.app_lost_s / res.total_time
        )
        return res

    def stop_and_copy(self) -> None:
        """The final stop-and-copy of every needed page, from t = 0 (downtime = total time)."""
        self.final_stop_copy([p for p in range(self.M) if self.needed[p]], 0.0, 0)
        res = self.result
        res.rounds = 0
        res.stop_reason = "stop_and_copy"
        res.converged = True

    def scan_key(self):
        """Sort key of the scan order."""
        if self.st.scan_order == "sequential":
            return lambda p: p
        perm = np.random.default_rng(self.seed).permutation(self.M).tolist()
        rank = [0] * self.M
        for r, p in enumerate(perm):
            rank[p] = r
        return lambda p: rank[p]

    def pre_copy(self, max_rounds: int) -> tuple[list[int], float, float, int]:
        """Pre-copy rounds; returns (pages still to send in scan order, t_end, g, rounds)."""
        st, res, P, M = self.st, self.result, self.P, self.M
        key = self.scan_key()
        stream = TouchStream(self.workload, self.g0, writes_only=True)
        t, g = 0.0, self.g0
        throttle = 0.0
        high = 0
        queue = sorted((p for p in range(M) if self.needed[p]), key=key)
        total_sent = 0
        L = self.C if st.rate_limit == "fixed" else st.min_rate
        prev_sent = None
        k = 0
        while True:
            v = 1 - throttle
            mig, app = alloc(L, self.a * v, self.C)
            R = mig
            t_k, g_k = t, g
            written = [False] * M
            state = {"faults": 0, "stunned": False, "g_stun": 0.0, "t_stun": 0.0}

            def tw(g_w: float, t_k=t_k, g_k=g_k, v=v) -> float:
                return t_k + ieee_div(g_w - g_k, v)

            def apply_before(T: float, written=written, state=state, tw=tw) -> None:
                # apply every not-yet-applied write with tw < T, in trace order, unless stunned
                while not state["stunned"]:
                    w = stream.peek(lambda g_a: tw(g_a) < T)
                    if w is None or not tw(w[0]) < T:
                        return
                    stream.pop()
                    g_w, page, _ = w
                    self.is_zero[page] = False
                    if not written[page]:
                        written[page] = True
                        state["faults"] += 1
                        if st.stun_write_faults > 0 and state["faults"] == st.stun_write_faults:
                            state["stunned"] = True
                            state["g_stun"] = g_w
                            state["t_stun"] = tw(g_w)

            T = t_k
            sent = skipped = nbytes = 0
            for q in queue:
                apply_before(T)
                if st.skip and written[q]:
                    skipped += 1
                    continue
                b = self.send(q)
                nbytes += b
                sent += 1
                T = T + (b * 8.0) / R
            t_end = T
            apply_before(t_end)
            dirtied = state["faults"]
            duration = t_end - t_k
            next_queue = sorted((p for p in range(M) if written[p]), key=key)
            total_sent += sent
            res.rows.append(
                RefRound(k, "precopy", t_k, duration, len(queue), sent, skipped, dirtied,
                         nbytes, R, 0.0 if duration == 0 else dirtied / duration, throttle)
            )  # fmt: skip
            res.pages_skipped += skipped
            # application service lost in this round (READING R9)
            f = app / self.a if self.a > 0 else v
            if state["stunned"]:
                self.lost_downtime_etc += (1 - f) * (state["t_stun"] - t_k) + (
                    t_end - state["t_stun"]
                )
            else:
                self.lost_downtime_etc += (1 - f) * duration
            # next guest time
            g = state["g_stun"] if state["stunned"] else g_k + v * (t_end - t_k)
            t = t_end
            # auto-converge (READING R7: high only resets when the throttle is raised)
            if st.auto_converge and k >= 1:
                if dirtied * P > st.throttle_threshold * nbytes:
                    high += 1
                if high >= st.throttle_trigger_rounds:
                    if throttle == 0:
                        throttle = st.throttle_initial
                    else:
                        throttle = min(st.throttle_max, throttle + st.throttle_increment)
                    high = 0
            # stop rules
            n = k + 1
            rem = len(next_queue)
            reason = None
            if st.switchover == "xen":
                if rem < st.stop_pages:
                    reason = "converged"
            else:
                bw = R if duration == 0 else nbytes * 8 / duration
                if rem * (P + self.H) * 8 <= bw * st.downtime_limit:
                    reason = "converged"
            if reason is None and n >= max_rounds:
                reason = "max_rounds"
            if reason is None and st.switchover == "xen" and total_sent > st.max_factor * M:
                reason = "max_factor"
            if (
                reason is None
                and st.switchover == "xen"
                and st.rate_limit == "dynamic"
                and k >= 1
                and sent > prev_sent
                and st.max_rate == L
            ):
                reason = "no_progress"
            if reason is not None:
                res.stop_reason = reason
                res.converged = reason == "converged"
                res.rounds = n
                return next_queue, t_end, g, n
            # next rate limit
            if st.rate_limit == "dynamic":
                D = st.max_rate if duration == 0 else dirtied * P * 8 / duration
                L = min(st.max_rate, max(st.min_rate, D + st.rate_increment))
            prev_sent = sent
            queue = next_queue
            k += 1

    def final_stop_copy(self, pages: list[int], t_end: float, n: int) -> None:
        """Stop-and-copy of the pages left after pre-copy (no writes, no skipping)."""
        res = self.result
        T = t_end
        nbytes = 0
        for p in pages:
            b = self.send(p)
            nbytes += b
            T = T + (b * 8.0) / self.R_f
        T = T + (self.vm.state_bytes * 8.0) / self.R_f
        res.bytes_transferred += self.vm.state_bytes
        res.downtime = (T - t_end) + self.vm.resume_time
        res.total_time = T + self.vm.resume_time
        self.lost_downtime_etc += res.downtime
        res.rows.append(
            RefRound(n, "stop_copy", t_end, T - t_end, len(pages), len(pages), 0, 0,
                     nbytes + self.vm.state_bytes, self.R_f, 0.0, 0.0)
        )  # fmt: skip

    # -- post-copy --------------------------------------------------------------------------

    def post_copy(self, absent_pages: list[int], t_p: float, g_r: float, n: int) -> None:
        st, vm, res, M = self.st, self.vm, self.result, self.M
        R_f = self.R_f
        pause_bytes = vm.state_bytes + vm.nonpageable_bytes
        t_r = t_p + (pause_bytes * 8.0) / R_f + vm.resume_time
        res.bytes_transferred += pause_bytes
        res.downtime = t_r - t_p
        self.lost_downtime_etc += res.downtime
        res.rounds = n
        res.rows.append(
            RefRound(n, "stop_copy", t_p, t_r - t_p, 0, 0, 0, 0, pause_bytes, R_f, 0.0, 0.0)
        )

        ABSENT, IN_FLIGHT, PRESENT = 1, 2, 0
        status = [PRESENT] * M
        for p in absent_pages:
            status[p] = ABSENT
        remaining = len(absent_pages)  # absent or in flight
        # the bytes of each page are fixed at the pause (zero state and earlier sends)
        cost_bytes = {p: self.page_bytes(p) for p in absent_pages}
        for p in absent_pages:
            self.send(p)
        last_present = t_r

        # push state
        ts = t_r if st.push else t_r + st.demand_timeout
        push = {"started": False, "page": None, "end": 0.0}
        lowest = [0]  # cursor of the lowest absent page (absent pages only ever go away)
        # pivots, newest first: [forward cursor, backward cursor, next is forward]
        pivots: list[list] = [[0, -1, True]]
        rot = [0]

        def lowest_absent() -> int | None:
            while lowest[0] < M and status[lowest[0]] != ABSENT:
                lowest[0] += 1
            return lowest[0] if lowest[0] < M else None

        def forward(pv: list) -> int | None:
            while pv[0] < M and status[pv[0]] != ABSENT:
                pv[0] += 1
            return pv[0] if pv[0] < M else None

        def backward(pv: list) -> int | None:
            while pv[1] >= 0 and status[pv[1]] != ABSENT:
                pv[1] -= 1
            return pv[1] if pv[1] >= 0 else None

        def candidate(pv: list) -> int | None:
            if st.direction == "forward":
                c = forward(pv)
                if c is not None:
                    pv[0] += 1
                return c
            order = ("f", "b") if pv[2] else ("b", "f")
            for d in order:
                c = forward(pv) if d == "f" else backward(pv)
                if c is not None:
                    if d == "f":
                        pv[0] += 1
                    else:
                        pv[1] -= 1
                    pv[2] = d == "b"
                    return c
            return None

        def choose() -> int | None:
            if st.prepaging == "none" or not st.push:
                return lowest_absent()
            count = len(pivots)
            for i in range(count):
                j = (rot[0] + i) % count
                c = candidate(pivots[j])
                if c is not None:
                    rot[0] = (j + 1) % count
                    return c
            return lowest_absent()

        def pick(start: float) -> None:
            p = choose()
            if p is None:
                push["page"] = None
                return
            status[p] = IN_FLIGHT
            push["page"] = p
            push["end"] = start + (cost_bytes[p] * 8.0) / R_f

        def complete() -> None:
            nonlocal remaining, last_present
            p = push["page"]
            status[p] = PRESENT
            remaining -= 1
            last_present = max(last_present, push["end"])
            pick(push["end"])

        def advance(t: float) -> None:
            if not push["started"] and ts <= t:
                push["started"] = True
                if not st.push and remaining > 0 and self.st.name == "post_copy":
                    res.stop_reason = "demand_timeout"
                pick(ts)
            while push["page"] is not None and push["end"] <= t:
                complete()

        def update_pivots(x: int) -> None:
            if st.prepaging == "none":
                return
            keep = 1 if st.prepaging == "bubble" else st.pivots
            pivots.insert(0, [x + 1, x - 1, True])
            del pivots[keep:]
            rot[0] = 0

        stream = TouchStream(self.workload, g_r, writes_only=False)
        lag = 0.0
        faults = 0
        stall_time = 0.0

        def wall(g: float) -> float:
            return t_r + (g - g_r) + lag

        def may_matter(g_a: float) -> bool:
            # no touch before guest time g_a is left: the push runs up to its wall time (every
            # later touch comes at or after it), and the trace matters while pages are missing
            advance(wall(g_a))
            return remaining > 0

        while remaining > 0:
            touch = stream.peek(may_matter)
            if touch is None:
                break
            g_i, p, _ = stream.pop()
            if g_i < g_r:
                continue
            t_i = wall(g_i)
            advance(t_i)
            if remaining == 0:
                break
            if status[p] == PRESENT:
                continue
            if status[p] == IN_FLIGHT:
                stall = push["end"] - t_i
                if PIVOTS_BEFORE_PICK:
                    update_pivots(p)  # READING R1: at the fault time, before the pick at push_end
                    complete()
                else:
                    complete()
                    update_pivots(p)
            else:
                cost = (cost_bytes[p] * 8.0) / R_f
                stall = self.cfg.link.rtt_s + cost
                status[p] = PRESENT  # READING R2
                remaining -= 1
                last_present = max(last_present, t_i + stall)
                if push["page"] is not None:
                    push["end"] += cost
                update_pivots(p)
            faults += 1
            lag = lag + stall / vm.vcpus
            stall_time += stall

        res.network_faults = faults
        res.stall_time = stall_time
        res.total_time = last_present
        res.rows.append(
            RefRound(n, "postcopy", t_r, last_present - t_r, len(absent_pages),
                     len(absent_pages), 0, 0, sum(cost_bytes.values()), R_f, 0.0, 0.0)
        )  # fmt: skip


def reference_simulate(cfg: RunConfig, workload=None) -> RefResult:
    """Run the reference model on ``cfg`` (with ``workload`` instead of the configured one, for
    hand-made traces)."""
    return Reference(cfg, workload).run()
