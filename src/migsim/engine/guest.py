"""The guest: runs its workload trace in guest time, and its service accounting.

Guest time ``g`` is trace time. While the VM runs on the source it advances at the round's
speed (``1 - throttle``) and stops when the guest is stunned or paused; at the destination it
advances at wall speed, behind by the network-fault stalls (docs/semantics.md).

:class:`TouchStream` hands the engine the trace in adjacent guest-time windows;
:class:`ServiceLedger` accumulates lost service-seconds; :func:`guest_process` is the SimPy
process that follows the guest through running, paused and resumed.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from migsim.config import ConfigError
from migsim.workloads.base import Touches, Workload

__all__ = ["ServiceLedger", "TouchStream", "guest_process"]


class TouchStream:
    """Adjacent guest-time windows of a workload, starting at guest time ``start``.

    ``fetch()`` returns the next window's touches; ``cover`` is the guest time up to which
    touches have been fetched. Window sizes adapt to the touch density; results never depend
    on them because consumers only rely on ``cover``.
    """

    def __init__(self, workload: Workload, start: float, in_use: np.ndarray, name: str):
        self.workload = workload
        self.start = start
        self.cover = start
        self.in_use = in_use
        self.name = name
        self.window = 0.5
        self._windows: list[tuple[float, float, int, np.ndarray | None]] = []
        # a workload whose touches are known to be in use (a validated trace) is not rechecked
        self._check = not getattr(workload, "touches_in_use", False)
        # a workload made of contiguous stretches (a looped trace) is fetched stretch by stretch
        self._segment_end = getattr(workload, "segment_end", None)
        # windows grow while they hold fewer touches than this (a workload whose touches are
        # costly to make asks for less, so that little is made past the end of the migration)
        self._grow_below = getattr(workload, "fetch_touches", 200_000)
        # windows fetched since the last mark (None: no mark), and windows to hand out again
        self._log: list[tuple[float, float, Touches]] | None = None
        self._replay: list[tuple[float, float, Touches]] = []

    def mark(self) -> tuple:
        """A position to :meth:`rewind` to (a checkpoint of a migration that shares its
        link): the windows fetched after it are kept to be handed out again."""
        self._log = []
        return (self.cover, self.window, list(self._windows))

    def rewind(self, mark: tuple) -> None:
        """Go back to ``mark``: the next fetches return the windows fetched since, again."""
        self.cover, self.window, windows = mark
        self._windows = list(windows)
        self._replay = (self._log or []) + self._replay
        self._log = []

    def fetch(self) -> Touches:
        """The touches of the next window, checked against the in-use set."""
        if self._replay:
            t0, t1, part = self._replay[0]
            self._replay = self._replay[1:]
        else:
            t0, t1 = self.cover, self.cover + self.window
            if self._segment_end is not None:
                end = self._segment_end(t0)
                if t0 < end < t1:
                    t1 = end
            part = self.workload.touches(t0, t1)
            n = len(part)
            if n and self._check and not self.in_use[part.page].all():
                bad = int(part.page[~self.in_use[part.page]][0])
                raise ConfigError(
                    f"workload {self.name}: touches page {bad}, which is not in its in-use set"
                )
        if self._log is not None:
            self._log.append((t0, t1, part))
        self.cover = t1
        n = len(part)
        self._windows.append((t0, t1, n, part.t))
        if len(self._windows) > 4:  # keep only recent arrays, counts of all
            a, b, c, _ = self._windows[-5]
            self._windows[-5] = (a, b, c, None)
        if n < self._grow_below:
            # aim the next window at the touch budget at this density (at least double it)
            scale = self._grow_below / n if n else 64.0
            self.window = min(self.window * max(2.0, scale), 64.0)
        elif n > 2_000_000:
            self.window = max(self.window / 2, 1e-3)
        return part

    def count_before(self, g: float) -> int:
        """Touches fetched with guest time below ``g`` (the trace touches processed)."""
        total = 0
        for t0, t1, n, arr in self._windows:
            if t1 <= g:
                total += n
            elif t0 < g:
                total += n if arr is None else int(np.searchsorted(arr, g, side="left"))
        return total


@dataclass
class ServiceLedger:
    """Lost service-seconds, by cause (sums to ``app_lost_s``)."""

    rounds: float = 0.0  # throttling, stunning, link contention during pre-copy
    downtime: float = 0.0
    write_faults: float = 0.0
    stalls: float = 0.0

    @property
    def total(self) -> float:
        return self.rounds + self.downtime + self.write_faults + self.stalls


def guest_process(env, ctx) -> Generator:
    """Follow the guest: running on the source until paused, then paused until resumed at the
    destination, then running until the migration completes."""
    yield ctx.paused
    yield ctx.resumed  # (Context.resume books the downtime's lost service)
    yield ctx.finished
