"""The monitors of a run: the fixed-grid timeline and the link's allocations.

- :class:`Grid`, the fixed-grid timeline (default 10 ms): send rate, service rate, dirty pages
  outstanding and pages present at the destination. The kernels write into it as they go
  (bytes per bin by completion time, samples of the page counters at each grid time, service
  lost per bin); it turns into the timeline table at the end.
- :class:`RateLog`, every allocation the link gives each flow, recorded as it happens by a
  watcher of the :class:`~migsim.engine.network.Network` (it changes nothing in the run).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pyarrow as pa

from migsim.engine.result import TIMELINE_SCHEMA

__all__ = ["RATES_SCHEMA", "Grid", "RateLog"]

#: One row per change of a flow's allocation: the migration's wall time, which of its flows
#: (``migration`` stream or the ``guest``'s own traffic) and the new rate (0 when it ends).
RATES_SCHEMA = pa.schema(
    [
        pa.field("t_s", pa.float64()),
        pa.field("flow", pa.string()),
        pa.field("rate_bps", pa.float64()),
    ]
)


class RateLog:
    """The allocations of every flow of a network, as they change: attach with
    ``RateLog(net)``; :meth:`table` gives one migration's rows."""

    def __init__(self, net):
        self.rows: list[tuple[float, str, float]] = []
        net.watch(self._record)

    def _record(self, t: float, flow, rate: float) -> None:
        self.rows.append((t, flow.name, rate))

    def table(self, name: str, at: float = 0.0) -> pa.Table:
        """The rows of the flows named ``name/...`` (a :class:`~migsim.engine.link.Channel`'s),
        times counted from ``at`` (the migration's start)."""
        prefix = f"{name}/"
        rows = [(t - at, f[len(prefix) :], r) for t, f, r in self.rows if f.startswith(prefix)]
        # (pa.table from a dict took about 0.2 ms, a tenth of a short run's overhead)
        return pa.Table.from_arrays(
            [
                pa.array([r[0] for r in rows], pa.float64()),
                pa.array([r[1] for r in rows], pa.string()),
                pa.array([r[2] for r in rows], pa.float64()),
            ],
            schema=RATES_SCHEMA,
        )


class Grid:
    """Growable per-bin arrays of a run's time series."""

    def __init__(self, step: float, capacity: int = 1024):
        self.step = step
        self.bytes = np.zeros(capacity)
        self.lost = np.zeros(capacity)
        self.stale = np.zeros(capacity, dtype=np.int64)
        self.present = np.zeros(capacity, dtype=np.int64)

    @property
    def capacity(self) -> int:
        return self.stale.shape[0]

    def ensure(self, t: float) -> None:
        """Make room for bins up to time ``t`` (and at least double when growing)."""
        need = int(t // self.step) + 2
        if need <= self.capacity:
            return
        new = max(need, 2 * self.capacity)
        for name in ("bytes", "lost", "stale", "present"):
            old = getattr(self, name)
            arr = np.zeros(new, dtype=old.dtype)
            arr[: old.shape[0]] = old
            setattr(self, name, arr)

    def grow(self) -> None:
        """Double the capacity (a kernel reported the grid full)."""
        self.ensure(self.capacity * 2 * self.step)

    def add_interval(self, t0: float, t1: float, weight: float) -> None:
        """Add ``weight`` lost service per second over [t0, t1) to the bins it overlaps."""
        if t1 <= t0 or weight == 0:
            return
        self.ensure(t1)
        j0, j1 = int(t0 // self.step), int(t1 // self.step)
        for j in range(j0, j1 + 1):
            lo = max(t0, j * self.step)
            hi = min(t1, (j + 1) * self.step)
            if hi > lo:
                self.lost[j] += (hi - lo) * weight

    def add_bytes(self, t: float, nbytes: float) -> None:
        """Count ``nbytes`` as sent in the bin of time ``t`` (a transfer completing then)."""
        self.ensure(t)
        self.bytes[int(t // self.step)] += nbytes

    def fill(self, gj: int, upto: float, stale: int, present: int) -> int:
        """Record samples for every grid time t_j <= upto not yet recorded; returns new index."""
        last = math.floor(upto / self.step)
        self.ensure(upto)
        if last >= gj:
            self.stale[gj : last + 1] = stale
            self.present[gj : last + 1] = present
            return last + 1
        return gj

    def table(self, total: float, phases: list[tuple[float, str]], baseline: float) -> pa.Table:
        """The timeline: one row per grid time 0, step, ... up to the end of the migration.

        ``phases``: (start time, name) in order; rows after ``total`` are marked ``done``.
        """
        n = math.floor(total / self.step) + 1
        self.ensure(n * self.step)
        t = np.arange(n) * self.step
        phase = _phase_column(t, total, phases)
        frac = 1.0 - self.lost[:n] / self.step
        # the last bin may extend past the end of the migration; service there is normal
        tail = total - (n - 1) * self.step
        if tail < self.step:
            frac[-1] = 1.0 - self.lost[n - 1] / max(tail, 1e-300) if tail > 0 else 1.0
        frac = np.clip(frac, 0.0, 1.0)
        columns = [
            t,
            phase,
            self.bytes[:n] * 8.0 / self.step,
            frac * baseline,
            frac,
            self.stale[:n],
            self.present[:n],
        ]
        return pa.Table.from_arrays(
            [_column(c, f.type, n) for c, f in zip(columns, TIMELINE_SCHEMA, strict=True)],
            schema=TIMELINE_SCHEMA,
        )


def _column(values: np.ndarray | list[str], dtype: pa.DataType, n: int) -> pa.Array:
    """An Arrow column over a numpy array's own buffer (no copy, and none of the checks
    ``pa.array`` makes of its input, which took about a tenth of a short run)."""
    if isinstance(values, list):
        return pa.array(values, dtype)
    return pa.Array.from_buffers(dtype, n, [None, pa.py_buffer(values)])


def _phase_column(t: np.ndarray, total: float, phases: list[tuple[float, str]]) -> list[str]:
    """Each grid time's phase: the last of ``phases`` (in list order) that has started by
    then, ``done`` before the first start and after ``total``. Phases start in order (the
    common case), so the column is a few runs of repeated names, built without touching each
    row; otherwise each phase overwrites the rows it covers."""
    n = t.shape[0]
    first = [int(np.searchsorted(t, start, side="left")) for start, _ in phases]
    if any(a > b for a, b in itertools.pairwise(first)):
        column = np.full(n, "done", dtype=object)
        for start, name in phases:
            column[t >= start] = name
        column[t > total] = "done"
        return column.tolist()
    done = int(np.searchsorted(t, total, side="right"))
    out = ["done"] * min(first[0], done)
    for i, (_, name) in enumerate(phases):
        end = first[i + 1] if i + 1 < len(phases) else n
        out += [name] * max(0, min(end, done) - min(first[i], done))
    out += ["done"] * (n - len(out))
    return out
