"""Building blocks shared by the generators: a memory layout and touch components.

A generator describes its guest as a :class:`Layout` (named regions of guest memory, in
*logical* page numbers, some in use, some zero at the start) and a list of components, each a
vectorised source of touches over a time interval:

- :class:`Tier`: Poisson touches (writes and/or reads) spread over a range of pages, uniformly
  or with a power-law skew. A uniform tier of ``P`` pages written at ``r`` pages/s has
  ``d(w) = P (1 - exp(-r w / P))`` distinct pages written in a window of ``w`` seconds, so a
  mixture of a hot, a warm and a cold tier gives the saturating d(w) curves of Clark et al.
- :class:`Sequential`: a pointer walking a circular range of pages at a fixed rate (logs,
  socket rings, memory stress); deterministic, no random draws.
- :class:`Sliding`: touches in a window of pages whose position moves through an arena at a
  phase-dependent speed (freshly allocated memory of a compiler).

Every component may be gated or modulated by a periodic :class:`Schedule` (checkpoint bursts,
compile phases). :class:`MixWorkload` draws each component of block ``k`` from its own
counter-based stream ``block_rng(seed, component index + 1, k)`` and merges them by time, so a
window of the trace is identical however it is requested.

Logical pages are mapped to guest-physical pages by permuting 2 MiB chunks (512 pages of 4 KiB)
with a seeded permutation, as a buddy allocator scatters large allocations; pages keep their
order inside a chunk, so sequential writers stay sequential within a chunk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from migsim.units import parse_size
from migsim.workloads.base import BlockWorkload, Touches, block_rng

__all__ = [
    "CHUNK_BYTES",
    "Layout",
    "MixWorkload",
    "Schedule",
    "Sequential",
    "Sliding",
    "Tier",
    "check_fraction",
    "check_positive",
    "size_param",
]

CHUNK_BYTES = 2 * 2**20
"""Granularity (bytes) of the seeded scatter of logical pages over guest-physical memory."""


def size_param(gen: str, key: str, value: Any, page_size: int) -> int:
    """Parse a size parameter (``"128MiB"`` or bytes) to whole pages (rounded up, >= 0)."""
    try:
        nbytes = parse_size(value)
    except ValueError as exc:
        raise ValueError(f"{gen}: {key}: {exc}") from None
    return math.ceil(nbytes / page_size)


def check_positive(gen: str, key: str, value: Any, unit: str, allow_zero: bool = False) -> float:
    """Return ``value`` as float, raising ValueError naming ``key`` unless it is > 0 (>= 0)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{gen}: {key} must be a number ({unit}), got {value!r}") from None
    if not math.isfinite(x) or x < 0 or (x == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{gen}: {key} must be {bound} {unit}, got {value!r}")
    return x


def check_fraction(gen: str, key: str, value: Any) -> float:
    """Return ``value`` as a float in [0, 1], raising ValueError naming ``key`` otherwise."""
    x = check_positive(gen, key, value, "(fraction)", allow_zero=True)
    if x > 1:
        raise ValueError(f"{gen}: {key} must be in [0, 1], got {value!r}")
    return x


@dataclass(frozen=True)
class Schedule:
    """A periodic, piecewise-constant level: phase ``j`` covers ``[edges[j], edges[j+1])`` of
    each ``period`` seconds (the last phase runs to the period's end) at ``levels[j]``.

    For :class:`Tier` and :class:`Sequential` the level multiplies the rate (0 = off); for
    :class:`Sliding` it is the window's speed in pages/s.
    """

    period: float
    edges: tuple[float, ...]
    levels: tuple[float, ...]

    def __post_init__(self) -> None:
        if self.period <= 0 or len(self.edges) != len(self.levels) or self.edges[0] != 0:
            raise ValueError(f"bad schedule {self}")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"schedule edges must increase: {self.edges}")
        if self.edges[-1] >= self.period:
            raise ValueError(f"schedule edges must lie within the period: {self}")

    def intervals(self, t0: float, t1: float) -> list[tuple[float, float, float]]:
        """The phases intersecting ``[t0, t1)`` as ``(start, end, level)``, in time order."""
        out = []
        ends = (*self.edges[1:], self.period)
        for m in range(math.floor(t0 / self.period), math.floor(t1 / self.period) + 1):
            base = m * self.period
            for a, b, level in zip(self.edges, ends, self.levels, strict=True):
                lo, hi = max(t0, base + a), min(t1, base + b)
                if hi > lo:
                    out.append((lo, hi, level))
        return out

    def integral(self, t: np.ndarray) -> np.ndarray:
        """The integral of the level from 0 to ``t`` (e.g. pages the window has moved)."""
        ends = np.array((*self.edges[1:], self.period))
        lengths = ends - np.array(self.edges)
        cum = np.concatenate(([0.0], np.cumsum(lengths * np.array(self.levels))))
        xs = np.concatenate((np.array(self.edges), [self.period]))
        cycles = np.floor(t / self.period)
        return cycles * cum[-1] + np.interp(t - cycles * self.period, xs, cum)


