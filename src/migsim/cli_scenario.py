"""``migsim scenario ...``: validate and run scenario files (docs/scenarios.md).

- ``migsim scenario validate FILE``: check the file (schema, names, units, cycles); simulates
  nothing, writes nothing; prints one line per migration.
- ``migsim scenario run FILE [--out DIR] [--json]``: run every migration in one simulation;
  prints a table (or, with ``--json``, one JSON object per migration per line) and with
  ``--out`` writes migrations, rounds, timeline and link_rates Parquet files into DIR.

Exit codes: 0 success, 2 bad input (the one-line message names the key).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

__all__ = ["add_scenario_commands"]


def _load(cmd: str, path: str):
    from migsim.config import ConfigError
    from migsim.scenario import load_scenario

    try:
        return load_scenario(path)
    except ConfigError as exc:
        print(f"migsim scenario {cmd}: error: {path}: {exc}", file=sys.stderr)
        return None


def _cmd_validate(args: argparse.Namespace) -> int:
    scn = _load("validate", args.file)
    if scn is None:
        return 2
    for p, v, src, dst in zip(scn.planned, scn.vm, scn.source, scn.target, strict=True):
        if p.after:
            when = f"after {', '.join(scn.planned[j].name for j in p.after)}"
        elif p.pool:
            when = f"from {p.at:g} s, {scn.pools[p.pool]} at a time ({p.pool})"
        else:
            when = f"at {p.at:g} s"
        print(f"{p.name}: {v} {src} -> {dst}, {p.config.strategy.name}, {when}")
    print(f"{args.file}: valid ({len(scn.planned)} migrations)")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from migsim.scenario import run_scenario

    scn = _load("run", args.file)
    if scn is None:
        return 2
    res = run_scenario(scn)
    if args.out:
        res.write(args.out)
    if args.json:
        for row in res.to_json():
            print(json.dumps(row, sort_keys=True, default=str))
        return 0
    cols = [
        ("migration", "{}"),
        ("vm", "{}"),
        ("source", "{}"),
        ("target", "{}"),
        ("strategy", "{}"),
        ("outcome", "{}"),
        ("started_at_s", "{:.4f}"),
        ("total_time_s", "{:.4f}"),
        ("downtime_s", "{:.5f}"),
        ("bytes_transferred", "{:,}"),
    ]
    rows = res.migrations().select([c for c, _ in cols]).to_pylist()
    cells = [[c for c, _ in cols]] + [[f.format(r[c]) for c, f in cols] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    for row in cells:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    for e in res.evacuations().to_pylist():
        print(
            f"evacuation {e['evacuation']}: {e['vms']} VMs off {e['host']}, {e['concurrency']} at "
            f"a time: empty after {e['time_to_empty_s']:.4f} s; downtime sum "
            f"{e['downtime_sum_s']:.5f} s, max {e['downtime_max_s']:.5f} s; "
            f"{e['bytes_moved']:,} bytes; {e['not_converged']} not converged"
        )
    return 0


def add_scenario_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``scenario validate|run`` to a ``migsim`` subparsers object."""
    scenario = subparsers.add_parser("scenario", help="validate and run scenario files")
    sub = scenario.add_subparsers(dest="scenario_command", required=True)
    val = sub.add_parser("validate", help="check a scenario file; simulates nothing")
    val.add_argument("file", help="scenario YAML file")
    val.set_defaults(func=_cmd_validate)
    run = sub.add_parser("run", help="run every migration of a scenario file")
    run.add_argument("file", help="scenario YAML file")
    run.add_argument("--out", help="write the Parquet tables into DIR")
    run.add_argument("--json", action="store_true", help="one JSON object per migration")
    run.set_defaults(func=_cmd_run)
    return scenario
