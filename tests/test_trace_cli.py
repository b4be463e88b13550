"""``migsim trace generate|stats|import`` through the argument parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from migsim.cli_trace import main
from migsim.workloads.tracefile import read_trace


def test_generate_stats_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.parquet"
    argv = ["trace", "generate", "game_server", "--memory", "64MiB", "--duration", "9s"]
    assert main([*argv, "--seed", "4", "--set", "players=16", "--out", str(out)]) == 0
    tr = read_trace(out)
    assert tr.memory_pages == 16384 and tr.span == 9.0 and tr.seed == 4
    assert tr.params["players"] == 16
    again = tmp_path / "g2.parquet"
    assert main([*argv, "--seed", "4", "--set", "players=16", "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()
    capsys.readouterr()
    assert main(["trace", "stats", str(out)]) == 0
    text = capsys.readouterr().out
    assert "dirtied pages/s" in text and "read fraction" in text
    assert "WWS per 8 s window" in text and "d(w)" in text and "\n8.00 " in text
    csv = tmp_path / "u.csv"
    csv.write_text("t_ms,page\n0,3\n5,4\n9.5,3\n")
    imp = tmp_path / "u.parquet"
    assert main(["trace", "import", str(csv), "--memory", "1MiB", "--out", str(imp)]) == 0
    assert read_trace(imp).touches.page.tolist() == [3, 4, 3]


def test_stats_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "n.parquet"
    assert (
        main(
            [
                "trace",
                "generate",
                "game_server",
                "--memory",
                "64MiB",
                "--duration",
                "9",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    png = tmp_path / "n.png"
    assert main(["trace", "stats", str(out), "--plot", str(png)]) == 0
    assert png.stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "nosuch", "--out", "X"], "unknown workload 'nosuch'"),
        (["generate", "oltp", "--set", "bogus=1", "--out", "X"], "unknown key workload.bogus"),
        (["generate", "oltp", "--set", "tps", "--out", "X"], "expected KEY=VALUE"),
        (["generate", "oltp", "--memory", "lots", "--out", "X"], "cannot parse size"),
        (["generate", "oltp", "--duration", "0", "--out", "X"], "--duration must be > 0"),
        (["stats", "missing.parquet"], "no such trace file"),
        (["import", "missing.csv", "--memory", "1MiB", "--out", "X"], "no such file"),
        (["import", "IN", "--memory", "1MiB", "--out", "X"], "column 'page', row 0"),
    ],
)
def test_bad_input_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    src = tmp_path / "in.csv"
    src.write_text("t,page\n0,999999\n")
    argv = [str(src) if a == "IN" else str(tmp_path / "x.parquet") if a == "X" else a for a in argv]
    argv = [str(tmp_path / a) if a.startswith("missing") else a for a in argv]
    assert main(["trace", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert not (tmp_path / "x.parquet").exists()
