"""Calibration and contract tests of the workload generators (SPEC section 4, issue 3).

Every figure is measured on a seeded trace (seed 1 unless stated), so the tests are exact
reproductions, not statistical checks. d(w) is the mean over window starts on a 10 ms grid of
the distinct pages written within w seconds (:func:`migsim.workloads.wws.d_curve`).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from migsim.config import ConfigError, VMSpec, WorkloadSpec
from migsim.workloads import GENERATORS, make_workload
from migsim.workloads.base import Workload
from migsim.workloads.wws import d_curve, trace_summary, window_counts

SEED = 1
MIB = 2**20
PAGE = 4096
SIZES = (512 * MIB, 2048 * MIB)
ALL = (
    "oltp",
    "specweb",
    "game_server",
    "kernel_compile",
    "netperf",
    "bittorrent",
    "memory_stress",
    "uniform",
    "idle",
)


@functools.cache
def gen(name: str, memory: int, span: float, seed: int = SEED, **params):
    wl = GENERATORS[name](memory_pages=memory // PAGE, page_size=PAGE, seed=seed, **params)
    return wl, wl.touches(0.0, span)


@functools.cache
def dw(name: str, memory: int, span: float) -> dict[float, float]:
    _, tt = gen(name, memory, span)
    frame = d_curve(tt, windows=(0.08, 0.32, 0.45, 0.9, 1.4, 1.8, 2.8, 5.75, 8, 16, 32), span=span)
    return dict(zip(frame["w_s"].round(4).to_list(), frame["mean"].to_list(), strict=True))


def test_all_registered() -> None:
    assert set(ALL) <= set(GENERATORS)


@pytest.mark.parametrize("memory", SIZES)
def test_oltp_calibration(memory: int) -> None:
    d = dw("oltp", memory, 64.0)
    assert 1_350 <= d[0.45] <= 1_900  # ~1.6k
    assert 2_000 <= d[0.9] <= 2_700
    assert 3_100 <= d[1.8] <= 3_900
    for w in (8.0, 16.0, 32.0):
        assert 6_200 <= d[w] <= 7_800, (w, d[w])
    s = trace_summary(gen("oltp", memory, 64.0)[1], 64.0)
    assert s["read_fraction"] >= 0.6
    assert 2_200 <= s["dirtied_pages_per_s"] <= 3_200  # Clark's rate axis reads ~2.7-3k
    assert s["dirtied_pages_per_s_max"] > 1.3 * s["dirtied_pages_per_s"]  # checkpoint bursts


@pytest.mark.parametrize("memory", SIZES)
def test_specweb_calibration(memory: int) -> None:
    d = dw("specweb", memory, 40.0)
    assert 9_500 <= d[1.4] <= 12_500  # ~11k
    assert 13_000 <= d[2.8] <= 17_000  # ~15k
    assert 16_500 <= d[5.75] <= 20_500  # ~18.5k
    for w in (8.0, 16.0, 32.0):
        assert 19_500 <= d[w] <= 24_000, (w, d[w])  # ~22k
    wl, tt = gen("specweb", memory, 40.0)
    s = trace_summary(tt, 40.0)
    assert 8_000 <= s["dirtied_pages_per_s"] <= 12_500
    assert s["reads"] > 0  # page-cache reads
    assert wl.service.unit == "requests/s" and wl.service.network_bound


@pytest.mark.parametrize("memory", SIZES)
def test_game_server_calibration(memory: int) -> None:
    d = dw("game_server", memory, 40.0)
    assert 225 <= d[0.08] <= 400 and 225 <= d[0.32] <= 400  # ~300
    for w in (8.0, 16.0, 32.0):
        assert 1_050 <= d[w] <= 1_450, (w, d[w])  # ~1.25k
    s = trace_summary(gen("game_server", memory, 40.0)[1], 40.0)
    assert 350 <= s["dirtied_pages_per_s"] <= 550  # rate axis 400-500


@pytest.mark.parametrize("memory", SIZES)
def test_kernel_compile_phases(memory: int) -> None:
    wl, tt = gen("kernel_compile", memory, 122.0)
    c = window_counts(tt, 32.0, 0.5, span=122.0)
    assert 1_500 <= c.min() <= 3_000  # configure phase: ~2k
    assert 10_000 <= c.max() <= 13_500  # compile phase: ~12k
    s = trace_summary(tt, 122.0)
    assert 1_800 <= s["dirtied_pages_per_s"] <= 8_000
    written = np.unique(tt.page[tt.is_write])
    assert wl.zero_pages()[written].mean() > 0.5  # mostly freshly allocated pages


@pytest.mark.parametrize("memory", SIZES)
def test_netperf(memory: int) -> None:
    wl, tt = gen("netperf", memory, 4.0)
    d = dw("netperf", memory, 4.0)
    assert max(d.values()) * PAGE < 1 * MIB  # writable working set well under 1 MiB
    assert wl.service.baseline == pytest.approx(940.0)
    assert wl.service.unit == "Mbit/s"
    assert wl.service.network_demand_bps == pytest.approx(940e6)
    s = trace_summary(tt, 4.0)
    assert s["write_touches_per_s"] == pytest.approx(940e6 / 8 / PAGE + 1000, rel=0.02)


@pytest.mark.parametrize("memory", SIZES)
def test_bittorrent(memory: int) -> None:
    wl, tt = gen("bittorrent", memory, 40.0)
    d = dw("bittorrent", memory, 40.0)
    rate = 40e6 / 8 / PAGE
    assert d[8.0] == pytest.approx(8 * rate, rel=0.15)  # grows with w: write-heavy
    assert d[32.0] == pytest.approx(32 * rate, rel=0.1)
    s = trace_summary(tt, 40.0)
    assert s["read_fraction"] < 0.5
    assert wl.service.network_demand_bps == pytest.approx(50e6)


@pytest.mark.parametrize("memory", SIZES)
def test_memory_stress(memory: int) -> None:
    _, tt = gen("memory_stress", memory, 3.0)
    region = memory // PAGE // 2
    s = trace_summary(tt, 3.0)
    assert s["dirtied_pages_per_s"] * PAGE * 8 > 1e9  # faster than a GigE link
    assert s["distinct_pages_written"] == pytest.approx(min(region, 3 * 65536) + 64, abs=2)
    w = tt.page[tt.is_write]
    big = np.diff(w)
    assert np.mean(big == 1) > 0.95  # sequential


def test_memory_stress_params() -> None:
    wl, tt = gen("memory_stress", 512 * MIB, 1.0, region="64MiB", rate="1GiB/s", mode="read")
    assert int(np.count_nonzero(~tt.is_write)) == pytest.approx(2**30 / PAGE + 1000, rel=0.005)
    assert np.unique(tt.page[tt.is_write]).size <= 64  # only the kernel's hot pages
    assert wl.in_use().sum() == 64 * MIB // PAGE + 32 * MIB // PAGE
    with pytest.raises(ValueError, match="region"):
        GENERATORS["memory_stress"](memory_pages=16384, region="1GiB")
    with pytest.raises(ValueError, match="mode"):
        GENERATORS["memory_stress"](memory_pages=16384, mode="erase")
    with pytest.raises(ValueError, match="rate"):
        GENERATORS["memory_stress"](memory_pages=16384, rate="fast")


def test_uniform_matches_closed_form() -> None:
    _, tt = gen("uniform", 512 * MIB, 20.0, rate=5000.0, pages=20000)
    d = dw_uniform = d_curve(tt, windows=(0.5, 2.0, 8.0), span=20.0)
    for w, mean in zip(d["w_s"], d["mean"], strict=True):
        assert mean == pytest.approx(20000 * (1 - np.exp(-5000 * w / 20000)), rel=0.01)
    assert dw_uniform.height == 3


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("memory", (64 * MIB, 512 * MIB))
def test_contract(name: str, memory: int) -> None:
    wl, tt = gen(name, memory, 2.0)
    assert isinstance(wl, Workload)
    used = wl.in_use()
    assert used.dtype == np.bool_ and used.shape == (memory // PAGE,)
    assert wl.zero_pages().shape == used.shape
    assert used[tt.page].all(), "every touched page must be in use"
    assert (np.diff(tt.t) >= 0).all() and tt.t.min(initial=0) >= 0 and tt.t.max(initial=0) < 2.0
    assert tt.page.dtype == np.int64 and tt.t.dtype == np.float64 and tt.is_write.dtype == np.bool_


@pytest.mark.parametrize("name", ("oltp", "specweb", "kernel_compile", "memory_stress"))
def test_64gib(name: str) -> None:
    wl = GENERATORS[name](memory_pages=64 * 2**30 // PAGE, seed=2)
    tt = wl.touches(0.0, 0.5)
    assert wl.in_use()[tt.page].all()
    assert wl.in_use().sum() < wl.memory_pages  # free memory is left out


def test_small_vm_shrinks_working_sets() -> None:
    d = dw("specweb", 64 * MIB, 10.0)
    assert d[8.0] < 64 * MIB // PAGE * 0.6


@pytest.mark.parametrize("name", ALL)
def test_determinism_and_window_equality(name: str) -> None:
    a = GENERATORS[name](memory_pages=512 * MIB // PAGE, seed=7)
    b = GENERATORS[name](memory_pages=512 * MIB // PAGE, seed=7)
    whole = a.touches(0.0, 3.0)
    parts = [b.touches(x, y) for x, y in ((0.0, 0.37), (0.37, 1.0), (1.0, 2.5), (2.5, 3.0))]
    for col in range(3):
        assert np.array_equal(whole[col], np.concatenate([p[col] for p in parts]))
    c = GENERATORS[name](memory_pages=512 * MIB // PAGE, seed=7)
    late = c.touches(2.2, 2.9)  # asked out of order, without the earlier blocks
    ref = whole.slice(2.2, 2.9)
    for col in range(3):
        assert np.array_equal(late[col], ref[col])
    if name not in ("idle", "memory_stress", "netperf"):
        other = GENERATORS[name](memory_pages=512 * MIB // PAGE, seed=8).touches(0.0, 3.0)
        assert not np.array_equal(whole.page[:100], other.page[:100])


def test_blocks_are_independent() -> None:
    """Consecutive blocks must not be shifted copies of one random stream."""
    wl = GENERATORS["uniform"](memory_pages=100_000, seed=3, rate=10_000.0)
    a, b = wl.touches(0.0, 1.0), wl.touches(1.0, 2.0)
    assert np.intersect1d(a.page[:500], b.page[:500]).size < 20


@pytest.mark.parametrize(
    ("name", "key", "value"),
    [
        ("oltp", "tps", "-1"),
        ("oltp", "intensity", "x"),
        ("oltp", "buffer_pool", "lots"),
        ("oltp", "checkpoint_interval", "0.5"),
        ("specweb", "requests", "0"),
        ("specweb", "network", "fast"),
        ("game_server", "players", "0"),
        ("netperf", "throughput", "0Mbit/s"),
        ("netperf", "socket_buffer", "1GiB"),
        ("kernel_compile", "cycle", "-3"),
        ("bittorrent", "download", "x"),
        ("memory_stress", "region", "150%"),
    ],
)
def test_bad_params_name_the_parameter(name: str, key: str, value: str) -> None:
    spec = WorkloadSpec(name=name, params=((key, value),))
    with pytest.raises(ConfigError, match=key):
        make_workload(spec, VMSpec(memory_bytes=512 * MIB), 0)


def test_make_workload_coerces_cli_strings() -> None:
    spec = WorkloadSpec(name="oltp", params=(("tps", "100"), ("buffer_pool", "64MiB")))
    wl = make_workload(spec, VMSpec(memory_bytes=512 * MIB), 0)
    assert wl.service.baseline == 100.0
    spec = WorkloadSpec(name="memory_stress", params=(("rate", "2Gbit/s"),))
    wl = make_workload(spec, VMSpec(memory_bytes=512 * MIB), 0)
    assert len(wl.touches(0, 1.0)) == pytest.approx(2e9 / 8 / PAGE + 2000, rel=0.01)


def test_memory_stress_prefault_os_footprint_and_rate_zero():
    """Issue 14: a stress guest that touched its buffer before migrating (prefault), its OS
    footprint, and a region allocated but not written (rate 0)."""
    import numpy as np

    from migsim.config import VMSpec, WorkloadSpec
    from migsim.workloads import make_workload as mk

    vm = VMSpec(memory_bytes=256 * 2**20)

    def build(**params):
        return mk(WorkloadSpec("memory_stress", params=tuple(sorted(params.items()))), vm, 0)

    fresh, touched = build(region="64MiB"), build(region="64MiB", prefault=True)
    region = 64 * 2**20 // 4096
    zero_fresh = np.asarray(fresh.zero_pages())
    zero_touched = np.asarray(touched.zero_pages())
    assert zero_fresh.sum() - zero_touched.sum() == region
    assert np.array_equal(np.asarray(fresh.in_use()), np.asarray(touched.in_use()))
    a, b = fresh.touches(0, 1), touched.touches(0, 1)
    assert np.array_equal(a.page, b.page) and np.array_equal(a.t, b.t)
    # the default footprint is 1/16 of memory (16 MiB here); a given one replaces it
    small = build(region="64MiB", os="8MiB")
    assert np.asarray(fresh.in_use()).sum() - np.asarray(small.in_use()).sum() == 2048
    idle = build(region="64MiB", rate=0)
    t = idle.touches(0, 2)
    region_pages = np.flatnonzero(zero_fresh)[:region]
    assert not np.isin(t.page[t.is_write], region_pages).any()
    with pytest.raises(ValueError, match="prefault must be true or false"):
        build(prefault="maybe")
    with pytest.raises(ValueError, match="os must be between"):
        build(os="200MiB")
