"""Several migrations on one link: ``simulate_many`` against the same migrations run alone
(run by hand, not in CI; see benchmarks/README.md).

    .venv/bin/python -m benchmarks.many [--repeat 7] [--n 8] [--memory 1GiB]
        [--bandwidth 10Gbit/s] [--workload oltp]

``--n`` pre-copy migrations (seeds 0..n-1) of a ``--memory`` VM running ``--workload`` start
together on one ``--bandwidth`` link. Per repeat (interleaved, so a slow spell of a shared
machine falls on all three alike) it times

* ``many``: ``simulate_many`` of the n configs on the shared link;
* ``alone``: the n configs run one by one with ``simulate``, each alone on the link;
* ``alone at share``: the n configs run one by one, each alone on a link of 1/n of the
  bandwidth, the share each gets while all n run.

Sharing the link makes every migration slower in simulated time (n x as long at 1/n of the
bandwidth: more of the guest's writes to apply, more pages dirtied, more rounds), so ``many``
does more page-level work than ``alone``; ``alone at share`` does about the same work and
shows what coordinating the migrations costs (checkpoints, roll-backs, events). It prints the
medians, both ratios, and the page events (pages sent + trace touches) of each, which tell
the work done.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from migsim import simulate, simulate_many
from migsim.config import from_mapping
from migsim.units import parse_rate


def _configs(n: int, memory: str, bandwidth: str, workload: str):
    return [
        from_mapping(
            {
                "vm": {"memory": memory},
                "link": {"bandwidth": bandwidth},
                "workload": {"name": workload},
                "strategy": {"name": "pre_copy"},
                "seed": seed,
            }
        )
        for seed in range(n)
    ]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--memory", default="1GiB")
    ap.add_argument("--bandwidth", default="10Gbit/s")
    ap.add_argument("--workload", default="oltp")
    args = ap.parse_args(argv)
    configs = _configs(args.n, args.memory, args.bandwidth, args.workload)
    share = parse_rate(args.bandwidth) / args.n
    at_share = [replace(c, link=replace(c.link, bandwidth_bps=share)) for c in configs]

    def many():
        return simulate_many(configs)

    def alone():
        return [simulate(c) for c in configs]

    def alone_at_share():
        return [simulate(c) for c in at_share]

    cases = {"many": many, "alone": alone, "alone at share": alone_at_share}
    events = {name: sum(r.summary["page_events"] for r in fn()) for name, fn in cases.items()}
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.repeat):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    print(
        f"{args.n} x {args.memory} {args.workload} pre-copy on one {args.bandwidth} link, "
        f"median of {args.repeat}"
    )
    print(f"{'case':<16} {'median s':>9} {'min s':>8} {'page events':>12}")
    for name in cases:
        print(f"{name:<16} {med[name]:>9.3f} {min(times[name]):>8.3f} {events[name]:>12,}")
    print(f"many / alone          = {med['many'] / med['alone']:.2f}")
    print(f"many / alone at share = {med['many'] / med['alone at share']:.2f}")


if __name__ == "__main__":
    main()
