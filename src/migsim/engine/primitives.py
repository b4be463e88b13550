"""Engine primitives that strategies compose: the steps of a migration, each a SimPy generator
(or a plain call) over the run's :class:`~migsim.engine.core.Context`.

- :class:`DirtyLog` and :func:`send_queue`: run the guest on the source while sending a queue of
  pages in the given order at a given rate, with dirty logging (the pages first written since
  the log was last read, Xen's dirty bitmap); :func:`sorted_dirty` reads the log back.
- :func:`send_paused`: the guest is paused; send a queue of pages and the device state.
- :func:`switch_to_destination`: pause, send the state (and non-pageable memory), resume at
  the destination with pages still absent.
- :func:`pull`: the destination serves network faults while the source pushes the absent
  pages in a push order (:mod:`migsim.engine.push_order`), until every page is present.

Each primitive accounts bytes, pages, time and lost service in the context and the timeline
grid, and appends its row to the rounds table. None knows which strategy calls it: the options
it needs are arguments. Page-level work runs in the kernels of :mod:`migsim.engine.kernels`;
a primitive drives a kernel in chunks of pages, one SimPy event each.
"""

from __future__ import annotations

import functools
from collections.abc import Generator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from migsim.engine import kernels as K
from migsim.engine.pages import STALE
from migsim.engine.push_order import ORDER_CODES, new_pivots

__all__ = [
    "Checkpoint",
    "DirtyLog",
    "RoundSender",
    "Sent",
    "WriteBuffer",
    "pull",
    "queue_len",
    "send_paused",
    "send_queue",
    "sorted_dirty",
    "switch_to_destination",
    "transfer",
]


def record(dtype: np.dtype, **values: float) -> np.ndarray:
    """A one-element array of the structured ``dtype`` with the given fields set and the
    others zero (one assignment: setting fields one by one costs about a microsecond each)."""
    out = np.zeros(1, dtype=dtype)
    row = [0] * len(dtype.names)
    index = _field_index(dtype)
    for name, value in values.items():
        row[index[name]] = value
    out[0] = tuple(row)
    return out


@functools.cache
def _field_index(dtype: np.dtype) -> dict[str, int]:
    return {name: i for i, name in enumerate(dtype.names)}


def fields(state: np.ndarray) -> dict[str, float]:
    """The fields of a one-element record array as a dict of Python numbers (one read)."""
    return dict(zip(state.dtype.names, state[0].item(), strict=True))


class Checkpoint:
    """What one kernel run of a migration may change, as it is when the run starts: the page
    flags and send counts, the timeline grid, the caller's ``arrays`` (its kernel's state
    record and the like) and the touch streams' positions. A migration that shares its link
    takes one before each kernel run and goes back to it when its rates change at a time the
    run has passed (then runs the kernel again up to that time)."""

    __slots__ = ("arrays", "ctx", "flags", "grid", "sends", "sent", "streams")

    def __init__(
        self, ctx, arrays: tuple[np.ndarray, ...] = (), streams: tuple = (), sent: Any = None
    ):
        self.ctx = ctx
        pages, grid = ctx.pages, ctx.grid
        self.flags = pages.flags.copy()
        # ``sent``: the only pages whose send counts the run may change (a slice of pages or
        # an array of them; default all): a pre-copy run sends only from its queue's chunk,
        # and the counts are 4 bytes a page, most of a full copy's cost
        self.sent = slice(None) if sent is None else sent
        self.sends = pages.sends[self.sent].copy()
        self.grid = (grid.bytes.copy(), grid.lost.copy(), grid.stale.copy(), grid.present.copy())
        self.arrays = [(a, a.copy()) for a in arrays]
        self.streams = [(st, st.mark()) for st in streams]

    def restore(self) -> None:
        """Put everything back as it was when the checkpoint was taken."""
        pages, grid = self.ctx.pages, self.ctx.grid
        np.copyto(pages.flags, self.flags)
        pages.sends[self.sent] = self.sends
        grid.bytes, grid.lost, grid.stale, grid.present = (a.copy() for a in self.grid)
        for a, saved in self.arrays:
            np.copyto(a, saved)
        for st, mark in self.streams:
            st.rewind(mark)


