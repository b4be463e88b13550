"""Scenario files: validation, the network of NICs and WAN links, independence of disjoint
migrations, shared NICs against closed forms, and agreement with ``migsim run``."""

from __future__ import annotations

import copy
import itertools
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml

from migsim import simulate
from migsim.cli import main
from migsim.config import ConfigError, from_mapping
from migsim.scenario import load_scenario, parse_scenario, run_scenario
from migsim.scenario.spec import writable_working_set

ROOT = Path(__file__).resolve().parents[1]
BASE = {
    "hosts": {"a": {"nic": "1Gbit/s"}, "b": {"nic": "1Gbit/s"}, "c": {"nic": "1Gbit/s"}},
    "vms": {
        "vm1": {"host": "a", "memory": "64MiB", "workload": "oltp"},
        "vm2": {"host": "a", "memory": "64MiB", "workload": "memory_stress"},
    },
    "migrations": {
        "m1": {"vm": "vm1", "to": "b", "strategy": "stop_and_copy"},
        "m2": {"vm": "vm2", "to": "c", "strategy": "stop_and_copy"},
    },
}


def scenario(**changes):
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        data[key] = value
    return data


def same(a, b) -> None:
    assert a.summary == b.summary
    assert a.rounds.equals(b.rounds)
    assert a.timeline.equals(b.timeline)


@pytest.mark.parametrize(
    ("strategy", "opts"),
    [
        ("pre_copy", {}),
        ("post_copy", {"prepaging": "bubble"}),
        ("hybrid", {}),
        ("pre_copy", {"rate_limit": "dynamic", "min_rate": "200Mbit/s"}),
    ],
)
def test_a_one_migration_scenario_equals_migsim_run(strategy, opts):
    data = {
        "seed": 3,
        "hosts": {"a": {"nic": "1Gbit/s"}, "b": {"nic": "1Gbit/s"}},
        "vms": {"v": {"host": "a", "memory": "96MiB", "vcpus": 2, "workload": "netperf"}},
        "migrations": {"m": {"vm": "v", "to": "b", "strategy": strategy, **opts}},
    }
    (got,) = run_scenario(parse_scenario(data)).results
    want = simulate(
        from_mapping(
            {
                "seed": 3,
                "vm": {"memory": "96MiB", "vcpus": 2},
                "link": {"bandwidth": "1Gbit/s", "rtt": "0.2ms"},
                "workload": "netperf",
                "strategy": {"name": strategy, **opts},
            }
        )
    )
    same(got, want)


def test_migrations_on_disjoint_nics_equal_their_solo_runs():
    data = {
        "hosts": {h: {"nic": "1Gbit/s"} for h in "abcd"},
        "vms": {
            "v1": {"host": "a", "memory": "96MiB", "workload": "oltp"},
            "v2": {"host": "c", "memory": "64MiB", "workload": "memory_stress"},
        },
        "migrations": {
            "m1": {"vm": "v1", "to": "b", "strategy": "pre_copy"},
            "m2": {"vm": "v2", "to": "d", "strategy": "post_copy", "at": "0.05s"},
        },
    }
    both = run_scenario(parse_scenario(data)).results
    for name, r in zip(("m1", "m2"), both, strict=True):
        solo = copy.deepcopy(data)
        solo["migrations"] = {name: data["migrations"][name]}
        solo["migrations"][name].pop("at", None)
        (alone,) = run_scenario(parse_scenario(solo)).results
        assert r.summary["config_json"] == alone.summary["config_json"]
        same(r, alone)


FULL = {"dsb": False, "zero_pages": False}


