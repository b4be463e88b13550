"""Hand-computed cases for the reference model itself (tests/reference/model.py).

Most cases use a link on which one page (4096 B + 8 B header) takes exactly one second
(32832 bit/s) and a CPU state of the same size, so the expected times can be worked out by hand
from docs/semantics.md.
"""

from __future__ import annotations

import itertools

import pytest
from reference import reference_simulate
from reference.model import alloc, xbzrle_hit
from reference.traces import ListWorkload

from migsim.config import from_mapping

PAGE = 4096 + 8  # bytes of a page with its header
ONE_PAGE_PER_S = PAGE * 8  # bit/s


def cfg(pages: int, strategy: dict, workload="idle", **extra):
    mapping = {
        "strategy": strategy,
        "vm": {"memory": pages * 4096, "state": PAGE, **extra.pop("vm", {})},
        "link": {"bandwidth": ONE_PAGE_PER_S, "rtt": 0.5, **extra.pop("link", {})},
        "workload": workload,
        **extra,
    }
    return from_mapping(mapping)


def test_stop_and_copy_idle_256_pages():
    # 256 pages of 4104 B and 256 KiB of state at 8 Mbit/s
    c = from_mapping(
        {
            "strategy": {"name": "stop_and_copy"},
            "vm": {"memory": "1MiB"},
            "link": {"bandwidth": "8Mbit/s"},
            "workload": "idle",
        }
    )
    r = reference_simulate(c)
    expected = (256 * 4104 * 8 + 262144 * 8) / 8e6
    assert r.total_time == pytest.approx(expected, rel=1e-12)
    assert r.downtime == r.total_time
    assert r.pages_transferred == 256
    assert r.bytes_transferred == 256 * 4104 + 262144
    assert (r.rounds, r.stop_reason, r.network_faults) == (0, "stop_and_copy", 0)
    assert r.app_lost_s == r.total_time
    assert [(x.phase, x.to_send, x.sent) for x in r.rows] == [("stop_copy", 256, 256)]


@pytest.mark.parametrize("name", ["pre_copy", "hybrid"])
def test_precopy_idle_converges_after_one_round(name):
    r = reference_simulate(cfg(256, {"name": name}))
    assert r.rounds == 1
    assert r.stop_reason == "converged"
    assert r.total_time == 257.0  # 256 pages + state
    assert r.downtime == 1.0
    assert r.pages_transferred == 256
    assert next((x.phase, x.sent, x.dirtied) for x in r.rows) == ("precopy", 256, 0)


def test_precopy_skip_by_hand():
    # round 0 (t = 0..3): page 2 written at 0.5 (before its turn: skipped), page 0 at 1.5
    # (already sent: dirtied), page 3 at 2.5 (while it is being sent: dirtied)
    wl = ListWorkload(4, [(0.5, 2, True), (1.5, 0, True), (2.5, 3, True), (3.5, 2, True)])
    r = reference_simulate(cfg(4, {"name": "pre_copy"}), wl)
    row = r.rows[0]
    assert (row.to_send, row.sent, row.skipped, row.dirtied) == (4, 3, 1, 3)
    assert row.duration == 3.0
    assert r.stop_reason == "converged"  # 3 pages < stop_pages = 50
    assert r.rows[1].phase == "stop_copy" and r.rows[1].sent == 3
    assert (r.total_time, r.downtime) == (7.0, 4.0)
    assert r.pages_transferred == 6
    assert r.pages_skipped == 1
    assert r.bytes_transferred == 7 * PAGE

    # never converge by page count, two rounds: round 1 (t = 3..5) queue [0, 2, 3],
    # page 2 written at guest 3.5 = wall 3.5, before its turn at 4: skipped
    r = reference_simulate(cfg(4, {"name": "pre_copy", "stop_pages": 0, "max_rounds": 2}), wl)
    rows = [(x.phase, x.to_send, x.sent, x.skipped, x.dirtied) for x in r.rows]
    assert rows == [
        ("precopy", 4, 3, 1, 3),
        ("precopy", 3, 2, 1, 1),
        ("stop_copy", 1, 1, 0, 0),
    ]
    assert r.stop_reason == "max_rounds"
    assert (r.total_time, r.downtime) == (7.0, 2.0)