def _watch(ctx, target: float) -> Generator:
    """Wait until the migration's wall time ``target``, or until its link rates change if it
    shares the link; returns the wall time at which the rates changed (None if they did not
    change before ``target``)."""
    if not ctx.link.shared:
        yield ctx.wait_until(target)
        return None
    changed = ctx.link.changed()
    yield ctx.wait_until(target) | changed
    return ctx.now if changed.triggered else None


def transfer(ctx, t: float, nbytes: int, rate: float) -> Generator:
    """Send ``nbytes`` of state from wall time ``t`` at ``rate`` bit/s (the link's rate,
    re-read whenever it changes); waits until the last bit is sent. Returns that wall time
    and the mean rate (bit/s; ``rate`` itself when it never changed)."""
    t0, mean = t, rate
    end = t + (nbytes * 8.0) / rate
    while True:
        t_change = yield from _watch(ctx, end)
        if t_change is None or t_change >= end:
            return end, mean
        left = (end - t_change) * rate  # bits still to send
        rate = (yield from ctx.link.rates())[0]
        t = t_change
        end = t + left / rate
        mean = nbytes * 8.0 / (end - t0)


def weighted_rate(rates: list[tuple[float, float]], end: float) -> float:
    """The time-weighted mean of a rate that changed: ``rates`` lists (from wall time,
    rate bit/s) in order, the last held until ``end``; the rate itself when it never
    changed."""
    if len({r for _, r in rates}) == 1:
        return rates[0][1]
    ends = [t for t, _ in rates[1:]] + [max(end, rates[-1][0])]
    total = ends[-1] - rates[0][0]
    if total <= 0:
        return rates[-1][1]
    return sum((e - t) * r for (t, r), e in zip(rates, ends, strict=True)) / total


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


class DirtyLog:
    """Dirty logging while the guest runs on the source: the guest's pending touches and the
    pages first written since the log was last read (in order of their first write).

    Made when a strategy starts sending with the guest running (:meth:`start`); the WRITTEN
    bit of :mod:`migsim.engine.pages` is the bitmap, ``pages[:n]`` the list of a round's
    ``n`` first writes (``Sent.dirtied``)."""

    def __init__(self, ctx):
        self.buf = WriteBuffer.empty(ctx.stream.cover)
        self.pages = np.empty(ctx.memory_pages, dtype=np.int64)

    def dirtied(self, n: int) -> np.ndarray:
        """The pages first written in the last :func:`send_queue` call that dirtied ``n``."""
        return self.pages[:n]


def sorted_dirty(ctx, pages: np.ndarray) -> np.ndarray:
    """``pages`` (distinct, read from the dirty log) in ascending order, with their WRITTEN
    bits cleared (Xen reads and clears the dirty bitmap at the end of a round), in
    O(k + memory / 64) from a bitmap of memory (sorting took a tenth of a run whose later
    rounds each send thousands of pages)."""
    return K.sorted_dirty(pages, ctx.pages.flags)


def queue_len(order: np.ndarray) -> int:
    """How many pages a queue (an array of pages, or a bool mask) holds."""
    return int(np.count_nonzero(order)) if order.dtype == np.bool_ else int(order.shape[0])


class Sent(NamedTuple):
    """What one :func:`send_queue` call did."""

    sent: int  #: pages sent (zero markers included)
    skipped: int  #: pages skipped (written again before their turn)
    bytes: int  #: bytes sent
    zero: int  #: zero-page markers sent
    dirtied: int  #: pages first written during the call (the dirty log's new entries)
    stunned: bool  #: the guest was stunned (``stun`` first writes reached)
    g_stun: float  #: guest time of the stun
    t_stun: float  #: wall time of the stun


