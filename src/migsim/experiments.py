"""The papers' experiments: expand the paper config into runs, and run them.

The ``paper`` target of the workflow (``workflow/rules/paper.smk``, config ``config/paper.yaml``)
regenerates the classic figures of Clark et al. (NSDI'05) and Hines & Gopalan (VEE'09) from
these experiments (figures: :mod:`migsim.analysis.paper_figures`):

======================  ======================================  ==============================
experiment              parts (one simulate job each)           figure
======================  ======================================  ==============================
``stop_copy``           ``all``                                 (validation only)
``clark_downtime``      one per workload                        Clark Figs. 3-6
``clark_ratelimit``     one per case                            Clark section 6
``hines_stress``        one per mode                            Hines Figs. 4-6
``hines_netperf``       ``all``                                 Hines Figs. 9/10
``hines_apps``          one per workload                        Hines Figs. 12-15
``closed_form``         ``all``                                 Clark's model, section 5
======================  ======================================  ==============================

(Clark Fig. 2, the writable working set, is a trace analysis with no runs.)
:func:`experiment_parts` and :func:`experiment_runs` turn the paper config into runs (a label
dict plus a :func:`migsim.config.from_mapping` input each); :func:`run_experiment` simulates the
runs of one part with :func:`migsim.sweep.run_batch`, the batch runner shared with the sweep,
and writes summary, rounds and timeline Parquet atomically with provenance metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from migsim.analysis.closed_form import page_send_time
from migsim.sweep import run_batch
from migsim.units import parse_duration, parse_rate, parse_size

__all__ = [
    "EXPERIMENTS",
    "TIMELINE_EXPERIMENTS",
    "experiment_parts",
    "experiment_runs",
    "run_experiment",
    "start_times",
]

#: Experiments whose runs are simulated (``wws`` is a trace analysis).
EXPERIMENTS = (
    "stop_copy",
    "clark_downtime",
    "clark_ratelimit",
    "hines_stress",
    "hines_netperf",
    "hines_apps",
    "closed_form",
)

#: Experiments whose timelines are kept (the others write an empty timeline table).
TIMELINE_EXPERIMENTS = ("hines_netperf",)

_MIB = 2**20


# --------------------------------------------------------------------------------------------
# experiments -> runs


def _strategy(spec: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A strategy mapping from a config variant (``strategy:`` plus options)."""
    spec = dict(spec)
    name = spec.pop("strategy", "pre_copy")
    spec.pop("description", None)
    return {"name": name, **spec, **extra}


def _mapping(
    cfg: Mapping[str, Any],
    strategy: Mapping[str, Any],
    workload: Mapping[str, Any],
    memory: str,
    bandwidth: str,
    seed: int | None = None,
    vm: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "strategy": dict(strategy),
        "workload": dict(workload),
        "vm": {"memory": str(memory), **(vm or {})},
        "link": {"bandwidth": str(bandwidth)},
        "seed": int(cfg.get("seed", 0) if seed is None else seed),
    }


def start_times(section: Mapping[str, Any]) -> list[float]:
    """The migration start times T (s) of ``clark_downtime``: ``start_count`` evenly spaced
    points from ``start_first`` to ``start_last``, rounded to 1 ms."""
    first = parse_duration(section["start_first"])
    last = parse_duration(section["start_last"])
    n = int(section["start_count"])
    if n == 1:
        return [first]
    return [round(float(x), 3) for x in np.linspace(first, last, n)]


def experiment_parts(cfg: Mapping[str, Any], experiment: str) -> list[str]:
    """The parts (one simulate job each) of an experiment."""
    if experiment == "clark_downtime":
        return [str(w) for w in cfg["clark_downtime"]["workloads"]]
    if experiment == "clark_ratelimit":
        return list(cfg["clark_ratelimit"]["cases"])
    if experiment == "hines_stress":
        return [str(m) for m in cfg["hines_stress"]["modes"]]
    if experiment == "hines_apps":
        return [str(w) for w in cfg["hines_apps"]["workloads"]]
    if experiment in EXPERIMENTS:
        return ["all"]
    raise ValueError(f"unknown experiment {experiment!r}; allowed: {', '.join(EXPERIMENTS)}")


