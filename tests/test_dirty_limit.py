"""The ``dirty_limit`` strategy (QEMU's dirty limit): the cap holds, the migration converges
where plain pre-copy does not, a guest below the cap is not slowed, bad input is refused."""

from __future__ import annotations

import json

import pytest

import migsim
from migsim.cli import main
from migsim.config import ConfigError, from_mapping

MIB = 2**20


def _cfg(strategy: str = "dirty_limit", vcpus: int = 1, **opts):
    return from_mapping(
        {
            "strategy": {"name": strategy, **opts},
            "vm": {"memory": "256MiB", "vcpus": vcpus},
            "link": {"bandwidth": "1Gbit/s"},
            # sweeps 64 MiB at 65,536 pages/s (256 MiB/s, 2.1 Gbit/s): faster than the link
            "workload": {"name": "memory_stress", "start": "1s", "region": "64MiB"},
        }
    )


def _strip(res) -> dict:
    return {k: v for k, v in res.summary.items() if k not in ("config_json", "strategy")}


@pytest.mark.parametrize(("vcpus", "limit"), [(1, "20MiB/s"), (2, "10MiB/s"), (1, "50MiB/s")])
def test_the_slowed_guest_dirties_at_the_cap(vcpus, limit):
    res = migsim.simulate(_cfg(vcpus=vcpus, vcpu_dirty_limit=limit))
    cap = float(limit.removesuffix("MiB/s")) * MIB  # bytes/s per vCPU
    rows = [r for r in res.rounds.to_pylist() if r["phase"] == "precopy"]
    # the rounds after the last one at the guest's own rate (the limit acts from the first
    # period's end on, and memory_stress writes ten times the cap or more)
    last_free = max(i for i, r in enumerate(rows) if r["dirty_rate_pps"] * 4096 / vcpus > 2 * cap)
    slowed = rows[last_free + 1 :]
    assert len(slowed) >= 3, rows
    # each round long enough to measure, and all of them together, at the cap
    for r in slowed:
        if r["duration_s"] >= 0.05:
            assert r["dirty_rate_pps"] * 4096 / vcpus == pytest.approx(cap, rel=0.05), (r, cap)
    total = sum(r["dirtied"] for r in slowed) * 4096 / sum(r["duration_s"] for r in slowed)
    assert total / vcpus == pytest.approx(cap, rel=0.05)


def test_it_converges_where_plain_pre_copy_does_not():
    plain = migsim.simulate(_cfg("pre_copy")).summary
    limited = migsim.simulate(_cfg()).summary
    assert plain["converged"] is False and plain["stop_reason"] == "max_factor"
    assert limited["converged"] is True and limited["stop_reason"] == "converged"
    assert limited["downtime_s"] < plain["downtime_s"] / 50
    assert limited["bytes_transferred"] < plain["bytes_transferred"] / 2
    # the guest paid for it: it ran slowly while the limit held
    assert limited["app_lost_s"] > 0.3


@pytest.mark.parametrize("limit", ["300MiB/s", "100GiB/s"])
def test_a_guest_below_the_cap_is_not_slowed(limit):
    """memory_stress dirties 256 MiB/s: a cap above that never slows it, and the run is
    pre-copy's, although the limit is on and the rounds are cut at every period."""
    plain = migsim.simulate(_cfg("pre_copy"))
    res = migsim.simulate(_cfg(vcpu_dirty_limit=limit))
    assert _strip(res) == _strip(plain)
    assert res.rounds.equals(plain.rounds)
    assert res.timeline.equals(plain.timeline)


def test_a_cap_just_below_the_guest_slows_it():
    plain = migsim.simulate(_cfg("pre_copy")).summary
    res = migsim.simulate(_cfg(vcpu_dirty_limit="200MiB/s")).summary
    assert res["app_lost_s"] > plain["app_lost_s"]


@pytest.mark.parametrize(
    ("opts", "words"),
    [
        ({"auto_converge": True}, ["strategy.auto_converge", "dirty_limit", "false"]),
        ({"stun_write_faults": 40}, ["strategy.stun_write_faults", "allowed: 0"]),
        ({"dirty_limit_period": "2s"}, ["strategy.dirty_limit_period", "1s"]),
        ({"vcpu_dirty_limit": "5"}, ["strategy.vcpu_dirty_limit", "no unit"]),
        ({"vcpu_dirty_limit": "0MiB/s"}, ["strategy.vcpu_dirty_limit", "> 0"]),
    ],
)
def test_bad_options_are_refused_with_the_key(opts, words):
    with pytest.raises(ConfigError) as info:
        _cfg(**opts)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_dirty_limit_options_belong_to_dirty_limit_only():
    with pytest.raises(ConfigError, match="not of pre_copy"):
        _cfg("pre_copy", vcpu_dirty_limit="1MiB/s")


def test_command_line(capsys):
    args = ["run", "--strategy", "dirty_limit", "--workload", "memory_stress", "--memory"]
    args += ["256MiB", "--set", "workload.region=64MiB", "--json"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["strategy"] == "dirty_limit" and out["converged"] is True