def test_precopy_without_skip_sends_queued_dirty_pages():
    wl = ListWorkload(4, [(0.5, 2, True), (1.5, 0, True), (2.5, 3, True)])
    r = reference_simulate(cfg(4, {"name": "pre_copy", "skip": False}), wl)
    row = r.rows[0]
    assert (row.sent, row.skipped, row.dirtied, row.duration) == (4, 0, 3, 4.0)
    assert r.rows[1].sent == 3
    assert r.total_time == 8.0


def test_stun_by_hand():
    # the second write fault stuns the guest at guest 0.6 (wall 0.6); the write at 0.7 waits for
    # round 1, which starts at wall 2 with guest time 0.6, so it lands at wall 2.1
    wl = ListWorkload(4, [(0.5, 2, True), (0.6, 3, True), (0.7, 1, True)])
    c = cfg(4, {"name": "pre_copy", "stun_write_faults": 2, "stop_pages": 0, "max_rounds": 2})
    r = reference_simulate(c, wl)
    rows = [(x.to_send, x.sent, x.skipped, x.dirtied, x.duration) for x in r.rows]
    assert rows == [(4, 2, 2, 2, 2.0), (2, 2, 0, 1, 2.0), (1, 1, 0, 0, 2.0)]
    assert r.stop_reason == "max_rounds"
    assert (r.total_time, r.downtime) == (6.0, 2.0)
    # round 0: stunned from 0.6 to 2 (1.4 s lost); downtime 2 s; 3 first writes
    assert r.app_lost_s == pytest.approx(1.4 + 2.0 + 3 * 2e-6, rel=1e-12)


def test_postcopy_faults_by_hand():
    # resume at t_r = 1 (state); push page 0 over [1, 2]
    # touch p3 at 1.25: fault, stall 0.5 + 1, present at 2.75; the push slips to 3; lag 1.5
    # touch p0 at 1 + 0.5 + 1.5 = 3.0: page 0 completed at 3 -> present, no fault
    # touch p1 at 3.25: in flight until 4 -> fault, stall 0.75; lag 2.25
    # page 2 pushed over [4, 5]: total 5
    wl = ListWorkload(4, [(0.25, 3, False), (0.5, 0, False), (0.75, 1, True)])
    r = reference_simulate(cfg(4, {"name": "post_copy"}), wl)
    assert r.network_faults == 2
    assert r.stall_time == pytest.approx(2.25, rel=1e-12)
    assert (r.total_time, r.downtime) == (5.0, 1.0)
    assert r.pages_transferred == 4
    assert r.bytes_transferred == 5 * PAGE
    assert r.app_lost_s == pytest.approx(1.0 + 2.25, rel=1e-12)
    assert r.stop_reason == "complete"
    assert [(x.phase, x.to_send, x.sent) for x in r.rows] == [
        ("stop_copy", 0, 0),
        ("postcopy", 4, 4),
    ]


def test_postcopy_vcpus_share_the_stall():
    wl = ListWorkload(4, [(0.25, 3, False)])
    r = reference_simulate(cfg(4, {"name": "post_copy"}, vm={"vcpus": 2}), wl)
    assert r.network_faults == 1
    assert r.app_lost_s == pytest.approx(1.0 + 1.5 / 2, rel=1e-12)


def test_demand_paging_timeout():
    wl = ListWorkload(4, [(0.25, 3, False), (1.0, 3, False), (2.0, 1, True)])
    c = cfg(4, {"name": "post_copy", "push": False, "demand_timeout": 10.0})
    r = reference_simulate(c, wl)
    # faults at 1.25 (p3, lag 1.5) and 1 + 2 + 1.5 = 4.5 (p1); page 3 again: present
    # timeout at 11: pages 0 and 2 pushed over [11, 13]
    assert r.network_faults == 2
    assert r.stop_reason == "demand_timeout"
    assert r.total_time == 13.0
    # every page touched before the timeout: complete
    wl = ListWorkload(2, [(0.25, 0, False), (0.5, 1, False)])
    r = reference_simulate(cfg(2, {"name": "post_copy", "push": False}), wl)
    assert r.stop_reason == "complete"
    assert r.network_faults == 2
    assert r.total_time == 4.5  # p0: fault at 1.25 (lag 1.5); p1: fault at 3.0, present 4.5


