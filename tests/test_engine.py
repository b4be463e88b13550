"""Engine behaviour not covered by the reference-model, closed-form and property tests:
chunk-size independence, the timeline, the trace contract, link sharing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import migsim
from migsim.config import ConfigError, from_mapping, strategy_options
from migsim.engine.link import alloc


def _cfg(strategy: str, chunk: int = 65536, **opts):
    """A small run of ``strategy``; options it does not declare are left out."""
    wl = opts.pop("workload", {"name": "uniform", "rate": 3000})
    own = strategy_options(strategy)
    return from_mapping(
        {
            "strategy": {"name": strategy, **{k: v for k, v in opts.items() if k in own}},
            "vm": {"memory": "16MiB"},
            "link": {"bandwidth": "100Mbit/s"},
            "workload": wl,
            "engine": {"chunk_pages": chunk},
            "seed": 3,
        }
    )


def _strip(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k != "config_json"}


def _assert_same_result(a, b) -> None:
    """Identical summaries (but the config echo), rounds and timelines."""
    assert _strip(a.summary) == _strip(b.summary)
    assert a.rounds.equals(b.rounds)
    assert a.timeline.equals(b.timeline)


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    strategy=st.sampled_from(["stop_and_copy", "pre_copy", "post_copy", "hybrid"]),
    chunk=st.integers(1, 5000),
    rate_limit=st.sampled_from(["fixed", "dynamic"]),
    prepaging=st.sampled_from(["none", "bubble", "multi_pivot"]),
    stun=st.sampled_from([0, 500]),
)
def test_results_do_not_depend_on_chunk_size(strategy, chunk, rate_limit, prepaging, stun):
    opts = {"rate_limit": rate_limit, "prepaging": prepaging, "stun_write_faults": stun}
    a = migsim.simulate(_cfg(strategy, 65536, **opts))
    b = migsim.simulate(_cfg(strategy, chunk, **opts))
    _assert_same_result(a, b)


@pytest.mark.parametrize("strategy", ["stop_and_copy", "pre_copy", "post_copy", "hybrid"])
def test_timeline_accounts_for_every_byte_and_the_lost_service(strategy):
    res = migsim.simulate(_cfg(strategy, rate_limit="dynamic"))
    tl = res.timeline.to_pydict()
    step = res.config.engine.timeline_step
    sent = sum(r * step / 8 for r in tl["send_rate_bps"])
    assert sent == pytest.approx(res.summary["bytes_transferred"], rel=1e-9)
    t = np.array(tl["t_s"])
    assert np.allclose(np.diff(t), step)
    assert t[-1] <= res.summary["total_time_s"] < t[-1] + step
    lost = sum((1 - f) * step for f in tl["service_fraction"])
    # the last bin is partial; the timeline's integral matches the summary within one bin
    assert lost == pytest.approx(res.summary["app_lost_s"], abs=step)
    assert tl["dirty_outstanding"][0] == res.extra["needed"].sum()
    if strategy == "post_copy":  # pages only arrive: outstanding never grows
        assert np.all(np.diff(tl["dirty_outstanding"]) <= 0)
    assert max(tl["present_at_dest"]) <= res.extra["needed"].sum()


def test_downtime_phase_has_no_service():
    res = migsim.simulate(_cfg("stop_and_copy"))
    tl = res.timeline.to_pydict()
    inner = [
        f for f, ph in zip(tl["service_fraction"], tl["phase"], strict=True) if ph == "downtime"
    ]
    assert inner and max(inner[:-1]) < 1e-9


def test_max_min_fair_link_sharing():
    assert alloc(100, 200, 1000) == (100, 200)
    assert alloc(1000, 300, 1000) == (700, 300)
    assert alloc(300, 940, 1000) == (300, 700)
    assert alloc(1000, 940, 1000) == (500, 500)


def test_network_bound_service_follows_the_link_share():
    """A fixed-rate pre-copy takes half of the NIC from a saturating sender (max-min), a
    rate-limited one at 100 Mbit/s only 40 Mbit/s of its 940 Mbit/s."""
    from migsim.workloads.base import BlockWorkload, ServiceModel

    class Sender(BlockWorkload):
        service = ServiceModel(baseline=940.0, unit="Mbit/s", network_demand_bps=940e6)

        def _block(self, k):
            return migsim.workloads.base.empty_touches()

    migsim.workloads.base.GENERATORS["_test_sender"] = Sender
    try:
        for limit, frac in (("fixed", 500 / 940), ("dynamic", 900 / 940)):
            cfg = from_mapping(
                {
                    "strategy": {"name": "pre_copy", "rate_limit": limit, "max_rounds": 1},
                    "vm": {"memory": "16MiB", "state_bytes": 0},
                    "link": {"bandwidth": "1Gbit/s"},
                    "workload": {"name": "_test_sender"},
                }
            )
            res = migsim.simulate(cfg)
            pre = res.rounds.to_pylist()[0]
            assert res.extra["lost_by_cause"]["rounds"] == pytest.approx(
                (1 - frac) * pre["duration_s"], rel=1e-12
            )
    finally:
        del migsim.workloads.base.GENERATORS["_test_sender"]


def test_touching_a_page_outside_the_in_use_set_is_an_error():
    from migsim.workloads.base import BlockWorkload, Touches

    class Liar(BlockWorkload):
        def in_use(self):
            mask = np.zeros(self.memory_pages, dtype=bool)
            mask[:10] = True
            return mask

        def _block(self, k):
            return Touches(np.array([k + 1e-4]), np.array([42]), np.array([True]))

    migsim.workloads.base.GENERATORS["_test_liar"] = Liar
    try:
        with pytest.raises(ConfigError, match="touches page 42"):
            migsim.simulate(_cfg("pre_copy", workload={"name": "_test_liar"}))
    finally:
        del migsim.workloads.base.GENERATORS["_test_liar"]


def test_stunning_caps_write_faults_per_round():
    res = migsim.simulate(_cfg("pre_copy", stun_write_faults=100, max_rounds=5))
    dirtied = res.rounds.column("dirtied").to_pylist()[:-1]
    assert max(dirtied) <= 100
    assert res.extra["lost_by_cause"]["rounds"] > 0


def test_auto_converge_throttles_a_non_converging_guest():
    wl = {"name": "uniform", "rate": 20000}
    base = migsim.simulate(_cfg("pre_copy", workload=wl, switchover="qemu", max_rounds=12))
    thr = migsim.simulate(
        _cfg("pre_copy", workload=wl, switchover="qemu", max_rounds=12, auto_converge=True)
    )
    throttles = thr.rounds.column("throttle").to_pylist()
    assert max(throttles) >= 0.2
    assert thr.summary["downtime_s"] < base.summary["downtime_s"]


def test_xbzrle_and_zero_pages_reduce_bytes():
    plain = migsim.simulate(_cfg("pre_copy", zero_pages=False))
    xbz = migsim.simulate(_cfg("pre_copy", zero_pages=False, compression="xbzrle"))
    assert xbz.summary["bytes_transferred"] < plain.summary["bytes_transferred"]


@pytest.mark.parametrize("strategy", ["pre_copy", "post_copy", "hybrid"])
def test_looped_trace_results_do_not_depend_on_window_alignment(strategy):
    """A looped trace is fetched stretch by stretch without rechecking pages; replaying the
    same trace through a plain wrapper (windows across loop boundaries, every page checked)
    gives identical results."""
    from migsim.workloads import make_workload
    from migsim.workloads.tracefile import TraceWorkload, materialize

    cfg = from_mapping(
        {
            "strategy": {"name": strategy},
            "vm": {"memory": "32MiB"},
            "link": {"bandwidth": "20Mbit/s"},
            "workload": {"name": "oltp", "tps": 400},
            "seed": 4,
        }
    )
    fast = TraceWorkload(materialize(make_workload(cfg.workload, cfg.vm, cfg.seed), 1.5))

    class Plain:
        def __init__(self, inner):
            self._inner = inner

        def __getattr__(self, name):
            if name in ("segment_end", "touches_in_use"):
                raise AttributeError(name)
            return getattr(self._inner, name)

    a = migsim.simulate(cfg, fast)
    b = migsim.simulate(cfg, Plain(fast))
    assert a.summary["total_time_s"] > 3 * 1.5  # the trace loops several times
    _assert_same_result(a, b)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    n=st.integers(1, 60),
    total=st.floats(0, 0.7),
    phases=st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.05, 0.1, 0.1, 0.25, 0.3, 0.55, 0.9]), st.text("ab", min_size=1)
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_timeline_phase_column_equals_overwriting_each_row(n, total, phases):
    from migsim.engine.monitor import _phase_column

    t = np.arange(n) * 0.01
    want = np.full(n, "done", dtype=object)
    for start, name in phases:
        want[t >= start * 0.6] = name
    want[t > total] = "done"
    got = _phase_column(t, total, [(start * 0.6, name) for start, name in phases])
    assert got == want.tolist()


@pytest.mark.parametrize("fetch_touches", [1, 300, 10**9])
def test_results_do_not_depend_on_fetch_window_sizes(monkeypatch, fetch_touches):
    """How far ahead the engine fetches a generator's touches changes no result."""
    from migsim.workloads.base import BlockWorkload

    oltp = {"name": "oltp", "tps": 300, "start": 0.3}
    cfgs = [
        _cfg("pre_copy", workload=oltp),
        _cfg("pre_copy", workload=oltp, rate_limit="dynamic"),
        _cfg("post_copy", workload=oltp, prepaging="bubble"),
        _cfg("hybrid", workload=oltp),
    ]
    want = [migsim.simulate(c) for c in cfgs]
    monkeypatch.setattr(BlockWorkload, "fetch_touches", fetch_touches)
    for cfg, base in zip(cfgs, want, strict=True):
        _assert_same_result(migsim.simulate(cfg), base)


