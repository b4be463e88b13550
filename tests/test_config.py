"""Unit tests for migsim.config: defaults with their sources, unit parsing, and errors that name
the bad key and what is allowed."""

from __future__ import annotations

import dataclasses

import pytest

from migsim.config import (
    ConfigError,
    LinkSpec,
    RunConfig,
    VMSpec,
    default_strategy,
    from_mapping,
    to_mapping,
)
from migsim.registry import strategy_names
from migsim.workloads import make_workload


def test_defaults_are_the_cited_ones():
    cfg = from_mapping({})
    assert cfg == RunConfig()
    st, vm, link = cfg.strategy, cfg.vm, cfg.link
    # Xen xc_domain_save (Clark et al. 2005)
    assert (st.max_rounds, st.max_factor, st.stop_pages) == (30, 3.0, 50)
    assert st.skip is True
    assert st.scan_order == "sequential"
    assert st.rate_limit == "fixed"
    assert (st.min_rate, st.max_rate, st.rate_increment) == (100e6, 500e6, 50e6)
    # QEMU
    assert st.switchover == "xen"
    assert st.downtime_limit == 0.3
    assert st.auto_converge is False
    assert (st.throttle_initial, st.throttle_increment, st.throttle_max) == (0.2, 0.1, 0.99)
    assert st.throttle_threshold == 0.5
    assert st.stun_write_faults == 0
    # Hines & Gopalan 2009
    post = default_strategy("post_copy")
    assert post.push is True
    assert post.prepaging == "none"
    assert post.pivots == 7
    assert st.dsb is True and post.dsb is True
    assert default_strategy("hybrid").precopy_rounds == 1
    # every strategy
    assert st.zero_pages is True
    assert st.page_header_bytes == 8
    assert st.compression == "none"
    assert vm.page_size == 4096
    assert vm.state_bytes == 256 * 1024
    assert vm.nonpageable_bytes == 0
    assert vm.vcpus == 1
    assert link.rtt_s == 0.2e-3
    assert link.efficiency == 1.0
    assert cfg.engine.timeline_step == 0.01
    assert cfg.seed == 0
    assert cfg.workload.name == "idle"


def test_units_and_aliases():
    cfg = from_mapping(
        {
            "vm": {"memory": "512MB", "state": "1MiB", "resume_time": "2ms"},
            "link": {"bandwidth": "128Mbit/s", "rtt": "5ms", "efficiency": "0.9"},
            "strategy": {
                "name": "hybrid",
                "downtime_limit": "300ms",
                "min_rate": "50Mbit/s",
                "max_rate": "1Gbit/s",
                "rate_increment": "10MB/s",
                "write_fault_cost": "2us",
                "demand_timeout": "1min",
                "page_header_bytes": "16",
                "max_rounds": "4",
                "max_factor": 2,
                "skip": "off",
                "dsb": "yes",
                "zero_pages": 0,
            },
            "engine": {"timeline_step": "50ms", "chunk_pages": 1024},
            "seed": "7",
        }
    )
    assert cfg.vm.memory_bytes == 512 * 10**6
    assert cfg.vm.pages == 125_000
    assert cfg.vm.state_bytes == 2**20
    assert cfg.vm.resume_time == pytest.approx(2e-3)
    assert cfg.link.bandwidth_bps == 128e6
    assert cfg.link.rtt_s == pytest.approx(5e-3)
    assert cfg.link.capacity_bps == pytest.approx(128e6 * 0.9)
    st = cfg.strategy
    assert st.downtime_limit == pytest.approx(0.3)
    assert (st.min_rate, st.max_rate, st.rate_increment) == (50e6, 1e9, 80e6)
    assert st.write_fault_cost == pytest.approx(2e-6)
    assert st.demand_timeout == 60.0
    assert st.page_header_bytes == 16
    assert st.max_rounds == 4
    assert isinstance(st.max_rounds, int)
    assert st.max_factor == 2.0
    assert (st.skip, st.dsb, st.zero_pages) == (False, True, False)
    assert cfg.engine.timeline_step == pytest.approx(0.05)
    assert cfg.seed == 7