def experiment_runs(cfg: Mapping[str, Any], experiment: str, part: str) -> list[dict[str, Any]]:
    """The runs of one part of an experiment: ``{"labels": {...}, "mapping": {...}}`` each.

    Labels become columns of every output row (they never collide with summary columns).
    """
    if part not in experiment_parts(cfg, experiment):
        raise ValueError(f"{experiment}: unknown part {part!r}")
    runs: list[dict[str, Any]] = []

    def add(labels: dict[str, Any], mapping: dict[str, Any]) -> None:
        runs.append(
            {"labels": {"experiment": experiment, "part": part, **labels}, "mapping": mapping}
        )

    clark = dict(cfg.get("clark_strategy") or {})
    if experiment == "stop_copy":
        sec = cfg["stop_copy"]
        for mem in sec["memories"]:
            for bw in sec["bandwidths"]:
                st = {"name": "stop_and_copy", **clark}
                add({"variant": "stop_and_copy", "memory": str(mem), "bandwidth": str(bw)},
                    _mapping(cfg, st, {"name": "idle"}, mem, bw))  # fmt: skip
    elif experiment == "clark_downtime":
        sec = cfg["clark_downtime"]
        for bw in sec["bandwidths"]:
            for t in start_times(sec):
                wl = {"name": part, "start": t}
                base = {"bandwidth": str(bw), "trace_start_s": t}
                add({**base, "variant": "stop_and_copy", "n_rounds": 0},
                    _mapping(cfg, {"name": "stop_and_copy", **clark}, wl, sec["memory"], bw))  # fmt: skip
                for n in sec["rounds"]:
                    st = {"name": "pre_copy", **clark, "max_rounds": int(n), "stop_pages": 0}
                    add({**base, "variant": "pre_copy", "n_rounds": int(n)},
                        _mapping(cfg, st, wl, sec["memory"], bw))  # fmt: skip
    elif experiment == "clark_ratelimit":
        sec = cfg["clark_ratelimit"]
        case = sec["cases"][part]
        wl = {"name": case["workload"], "start": parse_duration(case.get("start", 0)),
              **dict(case.get("params") or {})}  # fmt: skip
        st = {"name": "pre_copy", **clark, **dict(sec.get("strategy") or {})}
        add({"case": part, "memory": str(case["memory"])},
            _mapping(cfg, st, wl, case["memory"], sec["bandwidth"]))  # fmt: skip
    elif experiment == "hines_stress":
        sec = cfg["hines_stress"]
        for ws in sec["working_sets"]:
            wl = {"name": "memory_stress", "start": parse_duration(sec["start"]),
                  "region": str(ws), "mode": part}  # fmt: skip
            for name, var in sec["variants"].items():
                for dsb in sec["dsb"]:
                    labels = {"variant": name, "mode": part, "working_set": str(ws),
                              "working_set_mib": parse_size(ws) / _MIB, "dsb": bool(dsb)}  # fmt: skip
                    st = _strategy(var, dsb=bool(dsb))
                    add(labels, _mapping(cfg, st, wl, sec["memory"], sec["bandwidth"]))
    elif experiment == "hines_netperf":
        sec = cfg["hines_netperf"]
        wl = {"name": "netperf", "start": parse_duration(sec["start"])}
        for name, var in sec["variants"].items():
            add(
                {"variant": name},
                _mapping(cfg, _strategy(var), wl, sec["memory"], sec["bandwidth"]),
            )
    elif experiment == "hines_apps":
        sec = cfg["hines_apps"]
        wl = {"name": part, "start": parse_duration(sec["start"])}
        variants = dict(sec["variants"])
        for seed in sec["seeds"]:
            for name, var in variants.items():
                add({"variant": name},
                    _mapping(cfg, _strategy(var), wl, sec["memory"], sec["bandwidth"], seed))  # fmt: skip
            hines = variants[sec["post_copy_variant"]]
            add({"variant": "post_copy_hines"},
                _mapping(cfg, _strategy(hines), wl, sec["memory"], sec["bandwidth"], seed,
                         vm={"nonpageable_bytes": str(sec["hines_nonpageable"])}))  # fmt: skip
    elif experiment == "closed_form":
        sec = cfg["closed_form"]
        rate = parse_rate(sec["bandwidth"])
        pages_per_s = 1.0 / page_send_time(rate)
        st = {"name": "pre_copy", **dict(sec.get("strategy") or {})}
        for lam in sec["lambdas"]:
            for seed in sec["seeds"]:
                wl = {"name": "uniform", "start": parse_duration(sec["start"]),
                      "rate": float(lam) * pages_per_s}  # fmt: skip
                add({"lam": float(lam)},
                    _mapping(cfg, st, wl, sec["memory"], sec["bandwidth"], seed))  # fmt: skip
    else:  # pragma: no cover - experiment_parts rejected it
        raise ValueError(experiment)
    return runs


# --------------------------------------------------------------------------------------------
# running


def run_experiment(
    runs: Sequence[Mapping[str, Any]],
    summary_path: str,
    rounds_path: str,
    timeline_path: str,
    keep_timeline: bool = False,
    log: Any = None,
) -> dict[str, float]:
    """Simulate ``runs`` (from :func:`experiment_runs`) with :func:`migsim.sweep.run_batch` and
    write their summary, rounds and timeline tables, label columns first (``run``, the run's
    index in the batch, then its labels), atomically, with the configs, seeds and library
    versions as Parquet metadata. Timelines are kept only when ``keep_timeline``.
    Returns ``{"runs": n, "engine_s": ..., "wall_s": ...}`` (seconds)."""
    batch = [
        {
            "mapping": run["mapping"],
            "labels": {"run": i, **run["labels"]},
            "name": json.dumps(run["labels"], sort_keys=True),
        }
        for i, run in enumerate(runs)
    ]
    return run_batch(
        batch,
        summary_path,
        rounds_path,
        timeline_path,
        keep_timeline=keep_timeline,
        label_types={"run": pa.int64()},
        log=log,
    )
