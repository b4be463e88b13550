"""Crash and resume: a sweep on config/test.yaml killed with SIGKILL to its whole process group
while it simulates, aggregates or plots, then resumed with the README's line for after a crash,
gives the result rows, tables and figures of a clean run; and `--cores 1` gives those of
`--cores 2`.

Each kill point is found in Snakemake's own log (a job of that stage has started and not
finished), never by a timer. Every Parquet table is compared row by row, sorted, in every column:
no table holds a wall-clock value (README, Reproducibility); the wall times are only in
results/benchmarks and the logs, which are not compared.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc"),
]

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ("--configfile", "config/test.yaml")
DATASETS = ("runs", "rounds", "timeline")  # hive-partitioned, read whole as the README does


def recovery_commands() -> list[list[str]]:
    """The arguments of each `snakemake` in the README's line for after a crash (one line,
    starting "After a crash", whose code span chains snakemake commands with `&&`)."""
    lines = [
        line
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("After a crash")
    ]
    assert len(lines) == 1, "README needs exactly one line starting 'After a crash'"
    spans = [span for span in re.findall(r"`([^`]+)`", lines[0]) if "snakemake" in span]
    assert spans, lines[0]
    commands = [shlex.split(part) for part in spans[0].split("&&")]
    assert all(cmd[0] == "snakemake" for cmd in commands), spans[0]
    return [cmd[1:] for cmd in commands]


def job_log(text: str) -> tuple[list[str], set[str], set[str]]:
    """From Snakemake's log: the rule of every job started (in order), the rules of the jobs
    running now and the rules of the jobs finished."""
    started: dict[str, str] = {}
    finished: dict[str, str] = {}
    rule = None
    for line in text.splitlines():
        if m := re.fullmatch(r"(?:local)?rule (\w+):", line):
            rule = m[1]
        elif (m := re.fullmatch(r"\s+jobid: (\d+)", line)) and rule:
            started[m[1]] = rule
            rule = None
        elif m := re.match(r"Finished jobid: (\d+) \(Rule: (\w+)\)", line):
            finished[m[1]] = m[2]
    running = {r for job, r in started.items() if job not in finished}
    return list(started.values()), running, set(finished.values())


def simulating(running: set[str], finished: set[str]) -> bool:
    """A simulate job runs and another has finished: the dataset is partly written."""
    return "simulate" in running and "simulate" in finished


def aggregating(running: set[str], finished: set[str]) -> bool:
    return "aggregate" in running


def plotting(running: set[str], finished: set[str]) -> bool:
    """A figure job runs after the aggregate was written: its figures are being drawn."""
    return "aggregate" in finished and any(r.startswith("figure_") for r in running)


def group_alive(pgid: int) -> list[int]:
    """The processes of group ``pgid`` still running (a zombie is dead, only not yet reaped)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        if int(fields[2]) == pgid and fields[0] not in "ZX":
            alive.append(int(stat.parent.name))
    return alive


def kill_sweep_when(
    workdir: Path, stage: Callable[[set[str], set[str]], bool], timeout: float = 300
) -> None:
    """Start `snakemake` on the test config in ``workdir``, in a process group of its own;
    SIGKILL the whole group once ``stage(running, finished)`` holds for the jobs in its log;
    wait until no process of the group runs."""
    out = workdir / "killed.out"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1"}
    with out.open("w") as stream:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snakemake", *CONFIG],
            cwd=workdir,
            stdout=stream,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    try:
        while not stage(*job_log(out.read_text())[1:]):
            if proc.poll() is not None:
                pytest.fail(f"the sweep ended, rc {proc.returncode}, before the kill point")
            if time.monotonic() > deadline:
                pytest.fail(f"no kill point within {timeout} s")
            time.sleep(0.02)
    except BaseException:
        print(out.read_text()[-3000:])
        raise
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        gone = time.monotonic() + 30
        while group_alive(proc.pid) and time.monotonic() < gone:
            time.sleep(0.02)
    assert not group_alive(proc.pid), "a process of the killed sweep still runs"


def result_rows(results: Path) -> dict[str, object]:
    """Every Parquet table under ``results`` as its schema and its rows, sorted (the hive
    datasets read whole, as the README reads them, and file by file), the text of every file
    in tables/ and a hash of every figure file."""
    frames = {
        name: pl.scan_parquet(results / name, hive_partitioning=True).collect() for name in DATASETS
    }
    frames |= {
        path.relative_to(results).as_posix(): pl.read_parquet(path)
        for path in sorted(results.rglob("*.parquet"))
    }
    rows: dict[str, object] = {
        name: (df.schema, sorted(repr(row) for row in df.iter_rows()))
        for name, df in frames.items()
    }
    for path in sorted((results / "tables").iterdir()):
        rows[f"tables/{path.name}"] = path.read_text()
    for path in sorted((results / "figures").rglob("*")):
        if path.is_file():  # PDF and PNG carry no date: a rerun writes the same bytes
            rows[path.relative_to(results).as_posix()] = hashlib.sha256(path.read_bytes()).digest()
    return rows


def assert_same_rows(got: dict[str, object], clean: dict[str, object]) -> None:
    assert sorted(got) == sorted(clean), "a different set of tables or files"
    differ = [name for name in clean if got[name] != clean[name]]
    assert not differ, f"differ from the clean run: {differ}"


@pytest.fixture(scope="module")
def clean_rows(tmp_path_factory, copy_workflow, snakemake) -> dict[str, object]:
    """The rows of one uninterrupted run of the test config on 2 cores."""
    wd = copy_workflow(tmp_path_factory.mktemp("clean"))
    snakemake(wd, "--cores", "2", *CONFIG)
    return result_rows(wd / "results")


@pytest.mark.parametrize(
    "stage", [simulating, aggregating, plotting], ids=["simulate", "aggregate", "plot"]
)
def test_killed_sweep_resumed_as_readme_says_gives_the_clean_rows(
    stage, clean_rows, tmp_path, copy_workflow, snakemake
):
    wd = copy_workflow(tmp_path / "wf")
    kill_sweep_when(wd, stage)
    assert list((wd / ".snakemake/locks").iterdir()), "the killed sweep left no lock"

    for args in recovery_commands():
        proc = snakemake(wd, *args, *CONFIG)
    # the jobs that had finished are kept: only the rest of the sweep runs again
    simulated = job_log(proc.stdout + proc.stderr)[0].count("simulate")
    batches = sum(name.startswith("runs/") for name in clean_rows)
    if stage is simulating:
        assert 0 < simulated < batches
    else:
        assert simulated == 0
    assert_same_rows(result_rows(wd / "results"), clean_rows)


def test_one_core_gives_the_rows_of_two(clean_rows, tmp_path, copy_workflow, snakemake):
    wd = copy_workflow(tmp_path / "wf")
    snakemake(wd, "--cores", "1", *CONFIG)
    assert_same_rows(result_rows(wd / "results"), clean_rows)
