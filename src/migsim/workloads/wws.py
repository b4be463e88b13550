"""Writable-working-set (WWS) analysis, as in Clark et al. (NSDI'05) section 4.

Two views of how a guest dirties memory, both as polars DataFrames for the pipeline's figures:

- :func:`d_curve`: ``d(w)``, the number of *distinct* pages written within a window of ``w``
  seconds, averaged (and min / percentiles / max) over every window start on a grid. This is what
  decides pre-copy: a round of length ``L`` leaves about ``d(L)`` pages for the next round.
- :func:`wws_timeline`: the WWS over time, distinct pages dirtied in each ``window`` (default
  8 s) starting every ``step`` (default the 50 ms sampling period), plus :func:`dirty_per_sample`
  (distinct pages dirtied in each 50 ms sample).

Windows are counted exactly on a grid: time is cut in bins of ``sample`` seconds, a window is a
run of whole bins ``[s, s + w)`` with ``w`` a multiple of ``sample``, and only windows that lie
entirely inside the trace's span are counted. Each (page, bin) pair is counted once per window,
at its first bin in the window, with a difference array, so the whole curve costs one sort of
the writes (O(N log N)) plus O(bins) per window length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from migsim.workloads.base import Touches, Workload

__all__ = [
    "DEFAULT_WINDOWS",
    "WriteBins",
    "d_curve",
    "dirty_per_sample",
    "trace_summary",
    "window_counts",
    "wws_timeline",
]

DEFAULT_WINDOWS = (0.05, 0.1, 0.2, 0.45, 0.9, 1.0, 1.8, 2.8, 5.75, 8.0, 16.0, 32.0)
"""Window lengths (s) of the default d(w) table; those of SPEC section 4 included."""


def _touches(source: Touches | Workload, span: float | None) -> tuple[Touches, float]:
    if isinstance(source, Touches):
        if span is None:
            span = float(source.t[-1]) if len(source) else 0.0
        return source, float(span)
    if span is None:
        span = getattr(source, "span", None)
        if span is None:
            raise ValueError("span (s) is required to analyse a generator")
    return source.touches(0.0, float(span)), float(span)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values of ``a`` (a plain sort: faster than ``np.unique`` here)."""
    a = np.sort(a)
    if a.size:
        a = a[np.concatenate(([True], a[1:] != a[:-1]))]
    return a


@dataclass(frozen=True)
class WriteBins:
    """The writes of a trace reduced to distinct (page, bin) pairs, sorted by page then bin.

    bins: bin index of each pair; prev: bin of the same page's previous pair (or a large
    negative number); nbins: number of whole bins in the span; sample: bin width (s).
    """

    bins: np.ndarray
    prev: np.ndarray
    nbins: int
    sample: float

    @classmethod
    def build(cls, touches: Touches, span: float, sample: float) -> WriteBins:
        """Reduce the writes of ``touches`` over ``[0, span)`` to (page, bin) pairs."""
        if sample <= 0:
            raise ValueError(f"sample must be > 0 s, got {sample}")
        ratio = span / sample
        nbins = round(ratio) if abs(ratio - round(ratio)) < 1e-9 else math.floor(ratio)
        w = touches.is_write
        t = touches.t[w]
        page = touches.page[w].astype(np.int64)
        b = np.floor(t / sample).astype(np.int64)
        keep = (b >= 0) & (b < nbins)
        b, page = b[keep], page[keep]
        key = _sorted_unique(page * max(nbins, 1) + b)
        pg = key // max(nbins, 1)
        bins = key - pg * max(nbins, 1)
        prev = np.full(bins.size, -(2**40), np.int64)
        if bins.size > 1:
            same = pg[1:] == pg[:-1]
            prev[1:][same] = bins[:-1][same]
        return cls(bins=bins, prev=prev, nbins=int(nbins), sample=float(sample))

    def counts(self, m: int) -> np.ndarray:
        """Distinct pages written in each window of ``m`` bins, one per whole window start."""
        nstarts = self.nbins - m + 1
        if m < 1 or nstarts < 1:
            return np.empty(0, np.int64)
        lo = np.maximum(np.maximum(self.prev + 1, self.bins - m + 1), 0)
        hi = self.bins + 1
        size = self.nbins + 1
        diff = np.bincount(lo, minlength=size)[:size] - np.bincount(hi, minlength=size)[:size]
        return np.cumsum(diff)[:nstarts]


def window_counts(
    source: Touches | Workload, window: float, sample: float = 0.05, span: float | None = None
) -> np.ndarray:
    """Distinct pages written in ``[s, s + window)`` for each start ``s`` on the ``sample`` grid
    (seconds), for windows wholly inside ``[0, span)``."""
    touches, span = _touches(source, span)
    wb = WriteBins.build(touches, span, sample)
    return wb.counts(round(window / sample))