def test_a_full_pass_given_as_a_mask_equals_the_same_pass_as_an_array(monkeypatch):
    """Round 0 walks the needed-page mask in the kernel instead of an array of its pages."""
    from migsim.strategies import pre_copy

    def as_array(self, ctx, mask):
        return np.flatnonzero(mask).astype(np.int64)

    oltp = {"name": "oltp", "tps": 300}
    cfgs = [
        _cfg("pre_copy", workload=oltp, chunk=777),
        _cfg("pre_copy", workload=oltp, rate_limit="dynamic", stun_write_faults=300),
        _cfg("hybrid", workload=oltp, dsb=False),
        _cfg("pre_copy", workload=oltp, chunk=1, max_rounds=2),
        _cfg("pre_copy", chunk=5, max_rounds=1),
    ]
    want = [migsim.simulate(c) for c in cfgs]
    assert not want[0].extra["needed"].all()  # the mask has gaps to walk over
    monkeypatch.setattr(pre_copy.PreCopy, "queue", as_array)
    for cfg, base in zip(cfgs, want, strict=True):
        _assert_same_result(migsim.simulate(cfg), base)


def test_stale_kernel_cache_is_dropped_when_a_dependency_is_newer(tmp_path):
    """numba checks a cached kernel against its own file only; kernels.py drops the cache
    files that are older than the modules it compiles in (else edits there would not run)."""
    import os

    from migsim.engine.kernels import drop_stale_cache

    cache = tmp_path / "__pycache__"
    cache.mkdir()
    old = [cache / "kernels.precopy_run-1.py311.nbi", cache / "kernels.precopy_run-1.py311.1.nbc"]
    other = cache / "pages._initial_flags-9.py311.nbi"
    dep = tmp_path / "prepaging.py"
    for f in [*old, other, dep]:
        f.write_text("x")
    for f in [*old, other]:
        os.utime(f, (1000, 1000))
    os.utime(dep, (2000, 2000))
    assert sorted(drop_stale_cache(cache, "kernels", [dep])) == sorted(old)
    assert not any(f.exists() for f in old) and other.exists()
    # cache files newer than every dependency stay; a missing cache or dependency is no error
    fresh = cache / "kernels.postcopy_run-2.py311.nbi"
    fresh.write_text("x")
    assert drop_stale_cache(cache, "kernels", [dep]) == [] and fresh.exists()
    assert drop_stale_cache(tmp_path / "none", "kernels", [dep]) == []
    assert drop_stale_cache(cache, "kernels", [tmp_path / "missing.py"]) == []


