"""``simulate(config) -> RunResult``: build the SimPy environment, wire the processes, collect.

Processes (plain generators): the *migration* (the process of the run's strategy, a plug-in
found by name in :mod:`migsim.registry`; it composes the primitives of
:mod:`migsim.engine.primitives`, the destination's fault service among them) and the *guest*
(:func:`guest_process`). SimPy orders the events (one per chunk of pages, per round and per
phase change); the numba kernels decide *which pages*. The rules are in docs/semantics.md.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import simpy

from migsim.config import ConfigError, LinkSpec, RunConfig, from_mapping, to_mapping
from migsim.engine.guest import ServiceLedger, TouchStream, guest_process
from migsim.engine.link import Channel
from migsim.engine.monitor import Grid, RateLog
from migsim.engine.network import Network
from migsim.engine.pages import PageState, cost_vector
from migsim.engine.result import ROUNDS_SCHEMA, RunResult, library_versions
from migsim.options import OptionInfo, convert
from migsim.registry import strategy_class
from migsim.workloads import make_workload
from migsim.workloads.base import Workload

__all__ = ["Context", "Planned", "run_migrations", "simulate", "simulate_many", "timeout_at"]


def timeout_at(env: simpy.Environment, t: float) -> simpy.Timeout:
    """A timeout processed at SimPy time ``t`` exactly (now if ``t`` has passed).

    SimPy schedules at ``now + delay``; ``t - now`` rounded and added back may miss ``t`` by
    an ulp, which would make the clock depend on the path of events that led to ``now`` (with
    several migrations on a link, on where their kernel runs ended). The delay is nudged by
    ulps until the sum is ``t``."""
    now = env.now
    if not t > now:
        return env.timeout(0.0)
    d = t - now
    for _ in range(8):
        s = now + d
        if s == t:
            break
        d = math.nextafter(d, math.inf if s < t else 0.0)
    return env.timeout(d)


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
    link: Channel | None = None  # the migration's flows on the network
    at: float = 0.0  # SimPy time at which the migration started (its wall time 0)
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
    # wall times (s) no kernel runs past unnoticed: something may interrupt the migration then
    alarms: list[float] = field(default_factory=list)

    @property
    def now(self) -> float:
        """The migration's wall time now (SimPy time since it started), s."""
        return self.env.now - self.at

    def wait_until(self, t: float) -> simpy.Timeout:
        """A timeout to the migration's wall time ``t`` (at once if it has passed), at SimPy
        time ``at + t`` exactly (:func:`timeout_at`)."""
        return timeout_at(self.env, self.at + t)

    def add_alarm(self, t: float) -> None:
        """Something may interrupt the migration at its wall time ``t``: kernels stop there
        so that the state is exact then (:func:`~migsim.engine.primitives.RoundSender`)."""
        self.alarms.append(t)

    def next_alarm(self) -> float:
        """The first alarm later than now (inf if none)."""
        now = self.now
        return min((a for a in self.alarms if a > now), default=np.inf)

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
        # the downtime's lost service, booked here rather than by the guest's process when it
        # next runs, so that where it falls among the kernels' additions to the grid does not
        # depend on how SimPy orders the processes (alone or on a shared link alike)
        self.ledger.downtime += t - self.t_pause
        self.grid.add_interval(self.t_pause, t, 1.0)
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


def _context(
    env: simpy.Environment,
    channel: Channel,
    cfg: RunConfig,
    workload: Workload | None,
    at: float = 0.0,
) -> Context:
    """The context of one migration in ``env``, starting at SimPy time ``at``."""
    if workload is None:
        workload = make_workload(cfg.workload, cfg.vm, cfg.seed)
    in_use = np.asarray(workload.in_use(), dtype=np.bool_)
    needed = in_use if cfg.strategy.dsb else np.ones(cfg.vm.pages, dtype=np.bool_)  # read-only
    zero = _initial_zero(workload, cfg.workload.start, in_use)
    pages = PageState.create(needed, zero)
    ctx = Context(
        env=env,
        cfg=cfg,
        workload=workload,
        pages=pages,
        grid=Grid(cfg.engine.timeline_step),
        cost=cost_vector(cfg.strategy, cfg.vm, cfg.seed),
        stream=TouchStream(workload, cfg.workload.start, in_use, cfg.workload.name),
        link=channel,
        at=at,
        g=cfg.workload.start,
        stale_count=int(np.count_nonzero(needed)),
    )
    ctx.paused, ctx.resumed, ctx.cancelled, ctx.finished = (env.event() for _ in range(4))
    return ctx


def _migration(ctx: Context) -> Generator:
    """One migration: from its start time, its strategy's process; then its flows leave the
    link and the guest's process is told it is over."""
    if ctx.at > 0:
        yield timeout_at(ctx.env, ctx.at)
    ctx.env.process(guest_process(ctx.env, ctx))
    strategy = strategy_class(ctx.cfg.strategy.name)(ctx.cfg.strategy)
    yield from strategy.process(ctx)
    ctx.link.close()
    if not ctx.finished.triggered:
        ctx.finished.succeed()


def simulate(config: RunConfig, workload: Workload | None = None) -> RunResult:
    """Simulate one live migration.

    ``workload``: an already built workload (e.g. a trace held in memory) to use instead of
    building ``config.workload``; the config still names it for provenance.

    Returns a :class:`RunResult` with the one-row summary, the rounds table and the timeline
    (see :mod:`migsim.engine.result`), the config, and the wall runtime in seconds. The same
    config gives identical tables.
    """
    planned = Planned(config, name="m0", workload=workload)
    return run_migrations({"link": config.link.capacity_bps}, [planned])[0]