@pytest.mark.parametrize(
    ("direction", "faults"),
    [("forward", 2), ("dual", 1)],
)
def test_bubble_direction(direction, faults):
    # fault on p5 at 1.25 -> pivot (f=6, b=4); the push resumes at 3 with page 6.
    # forward: 6, 7, then the lowest absent 1, 2, 3, 4 -> page 4 still absent at wall 6.3
    # dual: 6, 4, 7, 3, 2, 1 -> page 4 present at wall 6.3
    wl = ListWorkload(8, [(0.25, 5, False), (3.8, 4, False)])
    c = cfg(8, {"name": "post_copy", "prepaging": "bubble", "direction": direction})
    r = reference_simulate(c, wl)
    assert r.network_faults == faults
    assert r.total_time == 9.0


def test_dsb_and_zero_pages():
    wl = ListWorkload(8, [(1.5, 1, True)], in_use=[0, 1, 2, 3], zero=[1, 2])
    r = reference_simulate(cfg(8, {"name": "stop_and_copy"}), wl)
    assert r.pages_transferred == 4
    assert r.zero_pages_sent == 2
    assert r.bytes_transferred == 2 * PAGE + 2 * 8 + PAGE
    r = reference_simulate(cfg(8, {"name": "stop_and_copy", "dsb": False}), wl)
    assert r.pages_transferred == 8
    # migration starting at 2.0, after the write to the zero page 1
    r = reference_simulate(
        cfg(8, {"name": "stop_and_copy"}, workload={"name": "x", "start": 2}), wl
    )
    assert r.zero_pages_sent == 1
    # pre-copy: page 1 written in round 0 after it was sent as a marker, re-sent in full
    r = reference_simulate(cfg(8, {"name": "pre_copy"}), wl)
    assert r.zero_pages_sent == 2
    assert r.pages_transferred == 5
    assert r.rows[0].bytes == 2 * PAGE + 2 * 8
    assert r.rows[1].bytes == PAGE + PAGE  # page 1 in full and the state


def test_xbzrle_hit_rate_and_cost():
    hits = sum(xbzrle_hit(7, p, 1, 0.3) for p in range(20000))
    assert 0.28 < hits / 20000 < 0.32
    assert not any(xbzrle_hit(7, p, 1, 0.0) for p in range(100))
    assert all(xbzrle_hit(7, p, 1, 1.0) for p in range(100))
    # every re-send hits: a re-sent page costs ceil(0.25 * 4096) + 8 bytes
    wl = ListWorkload(4, [(0.5, 0, True)])
    c = cfg(4, {"name": "pre_copy", "compression": "xbzrle", "xbzrle_hit_rate": 1.0})
    r = reference_simulate(c, wl)
    assert r.rows[1].bytes == 1024 + 8 + PAGE


def test_alloc_max_min():
    assert alloc(10, 20, 100) == (10, 20)
    assert alloc(80, 40, 100) == (60, 40)
    assert alloc(30, 90, 100) == (30, 70)
    assert alloc(80, 90, 100) == (50, 50)


def test_link_sharing_slows_precopy():
    # a network-bound guest asking for half the link at full speed: pre-copy gets the rest
    wl = ListWorkload(4, [], network_demand_bps=ONE_PAGE_PER_S / 2)
    c = cfg(4, {"name": "pre_copy"})
    r = reference_simulate(c, wl)
    assert r.rows[0].rate == ONE_PAGE_PER_S / 2
    assert r.rows[0].duration == 8.0
    assert r.rows[1].rate == ONE_PAGE_PER_S  # paused: the whole link
    # the app got its whole demand in round 0: only the downtime is lost
    assert r.app_lost_s == pytest.approx(1.0, rel=1e-12)


def test_dynamic_rate_and_no_progress():
    # uniform writes far faster than the link: the rate climbs to max_rate, then no progress
    c = from_mapping(
        {
            "strategy": {
                "name": "pre_copy",
                "rate_limit": "dynamic",
                "min_rate": "10Mbit/s",
                "max_rate": "40Mbit/s",
                "rate_increment": "5Mbit/s",
                "max_factor": 100,
            },
            "vm": {"memory": "1MiB"},
            "link": {"bandwidth": "100Mbit/s"},
            "workload": {"name": "uniform", "rate": 2000},
        }
    )
    r = reference_simulate(c)
    pre = [x for x in r.rows if x.phase == "precopy"]
    assert pre[0].rate == 10e6
    for prev, row in itertools.pairwise(pre):
        d = prev.dirtied * 4096 * 8 / prev.duration
        assert row.rate == min(40e6, max(10e6, d + 5e6))
    assert r.stop_reason in ("no_progress", "converged", "max_rounds")
    assert r.rows[-1].rate == 40e6


