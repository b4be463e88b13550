#!/usr/bin/env python3
"""Prove that a refactor changed no result row: run the run configs in ``config/`` under two
versions of migsim (a base revision and this checkout) and compare every summary, rounds and
timeline value.

Why: a refactor of the engine or of the config structure (strategies as plug-ins, a new
``strategy`` section) must not change a single number the workflow produces. Its acceptance
criterion is "every file in config/ gives the same result rows as the commit before", so this
script runs both versions on the same inputs and diffs the rows bit for bit.

Usage::

    python tools/compare_rows.py --base REV [--configs FILE ...] [--jobs 2] [--limit N] [--keep DIR]
    python tools/compare_rows.py compare DIR     # compare again the two sides kept by --keep DIR
    python tools/compare_rows.py side --tree TREE --out DIR [--configs ...]  # one side (internal)

How. ``REV`` is checked out into a temporary ``git worktree add --detach`` (removed at the end).
The same side procedure then runs twice, each time in a subprocess whose ``PYTHONPATH`` starts
with that tree's ``src`` (the base worktree, then this checkout), so ``import migsim`` gets that
version's code, which expands each config into run points itself (the config API and the config
files may differ between the versions; each side reads its own tree's copy of a config file):

* sweep configs (``config/config.yaml``, ``config/test.yaml``; they have a ``sweep`` key) are
  loaded as ``snakemake --configfile FILE`` loads them (FILE merged over the Snakefile's
  ``configfile:``, then the defaults of ``workflow/schemas/config.schema.yaml`` filled in by
  ``snakemake.utils.validate``), expanded by ``migsim.sweep.expand`` and run as
  ``Point.config()``. Point key: workload label, variant, bandwidth, memory, seed.
* the paper config (``config/paper.yaml``) is loaded as ``workflow/rules/paper.smk`` loads it
  (defaults of ``workflow/schemas/paper.schema.yaml``) and expanded by ``EXPERIMENTS``,
  ``experiment_parts`` and ``experiment_runs`` of the first module in :data:`PAPER_MODULES` that
  has them; runs are built with ``migsim.config.from_mapping``. Point key: experiment, part, the
  run's labels and its seed (hines_apps and closed_form repeat their labels for every seed).
  Every run's timeline is kept and compared (the workflow keeps only hines_netperf's).
* ``config/published.yaml`` is skipped: it holds published reference values that the
  validation report reads, not a run config.

``--no-workflow-config`` expands the YAML as written instead (no merge, no schema defaults).
Each point runs ``migsim.simulate``; its summary row (cast to that version's ``SUMMARY_SCHEMA``
as the workflow writes it), rounds and timeline tables go to Parquet files in a directory per
side, keyed by the point key.

What is compared, per config:

* the point keys: a point present on one side only is a mismatch (labels are columns of the
  workflow's rows, so a changed label is a changed row); so is an error raised on one side only;
* summary: every column except ``migsim_version`` (the installed package's version string, not
  a result) must be equal exactly: floats bit for bit (NaN == NaN, but -0.0 != 0.0), same type.
  ``config_json`` is compared as parsed JSON: every key the new side has must hold the base
  side's value (numbers compare by value). Keys the new side dropped are allowed (a refactor may
  drop strategy options that do not belong to the run's strategy) and listed as notes; keys the
  new side added are notes too, not failures;
* rounds and timeline: the same columns with the same types, the same number of rows per point,
  every value bit for bit.

The report lists configs, points per config and side, points compared, timings and the first 20
mismatches (key, table, column, row, old and new value). Exit status: 0 when nothing differs,
1 on any mismatch, 2 on an error (git, arguments, a side that could not run).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]

# Where each side looks for the functions it needs: the first module that has them wins.
# A refactor that moves one of them adds its new module to the tuple (a one-line change).
SWEEP_MODULES = ("migsim.sweep",)
PAPER_MODULES = ("migsim.analysis.paper", "migsim.experiments")
SIMULATE_MODULES = ("migsim", "migsim.engine.core")
CONFIG_MODULES = ("migsim.config",)
RESULT_MODULES = ("migsim.engine.result",)

#: Files in config/ that are not run configs (published reference data).
NOT_RUN_CONFIGS = ("config/published.yaml",)
SWEEP_SCHEMA = "workflow/schemas/config.schema.yaml"
PAPER_SCHEMA = "workflow/schemas/paper.schema.yaml"

TABLES = ("summary", "rounds", "timeline")
IGNORED_COLUMNS = {"summary": ("migsim_version",)}
JSON_COLUMNS = {"summary": ("config_json",)}
KEY, ROW = "_key", "_row"  # the point key and the row index within the point, in every table
KEY_ORDER = ("experiment", "part", "workload", "variant", "bandwidth", "memory")
SHOWN_MISMATCHES = 20


class SideError(RuntimeError):
    """A side cannot run (its migsim lacks a function this script needs, a bad tree)."""


# ---------------------------------------------------------------------------------------------
# one side: expand the configs with this version's code, simulate, write Parquet


def _find(modules: Sequence[str], *names: str) -> tuple[str, list[Any]]:
    """``names`` from the first of ``modules`` that can be imported and has all of them."""
    tried = []
    for module in modules:
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            tried.append(f"{module}: {exc}")
            continue
        missing = [n for n in names if not hasattr(mod, n)]
        if not missing:
            return module, [getattr(mod, n) for n in names]
        tried.append(f"{module}: no {', '.join(missing)}")
    raise SideError(f"no module provides {', '.join(names)} ({'; '.join(tried)})")


def _one_line(exc: BaseException) -> str:
    """``Type: message``, the first line of it (jsonschema errors: without the schema dump)."""
    lines = [ln for ln in str(getattr(exc, "message", None) or exc).splitlines() if ln.strip()]
    text = lines[0].strip() if lines else ""
    if len(lines) > 1 and len(text) < 60:  # "Error validating config file.\nValidationError: ..."
        text += " " + lines[1].strip()
    return f"{type(exc).__name__}: {text if len(text) <= 300 else text[:297] + '...'}"


def _fmt(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def point_key(labels: Mapping[str, Any]) -> str:
    """A stable, readable key from a point's labels: ``workload=idle variant=pre_copy ...``."""
    first = [k for k in KEY_ORDER if k in labels]
    rest = sorted(k for k in labels if k not in KEY_ORDER and k != "seed")
    last = ["seed"] if "seed" in labels else []
    return " ".join(f"{k}={_fmt(labels[k])}" for k in (*first, *rest, *last))


