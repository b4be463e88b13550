"""Benchmark (run by hand, not in CI): generate 60 s of ``oltp`` for a 4 GiB VM and read it back.

Targets (issue 3): generation <= 1 s, read-back <= 0.2 s (medians).

    .venv/bin/python benchmarks/traces.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from migsim.workloads import GENERATORS
from migsim.workloads.tracefile import read_trace, write_trace


def main() -> None:
    """Print the median times of generation, generation + write, and read-back."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--workload", default="oltp")
    ap.add_argument("--memory-gib", type=float, default=4.0)
    ap.add_argument("--duration", type=float, default=60.0)
    args = ap.parse_args()
    pages = int(args.memory_gib * 2**30) // 4096
    gen, wr, rd = [], [], []
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.parquet"
        for seed in range(args.repeat):
            t0 = time.perf_counter()
            wl = GENERATORS[args.workload](memory_pages=pages, seed=seed)
            tt = wl.touches(0.0, args.duration)
            t1 = time.perf_counter()
            write_trace(wl, path, args.duration)  # regenerates: a fresh workload each time
            t2 = time.perf_counter()
            back = read_trace(path)
            t3 = time.perf_counter()
            n = len(tt)
            assert len(back.touches) == n
            gen.append(t1 - t0)
            wr.append(t2 - t1)
            rd.append(t3 - t2)
        size = path.stat().st_size
    print(
        f"{args.workload}, {args.memory_gib:g} GiB, {args.duration:g} s: {n} touches, "
        f"{size / 2**20:.1f} MiB file"
    )
    print(f"  generate (median of {args.repeat}): {statistics.median(gen):.3f} s  (target <= 1 s)")
    print(f"  generate + write:                  {statistics.median(wr):.3f} s")
    print(f"  read back + validate:              {statistics.median(rd):.3f} s  (target <= 0.2 s)")


if __name__ == "__main__":
    main()
