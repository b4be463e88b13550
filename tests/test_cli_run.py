"""`migsim run`: the command-line contract (names, JSON keys, files, errors)."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from migsim.cli import main

JSON_KEYS = {
    "strategy",
    "workload",
    "memory_bytes",
    "bandwidth_bps",
    "seed",
    "total_time_s",
    "downtime_s",
    "pages_transferred",
    "bytes_transferred",
    "rounds",
    "network_faults",
    "app_lost_s",
    "app_degradation_pct",
    "converged",
    "stop_reason",
    "runtime_s",
    "migsim_version",
}

BASE = ["run", "--workload", "uniform", "--memory", "8MiB", "--bandwidth", "128Mbit/s"]


def test_json_output_has_the_contracted_keys(capsys):
    assert main([*BASE, "--strategy", "pre_copy", "--json", "--set", "workload.rate=500"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out.keys() >= JSON_KEYS
    assert out["strategy"] == "pre_copy" and out["memory_bytes"] == 8 * 2**20
    assert out["bandwidth_bps"] == 128e6 and out["seed"] == 0


def test_out_files_are_byte_identical_for_identical_inputs(tmp_path):
    args = [*BASE, "--strategy", "hybrid", "--seed", "7", "--set", "strategy.prepaging=bubble"]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    for name in ("summary", "rounds", "timeline"):
        a = (tmp_path / "a" / f"{name}.parquet").read_bytes()
        b = (tmp_path / "b" / f"{name}.parquet").read_bytes()
        assert a == b, name
    meta = pq.read_schema(tmp_path / "a" / "summary.parquet").metadata
    assert b"migsim.config" in meta and meta[b"migsim.seed"] == b"7"
    assert b"migsim.version" in meta and b"numpy" in meta[b"migsim.libraries"]
    assert not list((tmp_path / "a").glob(".*tmp"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bandwidth", "128Mbats/s"], "unknown rate unit"),
        (["--set", "strategy.max_roundz=3"], "strategy.max_roundz"),
        (["--set", "strategy.scan_order=zigzag"], "sequential, random"),
        (["--set", "strategy.max_rounds=0"], "strategy.max_rounds"),
        (["--set", "link.efficiency=1.5"], "0 < efficiency <= 1"),
        (["--set", "workload.speed=3"], "allowed keys: rate, pages"),
        (["--set", "nosection.key=1"], "unknown section"),
        (["--memory", "1000B"], "vm.memory"),
        (["--workload", "nosuch"], "unknown workload 'nosuch'"),
    ],
)
def test_bad_input_exits_2_naming_the_problem(capsys, args, message):
    argv = [*BASE, "--strategy", "pre_copy", *args]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_console_script_runs():
    proc = subprocess.run(
        [sys.executable, "-m", "migsim.cli", *BASE, "--strategy", "stop_and_copy", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(proc.stdout)
    assert out["downtime_s"] == out["total_time_s"]