ALWAYS = Schedule(1.0, (0.0,), (1.0,))


def _poisson_times(
    rng: np.random.Generator, rate: float, t0: float, t1: float, schedule: Schedule
) -> np.ndarray:
    """Sorted event times of a Poisson process of ``rate`` x level on ``[t0, t1)``.

    ``n ~ Poisson(rate x length)`` points, placed as the order statistics of ``n`` uniforms,
    drawn in O(n) as normalised partial sums of ``n + 1`` exponentials (no sort).
    """
    parts = []
    for lo, hi, level in schedule.intervals(t0, t1):
        lam = rate * level * (hi - lo)
        if lam > 0:
            n = int(rng.poisson(lam))
            if n:
                cum = np.cumsum(rng.standard_exponential(n + 1))
                t = lo + (hi - lo) * (cum[:-1] / cum[-1])
                parts.append(np.minimum(t, np.nextafter(hi, lo)))
    return np.concatenate(parts) if parts else np.empty(0)


@dataclass(frozen=True)
class Tier:
    """Poisson touches over logical pages ``[start, start + count)``.

    write_rate, read_rate: touches/s (times the schedule's level).
    skew: 0 = uniform; ``a > 0`` draws page ``start + floor(count * u**(1 + a))``, a power law
        concentrating touches on the first pages of the range.
    """

    start: int
    count: int
    write_rate: float
    read_rate: float = 0.0
    skew: float = 0.0
    read_skew: float = 0.0
    schedule: Schedule = ALWAYS

    def pages_touched(self) -> tuple[int, int]:
        """The logical page range this component may touch."""
        return self.start, self.count

    def _pages(self, rng: np.random.Generator, n: int, skew: float) -> np.ndarray:
        u = rng.random(n)
        if skew == int(skew) and 0 < skew <= 3:
            u2 = u * u  # integer powers by multiplication: much faster than np.power
            u = {1: u2, 2: u2 * u, 3: u2 * u2}[int(skew)]
        elif skew:
            u = u ** (1.0 + skew)
        return self.start + np.minimum((u * self.count).astype(np.int64), self.count - 1)

    def draw(self, rng: np.random.Generator, t0: float, t1: float) -> Touches:
        tw = _poisson_times(rng, self.write_rate, t0, t1, self.schedule)
        tr = _poisson_times(rng, self.read_rate, t0, t1, self.schedule)
        pw = self._pages(rng, tw.size, self.skew)
        pr = self._pages(rng, tr.size, self.read_skew)
        return Touches(
            np.concatenate((tw, tr)),
            np.concatenate((pw, pr)),
            np.concatenate((np.ones(tw.size, np.bool_), np.zeros(tr.size, np.bool_))),
        )