def test_nonconvergent_uniform_stops_on_max_factor():
    c = from_mapping(
        {
            "strategy": {"name": "pre_copy"},
            "vm": {"memory": "1MiB"},
            "link": {"bandwidth": "8Mbit/s"},
            "workload": {"name": "uniform", "rate": 5000},
        }
    )
    r = reference_simulate(c)
    assert r.stop_reason == "max_factor"
    pre = [x for x in r.rows if x.phase == "precopy"]
    assert sum(x.sent for x in pre) > 3 * 256
    assert sum(x.sent for x in pre[:-1]) <= 3 * 256
    for row, nxt in itertools.pairwise(pre):
        assert nxt.to_send == row.dirtied


def test_auto_converge_throttles():
    c = from_mapping(
        {
            "strategy": {"name": "pre_copy", "auto_converge": True, "max_factor": 1000},
            "vm": {"memory": "1MiB"},
            "link": {"bandwidth": "8Mbit/s"},
            "workload": {"name": "uniform", "rate": 5000},
        }
    )
    r = reference_simulate(c)
    pre = [x for x in r.rows if x.phase == "precopy"]
    throttles = [x.throttle for x in pre]
    assert throttles[:3] == [0.0, 0.0, 0.0]
    assert throttles[3] == 0.2  # rounds 1 and 2 dirtied more than half of what they sent
    assert max(throttles) > 0.5
    assert r.stop_reason in ("converged", "max_rounds")


def test_write_exactly_at_a_send_boundary_is_not_applied_before_that_page():
    # page 1 starts at T = 1.0; a write at wall 1.0 is not < T: page 1 is sent, then dirtied
    wl = ListWorkload(2, [(1.0, 1, True)])
    r = reference_simulate(cfg(2, {"name": "pre_copy"}), wl)
    row = r.rows[0]
    assert (row.sent, row.skipped, row.dirtied) == (2, 0, 1)
    assert r.rows[1].sent == 1


def test_random_scan_order_follows_the_seeded_permutation():
    import numpy as np

    perm = np.random.default_rng(5).permutation(4).tolist()
    # the second page in scan order is written at 0.5 (before its turn at 1.0): skipped
    wl = ListWorkload(4, [(0.5, perm[1], True)])
    r = reference_simulate(cfg(4, {"name": "pre_copy", "scan_order": "random"}, seed=5), wl)
    assert (r.rows[0].sent, r.rows[0].skipped) == (3, 1)
    # the first page in scan order written at 0.5 is dirtied (already sent), not skipped
    wl = ListWorkload(4, [(0.5, perm[0], True)])
    r = reference_simulate(cfg(4, {"name": "pre_copy", "scan_order": "random"}, seed=5), wl)
    assert (r.rows[0].sent, r.rows[0].skipped, r.rows[0].dirtied) == (4, 0, 1)


def test_qemu_switchover():
    # one page dirtied in a 4 s round of 4 pages: bw = 4 pages / 4 s; 1 page fits 1 s
    wl = ListWorkload(4, [(3.5, 0, True)])
    c = cfg(4, {"name": "pre_copy", "switchover": "qemu", "downtime_limit": 1.0})
    r = reference_simulate(c, wl)
    assert (r.rounds, r.stop_reason) == (1, "converged")
    c = cfg(4, {"name": "pre_copy", "switchover": "qemu", "downtime_limit": 0.99})
    r = reference_simulate(c, wl)
    assert r.rounds == 2  # round 1 resends page 0 (1 s), nothing dirtied: converged
    assert r.stop_reason == "converged"
    assert [x.sent for x in r.rows] == [4, 1, 0]


def test_multi_pivot_rotates_over_the_newest_pivots():
    # faults on 2 (t = 1.25) and 6 (t = 2.75 + ...): pivots [6, 2] then picks alternate
    # between them, newest first: 7, 3, (6's forward exhausted) ... checked via total faults
    wl = ListWorkload(8, [(0.25, 2, False), (0.5, 6, False)])
    c = cfg(8, {"name": "post_copy", "prepaging": "multi_pivot", "pivots": 2,
                "direction": "forward"})  # fmt: skip
    r = reference_simulate(c, wl)
    # t_r = 1; push 0 over [1, 2]. fault p2 at 1.25: stall 1.5, push ends 3, lag 1.5.
    # fault p6 at 1 + 0.5 + 1.5 = 3.0: page 0 completes at 3, next pick is from pivot p2 -> 3
    # (over [3, 4]); p6 is absent: stall 1.5, push slips to 5; lag 3.
    # then picks rotate: newest pivot (6) -> 7 over [5, 6]; pivot 2 -> 4 over [6, 7];
    # pivot 6 exhausted, pivot 2 -> 5 over [7, 8]; both exhausted -> lowest absent 1 [8, 9]
    assert r.network_faults == 2
    assert r.total_time == 9.0
    assert r.stall_time == 3.0


