"""Sweep expansion, validation, batching, fingerprints and Parquet writing."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import jsonschema
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml

from migsim import sweep
from migsim.config import default_strategy, from_mapping, strategy_options
from migsim.engine.result import ROUNDS_SCHEMA, SUMMARY_SCHEMA, TIMELINE_SCHEMA
from migsim.registry import strategy_names

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
CONFIGS = sorted(
    p for p in (ROOT / "config").glob("*.yaml") if "sweep" in (yaml.safe_load(p.read_text()) or {})
)

BASE = {
    "sweep": {
        "workloads": ["idle", "uniform"],
        "variants": ["sc", "pc"],
        "bandwidths": ["1Gbit/s", "10Gbit/s"],
        "memory": ["8MiB"],
        "seeds": [0, 1, 2],
    },
    "variants": {
        "sc": {"strategy": "stop_and_copy"},
        "pc": {"strategy": "pre_copy", "max_rate": "100Gbit/s"},
        "unused": {"strategy": "hybrid"},
    },
    "workloads": {"uniform": {"start": "1s", "params": {"rate": 500}}},
    "vm": {"state": "64KiB"},
}


def base():
    return copy.deepcopy(BASE)


def test_expand_crosses_lists_in_order():
    points = sweep.expand(base())
    assert len(points) == 2 * 2 * 2 * 1 * 3
    assert len({p.id for p in points}) == len(points)
    assert points[0].id == "idle/sc/1Gbit/s/8MiB/s0"
    assert [p.seed for p in points[:3]] == [0, 1, 2]
    p = next(p for p in points if p.workload == "uniform" and p.variant == "pc")
    cfg = p.config()
    assert cfg.workload.name == "uniform" and cfg.workload.start == 1.0
    assert cfg.workload.param_dict() == {"rate": 500}
    assert cfg.strategy.name == "pre_copy" and cfg.strategy.max_rate == 100e9
    assert cfg.vm.memory_bytes == 8 * 2**20 and cfg.vm.state_bytes == 64 * 2**10


def test_expand_all_variants_when_list_absent():
    cfg = base()
    del cfg["sweep"]["variants"]
    assert {p.variant for p in sweep.expand(cfg)} == {"sc", "pc", "unused"}


def test_workload_alias_uses_generator_name():
    cfg = base()
    cfg["sweep"]["workloads"] = ["busy"]
    cfg["workloads"]["busy"] = {"name": "uniform", "params": {"rate": 10}}
    points = sweep.expand(cfg)
    sweep.check_points(points)
    assert {p.workload for p in points} == {"busy"}
    assert points[0].config().workload.name == "uniform"


# errors in the sweep's own structure (expand) ...
SWEEP_ERRORS = [
    (lambda c: c["sweep"]["variants"].append("nope"), "sweep.variants: 'nope' is not defined"),
    (lambda c: c["sweep"]["bandwidths"].append("fast"), "sweep.bandwidths: 'fast'"),
    (lambda c: c["sweep"]["memory"].append("8MiB"), "sweep.memory: values must be unique"),
    (lambda c: c["sweep"].update(seeds=[]), "sweep.seeds: the list is empty"),
    (lambda c: c["variants"]["pc"].pop("strategy"), "variants.pc.strategy is missing"),
    (lambda c: c["sweep"]["workloads"].append("a/b"), "must match"),
]
# ... and in the run config of a point (check_points), named by the config key that holds it
POINT_ERRORS = [
    (lambda c: c["variants"]["pc"].update(rate_limit="sometimes"), "variants.pc: strategy.rate_limit: 'sometimes' is not one of fixed, dynamic"),
    (lambda c: c["variants"]["pc"].update(warp=9), "variants.pc: unknown key strategy.warp; allowed keys:"),
    (lambda c: c["variants"]["pc"].update(max_rounds=0), "variants.pc: strategy.max_rounds"),
    (lambda c: c["sweep"]["workloads"].append("quake"), "workloads.quake: workload.name: unknown workload 'quake'; allowed:"),
    (lambda c: c["workloads"]["uniform"]["params"].update(speed=1), "workloads.uniform: unknown key workload.speed for uniform; allowed keys: rate, pages"),
    (lambda c: c["vm"].update(page_size=1000), "vm.page_size"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "message"), SWEEP_ERRORS + POINT_ERRORS)
def test_sweep_errors_name_the_config_key(edit, message):
    cfg = base()
    edit(cfg)
    with pytest.raises(sweep.SweepError) as info:
        sweep.check_points(sweep.expand(cfg))
    assert message in str(info.value)


def test_batches_and_json_roundtrip():
    points = sweep.expand(base())
    groups = sweep.batches(points, 4)
    assert set(groups) == {(w, v) for w in ("idle", "uniform") for v in ("sc", "pc")}
    assert [len(b) for b in groups[("idle", "sc")]] == [4, 2]
    assert sum(len(b) for bs in groups.values() for b in bs) == len(points)
    assert sweep.batch_ids(3) == ["000", "001", "002"]
    text = sweep.points_to_json(groups[("uniform", "pc")][0])
    assert sweep.points_from_json(text) == groups[("uniform", "pc")][0]
    assert sweep.points_to_json(sweep.points_from_json(text)) == text
    with pytest.raises(sweep.SweepError, match=r"simulate\.batch_size"):
        sweep.batches(points, 0)


def test_fingerprints_separate_engine_from_analysis(tmp_path):
    import migsim

    pkg = tmp_path / "migsim"
    shutil.copytree(Path(migsim.__file__).parent, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    eng, fig = sweep.engine_fingerprint(pkg), sweep.analysis_fingerprint("figures", root=pkg)
    assert eng == sweep.engine_fingerprint(pkg) and len(eng) == 16
    (pkg / "analysis" / "figures.py").write_text("# plotting changed\n", encoding="utf-8")
    assert sweep.engine_fingerprint(pkg) == eng
    assert sweep.analysis_fingerprint("figures", root=pkg) != fig
    assert sweep.analysis_fingerprint("tables", root=pkg) == sweep.analysis_fingerprint(
        "tables", root=Path(migsim.__file__).parent
    )
    (pkg / "engine" / "core.py").write_text("# engine changed\n", encoding="utf-8")
    assert sweep.engine_fingerprint(pkg) != eng


def test_run_batch_writes_partitioned_parquet_with_provenance(tmp_path):
    points = [p for p in sweep.expand(base()) if p.bandwidth == "10Gbit/s"]
    out = {}
    for (w, v), groups in sweep.batches(points, 10).items():
        for name in ("runs", "rounds", "timeline"):
            path = tmp_path / name / f"workload={w}" / f"variant={v}" / "part-000.parquet"
            out.setdefault(name, []).append(path)
        stats = sweep.run_points(groups[0], *(out[n][-1] for n in ("runs", "rounds", "timeline")))
        assert stats["runs"] == 3 and stats["engine_s"] <= stats["wall_s"]
    assert not list(tmp_path.rglob("*.tmp"))
    runs = pl.scan_parquet(tmp_path / "runs", hive_partitioning=True).collect()
    assert runs.height == len(points)
    assert set(SUMMARY_SCHEMA.names) <= set(runs.columns)
    assert {"variant", "bandwidth", "memory", "point", "generator"} <= set(runs.columns)
    assert set(runs["variant"]) == {"sc", "pc"} and set(runs["seed"]) == {0, 1, 2}
    sc = runs.filter(pl.col("variant") == "sc")
    assert (sc["downtime_s"] == sc["total_time_s"]).all()
    rounds = pl.scan_parquet(tmp_path / "rounds", hive_partitioning=True).collect()
    timeline = pl.scan_parquet(tmp_path / "timeline", hive_partitioning=True).collect()
    assert set(ROUNDS_SCHEMA.names) <= set(rounds.columns)
    assert set(TIMELINE_SCHEMA.names) <= set(timeline.columns)
    assert set(timeline["point"]) == set(runs["point"])
    meta = pq.read_schema(out["runs"][0]).metadata
    configs = json.loads(meta[b"migsim.configs"])
    assert [c["seed"] for c in configs] == json.loads(meta[b"migsim.seeds"]) == [0, 1, 2]
    libs = json.loads(meta[b"migsim.libraries"])
    assert {"migsim", "numpy", "simpy", "polars"} <= set(libs)
    assert meta[b"migsim.version"].decode() == libs["migsim"]
    for path in out["timeline"] + out["rounds"]:
        assert b"migsim.configs" in pq.read_schema(path).metadata


# ---------------------------------------------------------------------------------------------
# the JSON schema of the workflow config


def _validator():
    return jsonschema.Draft202012Validator(SCHEMA)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_files_are_valid(path):
    config = yaml.safe_load(path.read_text())
    _validator().validate(config)
    points = sweep.expand({**{"workloads": {}, "variants": {}}, **config})
    sweep.check_points(points)
    assert points


def test_schema_describes_every_key_with_a_default():
    def walk(node, where):
        if not isinstance(node, dict):
            return
        for key, sub in (node.get("properties") or {}).items():
            assert "description" in sub, f"{where}.{key} has no description"
            assert "default" in sub, f"{where}.{key} has no default"
            walk(sub, f"{where}.{key}")
        for key in ("additionalProperties", "items"):
            if isinstance(node.get(key), dict):
                walk(node[key], where)

    walk(SCHEMA, "config")
    for name, sub in SCHEMA["$defs"].items():
        walk(sub, name)


def test_schema_variant_options_match_the_strategy_registry():
    variant = SCHEMA["$defs"]["variant"]
    assert variant["properties"]["strategy"]["enum"] == list(strategy_names())
    for name in strategy_names():
        props = SCHEMA["$defs"][f"strategy_{name}"]["properties"]
        options = strategy_options(name)
        assert set(props) - {"strategy", "description"} == set(options), name
        defaults = default_strategy(name)
        for key in options:
            cfg = from_mapping({"strategy": {"name": name, key: props[key]["default"]}})
            assert getattr(cfg.strategy, key) == pytest.approx(getattr(defaults, key)), key
            if "enum" in props[key]:
                for value in props[key]["enum"]:
                    from_mapping({"strategy": {"name": name, key: value}})


def test_schema_rejects_unknown_key_and_bad_enum():
    config = yaml.safe_load((ROOT / "config/test.yaml").read_text())
    bad = copy.deepcopy(config)
    bad["sweep"]["bandwith"] = ["1Gbit/s"]
    errors = list(_validator().iter_errors(bad))
    assert any("bandwith" in e.message for e in errors)
    bad = copy.deepcopy(config)
    bad["variants"]["pre_copy"]["scan_order"] = "zigzag"
    errors = list(_validator().iter_errors(bad))
    assert any("zigzag" in e.message and "sequential" in e.message for e in errors)
