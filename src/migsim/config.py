"""Run specifications as frozen dataclasses, and their validation.

A run is described by :class:`RunConfig`, built from a plain mapping (YAML, JSON, the command
line) by :func:`from_mapping`, which validates every key and names the bad one together with what
is allowed. Every parameter has a default and a source; ``docs/model.md`` lists them all.

Sections of the mapping (also the ``--set SECTION.KEY=VALUE`` sections of ``migsim run``):

``vm``        memory, page size, vCPUs, CPU/device state, non-pageable memory, resume cost
``link``      bandwidth, round-trip time, goodput efficiency
``strategy``  the strategy name and the options that strategy declares (strategies are plug-ins,
              found by name in :mod:`migsim.registry`; SPEC section 2)
``workload``  the generator name (or trace path), migration start time, loop policy, and the
              generator's own parameters (passed through to the generator, which validates them)
``engine``    timeline grid step and the engine's chunk size (results never depend on the latter)
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from migsim.options import (
    ConfigError,
    OptionInfo,
    as_bool,
    as_number,
    convert,
    describe,
    option,
    option_infos,
    parse_options,
)
from migsim.registry import registered, strategy_class, strategy_names
from migsim.units import UnitError, parse_size

__all__ = [
    "ConfigError",
    "EngineSpec",
    "LinkSpec",
    "RunConfig",
    "StrategyListing",
    "StrategyOptions",
    "VMSpec",
    "WorkloadSpec",
    "default_strategy",
    "from_mapping",
    "section_keys",
    "strategy_listing",
    "strategy_options",
    "to_mapping",
]


@dataclass(frozen=True)
class VMSpec:
    """The migrated VM.

    memory_bytes: guest memory in bytes (a whole number of pages).
    page_size: bytes per page; 4 KiB on x86 (Clark 2005, Hines 2009).
    vcpus: virtual CPUs; a post-copy network fault stalls one of them, so the guest loses
        ``stall / vcpus`` of progress per fault.
    state_bytes: CPU and device state sent during downtime (default 256 KiB).
    nonpageable_bytes: memory post-copy must send during downtime besides the state; Hines'
        Xen prototype sent non-pageable kernel memory here (0 = QEMU postcopy).
    resume_time: seconds to resume the VM at the destination, added to downtime (default 0).
    """

    memory_bytes: int = 512 * 2**20
    page_size: int = 4096
    vcpus: int = 1
    state_bytes: int = 256 * 2**10
    nonpageable_bytes: int = 0
    resume_time: float = 0.0

    @property
    def pages(self) -> int:
        """Number of guest pages."""
        return self.memory_bytes // self.page_size


@dataclass(frozen=True)
class LinkSpec:
    """The migration link.

    bandwidth_bps: capacity in bit/s.
    rtt_s: round-trip time in seconds (default 0.2 ms, a LAN).
    efficiency: goodput / capacity, in (0, 1] (default 1.0).
    """

    bandwidth_bps: float = 1e9
    rtt_s: float = 0.2e-3
    efficiency: float = 1.0

    @property
    def capacity_bps(self) -> float:
        """Goodput available to all flows on the link, bit/s."""
        return self.bandwidth_bps * self.efficiency


@dataclass(frozen=True)
class StrategyOptions:
    """The options every strategy has (page cost on the wire, free-page skipping, rate limits).

    Each strategy's own options class (``Options`` of a class in :mod:`migsim.strategies`)
    extends this one; ``name`` is the strategy's registered name. Fields are declared with
    :func:`migsim.options.option` (unit, range, source, meaning); rates are in bit/s, times in
    seconds, sizes in bytes.
    """

    name: str = "pre_copy"
    dsb: bool = option(
        True,
        kind="bool",
        help="dynamic self-ballooning / free-page skipping: send in-use pages only",
        source="[Hines09]",
    )
    zero_pages: bool = option(
        True,
        kind="bool",
        help="zero-page detection: a zero page costs only its header",
        source="[QEMU] zero-page detection",
    )
    page_header_bytes: int = option(
        8,
        kind="size",
        bare=True,
        lo=0,
        help="per-page header on the wire (less than the page size)",
        source="Xen (page-frame number per page)",
    )
    compression: str = option(
        "none",
        kind="choice",
        choices=("none", "xbzrle"),
        help="delta compression of re-sent pages",
        source="[QEMU] XBZRLE",
    )
    xbzrle_hit_rate: float = option(
        0.5,
        kind="float",
        unit="fraction",
        lo=0,
        hi=1,
        help="xbzrle: probability a re-sent page is in the cache",
        source="migsim",
    )
    xbzrle_ratio: float = option(
        0.25,
        kind="float",
        unit="fraction",
        lo=0,
        hi=1,
        help="xbzrle: compressed size / page size on a hit",
        source="migsim",
    )
    rate_limit: str = option(
        "fixed",
        kind="choice",
        choices=("fixed", "dynamic"),
        help="fixed = link capacity; dynamic = Clark's adaptive limit in pre-copy rounds and "
        "max_rate once the guest is paused or runs at the destination",
        source="[Clark05]",
    )
    min_rate: float = option(
        100e6,
        kind="rate",
        lo=0,
        lo_open=True,
        help="dynamic limit of pre-copy round 0 and its floor",
        source="[Clark05]",
    )
    max_rate: float = option(
        500e6,
        kind="rate",
        lo=0,
        lo_open=True,
        help="dynamic limit cap; the rate of the final stop-and-copy and of post-copy",
        source="[Clark05]",
    )
    rate_increment: float = option(
        50e6,
        kind="rate",
        lo=0,
        help="dynamic: added to the last pre-copy round's dirty rate",
        source="[Clark05]",
    )

    def check(self, vm: VMSpec) -> None:
        """Checks across options (raises :class:`ConfigError` naming the key)."""
        if self.min_rate > self.max_rate:
            raise ConfigError(
                f"strategy.min_rate: {self.min_rate!r} is out of range; allowed: "
                f"<= strategy.max_rate ({self.max_rate:g} bit/s)"
            )
        if self.page_header_bytes >= vm.page_size:
            raise ConfigError(
                f"strategy.page_header_bytes: {self.page_header_bytes!r} is out of range; "
                f"allowed: < the page size ({vm.page_size} B)"
            )

    def final_rate(self, link: LinkSpec) -> float:
        """Rate (bit/s) while the guest is paused or runs at the destination (no sharing)."""
        if self.rate_limit == "dynamic":
            return min(self.max_rate, link.capacity_bps)
        return link.capacity_bps


@dataclass(frozen=True)
class WorkloadSpec:
    """Which workload to run, and from where in its trace migration starts.

    name: a generator name (``uniform``, ``oltp``, ...) or a path to a ``.parquet`` trace.
    start: trace time (s) at which the migration starts; the guest runs the trace from here.
    loop: what to do when a recorded trace is shorter than the migration: ``loop`` or ``reject``.
    params: the generator's own parameters, as (key, value) pairs.
    """

    name: str = "idle"
    start: float = 0.0
    loop: str = "loop"
    params: tuple[tuple[str, Any], ...] = ()

    def param_dict(self) -> dict[str, Any]:
        """The generator parameters as a dict."""
        return dict(self.params)


@dataclass(frozen=True)
class EngineSpec:
    """Engine knobs that shape the output, not the result.

    timeline_step: grid of the time series in seconds (default 10 ms, SPEC section 3).
    chunk_pages: pages per SimPy event; page counts and times do not depend on it.
    """

    timeline_step: float = 0.01
    chunk_pages: int = 65536


def default_strategy(name: str = "pre_copy") -> StrategyOptions:
    """The default options of strategy ``name`` (pre-copy unless told)."""
    return strategy_class(name).Options(name=name)


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines a run. Same config, same result rows."""

    strategy: StrategyOptions = field(default_factory=default_strategy)
    workload: WorkloadSpec = field(default_factory=WorkloadSpec)
    vm: VMSpec = field(default_factory=VMSpec)
    link: LinkSpec = field(default_factory=LinkSpec)
    engine: EngineSpec = field(default_factory=EngineSpec)
    seed: int = 0