def test_workload_section():
    cfg = from_mapping({"workload": "uniform"})
    assert cfg.workload.name == "uniform"
    assert cfg.workload.params == ()
    cfg = from_mapping(
        {"workload": {"name": "uniform", "start": "1.5s", "rate": 5, "pages": 10, "loop": "reject"}}
    )
    assert cfg.workload.start == 1.5
    assert cfg.workload.loop == "reject"
    assert cfg.workload.params == (("pages", 10), ("rate", 5))
    assert cfg.workload.param_dict() == {"pages": 10, "rate": 5}


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"vm": {"memory": "1GiB"}, "strategy": {"name": "post_copy", "prepaging": "multi_pivot"}},
        {"workload": {"name": "uniform", "rate": 250.0, "start": 2.0}, "seed": 3},
        {"link": {"bandwidth": "10Gbit/s", "efficiency": 0.5}, "engine": {"chunk_pages": 7}},
    ],
)
def test_to_mapping_round_trips(data):
    cfg = from_mapping(data)
    assert from_mapping(to_mapping(cfg)) == cfg


def test_specs_are_frozen():
    cfg = from_mapping({})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.strategy.max_rounds = 3  # type: ignore[misc]
    assert VMSpec(memory_bytes=8 * 4096).pages == 8
    assert LinkSpec(bandwidth_bps=1e9, efficiency=0.5).capacity_bps == 5e8
    assert RunConfig().strategy.name in strategy_names()


def test_config_error_is_a_value_error():
    assert issubclass(ConfigError, ValueError)


