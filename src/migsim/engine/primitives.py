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
from typing import NamedTuple

import numpy as np

from migsim.engine import kernels as K
from migsim.engine.pages import STALE
from migsim.engine.push_order import ORDER_CODES, new_pivots

__all__ = [
    "DirtyLog",
    "RoundSender",
    "Sent",
    "WriteBuffer",
    "next_event",
    "pull",
    "queue_len",
    "send_paused",
    "send_queue",
    "sorted_dirty",
    "switch_to_destination",
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


def next_event(env) -> float:
    """The time of the next event scheduled for later than now (inf if none). A kernel never
    runs past it, so that whatever happens then (an interrupt of the migration, a sample)
    meets the migration's state exactly as it is at that time. Events of the current instant
    are left out: they were made by processes acting now (a pause, a resume) and are handled
    when the migration next yields, as before."""
    now = env.now
    if env.peek() > now:
        return env.peek()
    # an event of this instant is first: look past it (SimPy's queue is a heap of (time,
    # priority, id, event) tuples; it offers no public look beyond its first entry)
    return min((entry[0] for entry in env._queue if entry[0] > now), default=np.inf)


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
        applied). In chunks of pages, one SimPy event each, and never past the next event
        another process has scheduled: a process that interrupts this one finds the queue's
        state exactly at its own time. Returns whether the queue is done."""
        ctx = self.ctx
        rec = self.state[0]
        self._speed(speed)
        self.stop_at = until
        rec["rate"] = rate
        p = ctx.pages
        buf = self.buf
        writes = self.log is not None
        wlist = self.log.pages if writes else _NO_PAGES
        chunk = ctx.cfg.engine.chunk_pages
        order = self.order
        n = order.shape[0]
        by_mask = order.dtype == np.bool_
        pages, mask = (_NO_PAGES, order) if by_mask else (order, _NO_MASK)
        step = ctx.grid.step
        hit_rate = ctx.cfg.strategy.xbzrle_hit_rate
        while True:
            end = min(int(rec["pos"]) + chunk, n)
            finish = end == n
            # the kernel stops at the caller's ``until``, and before the next event scheduled
            # for a later time, so that the state is exact when that event happens (it may
            # interrupt this process)
            bound = min(until, next_event(ctx.env))
            rec["until"] = bound
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
                    step,
                )
                if status == K.NEED_MORE:
                    buf = _refill(ctx, buf, int(rec["wpos"]))
                    rec["wpos"] = 0
                elif status == K.GRID_FULL:
                    ctx.grid.grow()
                else:
                    break
            self.buf = buf
            if status == K.UNTIL:
                yield ctx.env.timeout(max(0.0, bound - ctx.env.now))
                if bound >= until:  # the caller's stop
                    return False
                continue  # another process's event has happened: go on from here
            yield ctx.env.timeout(max(0.0, rec["t"] - ctx.env.now))
            if finish:
                break
        self.done = True
        self._commit(float(rec["t"]))
        return True

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
    rate: float,
    speed: float,
    *,
    log: DirtyLog | None,
    skip: bool = False,
    stun: int = 0,
    fault_cost: float = 0.0,
) -> Generator:
    """Send the queue ``order`` at ``rate`` bit/s from wall time ``ctx.t``, the guest running
    at ``speed`` (1 - throttle) with its writes applied in wall-time order and logged in
    ``log`` (None: the guest is paused); a :class:`RoundSender` run to the end of the queue.
    Returns a :class:`Sent`."""
    sender = RoundSender(ctx, order, log=log, skip=skip, stun=stun, fault_cost=fault_cost)
    yield from sender.run(rate, speed)
    return sender.result()


def send_paused(ctx, order: np.ndarray, rate: float, extra_bytes: int) -> Generator:
    """Stop-and-copy: with the guest paused, send the queue ``order`` and ``extra_bytes`` of
    state at ``rate`` bit/s from ``ctx.t``; one ``stop_copy`` row in the rounds table."""
    t0 = ctx.t
    out = yield from send_queue(ctx, order, rate, 1.0, log=None)
    ctx.t = ctx.t + (extra_bytes * 8.0) / rate
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
    yield ctx.env.timeout(max(0.0, ctx.t - ctx.env.now))


def resume_at_destination(ctx) -> Generator:
    """After a stop-and-copy that left nothing absent: resume at the destination after
    ``vm.resume_time``; the migration ends then."""
    resume = ctx.t + ctx.cfg.vm.resume_time
    ctx.t_end = resume
    ctx.resume(resume)
    yield ctx.env.timeout(max(0.0, resume - ctx.env.now))


def switch_to_destination(ctx, rate: float) -> Generator:
    """Pause at ``ctx.t``, send the CPU/device state and the non-pageable memory at ``rate``,
    resume at the destination (after ``vm.resume_time``) with pages still absent: the
    post-copy switchover. One ``stop_copy`` row in the rounds table."""
    cfg = ctx.cfg
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
    ctx.resume(t_r, pull=True)


def pull(
    ctx,
    absent: np.ndarray,
    rate: float,
    *,
    order: str,
    pivots: int,
    dual: bool,
    push_after: float,
) -> Generator:
    """The destination after resume: serve network faults (one round trip plus the page's
    transfer each) and receive the pages the source pushes at ``rate`` bit/s in push
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
    while True:
        g = ctx.grid
        # never past the next event scheduled for a later time (see RoundSender.run)
        bound = next_event(ctx.env)
        rec["until"] = bound
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
        elif status == K.CHUNK:
            yield ctx.env.timeout(max(0.0, rec["t_last"] - ctx.env.now))
        elif status == K.UNTIL:
            yield ctx.env.timeout(max(0.0, bound - ctx.env.now))
        else:
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
        rate_limit_bps=rate,
        dirty_rate_pps=0.0,
        throttle=0.0,
    )
    yield ctx.env.timeout(max(0.0, ctx.t - ctx.env.now))
    ctx.t_end = ctx.t
    return bool(rec["started"])
