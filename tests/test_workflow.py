"""The Snakemake workflow: lint, formatting, dry runs of every config, config errors, and
(marked slow) the whole workflow end to end on config/test.yaml in a temporary directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml

from migsim.engine.result import ROUNDS_SCHEMA, SUMMARY_SCHEMA, TIMELINE_SCHEMA

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "config").glob("*.yaml"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, copy_workflow) -> Path:
    return copy_workflow(tmp_path_factory.mktemp("wf"))


def test_lint_is_clean(workdir, snakemake):
    proc = snakemake(workdir, "--lint", "--configfile", "config/test.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Lints for" not in out, out


def test_snakefmt_is_clean():
    exe = Path(sys.executable).with_name("snakefmt")
    if not exe.exists():
        pytest.skip("snakefmt not installed")
    proc = subprocess.run(
        [str(exe), "--check", "Snakefile", "workflow"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


DEFAULT_PROFILE = ROOT / "workflow/profiles/default/config.yaml"
# the options Snakemake's command line resolves to, profiles included, as {name: str(value)}
RESOLVED_OPTIONS = (
    "import json, sys\n"
    "from snakemake.cli import parse_args\n"
    "args = parse_args(sys.argv[1:])[1]\n"
    "print(json.dumps({k: str(v) for k, v in vars(args).items()}))"
)


def resolved_options(workdir: Path, *argv: str) -> dict[str, str]:
    """The options of ``snakemake ARGV`` started in ``workdir``, after Snakemake read its
    profiles."""
    proc = subprocess.run(
        [sys.executable, "-c", RESOLVED_OPTIONS, *argv],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.splitlines()[-1])


def test_plain_snakemake_applies_every_setting_of_the_default_profile(workdir):
    """`snakemake` as the README runs it resolves each key of workflow/profiles/default as if
    it were given on the command line (Snakemake finds profiles/default next to the root
    Snakefile through the profiles link), and each key changes what a run without the profile
    would do."""
    profile = yaml.safe_load(DEFAULT_PROFILE.read_text())
    flags = []
    for key, value in profile.items():
        flags += [f"--{key}"] if value is True else [f"--{key}", str(value)]
    plain = resolved_options(workdir)
    explicit = resolved_options(workdir, "--workflow-profile", "none", *flags)
    without = resolved_options(workdir, "--workflow-profile", "none")
    assert {"cores", "rerun-incomplete"} <= set(profile)
    for key in profile:
        name = key.replace("-", "_")
        assert plain[name] == explicit[name] != without[name], (key, plain[name], without[name])


def config_kind(path: Path) -> str:
    """What a file in config/ is: a sweep config (the main schema), the paper target's
    settings, or the published values that paper settings point to."""
    data = yaml.safe_load(path.read_text()) or {}
    if "sweep" in data:
        return "sweep"
    if "statements" in data and "sources" in data:
        return "published"
    if "clark_strategy" in data or "published" in data:
        return "paper"
    return "unknown"


def dry_run_args(path: Path) -> list[str]:
    """The dry run that exercises ``path``."""
    kind = config_kind(path)
    if kind == "sweep":
        return ["--configfile", f"config/{path.name}"]
    if kind == "paper":
        return ["paper", "--config", f"paper_config=config/{path.name}"]
    if kind == "published":
        papers = [p for p in CONFIGS if config_kind(p) == "paper"]
        users = [
            p
            for p in papers
            if yaml.safe_load(p.read_text()).get("published") == f"config/{path.name}"
        ]
        assert users, f"no paper config in config/ names {path.name}"
        return ["paper", "--config", f"paper_config=config/{users[0].name}"]
    pytest.fail(f"config/{path.name}: not a sweep, paper or published-values file")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
def test_dry_run_of_every_config(workdir, config, snakemake):
    proc = snakemake(workdir, "-n", "--cores", "2", *dry_run_args(config))
    out = proc.stdout + proc.stderr
    if config_kind(config) == "sweep":
        assert "simulate" in out and "aggregate" in out and "figure_headline" in out
    else:
        assert "paper_simulate" in out or "Nothing to be done" in out


def test_default_run_never_reads_the_paper_config(tmp_path, copy_workflow, snakemake):
    wd = copy_workflow(tmp_path / "wf")
    (wd / "config" / "paper.yaml").write_text("results: [not yaml\n")
    proc = snakemake(wd, "-n", "--cores", "1", "--configfile", "config/test.yaml")
    assert "simulate" in proc.stdout + proc.stderr
    proc = snakemake(wd, "-n", "--cores", "1", "paper", check=False)
    assert proc.returncode != 0 and "paper.yaml" in proc.stdout + proc.stderr


def _bad(workdir: Path, tmp_path: Path, edit, snakemake) -> str:
    config = yaml.safe_load((ROOT / "config/test.yaml").read_text())
    edit(config)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(workdir, "-n", "--cores", "1", "--configfile", str(path), check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "simulate" not in out.split("Error")[0] or "Job stats" not in out
    return out


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c["sweep"].update(bandwith=["1Gbit/s"]), ["bandwith", "Additional properties"]),
        (lambda c: c["variants"]["pre_copy"].update(scan_order="zigzag"), ["zigzag", "sequential", "random"]),
        (lambda c: c["variants"]["pre_copy"].update(strategy="teleport"), ["teleport", "stop_and_copy", "post_copy"]),
        (lambda c: c["variants"]["hybrid"].update(precopy_rounds=0), ["precopy_rounds"]),
        (lambda c: c["variants"]["pre_copy"].update(min_rate="2Gbit/s", max_rate="1Gbit/s"), ["variants.pre_copy", "strategy.min_rate"]),
        (lambda c: c["sweep"]["workloads"].append("quake"), ["workloads.quake", "unknown workload 'quake'", "oltp"]),
        (lambda c: c["sweep"]["variants"].append("turbo"), ["sweep.variants", "'turbo' is not defined"]),
        (lambda c: c["sweep"].update(bandwidths=["1 parsec"]), ["sweep.bandwidths", "1 parsec"]),
        (lambda c: c["analysis"].update(reference_bandwidth="3Gbit/s"), ["analysis.reference_bandwidth", "1Gbit/s"]),
    ],
)  # fmt: skip
def test_bad_config_fails_before_any_job_naming_the_key(
    workdir, tmp_path, edit, expected, snakemake
):
    out = _bad(workdir, tmp_path, edit, snakemake)
    assert "Job stats" not in out
    for text in expected:
        assert text in out, f"{text!r} not in:\n{out[-3000:]}"


# ---------------------------------------------------------------------------------------------
# end to end


@pytest.fixture(scope="module")
def run_e2e(tmp_path_factory, copy_workflow, snakemake) -> tuple[Path, str]:
    """The workflow run once on config/test.yaml, and the output of a dry run right after."""
    wd = copy_workflow(tmp_path_factory.mktemp("e2e"))
    snakemake(wd, "--cores", "2", "--configfile", "config/test.yaml")
    again = snakemake(wd, "-n", "--cores", "2", "--configfile", "config/test.yaml")
    return wd, again.stdout + again.stderr


FIGURES = [
    "figures/headline/idle",
    "figures/headline/uniform",
    "figures/bars_reference",
    "figures/service_rate/uniform",
    "figures/decision_map",
    "figures/precopy_rounds",
    "figures/dw",
]


@pytest.mark.slow
def test_e2e_outputs_exist(run_e2e):
    res = run_e2e[0] / "results"
    for fig in FIGURES:
        assert (res / f"{fig}.pdf").read_bytes().startswith(b"%PDF")
        assert (res / f"{fig}.png").stat().st_size > 5000
    for ext in ("csv", "md", "tex"):
        assert (res / f"tables/aggregate.{ext}").stat().st_size > 200
        assert (res / f"tables/winners.{ext}").stat().st_size > 100
    assert r"\toprule" in (res / "tables/aggregate.tex").read_text()
    assert "migsim summary" in (res / "logs/tables.log").read_text()
    benchmarks = list((res / "benchmarks").rglob("*.tsv"))
    logs = list((res / "logs").rglob("*.log"))
    assert len(benchmarks) == len(logs) >= 8 + 2 + 1 + 7 + 1


@pytest.mark.slow
def test_e2e_dataset_schema_and_content(run_e2e):
    res = run_e2e[0] / "results"
    runs = pl.scan_parquet(res / "runs", hive_partitioning=True).collect()
    config = yaml.safe_load((ROOT / "config/test.yaml").read_text())
    sw = config["sweep"]
    n = (
        len(sw["workloads"])
        * len(sw["variants"])
        * len(sw["bandwidths"])
        * len(sw["memory"])
        * len(sw["seeds"])
    )
    assert runs.height == n and runs["point"].n_unique() == n
    assert set(SUMMARY_SCHEMA.names) <= set(runs.columns)
    assert set(runs["variant"]) == set(sw["variants"])
    # stop-and-copy: downtime is the total time
    sc = runs.filter(pl.col("strategy") == "stop_and_copy")
    assert sc.height and (sc["downtime_s"] - sc["total_time_s"]).abs().max() < 1e-12
    # post-copy sends each page at most once: never more pages than pre-copy on the same point
    keys = ["workload", "bandwidth", "memory", "seed"]
    post = runs.filter(pl.col("strategy") == "post_copy").select(
        *keys, post=pl.col("pages_transferred")
    )
    pre = runs.filter(pl.col("strategy") == "pre_copy").select(
        *keys, pre=pl.col("pages_transferred")
    )
    both = post.join(pre, on=keys)
    assert both.height and (both["post"] <= both["pre"]).all()
    # more bandwidth, never a longer stop-and-copy
    sc_bw = sc.group_by("bandwidth_bps").agg(pl.col("total_time_s").mean()).sort("bandwidth_bps")
    assert sc_bw["total_time_s"].is_sorted(descending=True)
    # pre-copy has rounds, live strategies have short downtime
    assert (runs.filter(pl.col("strategy") == "pre_copy")["rounds"] >= 1).all()
    live = runs.filter(pl.col("strategy") != "stop_and_copy")
    assert (live["downtime_s"] < sc["downtime_s"].min()).all()
    # provenance in every file
    for path in (res / "runs").rglob("*.parquet"):
        meta = pq.read_schema(path).metadata
        assert {b"migsim.version", b"migsim.libraries", b"migsim.configs", b"migsim.seeds"} <= set(
            meta
        )
        assert json.loads(meta[b"migsim.libraries"])["simpy"]
    rounds = pl.scan_parquet(res / "rounds", hive_partitioning=True).collect()
    timeline = pl.scan_parquet(res / "timeline", hive_partitioning=True).collect()
    assert set(ROUNDS_SCHEMA.names) <= set(rounds.columns) and rounds.height
    assert set(TIMELINE_SCHEMA.names) <= set(timeline.columns) and timeline.height
    assert not list(res.rglob("*.tmp"))
    # aggregate: mean and CI over the seeds
    agg = pl.read_parquet(res / "aggregate/aggregate.parquet")
    assert agg.height == n // len(sw["seeds"])
    assert (agg["n"] == len(sw["seeds"])).all()
    assert (agg["total_time_s_lo"] <= agg["total_time_s_mean"]).all()
    assert (agg["total_time_s_mean"] <= agg["total_time_s_hi"]).all()
    for name in ("aggregate/aggregate.parquet", "traces/dw/workload=uniform/dw.parquet"):
        assert b"migsim.libraries" in pq.read_schema(res / name).metadata
    win = pl.read_parquet(res / "aggregate/winners.parquet")
    assert set(win["winner"]) <= set(sw["variants"])


@pytest.mark.slow
def test_e2e_second_run_schedules_nothing(run_e2e):
    _, out = run_e2e
    assert "Nothing to be done" in out, out[-3000:]


@pytest.mark.slow
def test_e2e_changed_point_reruns_only_its_batch(run_e2e, tmp_path, snakemake):
    config = yaml.safe_load((ROOT / "config/test.yaml").read_text())
    config["variants"]["hybrid"]["precopy_rounds"] = 2
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(config))
    proc = snakemake(run_e2e[0], "-n", "--cores", "2", "--configfile", str(path))
    counts = _job_counts(proc.stdout + proc.stderr)
    n_workloads = len(config["sweep"]["workloads"])
    assert counts.get("simulate") == n_workloads  # one hybrid batch per workload
    assert "trace_dw" not in counts


def _job_counts(out: str) -> dict[str, int]:
    if "Job stats" not in out:
        return {}
    stats = out[out.index("Job stats") :].split("Reasons")[0]
    rows = (line.split() for line in stats.splitlines()[3:])
    return {r[0]: int(r[1]) for r in rows if len(r) == 2 and r[1].isdigit()}


@pytest.mark.slow
def test_e2e_plotting_change_only_replots(run_e2e, snakemake):
    wd = run_e2e[0]
    script = wd / "workflow/scripts/plot_bars.py"
    original = script.read_text()
    try:
        script.write_text(original + "\n# a plotting change\n")
        proc = snakemake(wd, "-n", "--cores", "2", "--configfile", "config/test.yaml")
    finally:
        script.write_text(original)
    counts = _job_counts(proc.stdout + proc.stderr)
    assert counts.get("figure_bars") == 1
    assert "simulate" not in counts and "aggregate" not in counts, counts


@pytest.mark.slow
def test_e2e_report(run_e2e, snakemake):
    wd = run_e2e[0]
    proc = snakemake(wd, "--configfile", "config/test.yaml", "--report", "results/report.html")
    report = wd / "results/report.html"
    assert report.stat().st_size > 50_000, proc.stdout[-2000:]