BAD = [
    # (mapping, words the message must contain: the key, and what is allowed)
    ({"nope": {}}, ["nope", "strategy", "vm", "link", "workload"]),
    ({"strategy": {"bogus": 1}}, ["strategy.bogus", "max_rounds", "skip"]),
    # an option of another strategy: named, with its owners and what this one allows
    (
        {"strategy": {"name": "pre_copy", "push": False}},
        ["strategy.push", "post_copy", "hybrid", "not of pre_copy", "max_rounds", "dsb"],
    ),
    (
        {"strategy": {"name": "stop_and_copy", "max_rounds": 2}},
        ["strategy.max_rounds", "pre_copy", "not of stop_and_copy", "max_rate"],
    ),
    # a rate, duration or size given as text without its unit
    ({"strategy": {"downtime_limit": "300"}}, ["strategy.downtime_limit", "no unit", "ms"]),
    ({"strategy": {"max_rate": "125000000"}}, ["strategy.max_rate", "no unit", "Mbit/s"]),
    (
        {"strategy": {"name": "post_copy", "demand_timeout": "30"}},
        ["strategy.demand_timeout", "no unit", "s"],
    ),
    ({"vm": {"colour": "red"}}, ["vm.colour", "memory", "state"]),
    ({"link": {"latency": 1}}, ["link.latency", "bandwidth", "rtt"]),
    ({"engine": {"speed": 1}}, ["engine.speed", "chunk_pages"]),
    ({"strategy": "pre_copy"}, ["strategy", "mapping"]),
    ({"strategy": {"name": "teleport"}}, ["strategy.name", "teleport", "pre_copy", "hybrid"]),
    ({"strategy": {"scan_order": "zigzag"}}, ["strategy.scan_order", "sequential", "random"]),
    ({"strategy": {"rate_limit": "adaptive"}}, ["strategy.rate_limit", "fixed", "dynamic"]),
    ({"strategy": {"switchover": "kvm"}}, ["strategy.switchover", "xen", "qemu"]),
    (
        {"strategy": {"name": "post_copy", "prepaging": "lazy"}},
        ["strategy.prepaging", "bubble", "multi_pivot"],
    ),
    (
        {"strategy": {"name": "post_copy", "direction": "back"}},
        ["strategy.direction", "forward", "dual"],
    ),
    ({"strategy": {"compression": "gzip"}}, ["strategy.compression", "none", "xbzrle"]),
    ({"strategy": {"max_rounds": 0}}, ["strategy.max_rounds", ">= 1"]),
    ({"strategy": {"max_rounds": "2.5"}}, ["strategy.max_rounds", "whole number"]),
    ({"strategy": {"max_rounds": "nan"}}, ["strategy.max_rounds", "whole number"]),
    ({"strategy": {"max_rounds": "inf"}}, ["strategy.max_rounds", "whole number"]),
    ({"strategy": {"max_rounds": True}}, ["strategy.max_rounds", "number"]),
    ({"strategy": {"max_factor": "x"}}, ["strategy.max_factor", "number"]),
    ({"strategy": {"max_factor": "nan"}}, ["strategy.max_factor", "number"]),
    ({"strategy": {"max_factor": 0}}, ["strategy.max_factor", "> 0"]),
    ({"strategy": {"stop_pages": -1}}, ["strategy.stop_pages", ">= 0"]),
    ({"strategy": {"skip": "maybe"}}, ["strategy.skip", "true or false"]),
    ({"strategy": {"zero_pages": 2}}, ["strategy.zero_pages", "true or false"]),
    ({"strategy": {"min_rate": "fast"}}, ["strategy.min_rate", "fast", "bit/s"]),
    ({"strategy": {"min_rate": 0}}, ["strategy.min_rate", "> 0"]),
    ({"strategy": {"min_rate": "600Mbit/s"}}, ["strategy.min_rate", "strategy.max_rate"]),
    ({"strategy": {"downtime_limit": "3 lightyears"}}, ["strategy.downtime_limit", "ms"]),
    ({"strategy": {"throttle_max": 2}}, ["strategy.throttle_max", "[0, 1]"]),
    ({"strategy": {"xbzrle_hit_rate": -0.1}}, ["strategy.xbzrle_hit_rate", "[0, 1]"]),
    ({"strategy": {"throttle_trigger_rounds": 0}}, ["strategy.throttle_trigger_rounds", ">= 1"]),
    ({"strategy": {"stun_write_faults": -1}}, ["strategy.stun_write_faults", ">= 0"]),
    ({"strategy": {"name": "post_copy", "pivots": 0}}, ["strategy.pivots", ">= 1"]),
    ({"strategy": {"name": "hybrid", "precopy_rounds": 0}}, ["strategy.precopy_rounds", ">= 1"]),
    ({"strategy": {"page_header_bytes": 4096}}, ["strategy.page_header_bytes", "page size"]),
    (
        {"strategy": {"name": "post_copy", "push": False, "prepaging": "bubble"}},
        ["strategy.prepaging", "none", "strategy.push"],
    ),
    ({"vm": {"memory": "1000B"}}, ["vm.memory", "multiple of the page size"]),
    ({"vm": {"memory": 0}}, ["vm.memory", "positive"]),
    ({"vm": {"memory": "12parsecs"}}, ["vm.memory", "parsecs", "mib"]),
    ({"vm": {"memory": "0.5B"}}, ["vm.memory", "whole number"]),
    ({"vm": {"page_size": 1000}}, ["vm.page_size", "power of two"]),
    ({"vm": {"vcpus": 0}}, ["vm.vcpus", ">= 1"]),
    ({"vm": {"resume_time": "-1s"}}, ["vm.resume_time", "non-negative"]),
    ({"link": {"bandwidth": 0}}, ["link.bandwidth", "> 0"]),
    ({"link": {"bandwidth": "fast"}}, ["link.bandwidth", "fast", "bit/s"]),
    ({"link": {"efficiency": 1.5}}, ["link.efficiency", "<= 1"]),
    ({"link": {"efficiency": 0}}, ["link.efficiency", "0 <"]),
    ({"link": {"rtt": "-1ms"}}, ["link.rtt", "non-negative"]),
    ({"engine": {"chunk_pages": 0}}, ["engine.chunk_pages", ">= 1"]),
    ({"engine": {"timeline_step": 0}}, ["engine.timeline_step", "> 0"]),
    ({"workload": {"start": "-1s"}}, ["workload.start", "non-negative"]),
    ({"workload": {"loop": "forever"}}, ["workload.loop", "loop", "reject"]),
    ({"workload": {"name": ""}}, ["workload.name"]),
    ({"workload": 5}, ["workload", "mapping or a name"]),
    ({"seed": -1}, ["seed", ">= 0"]),
    ({"seed": 1.5}, ["seed", "whole number"]),
    ({"seed": "x"}, ["seed", "number"]),
]


