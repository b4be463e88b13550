"""Several migrations on one link (``simulate_many``): max-min sharing against closed forms,
independence from start order and chunk size, and agreement with ``simulate`` alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from migsim import simulate, simulate_many
from migsim.config import ConfigError, from_mapping
from migsim.engine.link import Channel, alloc
from migsim.engine.network import Network

GBIT = 1e9
MIB = 2**20


def cfg(strategy="stop_and_copy", memory="64MiB", workload="oltp", seed=1, bw="1Gbit/s", **opts):
    wl = workload if isinstance(workload, dict) else {"name": workload}
    return from_mapping(
        {
            "vm": {"memory": memory},
            "link": {"bandwidth": bw},
            "workload": wl,
            "strategy": {"name": strategy, **opts},
            "seed": seed,
        }
    )


def same(a, b) -> None:
    """Identical results: every summary value, rounds row and timeline value."""
    assert a.summary == b.summary
    assert a.rounds.equals(b.rounds)
    assert a.timeline.equals(b.timeline)


def test_one_config_is_simulate():
    for strategy in ("stop_and_copy", "pre_copy", "post_copy", "hybrid", "dirty_limit"):
        c = cfg(strategy, memory="128MiB", workload="memory_stress")
        same(simulate_many([c])[0], simulate(c))


def test_two_stop_and_copies_together_take_exactly_twice_as_long():
    c = cfg()
    alone = simulate(c).summary
    pair = simulate_many([c, c])
    for r in pair:
        s = r.summary
        assert s["total_time_s"] == 2 * alone["total_time_s"]
        assert s["downtime_s"] == 2 * alone["downtime_s"]
        assert s["pages_transferred"] == alone["pages_transferred"]
        assert s["bytes_transferred"] == alone["bytes_transferred"]
        assert r.rounds["rate_limit_bps"].to_pylist() == [GBIT / 2]


def _transfer_time(summary, rate: float) -> float:
    """Closed form of a stop-and-copy at a constant rate: every byte sent at ``rate``."""
    return summary["bytes_transferred"] * 8 / rate


def test_stop_and_copy_beside_a_capped_pre_copy_round_gets_the_rest():
    # the pre-copy's first round is capped at min_rate (Xen's dynamic rate limiting) and
    # lasts far longer (1 GiB at 100 Mbit/s) than the 64 MiB stop-and-copy beside it
    pre = cfg("pre_copy", memory="1GiB", rate_limit="dynamic", min_rate="100Mbit/s")
    sc = cfg()
    r_pre, r_sc = simulate_many([pre, sc])
    s = r_sc.summary
    assert s["total_time_s"] == pytest.approx(_transfer_time(s, GBIT - 100e6), rel=1e-12)
    assert r_sc.rounds["rate_limit_bps"].to_pylist() == [GBIT - 100e6]
    assert r_pre.rounds["rate_limit_bps"][0].as_py() == 100e6


def test_three_flows_with_caps_below_at_and_above_the_fair_share():
    fair = GBIT / 3
    below = cfg("pre_copy", memory="1GiB", rate_limit="dynamic", min_rate="100Mbit/s")
    at = cfg("pre_copy", memory="1GiB", rate_limit="dynamic", min_rate=fair, seed=2)
    above = cfg()  # stop-and-copy: capped at the link's capacity
    r_below, r_at, r_above = simulate_many([below, at, above])
    assert r_below.rounds["rate_limit_bps"][0].as_py() == 100e6
    assert r_at.rounds["rate_limit_bps"][0].as_py() == fair
    rest = math.fsum([GBIT, -100e6, -fair])
    s = r_above.summary
    assert r_above.rounds["rate_limit_bps"].to_pylist() == [rest]
    assert s["total_time_s"] == pytest.approx(_transfer_time(s, rest), rel=1e-12)


def test_start_order_does_not_matter_when_start_times_are_equal():
    configs = [
        cfg("pre_copy", memory="128MiB", seed=1),
        cfg("post_copy", memory="96MiB", seed=2, prepaging="bubble"),
        cfg("stop_and_copy", memory="64MiB", seed=3),
        cfg("pre_copy", memory="128MiB", workload="netperf", seed=4, rate_limit="dynamic"),
    ]
    forward = simulate_many(configs)
    order = [2, 0, 3, 1]
    shuffled = simulate_many([configs[i] for i in order])
    for j, i in enumerate(order):
        same(shuffled[j], forward[i])


@pytest.mark.parametrize(
    "strategy", ["pre_copy", "pre_copy/random", "post_copy", "hybrid", "dirty_limit"]
)
def test_results_do_not_depend_on_the_chunk_size(strategy):
    """Every kernel run may be cut short by another migration's start or end and rolled back
    to its checkpoint: results must not depend on where the chunks end."""
    extra = {"prepaging": "bubble"} if strategy in ("post_copy", "hybrid") else {}
    if strategy == "pre_copy/random":  # a queue of pages rather than a mask
        strategy, extra = "pre_copy", {"scan_order": "random", "rate_limit": "dynamic"}

    def configs(chunk: int):
        out = []
        for seed, wl in enumerate(["oltp", "memory_stress", "netperf"]):
            c = from_mapping(
                {
                    "vm": {"memory": "96MiB", "vcpus": 2},
                    "link": {"bandwidth": "1Gbit/s"},
                    "workload": {"name": wl},
                    "strategy": {"name": strategy, **extra},
                    "engine": {"chunk_pages": chunk},
                    "seed": seed,
                }
            )
            out.append(c)
        return out

    starts = [0.0, 0.05, 0.21]
    big = simulate_many(configs(65536), starts=starts)
    for chunk in (4096, 333):
        small = simulate_many(configs(chunk), starts=starts)
        for a, b in zip(big, small, strict=True):
            sa, sb = dict(a.summary), dict(b.summary)
            sa.pop("config_json"), sb.pop("config_json")  # holds chunk_pages
            assert sa == sb
            assert a.rounds.equals(b.rounds)
            assert a.timeline.equals(b.timeline)


def test_max_time_on_a_shared_link_cancels_at_the_deadline():
    stress = {"name": "memory_stress", "rate": "2GiB/s", "region": "64MiB"}
    a = cfg("pre_copy", memory="256MiB", workload=stress, max_time="0.7s")
    b = cfg("stop_and_copy", memory="64MiB", seed=2)
    r_a, r_b = simulate_many([a, b], starts=[0, 0.2])
    s = r_a.summary
    assert s["stop_reason"] == "cancelled"
    assert s["total_time_s"] == 0.7
    assert s["downtime_s"] == 0.0
    assert r_b.summary["stop_reason"] == "stop_and_copy"


def test_later_start_shares_only_from_its_start():
    """A stop-and-copy that starts while another is half done: the first runs alone at C,
    then both at C/2 until the first ends, then the second alone at C."""
    c = cfg()
    alone = simulate(c).summary["total_time_s"]
    first, second = simulate_many([c, c], starts=[0.0, alone / 2])
    # the first sends half alone, the other half at C/2: 1.5 x alone (up to a page in flight)
    assert first.summary["total_time_s"] == pytest.approx(1.5 * alone, abs=1e-4)
    # the second sends a quarter... at C/2 (while the first finishes), the rest at C
    assert second.summary["total_time_s"] == pytest.approx(1.5 * alone, abs=1e-4)
    assert second.extra["started_at_s"] == alone / 2


def test_the_link_is_never_oversubscribed():
    """The send rates of the timeline, summed over migrations bin by bin, stay within the
    link's capacity (plus a page in flight per migration at each edge of a bin)."""
    configs = [cfg("pre_copy", memory="96MiB", workload="oltp", seed=s) for s in range(4)]
    starts = [0, 0.03, 0.1, 0.2]
    results = simulate_many(configs, starts=starts)
    step = configs[0].engine.timeline_step
    total = np.zeros(1000)
    for r, t0 in zip(results, starts, strict=True):
        k = round(t0 / step)
        rate = r.timeline["send_rate_bps"].to_numpy()
        total[k : k + len(rate)] += rate
    assert total.max() > 0.99 * GBIT  # the link is used to the full
    assert total.max() <= GBIT + 4 * 2 * 4096 * 8 / step