def _snakefile_configfile(tree: Path) -> str | None:
    """The ``configfile:`` of the tree's Snakefile (the config every --configfile extends)."""
    snakefile = tree / "Snakefile"
    if not snakefile.is_file():
        return None
    match = re.search(r"^configfile:\s*[\"']([^\"']+)[\"']", snakefile.read_text(), re.M)
    return match.group(1) if match else None


def load_run_config(
    tree: Path, config: str, workflow_config: bool = True
) -> tuple[str, dict[str, Any], list[str]]:
    """``(kind, config, notes)`` of one config file of ``tree`` as the workflow sees it;
    kind ``sweep`` (it has a ``sweep`` key) or ``paper``."""
    path = tree / config
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise SideError(f"{config}: not a mapping")
    kind = "sweep" if "sweep" in raw else "paper"
    notes: list[str] = []
    if not workflow_config:
        return kind, raw, ["YAML as written (--no-workflow-config)"]
    from snakemake.utils import update_config, validate

    if kind == "sweep":
        cfg: dict[str, Any] = {}
        default = _snakefile_configfile(tree)
        if default and (tree / default).is_file() and (tree / default).resolve() != path.resolve():
            update_config(cfg, yaml.safe_load((tree / default).read_text()) or {})
            notes.append(f"merged over {default}")
        update_config(cfg, raw)
        schema = SWEEP_SCHEMA
    else:
        cfg, schema = raw, PAPER_SCHEMA
    if (tree / schema).is_file():
        validate(cfg, str(tree / schema))
        notes.append(f"defaults of {schema}")
    else:
        notes.append(f"no {schema} in this tree: no schema defaults")
    return kind, cfg, notes


def expand_points(kind: str, cfg: Mapping[str, Any]) -> tuple[str, list[tuple[str, Any]]]:
    """``(module, [(key, point), ...])``: the run points of a config, in expansion order.
    A point is a sweep ``Point`` or a paper run ``{"labels": ..., "mapping": ...}``."""
    items: list[tuple[str, Any]] = []
    if kind == "sweep":
        module, (expand,) = _find(SWEEP_MODULES, "expand")
        for p in expand(cfg):
            labels = {
                "workload": p.workload,
                "variant": p.variant,
                "bandwidth": p.bandwidth,
                "memory": p.memory,
                "seed": p.seed,
            }
            items.append((point_key(labels), p))
        return module, items
    module, (experiments, parts, runs) = _find(
        PAPER_MODULES, "EXPERIMENTS", "experiment_parts", "experiment_runs"
    )
    for experiment in experiments:
        for part in parts(cfg, experiment):
            for run in runs(cfg, experiment, part):
                labels = {"experiment": experiment, "part": part, **run["labels"]}
                labels.setdefault("seed", run["mapping"].get("seed"))
                items.append((point_key(labels), run))
    return module, items