def test_hybrid_postcopies_the_dirty_pages():
    # round 0 (t = 0..4) dirties page 0 at 1.5; post-copy pauses at 4, resumes at 5 (state),
    # pushes page 0 over [5, 6]
    wl = ListWorkload(4, [(1.5, 0, True)])
    r = reference_simulate(cfg(4, {"name": "hybrid"}), wl)
    assert [(x.phase, x.to_send, x.sent) for x in r.rows] == [
        ("precopy", 4, 4),
        ("stop_copy", 0, 0),
        ("postcopy", 1, 1),
    ]
    assert (r.total_time, r.downtime, r.rounds, r.stop_reason) == (6.0, 1.0, 1, "converged")
    assert r.pages_transferred == 5


def test_nonpageable_resume_and_efficiency():
    c = cfg(
        4,
        {"name": "post_copy"},
        vm={"nonpageable_bytes": PAGE, "resume_time": 0.5},
        link={"efficiency": 0.5},
    )
    r = reference_simulate(c)
    # capacity halved: 2 s per page; pause sends state + non-pageable (4 s) then resumes (0.5)
    assert r.downtime == 4.5
    assert r.total_time == 4.5 + 4 * 2.0
    assert r.bytes_transferred == 6 * PAGE
    # pre-copy sends the non-pageable memory as ordinary pages (READING R4)
    r = reference_simulate(cfg(4, {"name": "pre_copy"}, vm={"nonpageable_bytes": PAGE}))
    assert r.bytes_transferred == 5 * PAGE


def test_xbzrle_counts_earlier_sends():
    # page 0 sent in round 0, dirtied at 0.5, re-sent in round 1 from 4.0 (j = 1), dirtied
    # at 4.1 while on the wire, re-sent in round 2 (j = 2)
    wl = ListWorkload(4, [(0.5, 0, True), (4.1, 0, True)])
    c = cfg(4, {"name": "pre_copy", "compression": "xbzrle", "xbzrle_hit_rate": 0.5,
                "stop_pages": 0, "max_rounds": 3}, seed=11)  # fmt: skip
    r = reference_simulate(c, wl)
    expect = [1024 + 8 if xbzrle_hit(11, 0, j, 0.5) else PAGE for j in (1, 2)]
    assert r.rows[1].bytes == expect[0]
    assert r.rows[2].bytes == expect[1]
    assert r.rows[3].bytes == PAGE  # the stop-and-copy row: the state only


def test_throttle_slows_the_guest_clock():
    c = cfg(4, {"name": "pre_copy", "auto_converge": True, "throttle_trigger_rounds": 1,
                "throttle_threshold": 0.0, "throttle_initial": 0.5, "stop_pages": 0,
                "max_rounds": 3, "write_fault_cost": 0.0})  # fmt: skip
    # idle: nothing dirtied (0 > 0 is false), never throttled
    r = reference_simulate(c, ListWorkload(4, []))
    assert [x.throttle for x in r.rows if x.phase == "precopy"] == [0.0, 0.0, 0.0]
    # round 0 (0..4) dirties page 0; round 1 (4..5) re-sends it while page 1 is written at
    # 4.5 -> throttle 0.5 for round 2 (t 5..6, g from 5): a write at guest 5.4 lands at wall
    # 5.8 (in the round), one at guest 5.6 at wall 6.2 (after it)
    wl = ListWorkload(4, [(0.5, 0, True), (4.5, 1, True), (5.4, 2, True), (5.6, 3, True)])
    r = reference_simulate(c, wl)
    pre = [x for x in r.rows if x.phase == "precopy"]
    assert [x.throttle for x in pre] == [0.0, 0.0, 0.5]
    assert [x.dirtied for x in pre] == [1, 1, 1]
    assert r.rows[-1].sent == 1
    # lost: round 2 at half speed (0.5 s) + downtime (1 page + state = 2 s)
    assert r.app_lost_s == pytest.approx(0.5 + 2.0, rel=1e-12)
