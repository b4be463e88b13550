"""The ``migsim`` command line: ``migsim run``, ``migsim trace ...`` and ``migsim scenario ...``.

Exit codes: 0 success, 2 bad input (unknown key, bad unit, out-of-range value, bad trace).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "write_result"]


def _sections_with(key: str, strategy: str) -> list[str]:
    """Where a bare ``--set KEY=...`` belongs (for a hint): ``strategy.KEY`` if it is an
    option of the run's strategy (or of which others), ``vm.KEY``, ``link.KEY``, ...."""
    from migsim.config import section_keys, strategy_options
    from migsim.registry import strategy_names

    out = []
    owners = [n for n in strategy_names() if key in strategy_options(n)]
    if strategy in owners:
        out.append(f"strategy.{key}")
    elif owners:
        out.append(f"strategy.{key} (an option of {', '.join(owners)})")
    out += [f"{sec}.{key}" for sec in ("vm", "link", "engine") if key in section_keys(sec)]
    return out


def _parse_set(items: list[str], strategy: str = "") -> dict[str, dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {}
    allowed = ("strategy", "workload", "link", "vm", "engine")
    for item in items:
        key, sep, value = item.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or not name:
            hint = _sections_with(key, strategy) if sep and not dot else []
            also = f"; did you mean {' or '.join(hint)}?" if hint else ""
            raise ValueError(f"--set {item!r}: expected SECTION.KEY=VALUE{also}")
        if section not in allowed:
            raise ValueError(
                f"--set {item!r}: unknown section {section!r}; allowed: {', '.join(allowed)}"
            )
        sections.setdefault(section, {})[name] = value
    return sections


def build_config(args: argparse.Namespace):
    """The validated RunConfig of ``migsim run`` arguments."""
    from migsim.config import from_mapping

    sets = _parse_set(args.set or [], args.strategy)
    mapping: dict[str, Any] = {
        "strategy": {"name": args.strategy, **sets.get("strategy", {})},
        "workload": {"name": args.workload, **sets.get("workload", {})},
        "vm": {"memory": args.memory, **sets.get("vm", {})},
        "link": {"bandwidth": args.bandwidth, "rtt": args.rtt, **sets.get("link", {})},
        "engine": sets.get("engine", {}),
        "seed": args.seed,
    }
    return from_mapping(mapping)


def write_result(result, out: str | os.PathLike[str]) -> list[Path]:
    """Write summary.parquet, rounds.parquet and timeline.parquet into ``out``, atomically
    (each file is written to a temporary name and renamed), with provenance metadata."""
    from migsim.engine.result import provenance_metadata
    from migsim.io import write_parquet_atomic

    out = Path(out)
    meta = provenance_metadata(result.config)
    return [
        write_parquet_atomic(result.summary_table(), out / "summary.parquet"),
        write_parquet_atomic(result.rounds, out / "rounds.parquet", metadata=meta),
        write_parquet_atomic(result.timeline, out / "timeline.parquet", metadata=meta),
    ]


def _cmd_run(args: argparse.Namespace) -> int:
    from migsim.config import ConfigError
    from migsim.engine.core import simulate
    from migsim.units import UnitError

    try:
        cfg = build_config(args)
        result = simulate(cfg)
    except (ConfigError, UnitError, ValueError) as exc:
        print(f"migsim run: error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        write_result(result, args.out)
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        s = result.summary
        print(
            f"{s['strategy']} / {s['workload']}: total {s['total_time_s']:.4f} s, downtime "
            f"{s['downtime_s']:.4f} s, {s['pages_transferred']} pages "
            f"({s['bytes_transferred']} B), {s['rounds']} rounds, {s['network_faults']} faults, "
            f"app lost {s['app_lost_s']:.4f} s ({s['app_degradation_pct']:.2f}%), "
            f"stop: {s['stop_reason']}  [{result.runtime_s:.3f} s wall]"
        )
    return 0


def strategy_help() -> str:
    """The options of every registered strategy, with units and defaults (``run --help``).
    A strategy that has every option of one listed before it says so instead of repeating
    them (hybrid: those of pre_copy and post_copy)."""
    from migsim.config import strategy_listing

    def rows(options) -> list[str]:
        out = []
        for o in options:
            unit = "|".join(o["choices"]) if o["choices"] else o["unit"]
            out.append(f"    {o['name']} = {o['default_text']} [{unit}]: {o['help']}")
        return out

    common, strategies = strategy_listing()
    lines = [
        "strategy options: --set strategy.KEY=VALUE (rates, durations and sizes with their "
        "unit, e.g. 300ms, 100Mbit/s)",
        "  every strategy:",
        *rows(common),
    ]
    for st in strategies:
        lines.append(f"  {st.name}: {st.doc}")
        if st.shared:
            lines.append(f"    (every option of {' and '.join(st.shared)}, and:)")
        lines += rows(st.rest) if st.rest or st.shared else ["    (the options of every strategy)"]
    return "\n".join(lines)


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``migsim``."""
    from migsim import __version__
    from migsim.registry import strategy_names

    parser = argparse.ArgumentParser(prog="migsim", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"migsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="simulate one migration",
        epilog=strategy_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--strategy", required=True, choices=strategy_names())
    run.add_argument("--workload", required=True, help="generator name or TRACE.parquet")
    run.add_argument("--memory", default="512MiB", help="VM memory, e.g. 512MiB (default)")
    run.add_argument("--bandwidth", default="1Gbit/s", help="link bandwidth, e.g. 128Mbit/s")
    run.add_argument("--rtt", default="0.2ms", help="round-trip time (default 0.2ms)")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="override an option; sections: strategy, workload, link, vm, engine",
    )
    run.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    run.add_argument("--out", help="write summary/rounds/timeline Parquet files into DIR")
    run.set_defaults(func=_cmd_run)
    from migsim.cli_scenario import add_scenario_commands
    from migsim.cli_trace import add_trace_commands

    add_trace_commands(sub)
    add_scenario_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``migsim`` command."""
    parser = make_parser()
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