@dataclass(frozen=True)
class Sequential:
    """A pointer walking logical pages ``[start, start + count)`` circularly.

    rate: touches/s; touch ``i`` is at ``t = i / rate`` on page
        ``start + (i // repeat) mod count`` (``repeat`` touches per page before moving on, as
        a log appends several records to one page).
    write: writes (True) or reads (False). Deterministic: no random draws.
    """

    start: int
    count: int
    rate: float
    repeat: int = 1
    write: bool = True

    def pages_touched(self) -> tuple[int, int]:
        """The logical page range this component may touch."""
        return self.start, self.count

    def draw(self, rng: np.random.Generator, t0: float, t1: float) -> Touches:
        if self.rate <= 0:
            return Touches(np.empty(0), np.empty(0, np.int64), np.empty(0, np.bool_))
        i0 = max(math.floor(t0 * self.rate) - 1, 0)
        i1 = math.ceil(t1 * self.rate) + 1
        i = np.arange(i0, i1, dtype=np.int64)
        t = i / self.rate
        keep = (t >= t0) & (t < t1)
        i, t = i[keep], t[keep]
        page = self.start + (i // self.repeat) % self.count
        return Touches(t, page, np.full(t.size, self.write, np.bool_))


@dataclass(frozen=True)
class Sliding:
    """Touches in a window of ``window`` logical pages moving through an arena
    ``[start, start + count)`` (circularly) at ``speed.level`` pages/s.

    A page enters the window, is written ``write_rate * window / speed`` times on average while
    inside, and is left behind: freshly allocated memory that is used and then freed.
    """

    start: int
    count: int
    window: int
    write_rate: float
    read_rate: float
    speed: Schedule

    def pages_touched(self) -> tuple[int, int]:
        """The logical page range this component may touch."""
        return self.start, self.count

    def draw(self, rng: np.random.Generator, t0: float, t1: float) -> Touches:
        tw = _poisson_times(rng, self.write_rate, t0, t1, ALWAYS)
        tr = _poisson_times(rng, self.read_rate, t0, t1, ALWAYS)
        t = np.concatenate((tw, tr))
        pos = self.speed.integral(t)
        offset = np.floor(pos + rng.random(t.size) * self.window).astype(np.int64)
        page = self.start + offset % self.count
        is_write = np.concatenate((np.ones(tw.size, np.bool_), np.zeros(tr.size, np.bool_)))
        return Touches(t, page, is_write)


@dataclass
class Layout:
    """Named regions of logical pages, allocated in order from page 0.

    ``in_use`` regions are used by the guest; the rest is free memory (skipped with ballooning
    or free-page skipping). ``zero`` lists ``(start, count)`` ranges that are all zero at the
    start of the trace.
    """

    memory_pages: int
    regions: dict[str, tuple[int, int]] = field(default_factory=dict)
    in_use: list[tuple[int, int]] = field(default_factory=list)
    zero: list[tuple[int, int]] = field(default_factory=list)
    next_page: int = 0

    def add(self, name: str, count: int, used: bool = True) -> tuple[int, int]:
        """Allocate ``count`` pages named ``name``; raise ValueError if memory is exhausted."""
        count = int(count)
        if count < 0 or self.next_page + count > self.memory_pages:
            raise ValueError(
                f"{name} needs {count} pages but only {self.memory_pages - self.next_page} "
                f"of {self.memory_pages} are left"
            )
        rng_ = (self.next_page, count)
        self.regions[name] = rng_
        if used:
            self.in_use.append(rng_)
        self.next_page += count
        return rng_

    def sub(self, name: str, offset: int, count: int) -> tuple[int, int]:
        """A sub-range of region ``name``."""
        start, total = self.regions[name]
        if offset < 0 or offset + count > total:
            raise ValueError(f"sub-range {offset}+{count} outside {name} ({total} pages)")
        return start + offset, count

    def mask(self, ranges: list[tuple[int, int]]) -> np.ndarray:
        """bool[memory_pages] over logical pages, true inside ``ranges``."""
        out = np.zeros(self.memory_pages, np.bool_)
        for start, count in ranges:
            out[start : start + count] = True
        return out


class MixWorkload(BlockWorkload):
    """A generator built from a :class:`Layout` and a list of components.

    Subclasses call :meth:`_setup` at the end of ``__init__``.
    """

    scatter = True

    def _setup(self, layout: Layout, components: list[Any]) -> None:
        used = layout.mask(layout.in_use)
        for comp in components:
            start, count = comp.pages_touched()
            if count <= 0 or not used[start : start + count].all():
                raise AssertionError(f"{self.name}: component {comp} touches pages not in use")
        self.layout = layout
        self.components = components
        m = self.memory_pages
        chunk = max(CHUNK_BYTES // self.page_size, 1)
        full = m // chunk
        if self.scatter and full > 1:
            perm = block_rng(self.seed, 0, 0).permutation(full).astype(np.int64)
        else:
            perm = np.arange(full, dtype=np.int64)
        self._chunk, self._full, self._perm = chunk, full, perm
        # chunk lookup: full chunks permuted, the partial tail chunk (index ``full``) in place
        self._lut = np.concatenate((perm, [full])).astype(np.int64)
        self._in_use = self._physical_mask(used)
        self._zero = self._physical_mask(layout.mask(layout.zero))

    def _physical_mask(self, logical: np.ndarray) -> np.ndarray:
        """A bool mask over logical pages moved to guest-physical pages (chunk by chunk)."""
        c, full = self._chunk, self._full
        out = logical.copy()
        if full:
            out[: full * c].reshape(full, c)[self._perm] = logical[: full * c].reshape(full, c)
        return out

    def to_physical(self, logical: np.ndarray) -> np.ndarray:
        """Map logical page numbers to guest-physical ones (2 MiB chunk permutation)."""
        c = self._chunk
        if self._full == 0:
            return logical
        if c & (c - 1) == 0:  # a power of two: shifts and masks
            shift = c.bit_length() - 1
            return (self._lut[logical >> shift] << shift) | (logical & (c - 1))
        return self._lut[logical // c] * c + logical % c

    def in_use(self) -> np.ndarray:
        return self._in_use.copy()

    def zero_pages(self) -> np.ndarray:
        return self._zero.copy()

    def _block(self, k: int) -> Touches:
        t0, t1 = k * self.block_s, (k + 1) * self.block_s
        parts = [
            comp.draw(block_rng(self.seed, j + 1, k), t0, t1)
            for j, comp in enumerate(self.components)
        ]
        t = np.concatenate([p.t for p in parts])
        # every part is sorted, so the stable sort (timsort) only merges runs
        order = np.argsort(t, kind="stable")
        page = np.concatenate([p.page for p in parts])[order]
        is_write = np.concatenate([p.is_write for p in parts])[order]
        return Touches(t[order], self.to_physical(page), is_write)


def shrink(needed_pages: int, budget_pages: int) -> float:
    """The factor (<= 1) by which working sets shrink to fit ``budget_pages``."""
    if needed_pages <= budget_pages:
        return 1.0
    return budget_pages / needed_pages


KERNEL_HOT_BYTES = 256 * 2**10
"""Kernel pages rewritten constantly (timers, run queues, slab heads): 64 pages of 4 KiB."""


def os_pages(memory_pages: int, page_size: int) -> int:
    """The guest OS footprint in pages: 1/16 of memory, at least 8 MiB and at most 256 MiB
    (and never more than a quarter of memory)."""
    lo, hi = 8 * 2**20 // page_size, 256 * 2**20 // page_size
    return max(1, min(max(memory_pages // 16, lo), hi, memory_pages // 4))


def add_os(
    layout: Layout, page_size: int, intensity: float = 1.0, pages: int | None = None
) -> list[Any]:
    """Allocate the OS region first (``pages``, default :func:`os_pages`) and return its
    components: a hot kernel set of 256 KiB rewritten at 1,000 writes/s (a page every ~64 ms)
    and kernel reads (1,000/s, skewed)."""
    count = os_pages(layout.memory_pages, page_size) if pages is None else pages
    start, count = layout.add("os", count)
    hot = max(1, min(KERNEL_HOT_BYTES // page_size, count))
    return [
        Tier(start, hot, write_rate=1000.0 * intensity),
        Tier(start, count, write_rate=0.0, read_rate=1000.0 * intensity, read_skew=2.0),
    ]


def auto_size(gen: str, key: str, value: Any, page_size: int, default_pages: int) -> int:
    """A size parameter in pages; ``0`` / ``"auto"`` means ``default_pages``."""
    if value in (0, "0", "auto", None):
        return int(default_pages)
    return size_param(gen, key, value, page_size)


def rate_pages(gen: str, key: str, value: Any, page_size: int, allow_zero: bool = False) -> float:
    """A rate in pages/s: a plain number is pages/s, a string with a unit (``"2Gbit/s"``,
    ``"256MiB/s"``) is converted at ``page_size`` bytes per page."""
    from migsim.units import parse_rate

    if isinstance(value, str):
        try:
            return check_positive(gen, key, float(value), "pages/s", allow_zero)
        except ValueError:
            pass
        try:
            bps = parse_rate(value)
        except ValueError as exc:
            raise ValueError(f"{gen}: {key}: {exc}") from None
        return check_positive(gen, key, bps / 8 / page_size, "pages/s", allow_zero)
    return check_positive(gen, key, value, "pages/s", allow_zero)


def bitrate(gen: str, key: str, value: Any) -> float:
    """A network rate in bit/s from ``"940Mbit/s"`` or a number of bit/s."""
    from migsim.units import parse_rate

    try:
        return parse_rate(value)
    except ValueError as exc:
        raise ValueError(f"{gen}: {key}: {exc}") from None
