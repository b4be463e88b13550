"""Evacuating a host: N VMs leave over one NIC at once (run by hand, not in CI; see
benchmarks/README.md).

    .venv/bin/python -m benchmarks.scenario [--vms 32] [--memory 4GiB] [--nic 10Gbit/s]
        [--workload oltp] [--strategy pre_copy] [--repeat 3]

Builds the scenario (host ``a`` with ``--vms`` VMs, all migrated at t = 0 to hosts ``b``,
``c``, ``d``, ``e`` in turn, every NIC at ``--nic``), then times ``run_scenario`` (trace
generation included, numba warm) and prints the median and the scenario's own figures: time
until the host is empty, summed and largest downtime, bytes moved, non-converged migrations.
Target (issue 12): 32 VMs of 4 GiB running oltp over 10 Gbit/s in at most 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import time

from migsim.scenario import parse_scenario, run_scenario


def evacuation(n: int, memory: str, nic: str, workload: str, strategy: str) -> dict:
    targets = ["b", "c", "d", "e"]
    return {
        "hosts": {h: {"nic": nic} for h in ["a", *targets]},
        "vms": {f"vm{i}": {"host": "a", "memory": memory, "workload": workload} for i in range(n)},
        "migrations": {
            f"m{i}": {"vm": f"vm{i}", "to": targets[i % len(targets)], "strategy": strategy}
            for i in range(n)
        },
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vms", type=int, default=32)
    ap.add_argument("--memory", default="4GiB")
    ap.add_argument("--nic", default="10Gbit/s")
    ap.add_argument("--workload", default="oltp")
    ap.add_argument("--strategy", default="pre_copy")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    scn = parse_scenario(evacuation(args.vms, args.memory, args.nic, args.workload, args.strategy))
    run_scenario(parse_scenario(evacuation(2, "64MiB", args.nic, args.workload, args.strategy)))
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        res = run_scenario(scn)
        times.append(time.perf_counter() - t0)
    rows = res.migrations().to_pylist()
    print(
        f"evacuate {args.vms} x {args.memory} {args.workload} ({args.strategy}) over "
        f"{args.nic}: median {statistics.median(times):.2f} s, min {min(times):.2f} s "
        f"of {args.repeat}"
    )
    print(f"  host empty after {max(r['ended_at_s'] for r in rows):.3f} s (simulated)")
    print(
        f"  downtime: sum {sum(r['downtime_s'] for r in rows):.4f} s, "
        f"largest {max(r['downtime_s'] for r in rows):.4f} s"
    )
    print(f"  bytes moved {sum(r['bytes_transferred'] for r in rows):,}")
    print(f"  not converged: {sum(not r['converged'] for r in rows)} of {len(rows)}")


if __name__ == "__main__":
    main()