@dataclass(frozen=True)
class StrategyListing:
    """One strategy's options as help and docs list them: ``shared`` names the strategies
    listed before it all of whose own options it has (hybrid: pre_copy and post_copy), and
    ``rest`` describes its other options beyond those of every strategy."""

    name: str
    doc: str
    shared: tuple[str, ...]
    rest: tuple[dict[str, Any], ...]


def strategy_listing() -> tuple[list[dict[str, Any]], list[StrategyListing]]:
    """The options of every strategy (described, :func:`migsim.options.describe`), then each
    registered strategy's own, without repeating those of a strategy listed before it."""
    common = describe(StrategyOptions)
    base = {o["name"] for o in common}
    seen: dict[str, set[str]] = {}
    out = []
    for name, cls in registered().items():
        options = [o for o in describe(cls.Options) if o["name"] not in base]
        own = {o["name"] for o in options}
        shared = tuple(n for n, keys in seen.items() if keys and keys <= own)
        covered = set().union(*(seen[n] for n in shared))
        seen[name] = own
        doc = (cls.__doc__ or "").strip().splitlines()[0]
        rest = tuple(o for o in options if o["name"] not in covered)
        out.append(StrategyListing(name, doc, shared, rest))
    return common, out


def strategy_options(name: str) -> dict[str, Any]:
    """The declared options of strategy ``name``: key -> :class:`migsim.options.OptionInfo`."""
    return option_infos(strategy_class(name).Options)


