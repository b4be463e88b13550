"""Scenario files: parse, validate, and plan the migrations (docs/scenarios.md).

:func:`load_scenario` reads a YAML file, validates it against ``schema.yaml`` (every key with a
description and a default) and then against what the schema cannot say (names that refer to
hosts, VMs and migrations, units, cycles in ``after``, memory that fits), raising one
:class:`~migsim.config.ConfigError` naming the key; it simulates nothing and writes nothing.
The result, a :class:`Scenario`, holds the network's links and one
:class:`~migsim.engine.core.Planned` migration per entry of ``migrations``.

The network: each host ``h`` has two links, ``h>`` (its NIC sending) and ``>h`` (receiving),
of its ``nic`` bandwidth, joined by one non-blocking switch; a link ``w`` of ``links`` between
hosts ``a`` and ``b`` adds ``w:a>b`` and ``w:b>a``. A migration from ``a`` to ``b`` crosses
``a>``, the long-distance link if there is one, and ``>b``; its guest's own traffic leaves
through ``a>``. Its config's ``link`` is the path's narrowest capacity and its round-trip
time (the link's ``rtt``, else the larger of the two hosts'), so that a strategy's cap "the link
rate" means what it means in ``migsim run``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from migsim.config import ConfigError, RunConfig, from_mapping
from migsim.engine.core import Planned
from migsim.options import OptionInfo, convert

__all__ = ["Scenario", "load_scenario", "parse_scenario"]

SCHEMA_PATH = Path(__file__).with_name("schema.yaml")
_RATE = OptionInfo(kind="rate", help="", source="", lo=0, lo_open=True)
_SIZE = OptionInfo(kind="size", help="", source="", lo=0, lo_open=True)
_TIME = OptionInfo(kind="duration", help="", source="", lo=0)


@functools.cache
def schema() -> dict[str, Any]:
    """The scenario file's JSON schema (``schema.yaml`` beside this module)."""
    return yaml.safe_load(SCHEMA_PATH.read_text())


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: the links of its network (name -> bit/s), its migrations in
    file order (their ``name`` is the migration's), and for each migration its VM, source
    and target host."""

    links: dict[str, float]
    planned: list[Planned]
    vm: list[str]
    source: list[str]
    target: list[str]
    seed: int
    text: str
    pools: dict[str, int]  # evacuation -> migrations at a time
    drains: list[tuple[str, str, list[int]]]  # (evacuation, host, indices into planned)


def _where(path) -> str:
    return ".".join(str(p) for p in path) or "(top level)"


def _check_schema(data: Any) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.path), list(e.path)))
    if not errors:
        return
    err = errors[0]
    key = _where(err.path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        allowed = ", ".join(err.schema.get("properties", {}))
        where = f"{key}." if err.path else ""
        raise ConfigError(f"unknown key {where}{extra[0]}; allowed keys: {allowed}")
    if err.validator == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        where = f"{key}." if err.path else ""
        raise ConfigError(f"{where}{missing[0]}: missing; it is required")
    raise ConfigError(f"{key}: {err.message}")


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario file ``path`` (see the module docstring)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the scenario file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        at = f" (line {line + 1})" if line is not None else ""
        raise ConfigError(f"{p}: not valid YAML{at}") from None
    return parse_scenario(data, text=text)


def parse_scenario(data: Any, text: str = "") -> Scenario:
    """Validate a scenario given as a mapping (the parsed YAML)."""
    if not isinstance(data, dict):
        raise ConfigError("a scenario file must be a mapping with hosts, vms and migrations")
    _check_schema(data)
    seed = int(data.get("seed", 0))
    hosts = data["hosts"]
    nic: dict[str, float] = {}
    rtt: dict[str, float] = {}
    host_mem: dict[str, float] = {}
    for h, spec in hosts.items():
        nic[h] = convert(f"hosts.{h}.nic", _RATE, spec["nic"])
        rtt[h] = convert(f"hosts.{h}.rtt", _TIME, spec.get("rtt", "0.2ms"))
        if spec.get("memory"):
            host_mem[h] = convert(f"hosts.{h}.memory", _SIZE, spec["memory"])
    links: dict[str, float] = {}
    for h, c in nic.items():
        links[f"{h}>"] = c
        links[f">{h}"] = c
    wan: dict[frozenset[str], tuple[str, float]] = {}
    for name, spec in (data.get("links") or {}).items():
        a, b = spec["between"]
        for end in (a, b):
            if end not in hosts:
                raise ConfigError(
                    f"links.{name}.between: unknown host {end!r}; hosts: {', '.join(hosts)}"
                )
        if a == b:
            raise ConfigError(f"links.{name}.between: a link joins two different hosts")
        pair = frozenset((a, b))
        if pair in wan:
            raise ConfigError(
                f"links.{name}: hosts {a} and {b} are already joined by {wan[pair][0]}"
            )
        bw = convert(f"links.{name}.bandwidth", _RATE, spec["bandwidth"])
        links[f"{name}:{a}>{b}"] = bw
        links[f"{name}:{b}>{a}"] = bw
        wan[pair] = (name, convert(f"links.{name}.rtt", _TIME, spec.get("rtt", "40ms")))
    engine = data.get("engine") or {}
    vms = data["vms"]
    vm_maps: dict[str, dict[str, Any]] = {}
    vm_cfg: dict[str, RunConfig] = {}  # each VM's config without link and strategy
    for i, (v, spec) in enumerate(vms.items()):
        if spec["host"] not in hosts:
            raise ConfigError(
                f"vms.{v}.host: unknown host {spec['host']!r}; hosts: {', '.join(hosts)}"
            )
        vm_keys = {k: spec[k] for k in spec if k not in ("host", "workload")}
        mapping = {"vm": vm_keys, "workload": spec.get("workload", "oltp"), "seed": seed + i}
        if engine:
            mapping["engine"] = engine
        try:
            vm_cfg[v] = from_mapping(mapping)
        except ConfigError as exc:
            raise ConfigError(f"vms.{v}: {exc}") from None
        vm_maps[v] = mapping

    def plan(key: str, v: str, to: str, strategy: str, opts: dict) -> tuple[RunConfig, tuple]:
        """The config and network path of migrating VM ``v`` to host ``to``."""
        src = vms[v]["host"]
        hop = wan.get(frozenset((src, to)))
        path = (f"{src}>", f"{hop[0]}:{src}>{to}", f">{to}") if hop else (f"{src}>", f">{to}")
        link = {
            "bandwidth": min(links[x] for x in path),
            "rtt": hop[1] if hop else max(rtt[src], rtt[to]),
        }
        mapping = {**vm_maps[v], "link": link, "strategy": {"name": strategy, **opts}}
        try:
            return from_mapping(mapping), path
        except ConfigError as exc:
            raise ConfigError(f"{key}: {exc}") from None

    migrations = data.get("migrations") or {}
    if not migrations and not data.get("evacuations"):
        raise ConfigError("migrations: none, and no evacuations; a scenario needs one or both")
    names = list(migrations)
    seen_vm: dict[str, str] = {}
    planned: list[Planned] = []
    vm_of, src_of, dst_of = [], [], []
    incoming: dict[str, list[str]] = {h: [] for h in hosts}
    for m, spec in migrations.items():
        v, to = spec["vm"], spec["to"]
        if v not in vms:
            raise ConfigError(f"migrations.{m}.vm: unknown VM {v!r}; VMs: {', '.join(vms)}")
        if v in seen_vm:
            raise ConfigError(
                f"migrations.{m}.vm: {v} is already migrated by {seen_vm[v]}; each VM at most once"
            )
        seen_vm[v] = m
        if to not in hosts:
            raise ConfigError(f"migrations.{m}.to: unknown host {to!r}; hosts: {', '.join(hosts)}")
        src = vms[v]["host"]
        if to == src:
            raise ConfigError(f"migrations.{m}.to: {v} already runs on {to}; migrate it elsewhere")
        if "at" in spec and "after" in spec:
            raise ConfigError(f"migrations.{m}: give at or after, not both")
        at = convert(f"migrations.{m}.at", _TIME, spec.get("at", "0s"))
        after = spec.get("after", [])
        after = [after] if isinstance(after, str) else list(after)
        for dep in after:
            if dep not in migrations:
                raise ConfigError(
                    f"migrations.{m}.after: unknown migration {dep!r}; migrations: {', '.join(names)}"
                )
        opts = {
            k: val for k, val in spec.items() if k not in ("vm", "to", "strategy", "at", "after")
        }
        cfg, path = plan(f"migrations.{m}", v, to, spec["strategy"], opts)
        planned.append(
            Planned(
                cfg,
                name=m,
                path=path,
                app_path=(f"{src}>",),
                at=at,
                after=tuple(names.index(d) for d in after),
            )
        )
        vm_of.append(v)
        src_of.append(src)
        dst_of.append(to)
        incoming[to].append(v)
    _check_cycles(names, [p.after for p in planned])
    pools: dict[str, int] = {}
    drains: list[tuple[str, str, list[int]]] = []
    for e, spec in (data.get("evacuations") or {}).items():
        key = f"evacuations.{e}"
        host = spec["host"]
        if host not in hosts:
            raise ConfigError(f"{key}.host: unknown host {host!r}; hosts: {', '.join(hosts)}")
        targets = [spec["to"]] if isinstance(spec["to"], str) else list(spec["to"])
        if not targets:
            raise ConfigError(f"{key}.to: no target host; give one or more")
        for t in targets:
            if t not in hosts:
                raise ConfigError(f"{key}.to: unknown host {t!r}; hosts: {', '.join(hosts)}")
            if t == host:
                raise ConfigError(f"{key}.to: {t} is the host being drained")
        leaving = [v for v in vms if vms[v]["host"] == host]
        for v in leaving:
            if v in seen_vm:
                raise ConfigError(f"{key}: {v} is already migrated by {seen_vm[v]}")
        if not leaving:
            raise ConfigError(f"{key}.host: no VM runs on {host}")
        conc = spec.get("concurrency", "all")
        if conc == "all":
            conc = len(leaving)
        if not isinstance(conc, int) or isinstance(conc, bool) or conc < 1:
            raise ConfigError(f"{key}.concurrency: {conc!r} is out of range; allowed: >= 1 or all")
        at = convert(f"{key}.at", _TIME, spec.get("at", "0s"))
        leaving = _ordered(leaving, spec.get("order", "file"), vm_cfg)
        opts = {
            k: val
            for k, val in spec.items()
            if k not in ("host", "to", "strategy", "at", "concurrency", "order")
        }
        pools[e] = conc
        members = []
        for j, v in enumerate(leaving):
            to = targets[j % len(targets)]
            cfg, path = plan(key, v, to, spec["strategy"], opts)
            members.append(len(planned))
            planned.append(
                Planned(cfg, name=f"{e}/{v}", path=path, app_path=(f"{host}>",), at=at, pool=e)
            )
            seen_vm[v] = e
            vm_of.append(v)
            src_of.append(host)
            dst_of.append(to)
            incoming[to].append(v)
        drains.append((e, host, members))
    for h, cap in host_mem.items():
        here = [v for v in vms if vms[v]["host"] == h] + incoming[h]
        need = sum(vm_cfg[v].vm.memory_bytes for v in here)
        if need > cap:
            raise ConfigError(
                f"hosts.{h}.memory: {cap:.0f} bytes is too small for the VMs that run or arrive "
                f"there ({', '.join(here)}: {need} bytes)"
            )
    return Scenario(links, planned, vm_of, src_of, dst_of, seed, text, pools, drains)


def _ordered(leaving: list[str], order: str, vm_cfg: dict[str, RunConfig]) -> list[str]:
    """The VMs of a drain in the order it asks for (ties keep the file's order)."""
    if order == "file":
        return leaving
    if order in ("smallest_memory", "largest_memory"):
        size = {v: vm_cfg[v].vm.memory_bytes for v in leaving}
        return sorted(leaving, key=lambda v: size[v], reverse=order == "largest_memory")
    wws = {v: writable_working_set(vm_cfg[v]) for v in leaving}
    return sorted(leaving, key=lambda v: wws[v])


def writable_working_set(cfg: RunConfig, window: float = 8.0) -> int:
    """Distinct pages the VM's workload writes in ``window`` seconds of guest time from its
    start: the writable working set of Clark et al. (NSDI'05, section 4, 8 s windows)."""
    import numpy as np

    from migsim.workloads import make_workload

    workload = make_workload(cfg.workload, cfg.vm, cfg.seed)
    t = workload.touches(cfg.workload.start, cfg.workload.start + window)
    return int(np.unique(t.page[t.is_write]).size)


def _check_cycles(names: list[str], after: list[tuple[int, ...]]) -> None:
    state = [0] * len(names)  # 0 new, 1 on the stack, 2 done

    def visit(i: int, trail: list[str]) -> None:
        if state[i] == 2:
            return
        if state[i] == 1:
            loop = " -> ".join([*trail[trail.index(names[i]) :], names[i]])
            raise ConfigError(f"migrations.{names[i]}.after: a cycle ({loop})")
        state[i] = 1
        for j in after[i]:
            visit(j, [*trail, names[i]])
        state[i] = 2

    for i in range(len(names)):
        visit(i, [])