def test_same_inputs_give_identical_results():
    configs = [cfg("pre_copy", memory="96MiB", seed=s, workload="netperf") for s in range(3)]
    a = simulate_many(configs, starts=["0s", "10ms", "0.1s"])
    b = simulate_many(configs, starts=[0, 0.01, 0.1])
    for x, y in zip(a, b, strict=True):
        same(x, y)


def test_the_shared_link_replaces_each_configs_link():
    (r,) = simulate_many([cfg(bw="10Gbit/s")], link={"bandwidth": "2Gbit/s"})
    assert r.summary["bandwidth_bps"] == 2e9
    assert r.config.link.bandwidth_bps == 2e9


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"starts": [0]}, "starts: 1 start times for 2 configs"),
        ({"starts": [0, -1]}, "starts[1]"),
        ({"starts": [0, "1"]}, "starts[1]"),
        ({"link": {"bandwidth": "fast"}}, "link.bandwidth"),
        ({"link": {"speed": "1Gbit/s"}}, "unknown key link.speed"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        simulate_many([cfg(), cfg()], **kwargs)


@given(
    mig=st.floats(0, 1e11, allow_nan=False) | st.sampled_from([1e9, 5e8, 1e9 / 3]),
    app=st.floats(0, 1e11, allow_nan=False) | st.sampled_from([0.0, 5e8, 1e9 / 3]),
    capacity=st.floats(1.0, 1e11) | st.sampled_from([1e9, 1e10]),
)
@settings(max_examples=300, deadline=None)
def test_a_channel_alone_gets_exactly_the_two_flow_shares(mig, app, capacity):
    """simulate() runs every migration on the network: alone, its two flows must get
    exactly docs/semantics.md's two-flow ``alloc`` (the rows before the network was used)."""
    got = []
    for deferred in (False, True):  # simulate's network, and simulate_many's
        env = simpy.Environment()
        net = Network(env, {"link": capacity}, deferred=deferred)
        channel = Channel(net, "link", "m", shared=False)

        def proc(channel=channel):
            channel.want(mig, app)
            got.append((yield from channel.rates()))

        env.process(proc())
        env.run()
    assert got == [alloc(mig, app, capacity)] * 2


def test_the_rate_log_shows_each_allocation_as_it_changes():
    c = cfg()
    alone = simulate(c)
    t_end = alone.summary["total_time_s"]
    assert alone.extra["link_rates"].to_pylist() == [
        {"t_s": 0.0, "flow": "migration", "rate_bps": GBIT},
        {"t_s": t_end, "flow": "migration", "rate_bps": 0.0},
    ]
    first, second = simulate_many([c, c], starts=[0.0, 0.25])
    rows = [(r["flow"], r["rate_bps"]) for r in first.extra["link_rates"].to_pylist()]
    assert rows[:2] == [("migration", GBIT), ("migration", GBIT / 2)]
    assert first.extra["link_rates"]["t_s"][1].as_py() == 0.25
    # the second starts at its own 0 at half the link, and has all of it once the first ends
    rows = [(r["flow"], r["rate_bps"]) for r in second.extra["link_rates"].to_pylist()]
    assert rows == [("migration", GBIT / 2), ("migration", GBIT), ("migration", 0.0)]
    ends = second.extra["link_rates"]["t_s"].to_pylist()
    assert ends[1] == pytest.approx(first.summary["total_time_s"] - 0.25, abs=1e-12)