class RoundSender:
    """One queue being sent while the guest runs (or is paused), in as many calls of
    :meth:`run` as the caller likes: the kernel's state record persists between them, so
    where a call stops changes no result. Between calls the caller may change the send rate
    and the guest's speed (:meth:`run`'s arguments); a speed change takes effect at the time
    the previous call stopped at (its ``until``).

    ``order``: an array of pages, or a bool mask walked in ascending order. ``log``: the dirty
    log of the running guest, or None when the guest is paused (nothing is written).
    ``skip``: a queued page written again before its turn is skipped (peek/skip). ``stun``:
    stun the guest after this many first writes (0 = off). ``fault_cost``: service lost per
    first write (dirty logging).
    """

    def __init__(
        self,
        ctx,
        order: np.ndarray,
        *,
        log: DirtyLog | None,
        skip: bool = False,
        stun: int = 0,
        fault_cost: float = 0.0,
    ):
        self.ctx = ctx
        self.order = order
        self.log = log
        self.skip = skip
        self.stun = stun
        self.fault_cost = fault_cost if log is not None else 0.0
        self.buf = log.buf if log is not None else WriteBuffer.empty(np.inf)
        self.state = record(
            K.PRECOPY_STATE,
            t=ctx.t,
            tk=ctx.t,
            gk=ctx.g,
            speed=1.0,
            until=np.inf,
            wc=-1,
            stale=ctx.stale_count,
            present=ctx.present_count,
            gj=ctx.gj,
            wpos=self.buf.start,
        )
        self.done = False
        self.stop_at = np.inf  # the ``until`` of the last run (a speed change starts there)
        self.stopped_at = ctx.t  # where the last run that returned False stopped
        self._rates: list[tuple[float, float]] = []  # (from wall time, rate bit/s)
        self._final: Sent | None = None

    @property
    def t(self) -> float:
        """Wall time the sends have reached (s)."""
        return float(self.state[0]["t"])

    def _speed(self, speed: float) -> None:
        rec = self.state[0]
        if speed == rec["speed"]:
            return
        t0 = self.stop_at if np.isfinite(self.stop_at) else rec["tk"]
        rec["gk"] = rec["gk"] + (t0 - rec["tk"]) * rec["speed"]
        rec["tk"] = t0
        rec["speed"] = speed

    def run(self, rate: float, speed: float = 1.0, until: float = np.inf) -> Generator:
        """Send at ``rate`` bit/s, the guest at ``speed`` (1 - throttle), until the queue is
        done or, with ``until``, the sends reach that wall time (the guest's writes before it
        applied). In chunks of pages, one SimPy event each, and never past the migration's
        next alarm (:meth:`Context.add_alarm`): a process that interrupts this one then finds
        the queue's state exactly at its own time.

        Returns True when the queue is done, False when the sends reached ``until`` or, on a
        shared link, when the link's rates changed: the state is then as it is at that time
        (:attr:`stopped_at`; a send that started before it finishes at the old rate) and the
        caller reads the new rates and runs again."""
        ctx = self.ctx
        rec = self.state[0]
        self._speed(speed)
        self.stop_at = until
        rec["rate"] = rate
        if not self._rates or self._rates[-1][1] != rate:
            self._rates.append((self.stopped_at, rate))
        chunk = ctx.cfg.engine.chunk_pages
        n = self.order.shape[0]
        by_mask = self.order.dtype == np.bool_
        shared = ctx.link.shared
        while True:
            end = min(int(rec["pos"]) + chunk, n)
            finish = end == n
            # the kernel stops at the caller's ``until`` and at the next alarm, so that the
            # state is exact when something happens then (it may interrupt this process)
            bound = min(until, ctx.next_alarm())
            if shared:
                pos = int(rec["pos"])
                chunk_pages = slice(pos, end) if by_mask else self.order[pos:end]
                saved = Checkpoint(ctx, (self.state,), (ctx.stream,), sent=chunk_pages)
            saved_buf = self.buf
            status = self._kernel(end, finish, bound)
            target = bound if status == K.UNTIL else float(rec["t"])
            if shared:
                t_change = yield from _watch(ctx, target)
            else:
                yield ctx.wait_until(target)
                t_change = None
            if t_change is not None and t_change < target:
                # the link's rates changed before the run's end: go back, stop there
                saved.restore()
                self.buf = saved_buf
                status = self._kernel(end, finish, t_change)
                self.stop_at = self.stopped_at = t_change
                if status == K.UNTIL or not finish:
                    return False
                # the queue's last send started before the change; it ends at the old rate
                yield ctx.wait_until(float(rec["t"]))
                break
            if status == K.UNTIL:
                self.stopped_at = bound
                if bound >= until or t_change is not None:  # the caller's stop, or new rates
                    return False
                continue  # an alarm has gone off: go on from here
            if finish:
                break
            if t_change is not None:  # new rates exactly at the end of this chunk
                self.stopped_at = target
                return False
        self.done = True
        self._commit(float(rec["t"]))
        return True

    def _kernel(self, end: int, finish: bool, bound: float) -> int:
        """Run the kernel over the queue up to position ``end`` (``finish``: the queue's end)
        and not past wall time ``bound``; refills the write buffer and grows the grid as it
        asks. Returns the kernel's status (DONE or UNTIL)."""
        ctx = self.ctx
        rec = self.state[0]
        rec["until"] = bound
        p = ctx.pages
        buf = self.buf
        wlist = self.log.pages if self.log is not None else _NO_PAGES
        order = self.order
        by_mask = order.dtype == np.bool_
        pages, mask = (_NO_PAGES, order) if by_mask else (order, _NO_MASK)
        hit_rate = ctx.cfg.strategy.xbzrle_hit_rate
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
                self.skip,
                self.stun,
                self.fault_cost,
                p.flags,
                wlist,
                p.sends,
                ctx.cost,
                hit_rate,
                self.state,
                g.bytes,
                g.lost,
                g.stale,
                g.present,
                g.step,
            )
            if status == K.NEED_MORE:
                buf = _refill(ctx, buf, int(rec["wpos"]))
                rec["wpos"] = 0
            elif status == K.GRID_FULL:
                ctx.grid.grow()
            else:
                self.buf = buf
                return status

    def close(self, t: float) -> None:
        """Give up the queue at wall time ``t`` (where the last :meth:`run` stopped): what
        was sent counts, the rest is never sent."""
        self._commit(t)

    def _commit(self, t: float) -> None:
        ctx, rec = self.ctx, fields(self.state)
        if self.log is not None:
            self.log.buf = replace(self.buf, start=rec["wpos"])
        ctx.t = t
        ctx.stale_count = rec["stale"]
        ctx.present_count = rec["present"]
        ctx.gj = rec["gj"]
        out = self._final = self._sent(rec)
        ctx.pages_sent += out.sent
        ctx.bytes_sent += out.bytes
        ctx.zero_sent += out.zero
        ctx.skipped += out.skipped

    def mean_rate(self) -> float:
        """The send rate over the queue so far (bit/s): the time-weighted mean of the rates
        it ran at (the rate itself when it never changed)."""
        return weighted_rate(self._rates, self.t)

    def result(self) -> Sent:
        """What the sends did so far (all of it once the queue is done or closed)."""
        return self._final if self._final is not None else self._sent(fields(self.state))

    @staticmethod
    def _sent(rec: dict[str, float]) -> Sent:
        return Sent(
            rec["sent"],
            rec["skipped"],
            rec["bytes"],
            rec["zero"],
            rec["faults"],
            bool(rec["stunned"]),
            rec["g_stun"],
            rec["t_stun"],
        )