# --------------------------------------------------------------------------------------------
# validation

_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("workload", "loop"): ("loop", "reject"),
}

# aliases accepted in mappings, mapping to the dataclass field
_ALIASES = {
    ("vm", "memory"): "memory_bytes",
    ("vm", "state"): "state_bytes",
    ("link", "bandwidth"): "bandwidth_bps",
    ("link", "rtt"): "rtt_s",
}

_SECTIONS = {
    "vm": VMSpec,
    "link": LinkSpec,
    "engine": EngineSpec,
}


_FIELD_NAMES = {(sec, field): alias for (sec, alias), field in _ALIASES.items()}


_QUANTITY = {
    kind: OptionInfo(kind=kind, help="", source="") for kind in ("rate", "duration", "size")
}


def _convert(section: str, key: str, value: Any, ftype: Any) -> Any:
    name = f"{section}.{_FIELD_NAMES.get((section, key), key)}"
    # a quantity given as text needs its unit ("125000000" is refused, not taken as bit/s);
    # a Python number is in the base unit; sizes in bytes by name may be bare
    if key == "bandwidth_bps":
        return convert(name, _QUANTITY["rate"], value)
    if key in ("rtt_s", "resume_time", "timeline_step"):
        return convert(name, _QUANTITY["duration"], value)
    if key == "memory_bytes":
        return convert(name, _QUANTITY["size"], value)
    try:
        if key in ("page_size", "state_bytes", "nonpageable_bytes"):
            return parse_size(value)
        if ftype in ("bool", bool):
            return as_bool(name, value)
        if ftype in ("int", int):
            return as_number(name, value, integer=True)
        if ftype in ("float", float):
            return as_number(name, value, integer=False)
    except UnitError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return value


def _check_ranges(cfg: RunConfig) -> None:
    def fail(name: str, what: str, value: Any) -> None:
        raise ConfigError(f"{name}: {value!r} is out of range; allowed: {what}")

    vm, link, eng = cfg.vm, cfg.link, cfg.engine
    if vm.page_size < 512 or vm.page_size & (vm.page_size - 1):
        fail("vm.page_size", "a power of two >= 512 bytes", vm.page_size)
    if vm.memory_bytes <= 0 or vm.memory_bytes % vm.page_size:
        fail(
            "vm.memory", f"a positive multiple of the page size ({vm.page_size} B)", vm.memory_bytes
        )
    if vm.pages > 2**31 - 1:
        fail("vm.memory", "at most 2^31 - 1 pages", vm.memory_bytes)
    if vm.vcpus < 1:
        fail("vm.vcpus", ">= 1", vm.vcpus)
    if link.bandwidth_bps <= 0:
        fail("link.bandwidth", "> 0 bit/s", link.bandwidth_bps)
    if not 0 < link.efficiency <= 1:
        fail("link.efficiency", "0 < efficiency <= 1", link.efficiency)
    if cfg.workload.start < 0:
        fail("workload.start", ">= 0 s", cfg.workload.start)
    if eng.timeline_step <= 0:
        fail("engine.timeline_step", "> 0 s", eng.timeline_step)
    if eng.chunk_pages < 1:
        fail("engine.chunk_pages", ">= 1", eng.chunk_pages)
    if cfg.seed < 0:
        fail("seed", ">= 0", cfg.seed)
    cfg.strategy.check(vm)


def section_keys(section: str) -> list[str]:
    """The keys the ``vm``, ``link`` or ``engine`` section accepts: its fields and their short
    aliases (``vm.memory`` for ``vm.memory_bytes``)."""
    names = {f.name for f in fields(_SECTIONS[section])}
    return sorted(names | {alias for (sec, alias) in _ALIASES if sec == section})


