"""Engine throughput and memory benchmark (run by hand, not in CI; see benchmarks/README.md).

    .venv/bin/python -m benchmarks.engine [--repeat 9] [--ref-repeat 3] [--sizes 1GiB,4GiB]
        [--workloads oltp,uniform]

Run it from the repository root, as a module: the reference model is a test asset
(``tests/reference``, not shipped with migsim), imported as ``tests.reference`` from there.

For pre-copy (fixed and dynamic rate limit) and post-copy (bubbling) on the ``oltp`` and
``uniform`` workloads at each VM size, prints the median (and quartiles) over ``--repeat``
runs of

* page-events/s: (pages sent + trace touches processed) / wall seconds of ``simulate``, on a
  trace materialized in memory beforehand (``--span`` seconds, looped), so that trace
  generation is not timed (benchmarks/traces.py times that);
* peak RSS growth during one run (MiB), sampled from /proc every 2 ms, in a fresh process:
  the peak while simulating minus the RSS once the trace is in memory and the JIT is warm
  (the memory the engine needs beyond its trace);
* the ratio of the engine's median page-events/s to the independent reference model's
  (tests/reference, median of ``--ref-repeat`` runs: it is slow), both timed in this
  invocation on the same config and trace; each reference run is flanked by engine runs of
  the same case (``--repeat`` + ``--ref-repeat`` engine runs in all).

The repeats go round all cases in turn rather than case after case, so that a slow spell of a
shared machine is spread over all cases instead of falling on one.

Targets (issue 2): pre-copy >= 50 M page-events/s and >= 60x the reference; post-copy
>= 10 M page-events/s; a 4 GiB VM within 150 MiB beyond its trace.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import migsim
from benchmarks.cases import CASES, WORKLOADS
from migsim.config import WorkloadSpec, from_mapping
from migsim.units import parse_size

ROOT = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class PeakRSS:
    """Sample RSS every 2 ms in a thread; ``peak`` is the maximum seen."""

    def __enter__(self) -> PeakRSS:
        self.peak = rss_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_mib())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def config(strategy: dict, workload: dict, memory: str, bandwidth: str = "1Gbit/s"):
    workload = dict(workload)
    if "hot_fraction" in workload:
        pages = parse_size(memory) // 4096
        workload["pages"] = max(1, int(pages * workload.pop("hot_fraction")))
    return from_mapping(
        {
            "strategy": strategy,
            "workload": workload,
            "vm": {"memory": memory},
            "link": {"bandwidth": bandwidth},
        }
    )


def in_memory(cfg, span: float):
    """The run's workload materialized for ``span`` seconds and replayed in a loop."""
    from migsim.workloads import make_workload
    from migsim.workloads.tracefile import TraceWorkload, materialize

    return TraceWorkload(materialize(make_workload(cfg.workload, cfg.vm, cfg.seed), span))


def _warm(cfg) -> None:
    small = replace(cfg, vm=replace(cfg.vm, memory_bytes=4 * 2**20), workload=WorkloadSpec("idle"))
    migsim.simulate(small)  # compile (or load) the kernels, import everything


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def rss_child(case: str, wl_name: str, size: str, span: float) -> None:
    """In a fresh process: print the peak RSS growth (MiB) of one run beyond its trace."""
    cfg = config(CASES[case], WORKLOADS[wl_name], size)
    workload = in_memory(cfg, span)
    _warm(cfg)
    gc.collect()
    base = rss_mib()
    with PeakRSS() as mem:
        migsim.simulate(cfg, workload)
    print(f"{mem.peak - base:.1f}")


def rss_growth(case: str, wl_name: str, size: str, span: float) -> float:
    child = ["-m", "benchmarks.engine", "--rss-child", case, wl_name, size, "--span", str(span)]
    out = subprocess.run(
        [sys.executable, *child],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9, help="engine runs per case")
    ap.add_argument("--ref-repeat", type=int, default=3, help="reference runs per case")
    ap.add_argument("--sizes", default="1GiB,4GiB")
    ap.add_argument("--workloads", default="oltp,uniform")
    ap.add_argument("--span", type=float, default=60.0, help="trace seconds held in memory")
    ap.add_argument(
        "--rss-child", nargs=3, metavar=("CASE", "WORKLOAD", "MEMORY"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child, args.span)
        return
    try:
        from tests.reference import reference_simulate
    except ImportError:
        sys.exit(
            "benchmarks/engine.py: run it from the repository root as `python -m benchmarks.engine`"
        )

    cases = []  # (case, workload name, size, config, in-memory workload, page events)
    for wl_name in args.workloads.split(","):
        for case, strat in CASES.items():
            for size in args.sizes.split(","):
                cfg = config(strat, WORKLOADS[wl_name], size)
                workload = in_memory(cfg, args.span)
                _warm(cfg)
                events = migsim.simulate(cfg, workload).summary["page_events"]
                cases.append((case, wl_name, size, cfg, workload, events))
    # rounds over all cases, so that a slow spell of the machine is shared by all of them;
    # the reference runs of a case sit between engine runs of that case, spread over the rounds
    engine_s: list[list[float]] = [[] for _ in cases]
    ref_s: list[list[float]] = [[] for _ in cases]
    rounds = max(args.repeat, args.ref_repeat)
    ref_rounds = {r * rounds // args.ref_repeat for r in range(args.ref_repeat)}
    for r in range(rounds):
        for i, (*_, cfg, workload, _events) in enumerate(cases):
            if r < args.repeat:
                engine_s[i].append(timed(migsim.simulate, cfg, workload))
            if r in ref_rounds:
                ref_s[i].append(timed(reference_simulate, cfg, workload))
                engine_s[i].append(timed(migsim.simulate, cfg, workload))
    print(
        f"migsim {migsim.__version__}; link 1 Gbit/s; engine: median [quartiles] of "
        f"{args.repeat + args.ref_repeat} runs, reference: median of {args.ref_repeat}"
    )
    header = (
        f"{'case':18} {'workload':9} {'memory':7} {'events':>10} {'Mev/s':>7} "
        f"{'[quartiles]':>13} {'RSS+MiB':>8} {'ref Mev/s':>9} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for i, (case, wl_name, size, _cfg, _workload, events) in enumerate(cases):
        rates = sorted(events / t / 1e6 for t in engine_s[i])
        q1, _, q3 = statistics.quantiles(rates, n=4) if len(rates) > 1 else rates * 3
        rate = statistics.median(rates)
        ref_rate = events / statistics.median(ref_s[i]) / 1e6
        growth = rss_growth(case, wl_name, size, args.span)
        print(
            f"{case:18} {wl_name:9} {size:7} {events:>10} {rate:7.1f} "
            f"{f'[{q1:.0f}-{q3:.0f}]':>13} {growth:8.1f} {ref_rate:9.3f} {rate / ref_rate:6.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