def _cast(table: pa.Table, schema: pa.Schema | None) -> pa.Table:
    """``table`` cast to ``schema`` as the workflow writes it (unchanged if the names differ)."""
    if schema is not None and table.schema.names == schema.names:
        return table.cast(schema)
    return table


def _keyed(table: pa.Table, key: str) -> pa.Table:
    n = table.num_rows
    table = table.add_column(0, KEY, pa.array([key] * n, pa.string()))
    return table.add_column(1, ROW, pa.array(np.arange(n, dtype=np.int64)))


def run_chunk(kind: str, items: Sequence[tuple[str, Any]], out: str, part: int) -> list[dict]:
    """Simulate ``items`` and write their tables to ``out/<table>/part-<part>.parquet``;
    one record per point: key, part, engine seconds and the error, if simulate raised."""
    _, (simulate,) = _find(SIMULATE_MODULES, "simulate")
    _, (from_mapping,) = _find(CONFIG_MODULES, "from_mapping")
    try:
        _, schemas = _find(RESULT_MODULES, "SUMMARY_SCHEMA", "ROUNDS_SCHEMA", "TIMELINE_SCHEMA")
    except SideError:
        schemas = [None, None, None]
    tables: dict[str, list[pa.Table]] = {t: [] for t in TABLES}
    records = []
    for key, point in items:
        t0 = time.perf_counter()
        try:
            cfg = point.config() if kind == "sweep" else from_mapping(point["mapping"])
            res = simulate(cfg)
            dt = time.perf_counter() - t0
            summary = pa.Table.from_pylist([res.summary], schema=schemas[0])
            rows = [
                _keyed(_cast(table, schema), key)
                for table, schema in zip((summary, res.rounds, res.timeline), schemas, strict=True)
            ]
        except Exception as exc:  # recorded and compared: the other side must raise it too
            error = _one_line(exc)
            records.append({"key": key, "part": part, "engine_s": 0.0, "error": error})
            continue
        for name, table in zip(TABLES, rows, strict=True):
            tables[name].append(table)
        records.append({"key": key, "part": part, "engine_s": dt, "error": None})
    for name, parts in tables.items():
        if parts:
            path = Path(out) / name / f"part-{part:05d}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.concat_tables(parts, promote_options="permissive"), path)
    return records


