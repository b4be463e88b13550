"""``simulate(config) -> RunResult``: build the SimPy environment, wire the processes, collect.

Processes (plain generators): the *migration* (the process of the run's strategy, a plug-in
found by name in :mod:`migsim.registry`; it composes the primitives of
:mod:`migsim.engine.primitives`, the destination's fault service among them) and the *guest*
(:func:`guest_process`). SimPy orders the events (one per chunk of pages, per round and per
phase change); the numba kernels decide *which pages*. The rules are in docs/semantics.md.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from migsim.config import RunConfig, to_mapping
from migsim.engine.guest import ServiceLedger, TouchStream, guest_process
from migsim.engine.monitor import Grid
from migsim.engine.pages import PageState, cost_vector
from migsim.engine.result import ROUNDS_SCHEMA, RunResult, library_versions
from migsim.registry import strategy_class
from migsim.workloads import make_workload
from migsim.workloads.base import Workload

__all__ = ["Context", "simulate"]


@dataclass
class Context:
    """Mutable state of one run, shared by its processes (a strategy keeps its own state on
    its own object)."""

    env: simpy.Environment
    cfg: RunConfig
    workload: Workload
    pages: PageState
    grid: Grid
    cost: np.ndarray
    stream: TouchStream
    ledger: ServiceLedger = field(default_factory=ServiceLedger)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    # progress
    t: float = 0.0  # wall time reached by the source
    g: float = 0.0  # guest time reached
    gj: int = 0  # next timeline sample
    stale_count: int = 0
    present_count: int = 0
    # totals
    pages_sent: int = 0
    bytes_sent: int = 0
    zero_sent: int = 0
    skipped: int = 0
    faults: int = 0
    stall_time: float = 0.0
    precopy_rounds: int = 0
    touches_processed: int = 0
    # phases
    t_pause: float = 0.0
    t_resume: float = 0.0
    t_end: float = 0.0
    stop_reason: str = ""
    converged: bool = True
    # (start time, name) of each phase of the timeline, in order
    phases: list[tuple[float, str]] = field(default_factory=lambda: [(0.0, "precopy")])
    # events
    paused: simpy.Event | None = None
    resumed: simpy.Event | None = None
    cancelled: simpy.Event | None = None
    finished: simpy.Event | None = None

    @property
    def page_size(self) -> int:
        return self.cfg.vm.page_size

    @property
    def memory_pages(self) -> int:
        return self.cfg.vm.pages

    def pause(self, t: float) -> None:
        """The guest stops on the source at wall time ``t`` (downtime starts)."""
        self.t_pause = t
        self.phases.append((t, "downtime"))
        self.paused.succeed()

    def resume(self, t: float, pull: bool = False) -> None:
        """The guest resumes at the destination at wall time ``t``; with ``pull``, pages are
        still absent there and the post-copy phase starts."""
        self.t_resume = t
        if pull:
            self.phases.append((t, "postcopy"))
        self.resumed.succeed()

    def cancel(self, t: float) -> None:
        """The migration is cancelled at wall time ``t`` before switchover: the VM keeps
        running on the source, nothing was paused; the migration ends then."""
        self.t_end = t
        self.stop_reason = "cancelled"
        self.converged = False
        self.cancelled.succeed()

    def add_round(self, **row: Any) -> None:
        self.rounds.append(row)


def _initial_zero(workload: Workload, start: float, in_use: np.ndarray) -> np.ndarray:
    """Zero pages at guest time ``start``: zero at trace start and not written before it
    (read-only: the workload's own array when ``start`` is 0)."""
    zero = np.asarray(workload.zero_pages(), dtype=np.bool_)
    if start > 0:
        zero = zero.copy()
    g = 0.0
    while g < start and zero.any():
        g1 = min(start, g + 8.0)
        part = workload.touches(g, g1)
        if len(part):
            zero[part.page[part.is_write]] = False
        g = g1
    return zero


def simulate(config: RunConfig, workload: Workload | None = None) -> RunResult:
    """Simulate one live migration.

    ``workload``: an already built workload (e.g. a trace held in memory) to use instead of
    building ``config.workload``; the config still names it for provenance.

    Returns a :class:`RunResult` with the one-row summary, the rounds table and the timeline
    (see :mod:`migsim.engine.result`), the config, and the wall runtime in seconds. The same
    config gives identical tables.
    """
    wall0 = time.perf_counter()
    cfg = config
    if workload is None:
        workload = make_workload(cfg.workload, cfg.vm, cfg.seed)
    in_use = np.asarray(workload.in_use(), dtype=np.bool_)
    needed = in_use if cfg.strategy.dsb else np.ones(cfg.vm.pages, dtype=np.bool_)  # read-only
    zero = _initial_zero(workload, cfg.workload.start, in_use)
    pages = PageState.create(needed, zero)
    env = simpy.Environment()
    ctx = Context(
        env=env,
        cfg=cfg,
        workload=workload,
        pages=pages,
        grid=Grid(cfg.engine.timeline_step),
        cost=cost_vector(cfg.strategy, cfg.vm, cfg.seed),
        stream=TouchStream(workload, cfg.workload.start, in_use, cfg.workload.name),
        g=cfg.workload.start,
        stale_count=int(np.count_nonzero(needed)),
    )
    ctx.paused, ctx.resumed, ctx.cancelled, ctx.finished = (env.event() for _ in range(4))
    env.process(guest_process(env, ctx))
    strategy = strategy_class(cfg.strategy.name)(cfg.strategy)
    migration = env.process(strategy.process(ctx))
    env.run(until=migration)
    if not ctx.finished.triggered:
        ctx.finished.succeed()
    env.run()
    return _collect(ctx, time.perf_counter() - wall0)


def _collect(ctx: Context, runtime: float) -> RunResult:
    cfg = ctx.cfg
    service = ctx.workload.service
    total = ctx.t_end
    ctx.gj = ctx.grid.fill(ctx.gj, total, ctx.stale_count, ctx.present_count)
    timeline = ctx.grid.table(total, ctx.phases, service.baseline)
    lost = ctx.ledger.total
    import pyarrow as pa

    # one conversion of all rows (from_pylist converts column by column, about 3x slower)
    rounds = pa.Table.from_struct_array(pa.array(ctx.rounds, type=pa.struct(ROUNDS_SCHEMA)))
    mapping = to_mapping(cfg)
    mapping["libraries"] = library_versions()
    summary: dict[str, Any] = {
        "strategy": cfg.strategy.name,
        "workload": cfg.workload.name,
        "memory_bytes": cfg.vm.memory_bytes,
        "page_size": cfg.vm.page_size,
        "bandwidth_bps": cfg.link.bandwidth_bps,
        "rtt_s": cfg.link.rtt_s,
        "seed": cfg.seed,
        "start_time_s": cfg.workload.start,
        "total_time_s": total,
        "downtime_s": ctx.t_resume - ctx.t_pause,
        "precopy_time_s": ctx.t_pause if ctx.paused.triggered else total,
        "postcopy_time_s": max(0.0, total - ctx.t_resume) if ctx.t_resume else 0.0,
        "pages_transferred": ctx.pages_sent,
        "bytes_transferred": ctx.bytes_sent,
        "pages_skipped": ctx.skipped,
        "zero_pages_sent": ctx.zero_sent,
        "rounds": ctx.precopy_rounds,
        "network_faults": ctx.faults,
        "stall_time_s": ctx.stall_time,
        "app_lost_s": lost,
        "app_degradation_pct": 100.0 * lost / total if total > 0 else 0.0,
        "service_unit": service.unit,
        "service_baseline": service.baseline,
        "converged": ctx.converged,
        "stop_reason": ctx.stop_reason,
        "page_events": ctx.pages_sent + ctx.touches_processed,
        "migsim_version": library_versions()["migsim"],
        "config_json": json.dumps(mapping, sort_keys=True, default=str),
    }
    p = ctx.pages
    extra = {
        "needed": p.needed,
        "sends_per_page": p.sends,
        "page_flags": p.flags,
        "lost_by_cause": {
            "rounds": ctx.ledger.rounds,
            "downtime": ctx.ledger.downtime,
            "write_faults": ctx.ledger.write_faults,
            "stalls": ctx.ledger.stalls,
        },
    }
    return RunResult(
        summary=summary,
        rounds=rounds,
        timeline=timeline,
        config=cfg,
        runtime_s=runtime,
        extra=extra,
    )