@pytest.mark.parametrize(("data", "words"), BAD)
def test_bad_config_names_the_key_and_what_is_allowed(data, words):
    with pytest.raises(ConfigError) as info:
        from_mapping(data)
    message = str(info.value).lower()
    for word in words:
        assert word.lower() in message, (word, str(info.value))


def test_config_accepts_the_limits():
    from_mapping({"strategy": {"max_rounds": 1, "stop_pages": 0, "throttle_max": 1}})
    from_mapping({"link": {"efficiency": 1}, "strategy": {"min_rate": "500Mbit/s"}})
    from_mapping({"vm": {"memory": 4096, "page_size": 512}})
    from_mapping({"strategy": {"page_header_bytes": 0}, "vm": {"state_bytes": 0}})
    cfg = from_mapping({"strategy": {"max_factor": "inf"}})  # no traffic cap
    assert cfg.strategy.max_factor == float("inf")


BAD_WORKLOADS = [
    ({"name": "teleport"}, ["teleport", "uniform", "idle", ".parquet"]),
    ({"name": "uniform", "speed": 3}, ["workload.speed", "rate", "pages"]),
    ({"name": "uniform", "rate": -1}, ["uniform", "rate", ">= 0"]),
    ({"name": "uniform", "pages": 10**9}, ["uniform", "pages"]),
    ({"name": "idle", "rate": 5}, ["workload.rate", "idle"]),
]


@pytest.mark.parametrize(("workload", "words"), BAD_WORKLOADS)
def test_bad_workload_names_the_parameter(workload, words):
    cfg = from_mapping({"workload": workload, "vm": {"memory": "16MiB"}})
    with pytest.raises(ConfigError) as info:
        make_workload(cfg.workload, cfg.vm, cfg.seed)
    message = str(info.value).lower()
    for word in words:
        assert word.lower() in message, (word, str(info.value))


def test_workload_parameters_from_the_command_line_are_coerced():
    cfg = from_mapping(
        {"workload": {"name": "uniform", "rate": "250", "pages": "16"}, "vm": {"memory": "1MiB"}}
    )
    wl = make_workload(cfg.workload, cfg.vm, cfg.seed)
    assert wl.rate == 250.0
    assert wl.pages == 16


@pytest.mark.parametrize(
    ("section", "key", "text", "kind"),
    [
        ("link", "bandwidth", "125000000", "rate"),
        ("link", "rtt", "0.2", "duration"),
        ("vm", "memory", "536870912", "size"),
        ("vm", "resume_time", "1", "duration"),
        ("engine", "timeline_step", "0.01", "duration"),
        ("workload", "start", "2", "duration"),
    ],
)
def test_a_quantity_given_as_text_needs_its_unit(section, key, text, kind):
    """Issue 14: `--bandwidth 125000000` was taken as 125 Mbit/s and a bare rtt as seconds;
    text without a unit is refused, naming the key; a Python number is in the base unit."""
    data = {section: {key: text}}
    if section == "workload":
        data[section]["name"] = "oltp"
    with pytest.raises(
        ConfigError, match=rf"{section}\.{key}: '{text}' has no unit; give the {kind}"
    ):
        from_mapping(data)
    data[section][key] = float(text)
    from_mapping(data)