def simulate_many(
    configs: Sequence[RunConfig],
    link: LinkSpec | Mapping[str, Any] | None = None,
    *,
    starts: Sequence[float] | None = None,
) -> list[RunResult]:
    """Simulate several live migrations that share one link.

    Each config keeps its own VM, workload, strategy and seed; ``link`` (a
    :class:`~migsim.config.LinkSpec`, or a mapping like a config's ``link`` section such as
    ``{"bandwidth": "10Gbit/s"}``; default: the first config's link) replaces each config's
    link, and every migration stream and every guest's own traffic on the source share its
    capacity max-min fairly, re-allocated whenever a flow starts, ends or changes its cap
    (docs/semantics.md, *Several migrations on one link*). ``starts``: the time (s) at
    which each migration starts (default all 0).

    Returns one :class:`RunResult` per config, in order, with times counted from that
    migration's own start; ``extra["started_at_s"]`` is its start, ``extra["link_rates"]``
    every allocation its two flows got (:class:`~migsim.engine.monitor.RateLog`), and
    ``runtime_s`` the wall time of the whole simulation. A single config gives exactly the result of
    :func:`simulate`. Same configs, link and starts: identical tables.
    """
    wall0 = time.perf_counter()
    configs = list(configs)
    if not configs:
        return []
    if link is None:
        spec = configs[0].link
    elif isinstance(link, LinkSpec):
        spec = link
    else:
        spec = from_mapping({"link": link}).link
    if starts is None:
        at = [0.0] * len(configs)
    else:
        when = OptionInfo(kind="duration", help="start of a migration", source="", lo=0)
        at = [float(convert(f"starts[{i}]", when, s)) for i, s in enumerate(starts)]
        if len(at) != len(configs):
            raise ConfigError(
                f"starts: {len(at)} start times for {len(configs)} configs; give one each"
            )
    planned = [
        Planned(replace(cfg, link=spec), name=f"m{i}", at=t0)
        for i, (cfg, t0) in enumerate(zip(configs, at, strict=True))
    ]
    return run_migrations({"link": spec.capacity_bps}, planned, wall0=wall0)


@dataclass(frozen=True)
class Planned:
    """One migration of :func:`run_migrations`: its config, a unique ``name``, the links its
    stream crosses (``path``) and those its guest's own traffic crosses while it runs on the
    source (``app_path``; default ``path``), and when it starts: at SimPy time ``at``, or
    when the migrations at the indices ``after`` have all ended (then ``at`` is ignored), or
    with ``pool``, from ``at`` on as soon as the pool (of :func:`run_migrations`) has room, in
    the order the migrations are listed. ``workload``: an already built workload to use
    instead of building ``config.workload`` (as :func:`simulate` takes one)."""

    config: RunConfig
    name: str
    path: tuple[str, ...] = ("link",)
    app_path: tuple[str, ...] | None = None
    at: float = 0.0
    after: tuple[int, ...] = ()
    pool: str | None = None
    workload: Workload | None = None


def _after(ctxs: list[Context], ctx: Context, after: tuple[int, ...]) -> Generator:
    """Start ``ctx``'s migration once those of ``after`` have ended (their last transfer
    done: the VM resumed, or the migration was cancelled)."""
    yield simpy.AllOf(ctx.env, [ctxs[j].finished for j in after])
    ctx.at = ctx.env.now
    yield from _migration(ctx)


def _pooled(ctx: Context, pool: simpy.Resource) -> Generator:
    """Start ``ctx``'s migration at its ``at`` once ``pool`` has room; free it at the end."""
    if ctx.at > 0:
        yield timeout_at(ctx.env, ctx.at)
    with pool.request() as slot:
        yield slot
        ctx.at = ctx.env.now
        yield from _migration(ctx)


def run_migrations(
    links: Mapping[str, float],
    planned: Sequence[Planned],
    *,
    pools: Mapping[str, int] | None = None,
    wall0: float | None = None,
) -> list[RunResult]:
    """Run the ``planned`` migrations in one SimPy environment over a network of ``links``
    (name -> capacity in bit/s), each flow on its path, all sharing max-min
    (:func:`simulate_many` is this on one link). ``pools``: pool name -> how many of its
    migrations may run at a time (a SimPy resource, first come first served). Returns one :class:`RunResult` per migration,
    in order, with ``extra["started_at_s"]`` and ``extra["link_rates"]`` as
    :func:`simulate_many` documents."""
    wall0 = time.perf_counter() if wall0 is None else wall0
    env = simpy.Environment()
    shared = len(planned) > 1
    net = Network(env, links, deferred=shared)
    log = RateLog(net)
    ctxs: list[Context] = []
    for p in planned:
        channel = Channel(net, p.path, p.name, shared=shared, app_path=p.app_path)
        ctxs.append(_context(env, channel, p.config, p.workload, p.at))
    slots = {name: simpy.Resource(env, capacity=k) for name, k in (pools or {}).items()}
    for p, ctx in zip(planned, ctxs, strict=True):
        if p.after:
            env.process(_after(ctxs, ctx, p.after))
        elif p.pool is not None:
            env.process(_pooled(ctx, slots[p.pool]))
        else:
            env.process(_migration(ctx))
    env.run()
    runtime = time.perf_counter() - wall0
    results = []
    for p, ctx in zip(planned, ctxs, strict=True):
        result = _collect(ctx, runtime)
        result.extra["started_at_s"] = ctx.at
        result.extra["link_rates"] = log.table(p.name, ctx.at)
        results.append(result)
    return results


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
