"""Stop-and-copy of Clark et al.'s 512 MB VM (acceptance item 3 of the engine issue).

512 MB (10**6 bytes) at 128/256/512 Mbit/s takes 32/16/8 s for the pages alone; migsim adds the
per-page header and the CPU/device state, exactly: ``(M (P + H) + state) * 8 / R``. With
512 MiB it is 33.55 s at 128 Mbit/s: units matter.

The engine adds page costs one at a time (``T = T + cost``, docs/semantics.md), so its time is
*bit-identical* to that sequential sum and within n ulps (n = pages) of the closed arithmetic.
"""

from __future__ import annotations

import pytest

import migsim
from migsim.config import from_mapping

# relative rounding bound of a sequential float64 sum of 131k equal terms: n * 2**-53 ~ 1.5e-11
SUM_REL = 2e-11


def _run(memory: str, bandwidth: str, **overrides):
    strategy = {"name": "stop_and_copy", **overrides.pop("strategy", {})}
    cfg = from_mapping(
        {
            "strategy": strategy,
            "vm": {"memory": memory, **overrides.pop("vm", {})},
            "link": {"bandwidth": bandwidth, **overrides.pop("link", {})},
            "workload": "idle",
        }
    )
    assert not overrides
    return cfg, migsim.simulate(cfg)


def _sequential_time(pages: int, page_bytes: int, state: int, rate: float) -> float:
    t = 0.0
    cost = (page_bytes * 8.0) / rate
    for _ in range(pages):
        t = t + cost
    return t + (state * 8.0) / rate


@pytest.mark.parametrize(
    ("bandwidth", "rate", "seconds"),
    [("128Mbit/s", 128e6, 32.0), ("256Mbit/s", 256e6, 16.0), ("512Mbit/s", 512e6, 8.0)],
)
def test_512MB_takes_32_16_8_seconds_plus_overheads(bandwidth, rate, seconds):
    cfg, res = _run("512MB", bandwidth)
    s = res.summary
    m, p = 125_000, 4096  # 512e6 / 4096 pages of 4 KiB
    h, state = 8, 256 * 1024  # defaults: 8-byte page header, 256 KiB CPU/device state
    assert cfg.vm.pages == m
    assert cfg.strategy.page_header_bytes == h
    assert cfg.vm.state_bytes == state
    expected = (m * (p + h) + state) * 8 / rate
    assert expected == pytest.approx(seconds + (m * h + state) * 8 / rate, rel=1e-15)
    assert s["pages_transferred"] == m
    assert s["bytes_transferred"] == m * (p + h) + state
    assert s["total_time_s"] == _sequential_time(m, p + h, state, rate)
    assert s["total_time_s"] == pytest.approx(expected, rel=SUM_REL)
    assert s["downtime_s"] == s["total_time_s"]
    assert s["rounds"] == 0
    assert s["stop_reason"] == "stop_and_copy"
    assert s["converged"] is True
    assert s["pages_skipped"] == 0
    assert s["zero_pages_sent"] == 0
    rows = res.rounds.to_pylist()
    assert len(rows) == 1
    assert rows[0]["phase"] == "stop_copy"
    assert rows[0]["to_send"] == rows[0]["sent"] == m
    assert rows[0]["bytes"] == m * (p + h) + state
    assert rows[0]["duration_s"] == s["total_time_s"]


@pytest.mark.parametrize(
    ("bandwidth", "seconds"), [("128Mbit/s", 32.0), ("256Mbit/s", 16.0), ("512Mbit/s", 8.0)]
)
def test_512MB_pages_alone_is_exactly_the_papers_number(bandwidth, seconds):
    _, res = _run("512MB", bandwidth, strategy={"page_header_bytes": 0}, vm={"state_bytes": 0})
    assert res.summary["bytes_transferred"] == 512 * 10**6
    assert res.summary["total_time_s"] == pytest.approx(seconds, rel=SUM_REL)


def test_512MiB_takes_33_55_seconds_at_128Mbit():
    _, res = _run("512MiB", "128Mbit/s", strategy={"page_header_bytes": 0}, vm={"state_bytes": 0})
    assert res.summary["total_time_s"] == pytest.approx(33.554432, rel=SUM_REL)
    assert round(res.summary["total_time_s"], 2) == 33.55
    _, full = _run("512MiB", "128Mbit/s")
    m = 131_072
    assert full.summary["bytes_transferred"] == m * 4104 + 262144
    assert full.summary["total_time_s"] == pytest.approx(
        (m * 4104 + 262144) * 8 / 128e6, rel=SUM_REL
    )


def test_efficiency_and_resume_time():
    """Goodput = bandwidth x efficiency; resume time adds to downtime and total time."""
    _, half = _run("512MB", "256Mbit/s", link={"efficiency": 0.5}, vm={"resume_time": "5ms"})
    _, ref = _run("512MB", "128Mbit/s")
    assert half.summary["total_time_s"] == pytest.approx(
        ref.summary["total_time_s"] + 0.005, rel=1e-12
    )
    assert half.summary["downtime_s"] == half.summary["total_time_s"]


def test_dynamic_rate_limit_sends_at_max_rate():
    """With a dynamic rate limit, stop-and-copy runs at min(max_rate, capacity)."""
    _, res = _run("512MB", "1Gbit/s", strategy={"rate_limit": "dynamic", "max_rate": "128Mbit/s"})
    assert res.summary["total_time_s"] == _sequential_time(125_000, 4104, 262144, 128e6)
