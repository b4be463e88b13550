"""tools/compare_rows.py: the comparison rules on small hand-made tables, and (marked slow) the
script end to end: HEAD against the working tree on the first points of config/test.yaml."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "compare_rows.py"


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_rows", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


cr = _load_tool()


def rounds_table(sent: list[float]) -> pa.Table:
    """Two points, ``a`` with 2 rows and ``b`` with 3, in the layout the side runner writes."""
    return pa.table(
        {
            "_key": ["a", "a", "b", "b", "b"],
            "_row": pa.array([0, 1, 0, 1, 2], pa.int64()),
            "phase": ["precopy", "stop_copy", "precopy", "precopy", "stop_copy"],
            "sent": pa.array([10, 2, 7, 5, 1], pa.int64()),
            "duration_s": pa.array(sent, pa.float64()),
            "throttle": pa.array([None, 0.5, np.nan, np.nan, None], pa.float64()),
        }
    )


SENT = [0.1, 0.02, 0.3, 0.25, 0.01]


def test_identical_tables_have_no_mismatch_nan_and_null_included():
    diff = cr.compare_tables(rounds_table(SENT), rounds_table(SENT), "rounds")
    assert diff.total == 0
    assert diff.mismatches == []


def test_one_differing_value_is_reported_exactly():
    changed = list(SENT)
    changed[3] = float(np.nextafter(SENT[3], 1.0))  # one ulp: bit for bit, not approximately
    diff = cr.compare_tables(rounds_table(SENT), rounds_table(changed), "rounds")
    assert diff.mismatches == [cr.Mismatch("b", "rounds", "duration_s", 1, SENT[3], changed[3])]
    assert diff.total == 1


def test_signed_zero_differs_and_rows_are_matched_by_key_not_position():
    base = rounds_table(SENT)
    new = rounds_table([*SENT[:4], -0.0]).take([2, 3, 4, 0, 1])  # other order, one -0.0
    diff = cr.compare_tables(rounds_table([*SENT[:4], 0.0]), new, "rounds")
    assert [(m.key, m.column, m.row) for m in diff.mismatches] == [("b", "duration_s", 2)]
    assert cr.compare_tables(base, base.take([4, 3, 2, 1, 0]), "rounds").total == 0


def test_a_missing_row_and_a_missing_column_are_mismatches():
    base = rounds_table(SENT)
    new = base.slice(0, 4).drop_columns(["throttle"])
    diff = cr.compare_tables(base, new, "rounds")
    found = {(m.key, m.column, m.old, m.new) for m in diff.mismatches}
    assert found == {("*", "throttle", "column present", "column missing"), ("b", "(rows)", 3, 2)}


def test_a_column_missing_in_every_part_counts_once():
    base, new = rounds_table(SENT), rounds_table(SENT).drop_columns(["throttle"])
    total = cr.Diff()
    for _ in range(3):  # three parts of the same config
        total.merge(cr.compare_tables(base, new, "rounds"), "config/test.yaml")
    assert total.total == 1
    assert [(m.config, m.column) for m in total.mismatches] == [("config/test.yaml", "throttle")]


def summary_table(config: dict, version: str = "0.1.0") -> pa.Table:
    return pa.table(
        {
            "_key": ["p"],
            "_row": pa.array([0], pa.int64()),
            "downtime_s": [0.25],
            "migsim_version": [version],
            "config_json": [json.dumps(config, sort_keys=True)],
        }
    )


BASE_CONFIG = {
    "strategy": {"name": "pre_copy", "max_rounds": 30, "push": True},
    "vm": {"memory_bytes": 2**25},
    "seed": 0,
}


def compare_summaries(new_config: dict, version: str = "0.1.0") -> Any:
    return cr.compare_tables(
        summary_table(BASE_CONFIG),
        summary_table(new_config, version),
        "summary",
        ignore=["migsim_version"],
        json_columns=["config_json"],
    )


def test_config_json_may_drop_a_key():
    dropped = {**BASE_CONFIG, "strategy": {"name": "pre_copy", "max_rounds": 30}}
    assert cr.compare_config_json(
        json.dumps(BASE_CONFIG), json.dumps(dropped)
    ) == cr.ConfigJsonDiff(dropped=["strategy.push"])
    diff = compare_summaries(dropped, version="0.2.0")  # migsim_version is not compared
    assert diff.total == 0
    assert list(diff.notes) == [
        "summary.config_json: strategy.push dropped on the new side (allowed)"
    ]


def test_config_json_must_not_change_a_value():
    changed = {**BASE_CONFIG, "strategy": {**BASE_CONFIG["strategy"], "max_rounds": 31}}
    assert cr.compare_config_json(json.dumps(BASE_CONFIG), json.dumps(changed)).changed == [
        ("strategy.max_rounds", 30, 31)
    ]
    diff = compare_summaries(changed)
    assert diff.mismatches == [
        cr.Mismatch("p", "summary", "config_json:strategy.max_rounds", 0, 30, 31)
    ]


def test_config_json_added_key_is_a_note_and_numbers_compare_by_value():
    added = {**BASE_CONFIG, "strategy": {**BASE_CONFIG["strategy"], "max_rounds": 30.0, "x": 1}}
    diff = compare_summaries(added)
    assert diff.total == 0
    assert list(diff.notes) == ["summary.config_json: strategy.x added on the new side"]
    flipped = {**BASE_CONFIG, "strategy": {**BASE_CONFIG["strategy"], "push": 1}}
    assert compare_summaries(flipped).total == 1  # a bool is not the number 1


def test_point_keys_are_readable_and_order_independent():
    a = cr.point_key({"seed": 1, "variant": "v", "experiment": "e", "part": "all", "lam": 0.5})
    b = cr.point_key({"lam": 0.5, "part": "all", "experiment": "e", "variant": "v", "seed": 1})
    assert a == b == "experiment=e part=all variant=v lam=0.5 seed=1"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_head_against_the_working_tree_has_no_mismatch():
    inside = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"], cwd=ROOT, capture_output=True, text=True
    )
    if inside.returncode != 0:
        pytest.skip("not a git checkout")
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--base", "HEAD", "--configs", "config/test.yaml",
         "--limit", "3", "--jobs", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "OK: 0 mismatches in 3 points compared" in out, out
