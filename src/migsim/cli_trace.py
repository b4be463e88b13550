"""``migsim trace ...``: generate, inspect and import workload traces.

- ``migsim trace generate NAME [--memory 512MiB] [--duration 60s] [--seed N] [--set KEY=VALUE]
  --out PATH``: write ``duration`` seconds of a generator as a Parquet trace;
- ``migsim trace stats PATH [--plot FILE]``: dirtied pages per second, read/write mix, WWS per
  8 s window and the d(w) table of a trace (optionally a two-panel plot);
- ``migsim trace import FILE.csv|FILE.parquet --memory SIZE --out PATH [--page-size 4096]
  [--span S]``: convert a user's ``(t, page[, is_write])`` or ``(t_ms, page)`` table into a
  validated trace.

Each handler returns an exit code: 0 on success, 2 on bad input (the message, on stderr, names
the problem). :func:`add_trace_commands` adds the commands to the ``migsim`` parser; handlers
are stored as ``func`` in the parsed namespace.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_trace_commands", "main"]


def _err(cmd: str, exc: BaseException | str) -> int:
    print(f"migsim trace {cmd}: error: {exc}", file=sys.stderr)
    return 2


def _cmd_generate(args: argparse.Namespace) -> int:
    from migsim.config import ConfigError, VMSpec, WorkloadSpec
    from migsim.units import UnitError, parse_duration, parse_size
    from migsim.workloads import make_workload
    from migsim.workloads.tracefile import TraceError, write_trace

    try:
        memory = parse_size(args.memory)
        page_size = int(args.page_size)
        if page_size < 1 or memory < page_size or memory % page_size:
            raise ValueError(
                f"--memory {args.memory!r} must be a positive whole number of "
                f"{page_size}-byte pages"
            )
        duration = parse_duration(args.duration)
        if duration <= 0:
            raise ValueError(f"--duration must be > 0, got {args.duration!r}")
        params: list[tuple[str, Any]] = []
        for item in args.set or []:
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ValueError(f"--set {item!r}: expected KEY=VALUE")
            params.append((key.strip(), value.strip()))
        if args.name.endswith(".parquet"):
            raise ValueError("generate takes a generator name; use `trace import` for files")
        spec = WorkloadSpec(name=args.name, params=tuple(params))
        vm = VMSpec(memory_bytes=memory, page_size=page_size)
        wl = make_workload(spec, vm, int(args.seed))
        path = write_trace(wl, args.out, duration)
    except (ConfigError, UnitError, TraceError, ValueError) as exc:
        return _err("generate", exc)
    print(f"wrote {path}: {args.name}, {duration:g} s, {memory} bytes, seed {args.seed}")
    return 0


def _fmt_table(rows: list[dict[str, Any]], cols: list[tuple[str, str, str]]) -> str:
    """A plain-text table: cols are (key, header, format)."""
    cells = [[h for _, h, _ in cols]] + [[format(r[k], f) for k, _, f in cols] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(cols))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in cells
    )


def _cmd_stats(args: argparse.Namespace) -> int:
    from migsim.units import format_size
    from migsim.workloads.tracefile import TraceError, read_trace
    from migsim.workloads.wws import DEFAULT_WINDOWS, d_curve, trace_summary, wws_timeline

    try:
        tr = read_trace(args.path)
    except TraceError as exc:
        return _err("stats", exc)
    tt, span, ps = tr.touches, tr.span, tr.page_size
    s = trace_summary(tt, span)
    print(f"trace {args.path}")
    print(
        f"  generator {tr.generator} {dict(tr.params)} seed {tr.seed}; "
        f"{tr.memory_pages} pages of {ps} B ({format_size(tr.memory_pages * ps)}); "
        f"span {span:g} s"
    )
    print(
        f"  in use {int(tr.in_use.sum())} pages, zero {int(tr.zero_pages.sum())} pages; service "
        f"{tr.service.baseline:g} {tr.service.unit}, network {tr.service.network_demand_bps:g} bit/s"
    )
    print(
        f"  touches {int(s['touches'])}: writes {int(s['writes'])}, reads {int(s['reads'])} "
        f"(read fraction {s['read_fraction']:.3f}); {s['write_touches_per_s']:.0f} writes/s"
    )
    print(
        f"  dirtied pages/s (distinct pages written per 1 s window): mean "
        f"{s['dirtied_pages_per_s']:.0f}, max {s['dirtied_pages_per_s_max']:.0f}; "
        f"{int(s['distinct_pages_written'])} distinct pages written in all"
    )
    wws = wws_timeline(tt, window=args.window, sample=0.05, span=span, page_size=ps)
    if wws.height:
        print(
            f"  WWS per {args.window:g} s window (50 ms sampling): mean {wws['wws_pages'].mean():.0f}"
            f", min {wws['wws_pages'].min()}, max {wws['wws_pages'].max()} pages"
        )
        every = wws.filter((wws["t_start"] / args.window).round(6) % 1 == 0)
        print(
            _fmt_table(
                every.to_dicts(),
                [
                    ("t_start", "t_start_s", ".2f"),
                    ("wws_pages", "wws_pages", "d"),
                    ("wws_mib", "MiB", ".2f"),
                ],
            )
        )
    dw = d_curve(tt, windows=DEFAULT_WINDOWS, sample=0.01, span=span, page_size=ps)
    print("  d(w): distinct pages written within a window of w seconds")
    print(
        _fmt_table(
            dw.to_dicts(),
            [
                ("w_s", "w_s", ".2f"),
                ("mean", "mean", ".0f"),
                ("min", "min", "d"),
                ("p50", "p50", ".0f"),
                ("p95", "p95", ".0f"),
                ("max", "max", "d"),
                ("mean_mib", "MiB", ".2f"),
            ],
        )
    )
    if args.plot:
        try:
            _plot(args.plot, wws, dw, str(args.path))
        except ModuleNotFoundError as exc:
            return _err("stats", f"--plot needs matplotlib ({exc})")
        print(f"wrote {args.plot}")
    return 0


def _plot(path: str, wws: Any, dw: Any, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
    a.plot(wws["t_start"].to_numpy(), wws["wws_pages"].to_numpy())
    a.set_xlabel("window start (s)")
    a.set_ylabel("distinct pages dirtied per window")
    a.set_title("writable working set")
    b.plot(dw["w_s"].to_numpy(), dw["mean"].to_numpy(), marker="o")
    b.fill_between(dw["w_s"].to_numpy(), dw["min"].to_numpy(), dw["max"].to_numpy(), alpha=0.3)
    b.set_xscale("log")
    b.set_xlabel("window w (s)")
    b.set_ylabel("d(w) (pages)")
    b.set_title("distinct pages written within w")
    fig.suptitle(title)
    fig.savefig(path)
    plt.close(fig)


def _cmd_import(args: argparse.Namespace) -> int:
    from migsim.units import UnitError, parse_duration, parse_size
    from migsim.workloads.tracefile import TraceError, import_trace

    try:
        memory = parse_size(args.memory)
        span = parse_duration(args.span) if args.span else None
        tr = import_trace(args.file, args.out, memory, int(args.page_size), span)
    except (UnitError, TraceError, ValueError) as exc:
        return _err("import", exc)
    print(
        f"wrote {args.out}: {len(tr.touches)} touches over {tr.span:g} s, "
        f"{tr.memory_pages} pages of {tr.page_size} B"
    )
    return 0


def add_trace_commands(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``trace generate|stats|import`` to a ``migsim`` subparsers object; returns the
    ``trace`` parser. Each leaf sets ``func`` (``args -> exit code``)."""
    trace = subparsers.add_parser("trace", help="generate, inspect and import workload traces")
    sub = trace.add_subparsers(dest="trace_command", required=True)
    gen = sub.add_parser("generate", help="write a generator's trace as Parquet")
    gen.add_argument("name", help="generator name (oltp, netperf, specweb, ...)")
    gen.add_argument("--memory", default="512MiB", help="VM memory (default 512MiB)")
    gen.add_argument("--page-size", default=4096, type=int, help="bytes per page (default 4096)")
    gen.add_argument("--duration", default="60s", help="trace length (default 60s)")
    gen.add_argument("--seed", default=0, type=int, help="seed (default 0)")
    gen.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="a generator parameter (repeatable)"
    )
    gen.add_argument("--out", required=True, help="output .parquet path")
    gen.set_defaults(func=_cmd_generate)
    st = sub.add_parser("stats", help="dirtying rate, read/write mix, WWS and d(w) of a trace")
    st.add_argument("path", help="trace .parquet")
    st.add_argument("--window", default=8.0, type=float, help="WWS window in s (default 8)")
    st.add_argument("--plot", help="also write a WWS and d(w) plot to this file (png, pdf, svg)")
    st.set_defaults(func=_cmd_stats)
    imp = sub.add_parser("import", help="convert a (t, page[, is_write]) table to a trace")
    imp.add_argument("file", help="input .csv or .parquet with t or t_ms, page[, is_write]")
    imp.add_argument("--memory", required=True, help="VM memory, e.g. 512MiB")
    imp.add_argument("--page-size", default=4096, type=int, help="bytes per page (default 4096)")
    imp.add_argument("--span", help="trace span (default: just past the last touch)")
    imp.add_argument("--out", required=True, help="output .parquet path")
    imp.set_defaults(func=_cmd_import)
    return trace


def main(argv: list[str] | None = None) -> int:
    """Run ``trace ...`` on its own (``python -m migsim.cli_trace``); tests use this."""
    parser = argparse.ArgumentParser(prog="migsim")
    add_trace_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