@settings(max_examples=100, deadline=None, derandomize=True)
@given(data=st.data(), memory=st.integers(1, 300))
def test_sorted_dirty_sorts_the_dirtied_pages_and_clears_their_dirty_bits(data, memory):
    """The next round's queue in a sequential scan: the dirtied pages in page order, read out
    of a bitmap; their WRITTEN bits cleared, every other bit and page left as it was."""
    from migsim.engine.kernels import sorted_dirty
    from migsim.engine.pages import STALE, WRITTEN, ZERO

    pages = np.array(
        data.draw(st.lists(st.integers(0, memory - 1), unique=True, max_size=memory)),
        dtype=np.int64,
    )
    flags = np.array(
        data.draw(st.lists(st.sampled_from([0, ZERO, STALE, ZERO | STALE]), min_size=memory,
                           max_size=memory)),
        dtype=np.uint8,
    )  # fmt: skip
    before = flags.copy()
    flags[pages] |= WRITTEN
    out = sorted_dirty(pages, flags)
    np.testing.assert_array_equal(out, np.sort(pages))
    np.testing.assert_array_equal(flags, before)


@settings(max_examples=10, deadline=None, derandomize=True)
@given(
    splits=st.lists(st.floats(0.0005, 0.05), min_size=1, max_size=6),
    strategy=st.sampled_from(["pre_copy", "hybrid"]),
    rate_limit=st.sampled_from(["fixed", "dynamic"]),
)
def test_a_round_stopped_and_resumed_anywhere_gives_the_same_result(splits, strategy, rate_limit):
    """RoundSender.run(until=...) stops the kernel at a wall time and resumes it there:
    with the rate and speed unchanged, where it stops changes nothing."""
    from migsim.strategies import pre_copy

    oltp = {"name": "oltp", "tps": 300}
    cfg = _cfg(strategy, workload=oltp, rate_limit=rate_limit, chunk=999)
    want = migsim.simulate(cfg)

    def split_round(self, ctx, sender, limit):
        speed = 1.0 - self.throttle
        ctx.link.want(limit, self.demand * speed)
        mig, app = yield from ctx.link.rates()
        self.stretch = (ctx.t, speed, app)
        stop = ctx.t
        for step in splits * 50:
            stop += step
            if (yield from sender.run(mig, speed, until=stop)):
                break
        else:
            yield from sender.run(mig, speed)
        self.account(ctx, ctx.t, sender.result())
        return mig

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pre_copy.PreCopy, "send_round", split_round)
        _assert_same_result(migsim.simulate(cfg), want)