def _section(section: str, cls: type, values: Mapping[str, Any] | None) -> Any:
    if values is None:
        return cls()
    if not isinstance(values, Mapping):
        raise ConfigError(f"{section}: expected a mapping of keys, got {values!r}")
    known = {f.name: f for f in fields(cls)}
    visible = section_keys(section)
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        fname = _ALIASES.get((section, key), key)
        if fname not in known:
            raise ConfigError(f"unknown key {section}.{key}; allowed keys: {', '.join(visible)}")
        kwargs[fname] = _convert(section, fname, value, known[fname].type)
    return cls(**kwargs)


def _strategy_section(values: Any) -> StrategyOptions:
    """The ``strategy`` section: ``name`` picks the registered strategy, whose declared
    options are the only keys allowed besides it."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"strategy: expected a mapping of keys, got {values!r}")
    values = dict(values)
    name = values.pop("name", StrategyOptions.name)
    names = strategy_names()
    if not isinstance(name, str) or name not in names:
        raise ConfigError(f"strategy.name: {name!r} is not one of {', '.join(names)}")
    infos = strategy_options(name)
    allowed = f"allowed keys: name, {', '.join(infos)} (the options of {name})"
    for key in values:
        if key not in infos:
            owners = [n for n in names if key in strategy_options(n)]
            if not owners:
                raise ConfigError(f"unknown key strategy.{key}; {allowed}")
            raise ConfigError(
                f"strategy.{key} is an option of {', '.join(owners)}, not of {name}; {allowed}"
            )
    return parse_options(
        strategy_class(name).Options,
        values,
        section="strategy",
        owner=f"strategy {name}",
        name=name,
    )


def from_mapping(data: Mapping[str, Any]) -> RunConfig:
    """Build and validate a :class:`RunConfig` from a plain mapping.

    Sizes, rates and durations may be given with units (``"512MiB"``, ``"128Mbit/s"``,
    ``"0.2ms"``); a strategy option given as text must carry its unit (``"300"`` is refused),
    a Python number is taken in the base unit. The ``strategy`` section holds ``name`` and the
    options that strategy declares (:func:`strategy_options`). Raises :class:`ConfigError`
    naming the first bad key and what is allowed.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"expected a mapping, got {data!r}")
    allowed = {"strategy", "workload", "vm", "link", "engine", "seed"}
    for key in data:
        if key not in allowed:
            raise ConfigError(f"unknown section {key!r}; allowed: {', '.join(sorted(allowed))}")
    parts: dict[str, Any] = {
        sec: _section(sec, cls, data.get(sec)) for sec, cls in _SECTIONS.items()
    }
    parts["strategy"] = _strategy_section(data.get("strategy"))
    wl = data.get("workload") or {}
    if isinstance(wl, str):
        wl = {"name": wl}
    if not isinstance(wl, Mapping):
        raise ConfigError(f"workload: expected a mapping or a name, got {wl!r}")
    wl = dict(wl)
    name = wl.pop("name", WorkloadSpec.name)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"workload.name: expected a generator name or trace path, got {name!r}")
    start = convert("workload.start", _QUANTITY["duration"], wl.pop("start", 0.0))
    loop = wl.pop("loop", "loop")
    if loop not in _CHOICES[("workload", "loop")]:
        raise ConfigError(f"workload.loop: {loop!r} is not one of loop, reject")
    params = tuple(sorted(wl.items()))
    parts["workload"] = WorkloadSpec(name=name, start=start, loop=loop, params=params)
    seed = as_number("seed", data.get("seed", 0), integer=True)
    cfg = RunConfig(seed=int(seed), **parts)
    _check_ranges(cfg)
    return cfg


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def to_mapping(cfg: RunConfig) -> dict[str, Any]:
    """The inverse of :func:`from_mapping`, in base units (bytes, bit/s, seconds)."""
    out: dict[str, Any] = {}
    for name in ("strategy", *_SECTIONS):
        section = getattr(cfg, name)
        out[name] = {key: getattr(section, key) for key in _field_names(type(section))}
    wl = cfg.workload
    out["workload"] = {"name": wl.name, "start": wl.start, "loop": wl.loop, **dict(wl.params)}
    out["seed"] = cfg.seed
    return out
