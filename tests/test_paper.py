"""The paper target end to end on a reduced paper config (short traces, tiny VMs, few points) in
a temporary directory, plus the experiment expansion and config validation."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import yaml

from migsim import experiments
from migsim.analysis.validation import COLUMNS
from migsim.config import from_mapping

ROOT = Path(__file__).resolve().parents[1]
PAPER_YAML = ROOT / "config" / "paper.yaml"
TEST_SWEEP = ("--configfile", "config/test.yaml")  # a small sweep to parse beside the paper


def reduced_config() -> dict:
    """config/paper.yaml cut down to seconds of work (every section kept)."""
    c = yaml.safe_load(PAPER_YAML.read_text())
    c["wws"].update(workloads=["oltp", "game_server"], memory="64MiB", duration="3s", window="1s")
    c["stop_copy"].update(memories=["512MB"], bandwidths=["128Mbit/s"])
    c["clark_downtime"].update(
        workloads=["oltp", "specweb"], memory="64MiB", bandwidths=["512Mbit/s", "1Gbit/s"],
        rounds=[1, 2], start_first="2s", start_last="4s", start_count=2,
    )  # fmt: skip
    c["clark_ratelimit"]["cases"] = {
        "memory_stress": {
            "workload": "memory_stress",
            "memory": "64MiB",
            "start": "0.5s",
            "params": {"region": "16MiB"},
        }
    }
    c["hines_stress"].update(memory="128MiB", working_sets=["8MiB", "32MiB"])
    c["hines_netperf"].update(memory="64MiB", start="1s")
    c["hines_apps"].update(
        workloads=["netperf", "bittorrent"], memory="64MiB", start="2s", seeds=[0],
        hines_nonpageable="4MiB",
    )  # fmt: skip
    c["closed_form"].update(memory="16MiB", lambdas=[0.2, 0.6], seeds=[0])
    c["figures"]["dpi"] = 60
    return c


# ---------------------------------------------------------------------------------------------
# experiments


@pytest.mark.parametrize("config", [yaml.safe_load(PAPER_YAML.read_text()), reduced_config()])
def test_every_run_of_every_experiment_is_a_valid_config(config):
    for exp in experiments.EXPERIMENTS:
        parts = experiments.experiment_parts(config, exp)
        assert parts
        for part in parts:
            runs = experiments.experiment_runs(config, exp, part)
            assert runs, (exp, part)
            for run in runs:
                assert run["labels"]["experiment"] == exp
                from_mapping(run["mapping"])


def test_clark_downtime_runs_cover_every_point():
    c = yaml.safe_load(PAPER_YAML.read_text())
    sec = c["clark_downtime"]
    runs = experiments.experiment_runs(c, "clark_downtime", "oltp")
    starts = experiments.start_times(sec)
    assert len(starts) == sec["start_count"]
    assert len(runs) == len(sec["bandwidths"]) * len(starts) * (len(sec["rounds"]) + 1)
    pre = [r for r in runs if r["labels"]["n_rounds"] > 0]
    assert all(r["mapping"]["strategy"]["stop_pages"] == 0 for r in pre)
    assert all(r["mapping"]["strategy"]["dsb"] is False for r in runs)


def test_unknown_experiment_and_part():
    c = reduced_config()
    with pytest.raises(ValueError, match="unknown experiment"):
        experiments.experiment_parts(c, "teleport")
    with pytest.raises(ValueError, match="unknown part"):
        experiments.experiment_runs(c, "hines_apps", "quake")


# ---------------------------------------------------------------------------------------------
# end to end


@pytest.fixture(scope="module")
def run_paper(tmp_path_factory, copy_workflow, snakemake) -> Path:
    wd = copy_workflow(tmp_path_factory.mktemp("paper"), reduced_config())
    snakemake(wd, *TEST_SWEEP, "--cores", "2", "paper")
    return wd


FIGURES = [
    "clark_fig2_wws",
    "clark_figs3-6_downtime_oltp",
    "clark_figs3-6_downtime_specweb",
    "clark_sec6_ratelimit",
    "hines_figs4-6_stress",
    "hines_figs9-10_netperf",
    "hines_figs12-15_apps",
    "hines_figs12-15_faults",
    "closed_form_model",
]


@pytest.mark.slow
def test_paper_figures_exist(run_paper):
    figs = run_paper / "results" / "paper" / "figures"
    for name in FIGURES:
        assert (figs / f"{name}.pdf").read_bytes().startswith(b"%PDF"), name
        assert (figs / f"{name}.png").stat().st_size > 5000, name
    logs = list((run_paper / "results" / "logs" / "paper").rglob("*.log"))
    benchmarks = list((run_paper / "results" / "benchmarks" / "paper").rglob("*.tsv"))
    assert len(logs) == len(benchmarks) > len(FIGURES)


@pytest.mark.slow
def test_validation_has_every_published_row(run_paper):
    published = yaml.safe_load((ROOT / "config" / "published.yaml").read_text())
    ids = [s["id"] for s in published["statements"]]
    table = pl.read_csv(run_paper / "results" / "validation.csv")
    assert table.columns == list(COLUMNS)
    assert table["id"].to_list() == ids
    assert set(table["pass"].to_list()) <= {True, False}
    # rows whose experiment ran in the reduced config are reproduced (not NaN)
    ok = table.filter(
        pl.col("id").is_in(["stop_copy_128", "closed_form_pages", "no_dsb_sends_all_memory"])
    )
    assert ok["reproduced"].is_not_nan().all()
    assert ok.filter(pl.col("id") == "stop_copy_128")["pass"].item()
    md = (run_paper / "results" / "validation.md").read_text()
    for i in ids:
        assert f"| {i} |" in md
    assert "clark2005" in md and "hines2009" in md


@pytest.mark.slow
def test_second_run_schedules_nothing(run_paper, snakemake):
    proc = snakemake(run_paper, *TEST_SWEEP, "-n", "--cores", "2", "paper")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_bad_paper_config_fails_naming_the_key(tmp_path, copy_workflow, snakemake):
    c = reduced_config()
    c["hines_stress"]["working_set"] = ["8MiB"]
    wd = copy_workflow(tmp_path / "bad", c)
    proc = snakemake(wd, *TEST_SWEEP, "-n", "--cores", "1", "paper", check=False)
    assert proc.returncode != 0
    assert "working_set" in proc.stdout + proc.stderr
