"""Engine vs reference model on small adversarial hand-made traces.

The generated workloads of test_reference_agreement.py draw touch times from continuous
distributions, so exact ties almost never happen. Here traces are tiny (4-64 pages) and their
touch times lie on a coarse grid, on a link where one page takes a round number of seconds: writes
land exactly on page-send boundaries (``tw == T`` is *not* applied before that page), several
touches share one time, touches sit on fetch-window edges, reads and writes mix, only some pages
are in use or zero, and the guest may have network demand. Both sides get the same in-memory
workload object (``migsim.simulate(cfg, workload)``).
"""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import compare_results, reference_simulate
from reference.traces import ListWorkload

import migsim
from migsim.config import from_mapping

PROFILE = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=400,
    suppress_health_check=[HealthCheck.too_slow],
)
PAGE = 4096 + 8


def build_case(case: int) -> tuple[dict, ListWorkload]:
    """A config mapping and a hand-made workload for matrix case ``case``."""
    d = random.Random(case)
    pick = d.choice
    pages = pick([4, 5, 8, 16, 33, 64])
    # one page (with an 8 B header) takes `per_page` seconds; a coarse grid of touch times
    per_page = pick([1.0, 0.5, 0.25, 0.1, 0.3])
    grid = pick([0.25, 0.5, 0.125, 0.1, 1.0])
    horizon = pages * per_page * pick([1, 3, 8])
    n_touch = d.randrange(0, 4 * pages + 1)
    in_use = sorted(d.sample(range(pages), d.randrange(1, pages + 1))) if d.random() < 0.4 else None
    used = in_use if in_use is not None else list(range(pages))
    zero = sorted(d.sample(range(pages), d.randrange(0, pages + 1))) if d.random() < 0.5 else None
    hot = d.sample(used, min(len(used), pick([1, 2, 4, len(used)])))
    touches = []
    for _ in range(n_touch):
        g = grid * d.randrange(0, int(horizon / grid) + 1)
        touches.append((g, pick(hot), d.random() < pick([1.0, 0.7, 0.3])))
    demand = pick([0.0, 0.0, PAGE * 8 / per_page * pick([0.2, 0.5, 0.8, 1.5])])
    wl = ListWorkload(pages, touches, in_use=in_use, zero=zero, network_demand_bps=demand)

    name = pick(["stop_and_copy", "pre_copy", "pre_copy", "post_copy", "post_copy", "hybrid"])
    s: dict = {"name": name, "zero_pages": d.random() < 0.6, "dsb": d.random() < 0.6}
    if d.random() < 0.3:
        s.update(compression="xbzrle", xbzrle_hit_rate=pick([0.5, 1.0]), xbzrle_ratio=0.25)
    c = PAGE * 8 / per_page
    if d.random() < 0.3:
        s.update(rate_limit="dynamic", min_rate=c * pick([0.5, 1.0]), max_rate=c * pick([1, 2]))
        s["rate_increment"] = c * 0.25
    if name in ("pre_copy", "hybrid"):
        s["skip"] = d.random() < 0.7
        s["scan_order"] = pick(["sequential", "random"])
        s["max_rounds"] = pick([30, 1, 2, 4])
        s["stop_pages"] = pick([0, 1, 2, 50])
        s["max_factor"] = pick([3.0, 1.0, 10.0])
        s["switchover"] = pick(["xen", "xen", "qemu"])
        s["downtime_limit"] = per_page * pick([0.5, 2.0])
        if d.random() < 0.3:
            s.update(auto_converge=True, throttle_initial=pick([0.5, 1.0]), throttle_increment=0.25)
            s["throttle_trigger_rounds"] = pick([1, 2])
            s["throttle_threshold"] = pick([0.1, 0.5])
            s["throttle_max"] = pick([0.99, 1.0])
        s["stun_write_faults"] = pick([0, 0, 1, 2, 3])
    if name == "hybrid":
        s["precopy_rounds"] = pick([1, 2])
    if name in ("post_copy", "hybrid"):
        s["push"] = d.random() < 0.7
        if s["push"]:
            s["prepaging"] = pick(["none", "bubble", "multi_pivot"])
            s["pivots"] = pick([1, 2, 3])
            s["direction"] = pick(["forward", "dual"])
        s["demand_timeout"] = per_page * pick([0.5, 2.0, 6.0])
    mapping = {
        "strategy": s,
        "vm": {
            "memory": pages * 4096,
            "state": pick([0, PAGE, 3 * PAGE]),
            "vcpus": pick([1, 1, 2, 3]),
            "nonpageable_bytes": pick([0, PAGE]),
            "resume_time": pick([0.0, per_page]),
        },
        "link": {"bandwidth": c, "rtt": pick([0.0, per_page / 2, 0.0002])},
        "workload": {"name": "list", "start": pick([0.0, 0.0, grid, 1.0])},
        "seed": d.randrange(1000),
        "engine": {"chunk_pages": pick([65536, 1, 3]), "timeline_step": pick([0.01, 0.25, 2.0])},
    }
    return mapping, wl


def diffs_for(case: int) -> tuple[dict, list[str]]:
    mapping, wl = build_case(case)
    cfg = from_mapping(mapping)
    ref = reference_simulate(cfg, wl)
    eng = migsim.simulate(cfg, wl)
    return mapping, compare_results(eng, ref)


@settings(PROFILE)
@given(st.integers(0, 2**62))
def test_handmade_traces_agree(case):
    mapping, diffs = diffs_for(case)
    if diffs:
        _, wl = build_case(case)
        pytest.fail(
            f"case {case}: engine and reference disagree on\n{mapping!r}\n"
            f"touches={wl._touches!r}\nin_use={wl.in_use().nonzero()[0].tolist()} "
            f"zero={wl.zero_pages().nonzero()[0].tolist()} demand={wl.service}\n" + "\n".join(diffs)
        )