def send_queue(
    ctx,
    order: np.ndarray,
    speed: float,
    *,
    log: DirtyLog | None,
    skip: bool = False,
    stun: int = 0,
    fault_cost: float = 0.0,
) -> Generator:
    """Send the queue ``order`` from wall time ``ctx.t`` at the migration stream's rate on the
    link (asked for with ``ctx.link.want``; followed as it changes), the guest running at
    ``speed`` (1 - throttle) with its writes applied in wall-time order and logged in ``log``
    (None: the guest is paused); a :class:`RoundSender` run to the end of the queue. Returns
    (:class:`Sent`, the mean rate in bit/s)."""
    sender = RoundSender(ctx, order, log=log, skip=skip, stun=stun, fault_cost=fault_cost)
    while True:
        rate, _ = yield from ctx.link.rates()
        if (yield from sender.run(rate, speed)):
            return sender.result(), sender.mean_rate()


def send_paused(ctx, order: np.ndarray, cap: float, extra_bytes: int) -> Generator:
    """Stop-and-copy: with the guest paused, send the queue ``order`` and ``extra_bytes`` of
    state from ``ctx.t``, the migration stream capped at ``cap`` bit/s (its share of the
    link); one ``stop_copy`` row in the rounds table."""
    t0 = ctx.t
    ctx.link.want(cap, 0.0)
    out, rate = yield from send_queue(ctx, order, 1.0, log=None)
    t1 = ctx.t
    now_rate, _ = yield from ctx.link.rates()
    ctx.t, state_rate = yield from transfer(ctx, t1, extra_bytes, now_rate)
    rate = weighted_rate([(t0, rate), (t1, state_rate)], ctx.t)
    ctx.bytes_sent += extra_bytes
    ctx.grid.add_bytes(ctx.t, extra_bytes)
    ctx.add_round(
        round=ctx.precopy_rounds,
        phase="stop_copy",
        start_s=t0,
        duration_s=ctx.t - t0,
        to_send=queue_len(order),
        sent=out.sent,
        skipped=0,
        dirtied=0,
        bytes=out.bytes + extra_bytes,
        rate_limit_bps=rate,
        dirty_rate_pps=0.0,
        throttle=0.0,
    )
    yield ctx.wait_until(ctx.t)


