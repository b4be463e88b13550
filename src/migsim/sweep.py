"""Sweeps: expand a sweep configuration into run points, run a batch of points, write Parquet.

This is the glue between the Snakemake workflow (``workflow/``) and the engine. The workflow's
config (``config/config.yaml``, schema ``workflow/schemas/config.schema.yaml``) names

* ``variants``: strategy variants, each a name plus strategy options (``strategy:`` is the
  strategy, every other key an option that strategy declares: ``migsim run --help``);
* ``workloads``: workload labels, each optionally with a generator ``name`` (default: the label,
  or a path to a recorded ``.parquet`` trace), a migration ``start`` time and generator parameters;
* ``sweep``: the lists crossed into points (workloads x variants x bandwidths x memory x seeds);
* ``vm``, ``link``, ``engine``: settings shared by every point.

:func:`expand` turns that into :class:`Point` objects in a fixed order, :func:`check_points`
builds the :class:`~migsim.config.RunConfig` of every point (so a bad option fails at parse
time, naming the config key), :func:`batches` cuts the points of each (workload, variant) into
batches of ``simulate.batch_size`` points, and :func:`run_points` simulates one batch and writes
three hive-partitioned Parquet files, atomically (temporary file + rename), with
:func:`run_batch`, the batch runner it shares with the paper's experiments
(:mod:`migsim.experiments`):

``results/runs/workload=W/variant=V/part-NNN.parquet``      summary rows (SUMMARY_SCHEMA + point columns)
``results/rounds/workload=W/variant=V/part-NNN.parquet``    per-round rows (ROUNDS_SCHEMA + point columns)
``results/timeline/workload=W/variant=V/part-NNN.parquet``  time series (TIMELINE_SCHEMA + point columns)

so ``pl.scan_parquet("results/runs", hive_partitioning=True)`` reads the whole sweep. Every file
carries the configs and seeds of its points and the versions of migsim and the libraries that
shaped it (Parquet key-value metadata ``migsim.*``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from migsim.config import ConfigError, RunConfig, from_mapping
from migsim.io import write_parquet_atomic
from migsim.registry import strategy_names
from migsim.units import UnitError, parse_rate, parse_size

__all__ = [
    "POINT_COLUMNS",
    "Point",
    "SweepError",
    "analysis_fingerprint",
    "batch_ids",
    "batches",
    "check_points",
    "engine_fingerprint",
    "expand",
    "file_metadata",
    "label_columns",
    "point_table",
    "points_from_json",
    "points_to_json",
    "run_batch",
    "run_points",
]

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

#: Columns that identify a point, added to every summary, rounds and timeline row.
POINT_COLUMNS = pa.schema(
    [
        pa.field("workload", pa.string()),  # the sweep's workload label (hive partition)
        pa.field("variant", pa.string()),  # the strategy variant name (hive partition)
        pa.field("bandwidth", pa.string()),  # the bandwidth as written in the config
        pa.field("memory", pa.string()),  # the VM memory as written in the config
        pa.field("seed", pa.int64()),
        pa.field("point", pa.string()),  # a unique, human-readable point id
    ]
)


_POINT_TYPES = {f.name: f.type for f in POINT_COLUMNS}


class SweepError(ValueError):
    """A sweep configuration is invalid; the message names the config key and what is allowed."""


@dataclass(frozen=True)
class Point:
    """One run of the sweep: a workload label x strategy variant x bandwidth x memory x seed.

    ``mapping`` is the input of :func:`migsim.config.from_mapping` for this run.
    """

    workload: str
    variant: str
    bandwidth: str
    memory: str
    seed: int
    mapping: Mapping[str, Any]

    @property
    def id(self) -> str:
        """``workload/variant/bandwidth/memory/seed``: unique within a sweep."""
        return f"{self.workload}/{self.variant}/{self.bandwidth}/{self.memory}/s{self.seed}"

    @property
    def labels(self) -> dict[str, Any]:
        """The point columns (:data:`POINT_COLUMNS`) of this point, by name."""
        values = (self.workload, self.variant, self.bandwidth, self.memory, self.seed, self.id)
        return dict(zip(POINT_COLUMNS.names, values, strict=True))

    def config(self) -> RunConfig:
        """The validated run configuration (raises :class:`ConfigError`)."""
        return from_mapping(self.mapping)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "variant": self.variant,
            "bandwidth": self.bandwidth,
            "memory": self.memory,
            "seed": self.seed,
            "mapping": self.mapping,
        }


def _need(config: Mapping[str, Any], key: str) -> Any:
    if key not in config:
        raise SweepError(f"config key {key!r} is missing")
    return config[key]


def _variant_mapping(name: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, Mapping):
        raise SweepError(
            f"variants.{name}: expected a mapping with 'strategy' and strategy options, got {spec!r}"
        )
    spec = dict(spec)
    strategy = spec.pop("strategy", None)
    if strategy is None:
        raise SweepError(
            f"variants.{name}.strategy is missing; allowed: {', '.join(strategy_names())}"
        )
    spec.pop("description", None)
    return {"name": strategy, **spec}


def _workload_mapping(label: str, spec: Any) -> dict[str, Any]:
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise SweepError(f"workloads.{label}: expected a mapping of settings, got {spec!r}")
    spec = dict(spec)
    spec.pop("description", None)
    params = dict(spec.pop("params", None) or {})
    name = spec.pop("name", None)
    out = {"name": name or label, **spec}
    for key, value in params.items():
        if key in ("name", "start", "loop"):
            raise SweepError(
                f"workloads.{label}.params.{key}: {key!r} is a workload setting, not a "
                f"generator parameter; set workloads.{label}.{key} instead"
            )
        out[key] = value
    return out


def expand(config: Mapping[str, Any]) -> list[Point]:
    """All points of the sweep, ordered by workload, variant, memory, bandwidth, seed.

    The lists in ``config["sweep"]`` keep the order they are written in. Raises
    :class:`SweepError` naming the key when a list refers to an undefined variant or workload.
    """
    sweep = _need(config, "sweep")
    variants = config.get("variants") or {}
    workloads = config.get("workloads") or {}
    variant_names = list(sweep.get("variants") or list(variants))
    workload_names = list(_need(sweep, "workloads"))
    bandwidths = [str(b) for b in _need(sweep, "bandwidths")]
    memories = [str(m) for m in _need(sweep, "memory")]
    seeds = [int(s) for s in _need(sweep, "seeds")]
    for key, values in (
        ("sweep.variants", variant_names),
        ("sweep.workloads", workload_names),
        ("sweep.bandwidths", bandwidths),
        ("sweep.memory", memories),
        ("sweep.seeds", seeds),
    ):
        if not values:
            raise SweepError(f"{key}: the list is empty; give at least one value")
        if len(set(values)) != len(values):
            raise SweepError(f"{key}: values must be unique, got {values!r}")
    for v in variant_names:
        if v not in variants:
            raise SweepError(
                f"sweep.variants: {v!r} is not defined under 'variants'; allowed: "
                f"{', '.join(variants) or '(none defined)'}"
            )
    for label in (*variant_names, *workload_names):
        if not NAME_RE.match(str(label)):
            raise SweepError(
                f"{label!r}: variant and workload names must match {NAME_RE.pattern} "
                "(they become directory names)"
            )
    for key, values, parse in (
        ("sweep.bandwidths", bandwidths, parse_rate),
        ("sweep.memory", memories, parse_size),
    ):
        for value in values:
            try:
                parse(value)
            except UnitError as exc:
                raise SweepError(f"{key}: {value!r}: {exc}") from None
    base = {
        "vm": dict(config.get("vm") or {}),
        "link": dict(config.get("link") or {}),
        "engine": dict(config.get("engine") or {}),
    }
    points = []
    for wl in workload_names:
        wl_map = _workload_mapping(wl, workloads.get(wl))
        for var in variant_names:
            st_map = _variant_mapping(var, variants[var])
            for mem in memories:
                for bw in bandwidths:
                    for seed in seeds:
                        mapping = copy.deepcopy(base)
                        mapping["vm"]["memory"] = mem
                        mapping["link"]["bandwidth"] = bw
                        mapping["strategy"] = dict(st_map)
                        mapping["workload"] = dict(wl_map)
                        mapping["seed"] = seed
                        points.append(Point(wl, var, bw, mem, seed, mapping))
    return points


def _where(point: Point, message: str) -> str:
    if message.startswith(("strategy.", "unknown key strategy.")):
        return f"variants.{point.variant}: {message}"
    if message.startswith(("workload", "unknown key workload.")):
        return f"workloads.{point.workload}: {message}"
    if message.startswith(("vm.", "unknown key vm.")) and "vm.memory" not in message:
        return f"{message} (config section 'vm')"
    if message.startswith(("link.", "unknown key link.")) and "link.bandwidth" not in message:
        return f"{message} (config section 'link')"
    if message.startswith(("engine.", "unknown key engine.")):
        return f"{message} (config section 'engine')"
    return f"point {point.id}: {message}"


def check_points(points: Iterable[Point], workloads: bool = True) -> None:
    """Validate every point with :func:`migsim.config.from_mapping` (and, when ``workloads``,
    build its workload so unknown generators and parameters fail too).

    Raises :class:`SweepError` naming the config key (``variants.NAME``, ``workloads.NAME``,
    ...) and what is allowed. Points that differ only in seed are checked once.
    """
    seen: set[str] = set()
    for p in points:
        key = json.dumps({**p.mapping, "seed": 0}, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        try:
            cfg = p.config()
            if workloads:
                from migsim.workloads import make_workload

                make_workload(cfg.workload, cfg.vm, cfg.seed)
        except ConfigError as exc:
            raise SweepError(_where(p, str(exc))) from None


def batches(points: Sequence[Point], batch_size: int) -> dict[tuple[str, str], list[list[Point]]]:
    """The points of each (workload, variant) cut in order into batches of ``batch_size``."""
    if batch_size < 1:
        raise SweepError(f"simulate.batch_size: {batch_size!r} is out of range; allowed: >= 1")
    groups: dict[tuple[str, str], list[Point]] = {}
    for p in points:
        groups.setdefault((p.workload, p.variant), []).append(p)
    return {
        key: [pts[i : i + batch_size] for i in range(0, len(pts), batch_size)]
        for key, pts in groups.items()
    }


def batch_ids(n_batches: int) -> list[str]:
    """Batch names ``000``, ``001``, ... (the ``part-NNN`` of the file names)."""
    return [f"{i:03d}" for i in range(n_batches)]


def points_to_json(points: Sequence[Point]) -> str:
    """A canonical JSON string of points (a Snakemake param: editing a point reruns its batch)."""
    return json.dumps([p.to_dict() for p in points], sort_keys=True, separators=(",", ":"))


def points_from_json(text: str) -> list[Point]:
    """The inverse of :func:`points_to_json`."""
    return [Point(**d) for d in json.loads(text)]


# --------------------------------------------------------------------------------------------
# fingerprints


def _tree_hash(paths: Iterable[Path], root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path.relative_to(root)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _package_root() -> Path:
    import migsim

    return Path(migsim.__file__).resolve().parent


def engine_fingerprint(
    root: str | os.PathLike[str] | None = None, extra: tuple[str, ...] = ()
) -> str:
    """Hash of the sources that shape simulation results: ``engine/``, ``strategies/``,
    ``workloads/`` and the config, options, registry, units and package modules. A Snakemake
    param of the
    simulate rule, so editing any of them reruns the simulations (and nothing else changes it).
    ``root``: the package directory (default: the imported migsim); ``extra``: more
    subpackages to include (the scenario rule adds ``scenario``).
    """
    root = Path(root) if root is not None else _package_root()
    files: list[Path] = []
    for sub in ("engine", "strategies", "workloads", *extra):
        files.extend((root / sub).rglob("*.py"))
    files.extend(
        root / name
        for name in ("__init__.py", "config.py", "options.py", "registry.py", "units.py")
    )
    return _tree_hash([f for f in files if f.is_file()], root)


def analysis_fingerprint(*modules: str, root: str | os.PathLike[str] | None = None) -> str:
    """Hash of ``migsim/analysis/<module>.py`` files (default: all of analysis/): a param of
    the figure and table rules, so editing plotting code reruns only those rules."""
    root = Path(root) if root is not None else _package_root()
    adir = root / "analysis"
    files = [adir / f"{m}.py" for m in modules] if modules else list(adir.rglob("*.py"))
    return _tree_hash([f for f in files if f.is_file()], root)


# --------------------------------------------------------------------------------------------
# writing


def file_metadata(points: Sequence[Point] | None = None) -> dict[bytes, bytes]:
    """Parquet key-value metadata: migsim and library versions, and the configs and seeds of
    ``points`` (``migsim.configs``: a JSON list of the validated run configs, base units)."""
    from migsim.config import to_mapping
    from migsim.engine.result import provenance_metadata

    meta = provenance_metadata(None)
    if points is not None:
        configs = [to_mapping(p.config()) for p in points]
        meta[b"migsim.configs"] = json.dumps(configs, sort_keys=True, default=str).encode()
        meta[b"migsim.seeds"] = json.dumps([p.seed for p in points]).encode()
        meta[b"migsim.points"] = json.dumps([p.id for p in points]).encode()
    return meta


def label_columns(
    table: pa.Table,
    labels: Mapping[str, Any],
    types: Mapping[str, pa.DataType] | None = None,
) -> pa.Table:
    """``table`` with one column per label put first, in order, each holding the label's value
    in every row; typed by ``types[name]`` where given, else inferred from the value.

    A column of ``table`` with a label's name is dropped when it holds the label's value in
    every row (the sweep's ``seed``) and is an error otherwise, so a label never hides a result.
    """
    types = types or {}
    n = table.num_rows
    out = table
    for i, (key, value) in enumerate(labels.items()):
        if key in out.column_names:
            if any(v != value for v in out.column(key).to_pylist()):
                raise ValueError(f"label {key!r} collides with a result column")
            out = out.drop_columns([key])
        out = out.add_column(i, key, pa.array([value] * n, type=types.get(key)))
    return out


def point_table(point: Point, table: pa.Table) -> pa.Table:
    """``table`` with the point columns (:data:`POINT_COLUMNS`) prepended (columns of the same
    name: see :func:`label_columns`)."""
    return label_columns(table, point.labels, _POINT_TYPES)


def run_batch(
    runs: Sequence[Mapping[str, Any]],
    summary_path: str | os.PathLike[str],
    rounds_path: str | os.PathLike[str],
    timeline_path: str | os.PathLike[str],
    *,
    keep_timeline: bool = True,
    label_types: Mapping[str, pa.DataType] | None = None,
    rename: Mapping[str, str] | None = None,
    metadata: Mapping[bytes, bytes] | None = None,
    log: Any = None,
) -> dict[str, float]:
    """Simulate ``runs`` one after the other and write their summary, rounds and timeline
    tables: the one batch runner, of sweep points (:func:`run_points`) and of the paper's
    experiments (:func:`migsim.experiments.run_experiment`).

    A run is ``{"mapping": ..., "labels": {...}}``, optionally with a ``"name"`` for its log
    line (default: its labels as JSON). ``mapping`` is the input of
    :func:`migsim.config.from_mapping`; ``labels`` become the first columns of every row of the
    run's tables (:func:`label_columns`, typed by ``label_types``), after the summary columns
    named in ``rename`` are renamed. Timelines are written only when ``keep_timeline``;
    otherwise the timeline file is an empty table with the first run's labels.

    Each file is written atomically (:func:`migsim.io.write_parquet_atomic`) with the
    provenance metadata, ``migsim.configs`` (the validated config of each run, base units),
    ``migsim.seeds`` and then ``metadata``. ``log`` is a writable text stream (or None) that
    gets one line per run with its engine runtime. Returns ``{"runs": n, "engine_s": seconds
    inside migsim.simulate, "wall_s": seconds in total}``.
    """
    from migsim import simulate
    from migsim.config import to_mapping
    from migsim.engine.result import (
        ROUNDS_SCHEMA,
        SUMMARY_SCHEMA,
        TIMELINE_SCHEMA,
        provenance_metadata,
    )

    rename = dict(rename or {})
    t_start = time.perf_counter()
    engine_s = 0.0
    summaries, rounds, timelines, configs = [], [], [], []
    for run in runs:
        cfg = from_mapping(run["mapping"])
        configs.append(to_mapping(cfg))
        t0 = time.perf_counter()
        result = simulate(cfg)
        dt = time.perf_counter() - t0
        engine_s += dt
        labels = run["labels"]
        summary = pa.Table.from_pylist([result.summary], schema=SUMMARY_SCHEMA)
        summary = summary.rename_columns([rename.get(c, c) for c in summary.column_names])
        summaries.append(label_columns(summary, labels, label_types))
        rounds.append(label_columns(result.rounds.cast(ROUNDS_SCHEMA), labels, label_types))
        if keep_timeline:
            timeline = result.timeline.cast(TIMELINE_SCHEMA)
            timelines.append(label_columns(timeline, labels, label_types))
        if log is not None:
            s = result.summary
            name = run.get("name") or json.dumps(labels, sort_keys=True)
            print(
                f"{name}: total {s['total_time_s']:.3f} s, downtime {s['downtime_s']:.4f} s, "
                f"{s['pages_transferred']} pages, {s['rounds']} rounds, stop: {s['stop_reason']}; "
                f"engine {dt:.2f} s",
                file=log,
                flush=True,
            )
    meta = provenance_metadata(None)
    meta[b"migsim.configs"] = json.dumps(configs, sort_keys=True, default=str).encode()
    meta[b"migsim.seeds"] = json.dumps([c["seed"] for c in configs]).encode()
    meta.update(metadata or {})
    if not timelines:
        empty = TIMELINE_SCHEMA.empty_table()
        timelines = [label_columns(empty, runs[0]["labels"], label_types)] if runs else [empty]
    for tables, path in (
        (summaries, summary_path),
        (rounds, rounds_path),
        (timelines, timeline_path),
    ):
        table = pa.concat_tables(tables, promote_options="permissive")
        write_parquet_atomic(table, path, metadata=meta)
    wall = time.perf_counter() - t_start
    if log is not None:
        print(f"{len(runs)} runs: engine {engine_s:.2f} s of {wall:.2f} s", file=log, flush=True)
    return {"runs": len(runs), "engine_s": engine_s, "wall_s": wall}


def run_points(
    points: Sequence[Point],
    summary_path: str | os.PathLike[str],
    rounds_path: str | os.PathLike[str],
    timeline_path: str | os.PathLike[str],
    log: Any = None,
) -> dict[str, float]:
    """Simulate a batch of sweep points with :func:`run_batch` and write its three tables:
    the point columns (:data:`POINT_COLUMNS`) first in every row, the engine's ``workload``
    column kept as ``generator`` (the point's ``workload`` is the sweep label), and the point
    ids in the metadata (``migsim.points``). Returns :func:`run_batch`'s statistics."""
    runs = [{"mapping": p.mapping, "labels": p.labels, "name": p.id} for p in points]
    return run_batch(
        runs,
        summary_path,
        rounds_path,
        timeline_path,
        label_types=_POINT_TYPES,
        rename={"workload": "generator"},
        metadata={b"migsim.points": json.dumps([p.id for p in points]).encode()},
        log=log,
    )