def d_curve(
    source: Touches | Workload,
    windows: Sequence[float] = DEFAULT_WINDOWS,
    sample: float = 0.01,
    span: float | None = None,
    page_size: int = 4096,
) -> pl.DataFrame:
    """The d(w) curve: distinct pages written within a window of ``w`` seconds.

    Windows start every ``sample`` seconds (default 10 ms; ``w`` is rounded to a multiple of it)
    and must lie inside the span; window lengths longer than the span are left out.

    Returns columns ``w_s`` (s), ``mean``, ``min``, ``p50``, ``p95``, ``max`` (pages),
    ``mean_mib`` (MiB at ``page_size``) and ``n_windows``.
    """
    touches, span = _touches(source, span)
    wb = WriteBins.build(touches, span, sample)
    rows = []
    for w in windows:
        m = round(w / sample)
        c = wb.counts(m)
        if c.size == 0:
            continue
        mean = float(c.mean())
        rows.append(
            {
                "w_s": m * sample,
                "mean": mean,
                "min": int(c.min()),
                "p50": float(np.percentile(c, 50)),
                "p95": float(np.percentile(c, 95)),
                "max": int(c.max()),
                "mean_mib": mean * page_size / 2**20,
                "n_windows": int(c.size),
            }
        )
    schema = {
        "w_s": pl.Float64,
        "mean": pl.Float64,
        "min": pl.Int64,
        "p50": pl.Float64,
        "p95": pl.Float64,
        "max": pl.Int64,
        "mean_mib": pl.Float64,
        "n_windows": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


def wws_timeline(
    source: Touches | Workload,
    window: float = 8.0,
    sample: float = 0.05,
    step: float | None = None,
    span: float | None = None,
    page_size: int = 4096,
) -> pl.DataFrame:
    """The writable working set over time (Clark section 4, Fig. 2).

    For windows of ``window`` seconds starting every ``step`` seconds (default: every
    ``sample``, 50 ms), the distinct pages dirtied. Columns ``t_start`` and ``t_end`` (s),
    ``wws_pages``, ``wws_mib``. Empty when the span is shorter than a window.
    """
    touches, span = _touches(source, span)
    wb = WriteBins.build(touches, span, sample)
    c = wb.counts(round(window / sample))
    every = max(round((step or sample) / sample), 1)
    idx = np.arange(0, c.size, every)
    start = idx * sample
    return pl.DataFrame(
        {
            "t_start": start,
            "t_end": start + round(window / sample) * sample,
            "wws_pages": c[idx].astype(np.int64),
            "wws_mib": c[idx] * page_size / 2**20,
        },
        schema={
            "t_start": pl.Float64,
            "t_end": pl.Float64,
            "wws_pages": pl.Int64,
            "wws_mib": pl.Float64,
        },
    )


def dirty_per_sample(
    source: Touches | Workload, sample: float = 0.05, span: float | None = None
) -> pl.DataFrame:
    """Distinct pages dirtied in each ``sample`` (default 50 ms): ``t_start`` (s), ``pages``
    and ``pages_per_s`` (pages dirtied per second of that sample)."""
    touches, span = _touches(source, span)
    wb = WriteBins.build(touches, span, sample)
    c = wb.counts(1)
    return pl.DataFrame(
        {
            "t_start": np.arange(c.size) * sample,
            "pages": c.astype(np.int64),
            "pages_per_s": c / sample,
        },
        schema={"t_start": pl.Float64, "pages": pl.Int64, "pages_per_s": pl.Float64},
    )


def trace_summary(source: Touches | Workload, span: float | None = None) -> dict[str, float]:
    """Headline figures of a trace (the top of ``migsim trace stats``).

    touches, writes, reads: counts; read_fraction: reads / touches; write_touches_per_s;
    dirtied_pages_per_s: distinct pages written per 1 s window (mean, the "rate of page
    dirtying" of Clark's Figs. 3-6); dirtied_pages_per_s_max: its maximum over 1 s windows
    (on a 50 ms grid); distinct_pages_written: over the whole span; span_s.
    """
    touches, span = _touches(source, span)
    n = len(touches)
    writes = int(np.count_nonzero(touches.is_write))
    wb = WriteBins.build(touches, span, 0.05)
    c1 = wb.counts(20)
    written = _sorted_unique(touches.page[touches.is_write].astype(np.int64)).size
    return {
        "span_s": span,
        "touches": float(n),
        "writes": float(writes),
        "reads": float(n - writes),
        "read_fraction": (n - writes) / n if n else 0.0,
        "write_touches_per_s": writes / span if span else 0.0,
        "dirtied_pages_per_s": float(c1.mean()) if c1.size else float("nan"),
        "dirtied_pages_per_s_max": float(c1.max()) if c1.size else float("nan"),
        "distinct_pages_written": float(written),
    }