def resume_at_destination(ctx) -> Generator:
    """After a stop-and-copy that left nothing absent: resume at the destination after
    ``vm.resume_time``; the migration ends then."""
    resume = ctx.t + ctx.cfg.vm.resume_time
    ctx.t_end = resume
    ctx.resume(resume)
    ctx.link.close()
    yield ctx.wait_until(resume)


def switch_to_destination(ctx, cap: float) -> Generator:
    """Pause at ``ctx.t``, send the CPU/device state and the non-pageable memory (the
    migration stream capped at ``cap`` bit/s), resume at the destination (after
    ``vm.resume_time``) with pages still absent: the post-copy switchover. One ``stop_copy``
    row in the rounds table."""
    cfg = ctx.cfg
    t_p = ctx.t
    ctx.pause(t_p)
    extra = cfg.vm.state_bytes + cfg.vm.nonpageable_bytes
    ctx.link.want(cap, 0.0)
    rate, _ = yield from ctx.link.rates()
    t_sent, rate = yield from transfer(ctx, t_p, extra, rate)
    t_r = t_sent + cfg.vm.resume_time
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
    yield ctx.wait_until(t_r)
    ctx.t = t_r
    ctx.resume(t_r, pull=True)


def pull(
    ctx,
    absent: np.ndarray,
    cap: float,
    *,
    order: str,
    pivots: int,
    dual: bool,
    push_after: float,
) -> Generator:
    """The destination after resume: serve network faults (one round trip plus the page's
    transfer each) and receive the pages the source pushes, the migration stream capped at
    ``cap`` bit/s (its share of the link, followed as it changes), in push
    ``order`` (``none``: ascending; ``bubble``/``multi_pivot``: outward from the latest
    fault or the ``pivots`` latest, ``dual`` in both directions), the push starting
    ``push_after`` seconds after resume; in chunks of pages (one SimPy event each), until no
    page of the bool mask ``absent`` is absent. One ``postcopy`` row in the rounds table.
    Returns whether the push started (a demand-only pull that outlived ``push_after``)."""
    cfg = ctx.cfg
    mode = ORDER_CODES[order]
    piv, pstate = new_pivots(mode, pivots if mode == 2 else 1)
    st = np.zeros(ctx.memory_pages, dtype=np.int8)
    st[absent] = 1
    t_r, g_r = ctx.t_resume, ctx.g
    t_push = t_r + push_after
    remaining = int(absent.sum())
    ctx.link.want(cap, 0.0)
    rate, _ = yield from ctx.link.rates()
    rates = [(t_r, rate)]
    state = record(
        K.POSTCOPY_STATE,
        t_push=t_push,
        t_last=t_r,
        t_resume=t_r,
        g_resume=g_r,
        rate=rate,
        inflight=-1,
        until=np.inf,
        remain=remaining,
        present=int(ctx.pages.needed.sum()) - remaining,
        gj=ctx.gj,
    )
    rec = state[0]
    stream = ctx.stream.__class__(ctx.workload, g_r, ctx.stream.in_use, ctx.stream.name)
    tg = np.empty(0)
    tp = np.empty(0, dtype=np.int64)
    chunk = cfg.engine.chunk_pages
    shared = ctx.link.shared

    def kernel(bound: float) -> int:
        nonlocal tg, tp
        rec["until"] = bound
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
                cfg.strategy.xbzrle_hit_rate,
                piv,
                pstate,
                mode,
                dual,
                state,
                g.bytes,
                g.lost,
                g.stale,
                g.present,
                g.step,
            )
            if status == K.NEED_MORE:
                ctx.touches_processed += int(rec["tpos"])
                part = stream.fetch()
                tg, tp = part.t, part.page
                rec["tpos"] = 0
            elif status == K.GRID_FULL:
                ctx.grid.grow()
            else:
                return status

    while True:
        # never past the next alarm (see RoundSender.run)
        bound = ctx.next_alarm()
        if shared:
            saved = Checkpoint(ctx, (state, st, piv, pstate), (stream,))
            saved_py = (tg, tp, ctx.touches_processed)
        status = kernel(bound)
        target = bound if status == K.UNTIL else float(rec["t_last"])
        t_change = yield from _watch(ctx, target)
        if t_change is not None and t_change < target:
            # the link's rates changed before the run's end: go back, stop there
            saved.restore()
            tg, tp, ctx.touches_processed = saved_py
            status = kernel(t_change)
        if t_change is not None:
            rate, _ = yield from ctx.link.rates()
            rec["rate"] = rate
            if rate != rates[-1][1]:
                rates.append((t_change, rate))
        elif status == K.DONE:
            break
    rec = fields(state)
    ctx.touches_processed += rec["tpos"]
    ctx.t = rec["t_last"]
    ctx.pages_sent += rec["sent"]
    ctx.bytes_sent += rec["bytes"]
    ctx.zero_sent += rec["zero"]
    ctx.faults += rec["faults"]
    ctx.stall_time += rec["stall"]
    ctx.ledger.stalls += rec["stall"] / cfg.vm.vcpus
    ctx.gj = rec["gj"]
    ctx.stale_count = 0
    ctx.present_count = rec["present"]
    ctx.pages.clear(STALE, absent)
    ctx.link.close()
    ctx.add_round(
        round=ctx.precopy_rounds,
        phase="postcopy",
        start_s=t_r,
        duration_s=ctx.t - t_r,
        to_send=remaining,
        sent=rec["sent"],
        skipped=0,
        dirtied=0,
        bytes=rec["bytes"],
        rate_limit_bps=weighted_rate(rates, ctx.t),
        dirty_rate_pps=0.0,
        throttle=0.0,
    )
    yield ctx.wait_until(ctx.t)
    ctx.t_end = ctx.t
    return bool(rec["started"])
