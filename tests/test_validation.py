"""validation.py: pass/fail on values, bands and bounds; the published data file; the table."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
import yaml

from migsim.analysis import validation as v

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "config" / "published.yaml"


@pytest.mark.parametrize(
    ("value", "expect", "passed", "deviation"),
    [
        (32.08, {"value": 32.0, "rel_tol": 0.01}, True, 0.0025),
        (33.0, {"value": 32.0, "rel_tol": 0.01}, False, 0.03125),
        (31.0, {"value": 32.0, "rel_tol": 0.01}, False, -0.03125),
        (1.0, {"value": 1.0, "rel_tol": 0.0}, True, 0.0),
        (1.8, {"band": [1.6, 2.0]}, True, 0.0),
        (1.6, {"band": [1.6, 2.0]}, True, 0.0),
        (2.0, {"band": [1.6, 2.0]}, True, 0.0),
        (1.2, {"band": [1.6, 2.0]}, False, -0.25),
        (2.5, {"band": [1.6, 2.0]}, False, 0.25),
        (5.0, {"min": 4.0}, True, 0.0),
        (3.0, {"min": 4.0}, False, -0.25),
        (0.5, {"max": 1.0}, True, 0.0),
        (1.5, {"max": 1.0}, False, 0.5),
    ],
)
def test_check_values_bands_and_bounds(value, expect, passed, deviation):
    c = v.check(value, expect)
    assert c.passed is passed
    assert c.deviation == pytest.approx(deviation)


@pytest.mark.parametrize("value", [None, math.nan, math.inf])
def test_nothing_reproduced_fails(value):
    c = v.check(value, {"max": 1.0})
    assert not c.passed
    assert math.isnan(c.deviation)


def test_expect_text_and_bad_expectations():
    assert v.expect_text({"value": 32.0, "rel_tol": 0.01}) == "32 ± 1%"
    assert v.expect_text({"band": [1.6, 2.0]}) == "[1.6, 2]"
    assert v.expect_text({"min": 4}) == ">= 4"
    assert v.expect_text({"max": 0.5}) == "<= 0.5"
    with pytest.raises(v.ValidationError, match="value"):
        v.expect_text({"around": 3})
    with pytest.raises(v.ValidationError, match="low edge"):
        v.check(1.0, {"band": [2.0, 1.0]})


def test_published_file_is_well_formed():
    data = v.load_published(PUBLISHED)
    ids = [s["id"] for s in data["statements"]]
    assert len(ids) == len(set(ids)) >= 30
    assert {s["source"] for s in data["statements"]} <= set(data["sources"])
    assert {"clark2005", "hines2009"} <= set(data["sources"])


def test_load_published_names_the_bad_entry(tmp_path):
    data = yaml.safe_load(PUBLISHED.read_text())
    data["statements"][1]["measure"] = "guesswork"
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(v.ValidationError, match=r"statements\[1\].*guesswork"):
        v.load_published(path)
    data = yaml.safe_load(PUBLISHED.read_text())
    data["statements"][2]["id"] = data["statements"][0]["id"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(v.ValidationError, match="duplicate id"):
        v.load_published(path)


def _stop_copy_frame(seconds: float) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "memory_bytes": [512_000_000],
            "bandwidth_bps": [128e6],
            "total_time_s": [seconds],
        }
    )


def _published(expect):
    return {
        "sources": {"x": "A paper."},
        "statements": [
            {
                "id": "sc",
                "source": "x",
                "statement": "Stop-and-copy takes 32 s",
                "measure": "stop_copy_time",
                "args": {"memory": "512MB", "bandwidth": "128Mbit/s"},
                "expect": expect,
                "unit": "s",
            },
            {
                "id": "missing",
                "source": "x",
                "statement": "Needs results that are absent",
                "measure": "clark_downtime",
                "args": {"workload": "oltp", "bandwidth": "128Mbit/s", "rounds": 1},
                "expect": {"band": [1.6, 2.0]},
            },
        ],
    }


def test_validate_builds_every_row_with_every_column(tmp_path):
    table = v.validate(
        _published({"value": 32.0, "rel_tol": 0.01}), {"stop_copy": _stop_copy_frame(32.1)}
    )
    assert table.columns == list(v.COLUMNS)
    assert table["id"].to_list() == ["sc", "missing"]
    assert table["pass"].to_list() == [True, False]
    assert table["reproduced"][0] == 32.1
    assert math.isnan(table["reproduced"][1])
    assert table["citation"][0] == "A paper."
    failing = v.validate(
        _published({"value": 32.0, "rel_tol": 0.001}), {"stop_copy": _stop_copy_frame(32.1)}
    )
    assert failing["pass"].to_list() == [False, False]
    md, csv = tmp_path / "v.md", tmp_path / "v.csv"
    v.write_markdown(table, md, {"x": "A paper."})
    v.write_csv(table, csv)
    text = md.read_text()
    assert "1 of 2 published statements reproduced" in text
    assert "| sc | x |" in text and "**FAIL**" in text
    assert pl.read_csv(csv).columns == list(v.COLUMNS)


def _clark_frame() -> pl.DataFrame:
    rows = []
    for bw, sc in ((128e6, 32.0), (256e6, 16.0)):
        rows.append({"part": "w", "bandwidth_bps": bw, "n_rounds": 0, "downtime_s": sc})
        for n, d in ((1, 2.0), (2, 1.0), (3, 0.6), (4, 0.5)):
            rows.append(
                {"part": "w", "bandwidth_bps": bw, "n_rounds": n, "downtime_s": d * 128e6 / bw}
            )
        rows.append({"part": "u", "bandwidth_bps": bw, "n_rounds": 0, "downtime_s": sc})
        rows.append(
            {"part": "u", "bandwidth_bps": bw, "n_rounds": 1, "downtime_s": 1.0 * 128e6 / bw}
        )
    return pl.DataFrame(rows)


def test_clark_measures():
    frames = {"clark_downtime": _clark_frame()}
    assert v.clark_downtime(frames, "w", "128Mbit/s", 1) == 2.0
    assert v.clark_downtime(frames, "w", "256Mbit/s", 2) == 0.5
    assert v.clark_reduction(frames, "w") == pytest.approx(16.0)
    assert v.clark_reduction(frames, "u") == pytest.approx(32.0)
    assert v.clark_reduction_vs_others(frames, "w") == pytest.approx(0.5)
    # gains 1.0, 0.4, 0.1: ratios 0.4 and 0.25
    assert v.clark_diminishing(frames, "w") == pytest.approx(0.4)