def _stress(strategy: str, **opts):
    return from_mapping(
        {
            "strategy": {"name": strategy, **opts},
            "vm": {"memory": "64MiB"},
            "link": {"bandwidth": "1Gbit/s"},
            "workload": {"name": "memory_stress", "start": "1s", "region": "32MiB"},
        }
    )


@pytest.mark.parametrize("strategy", ["pre_copy", "hybrid"])
def test_max_time_cancels_before_switchover_and_the_vm_stays_on_the_source(strategy):
    opts = {"precopy_rounds": 4} if strategy == "hybrid" else {}
    full = migsim.simulate(_stress(strategy, **opts))
    assert full.summary["precopy_time_s"] > 0.45  # memory_stress: the rounds run long
    res = migsim.simulate(_stress(strategy, max_time="300ms", **opts))
    s = res.summary
    assert s["stop_reason"] == "cancelled" and s["converged"] is False
    # cancelled exactly at the deadline: the kernel stopped at the watchdog's event
    assert s["total_time_s"] == 0.3 and s["precopy_time_s"] == s["total_time_s"]
    # the VM never paused: no downtime, nothing after the pre-copy rounds
    assert s["downtime_s"] == 0 and s["postcopy_time_s"] == 0
    assert set(res.rounds.column("phase").to_pylist()) == {"precopy"}
    assert set(res.timeline.column("phase").to_pylist()) <= {"precopy", "done"}
    assert s["app_lost_s"] == pytest.approx(sum(res.extra["lost_by_cause"].values()))
    assert res.extra["lost_by_cause"]["downtime"] == 0
    # what was sent before the cancel: the first rounds of the full run, cut at 300 ms
    tl = res.timeline.to_pydict()
    sent = sum(tl["send_rate_bps"]) * res.config.engine.timeline_step / 8
    assert sent == pytest.approx(s["bytes_transferred"], rel=1e-9)
    assert 0 < s["bytes_transferred"] <= 0.3 * 1e9 / 8 + 4096 + 8
    assert s["bytes_transferred"] < full.summary["bytes_transferred"]