@pytest.mark.parametrize(
    ("first", "second"),
    [(("a", "b"), ("a", "c")), (("a", "c"), ("b", "c"))],
    ids=["one sending NIC", "one receiving NIC"],
)
def test_two_stop_and_copies_through_one_nic_take_twice_as_long(first, second):
    hosts = {h: {"nic": "1Gbit/s"} for h in "abc"}
    vms = {
        "v1": {"host": first[0], "memory": "64MiB", "workload": "oltp"},
        "v2": {"host": second[0], "memory": "64MiB", "workload": "oltp"},
    }
    data = {
        "hosts": hosts,
        "vms": vms,
        "migrations": {
            # every page sent in full, so that both (different seeds) send the same bytes
            "m1": {"vm": "v1", "to": first[1], "strategy": "stop_and_copy", **FULL},
            "m2": {"vm": "v2", "to": second[1], "strategy": "stop_and_copy", **FULL},
        },
    }
    both = run_scenario(parse_scenario(data)).results
    for name, r in zip(("m1", "m2"), both, strict=True):
        solo = copy.deepcopy(data)
        solo["migrations"] = {name: data["migrations"][name]}
        (alone,) = run_scenario(parse_scenario(solo)).results
        assert r.summary["total_time_s"] == 2 * alone.summary["total_time_s"]
        assert r.summary["bytes_transferred"] == alone.summary["bytes_transferred"]


def test_after_starts_when_the_other_ends_and_wan_links_set_rate_and_rtt():
    data = scenario(
        links={"wan": {"between": ["a", "c"], "bandwidth": "100Mbit/s", "rtt": "40ms"}},
    )
    data["migrations"]["m2"]["after"] = "m1"
    res = run_scenario(parse_scenario(data))
    table = res.migrations().to_pylist()
    assert table[1]["started_at_s"] == table[0]["ended_at_s"]
    assert table[0]["bandwidth_bps"] == 1e9 and table[0]["rtt_s"] == 0.0002
    assert table[1]["bandwidth_bps"] == 1e8 and table[1]["rtt_s"] == 0.04
    assert [r["outcome"] for r in table] == ["completed", "completed"]


def test_cancelled_migration_leaves_the_vm_safe():
    data = scenario()
    data["vms"]["vm2"]["workload"] = {"name": "memory_stress", "rate": "2GiB/s", "region": "48MiB"}
    data["migrations"]["m2"] = {"vm": "vm2", "to": "c", "strategy": "pre_copy", "max_time": "0.2s"}
    table = run_scenario(parse_scenario(data)).migrations().to_pylist()
    assert table[1]["outcome"] == "aborted_vm_safe"
    assert table[1]["total_time_s"] == 0.2