def _chunks(items: Sequence[Any], jobs: int) -> list[Sequence[Any]]:
    size = max(1, min(8, len(items) // (8 * jobs)))  # small chunks: runs differ 1000x in cost
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_side(
    tree: Path,
    out: Path,
    configs: Sequence[str],
    jobs: int = 2,
    limit: int | None = None,
    workflow_config: bool = True,
) -> dict[str, Any]:
    """Expand and simulate every config with the migsim imported here; write the tables under
    ``out/<nn>/`` and ``out/manifest.json``; return the manifest."""
    import migsim

    src = (tree / "src").resolve()
    where = Path(migsim.__file__).resolve()
    if not where.is_relative_to(src):
        raise SideError(f"imported migsim from {where}, not from {src} (check PYTHONPATH)")
    manifest: dict[str, Any] = {"tree": str(tree), "migsim": str(where), "configs": {}}
    pool = None
    if jobs > 1:
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        for i, config in enumerate(configs):
            entry: dict[str, Any] = {"dir": f"{i:02d}"}
            manifest["configs"][config] = entry
            t0 = time.perf_counter()
            if not (tree / config).is_file():
                entry["missing"] = True
                print(f"  {config}: not in this tree", flush=True)
                continue
            try:
                kind, cfg, notes = load_run_config(tree, config, workflow_config)
                module, items = expand_points(kind, cfg)
            except Exception as exc:
                entry["error"] = _one_line(exc)
                print(f"  {config}: cannot expand: {entry['error']}", flush=True)
                continue
            entry.update(kind=kind, module=module, notes=notes, expanded=len(items))
            items = items[:limit] if limit is not None else items
            seen: Counter[str] = Counter()
            unique = []
            for key, point in items:
                seen[key] += 1
                unique.append((key if seen[key] == 1 else f"{key} #{seen[key]}", point))
            if any(n > 1 for n in seen.values()):
                notes.append("duplicate point keys: later ones numbered #2, #3, ...")
            records = _run_points(kind, unique, out / entry["dir"], jobs, pool, config, t0)
            entry["points"] = records
            entry["wall_s"] = time.perf_counter() - t0
            entry["engine_s"] = sum(r["engine_s"] for r in records)
            errors = sum(r["error"] is not None for r in records)
            print(
                f"  {config}: {len(records)} of {entry['expanded']} points ({kind}, {module}), "
                f"{entry['wall_s']:.1f} s wall, "
                f"{entry['engine_s']:.1f} s in simulate, {errors} errors",
                flush=True,
            )
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def _strategy(kind: str, point: Any) -> str | None:
    """The strategy name of a point's run config (None if this version does not tell)."""
    try:
        if kind == "sweep":
            cfg = point.config()
        else:
            _, (from_mapping,) = _find(CONFIG_MODULES, "from_mapping")
            cfg = from_mapping(point["mapping"])
        return str(getattr(cfg.strategy, "name", type(cfg.strategy).__name__))
    except Exception:
        return None


def warm_up_points(kind: str, items: Sequence[tuple[str, Any]]) -> list[int]:
    """Indexes of the first point of each strategy. With a pool they run first, in the side
    process, so numba compiles the kernels once into the tree's cache (a fresh worktree has
    none) instead of once in every worker at the same time."""
    first: dict[str | None, int] = {}
    for i, (_, point) in enumerate(items):
        first.setdefault(_strategy(kind, point), i)
    return sorted(first.values())


def _run_points(
    kind: str,
    items: Sequence[tuple[str, Any]],
    out: Path,
    jobs: int,
    pool: ProcessPoolExecutor | None,
    config: str,
    t0: float,
) -> list[dict]:
    """Run ``items`` (in chunks, in ``pool`` if given); the records in ``items`` order."""
    results: list[dict] = []
    rest = list(items)
    if pool is not None and items:
        warm = warm_up_points(kind, items)
        results += run_chunk(kind, [items[i] for i in warm], str(out), 0)
        rest = [item for i, item in enumerate(items) if i not in set(warm)]
    chunks = _chunks(rest, jobs)
    first_part = 1 if pool is not None else 0
    if pool is None:
        futures: Iterable[list[dict]] = (
            run_chunk(kind, c, str(out), i) for i, c in enumerate(chunks, first_part)
        )
    else:
        pending = [
            pool.submit(run_chunk, kind, c, str(out), i) for i, c in enumerate(chunks, first_part)
        ]
        futures = (f.result() for f in as_completed(pending))
    step = max(1, len(items) // 10)
    for records in futures:
        before = len(results)
        results += records
        if len(items) >= 50 and len(results) // step != before // step:
            print(
                f"    {config}: {len(results)}/{len(items)} points, "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    order = {key: i for i, (key, _) in enumerate(items)}
    return sorted(results, key=lambda r: order[r["key"]])


# ---------------------------------------------------------------------------------------------
# comparing


@dataclass(frozen=True)
class Mismatch:
    """One difference: ``row`` is the row index within the point (None: the whole point or
    column); ``key`` is ``*`` for a difference of a whole column."""

    key: str
    table: str
    column: str
    row: int | None
    old: Any
    new: Any
    config: str = ""


@dataclass
class Diff:
    """Mismatches (the first ``max_details`` in full, all of them counted) and notes.
    A whole-column mismatch (key ``*``) counts once, however many parts repeat it."""

    max_details: int = 1000
    mismatches: list[Mismatch] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    notes: Counter[str] = field(default_factory=Counter)
    columns: set[tuple[str, str, str, str, str]] = field(default_factory=set)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def _repeated(self, m: Mismatch) -> bool:
        if m.key != "*":
            return False
        sig = (m.config, m.table, m.column, repr(m.old), repr(m.new))
        seen = sig in self.columns
        self.columns.add(sig)
        return seen

    def add(self, m: Mismatch) -> None:
        if self._repeated(m):
            return
        self.counts[(m.table, m.column)] += 1
        if len(self.mismatches) < self.max_details:
            self.mismatches.append(m)

    def merge(self, other: Diff, config: str = "") -> None:
        counts = Counter(other.counts)
        for m in other.mismatches:
            m = replace(m, config=config or m.config)
            if self._repeated(m):
                counts[(m.table, m.column)] -= 1
            elif len(self.mismatches) < self.max_details:
                self.mismatches.append(m)
        self.counts.update({k: n for k, n in counts.items() if n > 0})
        self.notes.update(other.notes)


@dataclass
class ConfigJsonDiff:
    """``changed``: (path, old, new) of keys both sides have with different values;
    ``added``/``dropped``: paths of keys only the new/base side has."""

    changed: list[tuple[str, Any, Any]] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


def _json_equal(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return old == new or (math.isnan(old) and math.isnan(new))
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(map(_json_equal, old, new))
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_json_equal(old[k], new[k]) for k in old)
    return type(old) is type(new) and old == new


def _diff_json(old: Any, new: Any, path: str, out: ConfigJsonDiff) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for k in new:
            sub = f"{path}.{k}" if path else str(k)
            if k in old:
                _diff_json(old[k], new[k], sub, out)
            else:
                out.added.append(sub)
        out.dropped.extend(f"{path}.{k}" if path else str(k) for k in old if k not in new)
    elif not _json_equal(old, new):
        out.changed.append((path or "(document)", old, new))


def compare_config_json(old: str, new: str) -> ConfigJsonDiff:
    """Compare two ``config_json`` documents: every key on the new side that the base side
    has too must hold the same value (recursively, per section); dropped and added keys are
    collected, not failures."""
    out = ConfigJsonDiff()
    if old == new:
        return out
    try:
        o, n = json.loads(old), json.loads(new)
    except (TypeError, ValueError):
        out.changed.append(("(not JSON)", old, new))
        return out
    _diff_json(o, n, "", out)
    return out


def _value_equal(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or np.float64(a).tobytes() == np.float64(
            b
        ).tobytes()
    return type(a) is type(b) and a == b


def _differs(a: pa.ChunkedArray | pa.Array, b: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Bool mask of the rows where ``a`` and ``b`` (same length) differ: floats bit for bit
    with NaN == NaN, null == null, other types by equality (and type)."""
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    if isinstance(b, pa.ChunkedArray):
        b = b.combine_chunks()
    if len(a) == 0:
        return np.zeros(0, dtype=bool)
    t = a.type
    simple = t == b.type and (
        pa.types.is_floating(t)
        or pa.types.is_integer(t)
        or pa.types.is_boolean(t)
        or pa.types.is_string(t)
        or pa.types.is_large_string(t)
    )
    if not simple:
        return np.array(
            [not _value_equal(x, y) for x, y in zip(a.to_pylist(), b.to_pylist(), strict=True)],
            dtype=bool,
        )
    null_a = a.is_null().to_numpy(zero_copy_only=False)
    null_b = b.is_null().to_numpy(zero_copy_only=False)
    if pa.types.is_floating(t):
        x = a.fill_null(0).to_numpy(zero_copy_only=False)
        y = b.fill_null(0).to_numpy(zero_copy_only=False)
        bits = {2: np.uint16, 4: np.uint32, 8: np.uint64}[x.dtype.itemsize]
        eq = (x.view(bits) == y.view(bits)) | (np.isnan(x) & np.isnan(y))
    elif pa.types.is_integer(t) or pa.types.is_boolean(t):
        zero = pa.scalar(False) if pa.types.is_boolean(t) else pa.scalar(0, t)
        eq = a.fill_null(zero).to_numpy(zero_copy_only=False) == b.fill_null(zero).to_numpy(
            zero_copy_only=False
        )
    else:
        eq = pc.equal(a, b).fill_null(False).to_numpy(zero_copy_only=False)
    eq = np.where(null_a | null_b, null_a & null_b, eq)
    return ~eq


def _counts(table: pa.Table) -> dict[str, int]:
    if table.num_rows == 0:
        return {}
    return {s["values"]: s["counts"] for s in pc.value_counts(table[KEY]).to_pylist()}


def _aligned(table: pa.Table, rows: Mapping[str, int]) -> pa.Table:
    """The rows with ``_row < rows[_key]``, sorted by key and row."""
    limit = np.array([rows.get(k, 0) for k in table[KEY].to_pylist()], dtype=np.int64)
    keep = table[ROW].to_numpy() < limit
    return table.filter(pa.array(keep)).sort_by([(KEY, "ascending"), (ROW, "ascending")])


def compare_tables(
    base: pa.Table,
    new: pa.Table,
    table: str,
    ignore: Iterable[str] = (),
    json_columns: Iterable[str] = (),
    max_details: int = 1000,
) -> Diff:
    """Compare two tables of the same points (``_key`` and ``_row`` columns identify a row):
    the same columns with the same types, the same number of rows per point, every value
    exactly (:func:`_differs`); ``json_columns`` by :func:`compare_config_json`."""
    diff = Diff(max_details=max_details)
    skip = {KEY, ROW, *ignore}
    json_columns = set(json_columns)
    bcols = [c for c in base.column_names if c not in skip]
    ncols = [c for c in new.column_names if c not in skip]
    for c in bcols:
        if c not in ncols:
            diff.add(Mismatch("*", table, c, None, "column present", "column missing"))
    for c in ncols:
        if c not in bcols:
            diff.add(Mismatch("*", table, c, None, "column missing", "column present"))
    bcount, ncount = _counts(base), _counts(new)
    rows = {}
    for key in sorted(bcount.keys() | ncount.keys()):
        nb, nn = bcount.get(key, 0), ncount.get(key, 0)
        if nb != nn:
            diff.add(Mismatch(key, table, "(rows)", None, nb, nn))
        rows[key] = min(nb, nn)
    b, n = _aligned(base, rows), _aligned(new, rows)
    keys = b[KEY]
    if not (keys.equals(n[KEY]) and b[ROW].equals(n[ROW])):  # pragma: no cover - by construction
        raise AssertionError("rows did not align")
    for c in (c for c in bcols if c in ncols):
        x, y = b[c], n[c]
        if x.type != y.type:
            diff.add(Mismatch("*", table, c, None, f"type {x.type}", f"type {y.type}"))
        if c in json_columns:
            for i, (old, new_) in enumerate(zip(x.to_pylist(), y.to_pylist(), strict=True)):
                if old == new_:
                    continue
                if not (isinstance(old, str) and isinstance(new_, str)):
                    diff.add(Mismatch(keys[i].as_py(), table, c, b[ROW][i].as_py(), old, new_))
                    continue
                d = compare_config_json(old, new_)
                for path, o, v in d.changed:
                    diff.add(
                        Mismatch(keys[i].as_py(), table, f"{c}:{path}", b[ROW][i].as_py(), o, v)
                    )
                for path in d.added:
                    diff.notes[f"{table}.{c}: {path} added on the new side"] += 1
                for path in d.dropped:
                    diff.notes[f"{table}.{c}: {path} dropped on the new side (allowed)"] += 1
            continue
        for i in np.flatnonzero(_differs(x, y)):
            i = int(i)
            diff.add(
                Mismatch(keys[i].as_py(), table, c, b[ROW][i].as_py(), x[i].as_py(), y[i].as_py())
            )
    return diff


def _read_part(
    side: Path, table: str, part: int, cache: dict[tuple[str, int], pa.Table]
) -> pa.Table | None:
    if (table, part) not in cache:
        if len(cache) > 8:
            cache.pop(next(iter(cache)))
        path = side / table / f"part-{part:05d}.parquet"
        cache[(table, part)] = pq.read_table(path) if path.is_file() else None
    return cache[(table, part)]


def _select(tables: Iterable[pa.Table | None], keys: Sequence[str]) -> pa.Table | None:
    found = [t for t in tables if t is not None]
    if not found:
        return None
    t = pa.concat_tables(found, promote_options="permissive") if len(found) > 1 else found[0]
    return t.filter(pc.is_in(t[KEY], value_set=pa.array(keys, pa.string())))


@dataclass
class ConfigReport:
    config: str
    kind: str = "?"
    points_base: int = 0
    points_new: int = 0
    expanded_base: int | None = None
    expanded_new: int | None = None
    compared: int = 0
    seconds_base: float | None = None
    seconds_new: float | None = None
    diff: Diff = field(default_factory=Diff)


def compare_config(
    config: str, base_dir: Path, new_dir: Path, base: dict, new: dict
) -> ConfigReport:
    """Compare one config's points and tables between the two side directories."""
    rep = ConfigReport(config)
    diff = rep.diff
    missing = [e is None or bool(e.get("missing")) for e in (base, new)]
    if any(missing):
        old_, new_ = ("missing" if m else "present" for m in missing)
        diff.add(Mismatch("*", "config", "(file)", None, old_, new_))
    elif "error" in base or "error" in new:
        old_, new_ = (e.get("error", "expanded") for e in (base, new))
        diff.add(Mismatch("*", "config", "(expansion)", None, old_, new_))
    if diff.total:
        return rep
    rep.kind = base["kind"] if base["kind"] == new["kind"] else f"{base['kind']}/{new['kind']}"
    rep.expanded_base, rep.expanded_new = base["expanded"], new["expanded"]
    rep.seconds_base, rep.seconds_new = base["wall_s"], new["wall_s"]
    for side, entry in (("base", base), ("new", new)):
        for note in entry.get("notes", []):
            diff.notes[f"{side} side: {note}"] += 1
    bpts = {r["key"]: r for r in base["points"]}
    npts = {r["key"]: r for r in new["points"]}
    rep.points_base, rep.points_new = len(bpts), len(npts)
    for key in (k for k in bpts if k not in npts):
        diff.add(Mismatch(key, "points", "(point)", None, "present", "absent"))
    for key in (k for k in npts if k not in bpts):
        diff.add(Mismatch(key, "points", "(point)", None, "absent", "present"))
    common = [k for k in bpts if k in npts]
    if common != [k for k in npts if k in bpts]:
        diff.notes["points are expanded in a different order (rows compared by key)"] += 1
    by_part: dict[int, list[str]] = {}
    for key in common:
        eb, en = bpts[key]["error"], npts[key]["error"]
        if eb is None and en is None:
            by_part.setdefault(bpts[key]["part"], []).append(key)
        elif eb == en:
            diff.notes[f"simulate raised the same error on both sides: {eb}"] += 1
        else:
            diff.add(Mismatch(key, "error", "(simulate)", None, eb, en))
    bside, nside = base_dir / base["dir"], new_dir / new["dir"]
    bcache: dict[tuple[str, int], pa.Table] = {}
    ncache: dict[tuple[str, int], pa.Table] = {}
    for part, keys in by_part.items():
        nparts = sorted({npts[k]["part"] for k in keys})
        for table in TABLES:
            b = _select([_read_part(bside, table, part, bcache)], keys)
            n = _select([_read_part(nside, table, p, ncache) for p in nparts], keys)
            if b is None or n is None:
                diff.add(
                    Mismatch(
                        "*",
                        table,
                        "(file)",
                        None,
                        "present" if b else "missing",
                        "present" if n else "missing",
                    )
                )
                continue
            diff.merge(
                compare_tables(
                    b, n, table, IGNORED_COLUMNS.get(table, ()), JSON_COLUMNS.get(table, ())
                )
            )
        rep.compared += len(keys)
    return rep


def compare_sides(
    base_dir: Path, new_dir: Path, configs: Sequence[str] | None = None
) -> list[ConfigReport]:
    """Compare the side directories written by :func:`run_side` (``configs``: default all)."""
    base = json.loads((base_dir / "manifest.json").read_text())["configs"]
    new = json.loads((new_dir / "manifest.json").read_text())["configs"]
    configs = list(configs) if configs is not None else list(dict.fromkeys([*base, *new]))
    return [compare_config(c, base_dir, new_dir, base.get(c), new.get(c)) for c in configs]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 100 else text[:97] + "..."


def print_report(reports: Sequence[ConfigReport], header: str = "") -> int:
    """Print the comparison; return the exit status (0 no mismatch, 1 mismatches)."""
    if header:
        print(header)
    w = max([22, *(len(r.config) for r in reports)])
    print(
        f"{'config':<{w}} {'kind':<6} {'points base/new':>16} {'expanded':>12} {'compared':>9}"
        f" {'mismatches':>10} {'base s':>8} {'new s':>8}"
    )
    total = Diff(max_details=SHOWN_MISMATCHES)
    for r in reports:
        exp = f"{r.expanded_base}/{r.expanded_new}" if r.expanded_base is not None else "-"
        secs = [
            f"{s:8.1f}" if s is not None else f"{'-':>8}" for s in (r.seconds_base, r.seconds_new)
        ]
        print(
            f"{r.config:<{w}} {r.kind:<6} {f'{r.points_base}/{r.points_new}':>16} {exp:>12}"
            f" {r.compared:>9} {r.diff.total:>10} {secs[0]} {secs[1]}"
        )
        total.merge(r.diff, r.config)
    if total.notes:
        print("notes:")
        for note, n in sorted(total.notes.items()):
            print(f"  {note}" + (f" ({n}x)" if n > 1 else ""))
    compared = sum(r.compared for r in reports)
    if total.total:
        print(
            "mismatches by table and column: "
            + ", ".join(f"{t}.{c}: {n}" for (t, c), n in sorted(total.counts.items()))
        )
        print(f"first {min(SHOWN_MISMATCHES, total.total)} of {total.total} mismatches:")
        for m in total.mismatches[:SHOWN_MISMATCHES]:
            row = "-" if m.row is None else m.row
            print(
                f"  {m.config} | {m.key} | {m.table} | {m.column} | row {row} | "
                f"old {_show(m.old)} | new {_show(m.new)}"
            )
        print(f"FAIL: {total.total} mismatches in {compared} points compared")
        return 1
    print(f"OK: 0 mismatches in {compared} points compared")
    return 0


# ---------------------------------------------------------------------------------------------
# command line


def run_configs(*trees: Path) -> list[str]:
    """Every run config in the trees' config/ (config/published.yaml is data, not a run config)."""
    found = {str(p.relative_to(t)) for t in trees for p in (t / "config").glob("*.yaml")}
    return sorted(found - set(NOT_RUN_CONFIGS))


def _relative(config: str) -> str:
    path = Path(config)
    if path.is_absolute() and path.resolve().is_relative_to(ROOT):
        return str(path.resolve().relative_to(ROOT))
    return config


def _git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SideError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _side_command(
    tree: Path, out: Path, configs: Sequence[str], args: argparse.Namespace
) -> list[str]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "side",
        "--tree",
        str(tree),
        "--out",
        str(out),
        "--jobs",
        str(args.jobs),
        "--configs",
        *configs,
    ]
    if args.limit is not None:
        cmd += ["--limit", str(args.limit)]
    if args.no_workflow_config:
        cmd.append("--no-workflow-config")
    return cmd


def _side_env(tree: Path) -> dict[str, str]:
    path = [str(tree / "src"), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path), "MPLBACKEND": "Agg"}


def side_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="compare_rows.py side", description="Run one side.")
    p.add_argument("--tree", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--configs", nargs="+", required=True)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--limit", type=int)
    p.add_argument("--no-workflow-config", action="store_true")
    a = p.parse_args(argv)
    try:
        run_side(a.tree.resolve(), a.out, a.configs, a.jobs, a.limit, not a.no_workflow_config)
    except SideError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def compare_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(
        prog="compare_rows.py compare", description="Compare the sides kept by --keep DIR."
    )
    p.add_argument("dir", type=Path)
    a = p.parse_args(argv)
    info = json.loads((a.dir / "run.json").read_text()) if (a.dir / "run.json").is_file() else {}
    reports = compare_sides(a.dir / "base", a.dir / "new", info.get("configs"))
    return print_report(reports, info.get("header", ""))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["side"]:
        return side_main(argv[1:])
    if argv[:1] == ["compare"]:
        return compare_main(argv[1:])
    p = argparse.ArgumentParser(
        prog="compare_rows.py",
        description="Run the run configs under REV and under this checkout; compare every "
        "summary, rounds and timeline value (see the module docstring).",
    )
    p.add_argument("--base", required=True, help="the base revision (e.g. the commit before)")
    p.add_argument(
        "--configs",
        nargs="+",
        help="config files (default: every run config in "
        "config/ of either tree; config/published.yaml is data and skipped)",
    )
    p.add_argument("--jobs", type=int, default=2, help="worker processes per side (default 2)")
    p.add_argument("--limit", type=int, help="run only the first N points of each config")
    p.add_argument("--keep", type=Path, help="keep both sides' tables in DIR (base/, new/)")
    p.add_argument(
        "--no-workflow-config",
        action="store_true",
        help="expand the YAML as written (no merge over the Snakefile's configfile, "
        "no schema defaults)",
    )
    args = p.parse_args(argv)
    if args.jobs < 1 or (args.limit is not None and args.limit < 0):
        p.error("--jobs must be >= 1 and --limit >= 0")
    for config in args.configs or ():
        if _relative(config) in NOT_RUN_CONFIGS:
            p.error(f"{config}: published reference data, not a run config")
    if args.keep is not None and args.keep.exists() and any(args.keep.iterdir()):
        p.error(f"--keep {args.keep}: exists and is not empty")
    try:
        sha = _git("rev-parse", "--verify", f"{args.base}^{{commit}}")
    except SideError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="compare_rows-"))
    rows = args.keep.resolve() if args.keep is not None else tmp / "rows"
    base_tree = tmp / "base-tree"
    try:
        _git("worktree", "add", "--detach", "--quiet", str(base_tree), sha)
        configs = (
            [_relative(c) for c in args.configs] if args.configs else run_configs(base_tree, ROOT)
        )
        dirty = (
            " (with uncommitted changes)"
            if _git("status", "--porcelain", "--", "src", "config", "workflow")
            else ""
        )
        header = (
            f"base: {args.base} = {sha[:12]}; new: working tree {ROOT}{dirty}\n"
            f"configs: {' '.join(configs)}; jobs {args.jobs} per side"
            + (f"; first {args.limit} points of each config" if args.limit is not None else "")
        )
        rows.mkdir(parents=True, exist_ok=True)
        (rows / "run.json").write_text(json.dumps({"header": header, "configs": configs}))
        print(header, flush=True)
        for side, tree in (("base", base_tree), ("new", ROOT)):
            print(f"{side} side: {tree}", flush=True)
            t0 = time.perf_counter()
            cmd = _side_command(tree, rows / side, configs, args)
            rc = subprocess.run(cmd, env=_side_env(tree), cwd=tree, check=False).returncode
            print(f"{side} side: {time.perf_counter() - t0:.1f} s", flush=True)
            if rc != 0:
                print(f"error: the {side} side failed (exit {rc})", file=sys.stderr)
                return 2
        return print_report(compare_sides(rows / "base", rows / "new", configs))
    except SideError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if base_tree.exists():
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(base_tree)],
                cwd=ROOT,
                capture_output=True,
                check=False,
            )
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