def test_max_time_zero_never_cancels_and_a_late_one_changes_nothing():
    want = migsim.simulate(_stress("pre_copy"))
    _assert_same_result(migsim.simulate(_stress("pre_copy", max_time="0s")), want)
    s = want.summary
    # a deadline during the final stop-and-copy (the rounds are over: nothing is cancelled,
    # though the kernel stops at the watchdog's event and goes on), and one after the end
    during = (s["precopy_time_s"] + s["total_time_s"]) / 2
    assert s["precopy_time_s"] < during < s["total_time_s"]
    for late in (f"{during * 1e3}ms", "1h"):
        res = migsim.simulate(_stress("pre_copy", max_time=late))
        assert res.rounds.equals(want.rounds) and res.timeline.equals(want.timeline)
        assert _strip(res.summary) == _strip(s)


@pytest.mark.parametrize("strategy", ["post_copy", "stop_and_copy"])
def test_max_time_is_refused_where_it_has_no_meaning(strategy):
    with pytest.raises(ConfigError) as info:
        _stress(strategy, max_time="1s")
    message = str(info.value)
    assert "strategy.max_time" in message and f"not of {strategy}" in message
    assert "pre_copy" in message


@pytest.mark.parametrize("where", [0.1, 0.5, 0.9])
def test_a_pending_event_during_post_copy_changes_nothing(monkeypatch, where):
    """The post-copy kernel stops before the next event scheduled by anyone (here the
    max_time deadline, which no longer acts once the rounds are over) and goes on there."""
    from migsim.engine import kernels

    kernel, stops = kernels.postcopy_run, []

    def counted(*args):
        status = kernel(*args)
        stops.append(status)
        return status

    cfg = {"name": "oltp", "tps": 300}
    want = migsim.simulate(_cfg("hybrid", workload=cfg, prepaging="bubble"))
    s = want.summary
    t_resume = s["precopy_time_s"] + s["downtime_s"]
    deadline = t_resume + where * (s["total_time_s"] - t_resume)
    monkeypatch.setattr(kernels, "postcopy_run", counted)
    res = migsim.simulate(
        _cfg("hybrid", workload=cfg, prepaging="bubble", max_time=f"{deadline * 1e3!r}ms")
    )
    assert stops.count(kernels.UNTIL) == 1  # it did stop there
    assert res.summary["stop_reason"] == s["stop_reason"] != "cancelled"
    assert _strip(res.summary) == _strip(s)
    assert res.rounds.equals(want.rounds) and res.timeline.equals(want.timeline)