def _file(tmp_path, data, name="s.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def test_cli_run_writes_identical_parquet_for_the_same_file(tmp_path, capsys):
    path = _file(tmp_path, scenario())
    assert main(["scenario", "validate", str(path)]) == 0
    assert "valid (2 migrations)" in capsys.readouterr().out
    tables = []
    for out in ("o1", "o2"):
        assert main(["scenario", "run", str(path), "--out", str(tmp_path / out), "--json"]) == 0
        tables.append(
            {
                n: pq.read_table(tmp_path / out / f"{n}.parquet")
                for n in ("migrations", "rounds", "timeline", "link_rates")
            }
        )
    for name, t in tables[0].items():
        assert t.equals(tables[1][name]), name
    meta = pq.read_schema(tmp_path / "o1" / "migrations.parquet").metadata
    assert meta[b"migsim.scenario"] == path.read_bytes()


def _bad(data_fn):
    data = copy.deepcopy(BASE)
    data_fn(data)
    return data


BAD = [
    (lambda d: d["vms"]["vm1"].update(host="z"), "vms.vm1.host: unknown host 'z'"),
    (lambda d: d["migrations"]["m1"].update(vm="nope"), "migrations.m1.vm: unknown VM 'nope'"),
    (lambda d: d["migrations"]["m1"].update(to="z"), "migrations.m1.to: unknown host 'z'"),
    (lambda d: d["migrations"]["m1"].update(to="a"), "migrations.m1.to: vm1 already runs on a"),
    (lambda d: d["migrations"]["m2"].update(vm="vm1"), "migrations.m2.vm: vm1 is already migrated"),
    (
        lambda d: (
            d["migrations"]["m1"].update(after="m2"),
            d["migrations"]["m2"].update(after="m1"),
        ),
        "a cycle",
    ),
    (
        lambda d: d["migrations"]["m1"].update(after=["m9"]),
        "migrations.m1.after: unknown migration 'm9'",
    ),
    (lambda d: d["hosts"]["a"].update(nic="10"), "hosts.a.nic: '10' has no unit"),
    (lambda d: d["migrations"]["m1"].update(at="-1s"), "migrations.m1.at"),
    (
        lambda d: d["migrations"]["m1"].update(at="1s", after="m2"),
        "migrations.m1: give at or after",
    ),
    (lambda d: d.update(flavour=1), "unknown key flavour"),
    (lambda d: d["hosts"]["a"].update(cpu=4), "unknown key hosts.a.cpu"),
    (lambda d: d.pop("vms"), "vms: missing"),
    (lambda d: d["hosts"]["b"].update(memory="32MiB"), "hosts.b.memory"),
    (
        lambda d: d.update(links={"w": {"between": ["a", "q"], "bandwidth": "1Gbit/s"}}),
        "links.w.between: unknown host 'q'",
    ),
    (
        lambda d: d.update(links={"w": {"between": ["a", "a"], "bandwidth": "1Gbit/s"}}),
        "links.w.between",
    ),
    (lambda d: d["migrations"]["m1"].update(strategy="teleport"), "strategy.name: 'teleport'"),
    (lambda d: d["migrations"]["m1"].update(max_rounds=3), "strategy.max_rounds is an option of"),
    (lambda d: d["vms"]["vm1"].update(vcpus="two"), "vms.vm1.vcpus"),
    (lambda d: d["hosts"]["c"].pop("nic"), "hosts.c.nic: missing"),
    (lambda d: d["vms"]["vm1"].update(memory="64"), "vms.vm1: vm.memory"),
    (
        lambda d: d["vms"]["vm1"].update(workload={"name": "oltp", "start": "-2s"}),
        "vms.vm1: workload.start",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD)
def test_bad_scenario_files_name_the_key_and_write_nothing(tmp_path, capsys, change, message):
    path = _file(tmp_path, _bad(change))
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")):
        load_scenario(path)
    out = tmp_path / "out"
    assert main(["scenario", "run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error:" in err
    assert not out.exists()


def test_a_file_that_is_not_yaml_or_not_there(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_scenario(_file(tmp_path, "hosts: {a: [\n"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "path", sorted((ROOT / "config" / "scenarios").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_scenario_in_config_validates(path):
    assert load_scenario(path).planned


def drain(**spec):
    return {
        "hosts": {h: {"nic": "1Gbit/s"} for h in "abc"},
        "vms": {
            "v1": {"host": "a", "memory": "96MiB", "workload": "oltp"},
            "v2": {"host": "a", "memory": "32MiB", "workload": "memory_stress"},
            "v3": {"host": "a", "memory": "64MiB", "workload": "specweb"},
            "v4": {"host": "b", "memory": "32MiB", "workload": "oltp"},
        },
        "evacuations": {"d": {"host": "a", "to": ["b", "c"], "strategy": "pre_copy", **spec}},
    }


def test_an_evacuation_one_at_a_time_runs_them_back_to_back_in_order():
    res = run_scenario(parse_scenario(drain(concurrency=1, order="largest_memory")))
    rows = res.migrations().to_pylist()
    assert [r["vm"] for r in rows] == ["v1", "v3", "v2"]
    assert [r["target"] for r in rows] == ["b", "c", "b"]
    assert rows[0]["started_at_s"] == 0.0
    for before, after in itertools.pairwise(rows):
        assert after["started_at_s"] == before["ended_at_s"]
    (e,) = res.evacuations().to_pylist()
    assert e["vms"] == 3 and e["concurrency"] == 1
    assert e["empty_at_s"] == rows[-1]["ended_at_s"]
    assert e["downtime_max_s"] == max(r["downtime_s"] for r in rows)
    assert e["bytes_moved"] == sum(r["bytes_transferred"] for r in rows)


def test_an_evacuation_k_at_a_time_never_runs_more_than_k():
    rows = run_scenario(parse_scenario(drain(concurrency=2))).migrations().to_pylist()
    assert [r["started_at_s"] for r in rows[:2]] == [0.0, 0.0]
    assert rows[2]["started_at_s"] == min(r["ended_at_s"] for r in rows[:2])
    everyone = run_scenario(parse_scenario(drain())).migrations().to_pylist()
    assert [r["started_at_s"] for r in everyone] == [0.0, 0.0, 0.0]


def test_evacuation_orders():
    def order(name):
        scn = parse_scenario(drain(order=name))
        return [p.name for p in scn.planned]

    assert order("file") == ["d/v1", "d/v2", "d/v3"]
    assert order("smallest_memory") == ["d/v2", "d/v3", "d/v1"]
    assert order("largest_memory") == ["d/v1", "d/v3", "d/v2"]
    scn = parse_scenario(drain(order="smallest_wws"))
    sizes = [writable_working_set(p.config) for p in scn.planned]
    assert sizes == sorted(sizes) and len(set(sizes)) == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"host": "z"}, "evacuations.d.host: unknown host 'z'"),
        ({"host": "c", "to": "b"}, "evacuations.d.host: no VM runs on c"),
        ({"to": ["a"]}, "evacuations.d.to: a is the host being drained"),
        ({"to": ["q"]}, "evacuations.d.to: unknown host 'q'"),
        ({"concurrency": 0}, "evacuations.d.concurrency: 0 is out of range"),
        ({"order": "random"}, "evacuations.d.order"),
        ({"max_rounds": 0}, "evacuations.d: strategy.max_rounds"),
    ],
)
def test_bad_evacuations_name_the_key(spec, message):
    data = drain()
    data["evacuations"]["d"].update(spec)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        parse_scenario(data)


def test_a_vm_in_a_migration_and_an_evacuation_is_refused():
    data = drain()
    data["migrations"] = {"m": {"vm": "v1", "to": "c", "strategy": "stop_and_copy"}}
    with pytest.raises(ConfigError, match=r"evacuations\.d: v1 is already migrated by m"):
        parse_scenario(data)


def test_the_scenario_figure_draws_phases_and_rates(tmp_path):
    from matplotlib.figure import Figure

    from migsim.analysis.scenario_figures import scenario_figure

    res = run_scenario(parse_scenario(drain(concurrency=2)))
    res.write(tmp_path)
    mig = pl.read_parquet(tmp_path / "migrations.parquet")
    rates = pl.read_parquet(tmp_path / "link_rates.parquet")
    fig = scenario_figure(mig, rates, "drain")
    assert isinstance(fig, Figure)
    top, bottom = fig.axes[:2]
    assert len(top.patches) == sum(
        1
        for r in mig.to_dicts()
        for x in ("precopy_time_s", "downtime_s", "postcopy_time_s")
        if r[x] > 0
    )
    # the stacked allocated rates never exceed the drained host's NIC (1 Gbit/s)
    heights = [c.get_paths()[0].vertices[:, 1].max() for c in bottom.collections]
    assert max(heights) <= 1.0 + 1e-9


@pytest.mark.slow
def test_the_scenarios_target_runs_every_file(tmp_path, copy_workflow, snakemake):
    """Every file of config/scenarios/ gives its tables and figure; nothing reruns; one core
    gives the tables of two."""
    wd = copy_workflow(tmp_path / "wf")
    snakemake(wd, "--cores", "2", "scenarios")
    for path in (ROOT / "config" / "scenarios").glob("*.yaml"):
        out = wd / "results" / "scenarios" / path.stem
        mig = pq.read_table(out / "migrations.parquet")
        assert mig.num_rows == len(load_scenario(path).planned)
        assert (wd / "results" / "figures" / "scenarios" / f"{path.stem}.png").stat().st_size > 0
    again = snakemake(wd, "-n", "--cores", "2", "scenarios")
    assert "Nothing to be done" in again.stdout + again.stderr
    one = copy_workflow(tmp_path / "one")
    snakemake(one, "--cores", "1", "scenarios")
    for path in sorted((wd / "results" / "scenarios").rglob("*.parquet")):
        rel = path.relative_to(wd)
        assert pq.read_table(path).equals(pq.read_table(one / rel)), rel
