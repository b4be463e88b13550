"""The papers' figures: experiments, their runs, and one plotting function per figure.

The ``paper`` target of the workflow (``workflow/rules/paper.smk``, config ``config/paper.yaml``)
regenerates the classic figures of Clark et al. (NSDI'05) and Hines & Gopalan (VEE'09):

======  ============================  ======================================  ==================
figure  paper figure                  experiment (runs)                       function
======  ============================  ======================================  ==================
1       Clark Fig. 2                  ``wws`` (trace analysis, no runs)        :func:`wws_figure`
2       Clark Figs. 3-6               ``clark_downtime`` (one part/workload)   :func:`clark_downtime_figure`
3       Clark section 6               ``clark_ratelimit``                      :func:`clark_ratelimit_figure`
4       Hines Figs. 4-6               ``hines_stress`` (one part per mode)     :func:`hines_stress_figure`
5       Hines Figs. 9/10              ``hines_netperf``                        :func:`hines_netperf_figure`
6       Hines Figs. 12-15             ``hines_apps`` (one part per workload)   :func:`hines_apps_figure`,
                                                                              :func:`hines_faults_figure`
7       Clark's model, section 5      ``closed_form``                          :func:`closed_form_figure`
--      SPEC section 5 (512 MB)       ``stop_copy``                            (validation only)
======  ============================  ======================================  ==================

:func:`experiment_parts` and :func:`experiment_runs` turn the paper config into runs (a label
dict plus a :func:`migsim.config.from_mapping` input each); :func:`run_batch` simulates a list of
runs and writes summary, rounds and timeline Parquet atomically with provenance metadata. The
figure functions take polars frames read from those files (never engine objects) and return
matplotlib Figures; save them with :func:`migsim.analysis.figures.save`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import seaborn as sns
from matplotlib.figure import Figure

from migsim.analysis.closed_form import clark_precopy, page_send_time, precopy_expected
from migsim.analysis.figures import _plain_log_ticks, _style
from migsim.units import format_rate, parse_duration, parse_rate, parse_size

__all__ = [
    "EXPERIMENTS",
    "TIMELINE_EXPERIMENTS",
    "PaperTargets",
    "clark_downtime_figure",
    "clark_ratelimit_figure",
    "closed_form_figure",
    "closed_form_table",
    "experiment_parts",
    "experiment_runs",
    "hines_apps_figure",
    "hines_faults_figure",
    "hines_netperf_figure",
    "hines_stress_figure",
    "run_batch",
    "start_times",
    "wws_figure",
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


def _with_labels(table: pa.Table, labels: Mapping[str, Any], run: int) -> pa.Table:
    n = table.num_rows
    cols = {"run": pa.array([run] * n, pa.int64())}
    for key, value in labels.items():
        if key in table.column_names:
            raise ValueError(f"label {key!r} collides with a result column")
        cols[key] = pa.array([value] * n)
    out = table
    for i, (key, col) in enumerate(cols.items()):
        out = out.add_column(i, key, col)
    return out


def run_batch(
    runs: Sequence[Mapping[str, Any]],
    summary_path: str,
    rounds_path: str,
    timeline_path: str,
    keep_timeline: bool = False,
    log: Any = None,
) -> dict[str, float]:
    """Simulate ``runs`` (from :func:`experiment_runs`) and write their summary, rounds and
    timeline tables (label columns first) atomically, with the configs, seeds and library
    versions as Parquet metadata. Timelines are kept only when ``keep_timeline``.
    Returns ``{"runs": n, "engine_s": ..., "wall_s": ...}`` (seconds)."""
    from migsim import simulate
    from migsim.config import from_mapping, to_mapping
    from migsim.engine.result import (
        ROUNDS_SCHEMA,
        SUMMARY_SCHEMA,
        TIMELINE_SCHEMA,
        provenance_metadata,
    )
    from migsim.io import write_parquet_atomic

    t_start = time.perf_counter()
    engine_s = 0.0
    summaries, rounds, timelines, configs = [], [], [], []
    for i, run in enumerate(runs):
        cfg = from_mapping(run["mapping"])
        configs.append(to_mapping(cfg))
        t0 = time.perf_counter()
        res = simulate(cfg)
        dt = time.perf_counter() - t0
        engine_s += dt
        labels = run["labels"]
        summaries.append(
            _with_labels(pa.Table.from_pylist([res.summary], SUMMARY_SCHEMA), labels, i)
        )
        rounds.append(_with_labels(res.rounds.cast(ROUNDS_SCHEMA), labels, i))
        if keep_timeline:
            timelines.append(_with_labels(res.timeline.cast(TIMELINE_SCHEMA), labels, i))
        if log is not None:
            s = res.summary
            print(
                f"{json.dumps(labels, sort_keys=True)}: total {s['total_time_s']:.3f} s, "
                f"downtime {s['downtime_s']:.4f} s, {s['pages_transferred']} pages, "
                f"{s['rounds']} rounds ({s['stop_reason']}); engine {dt:.2f} s",
                file=log,
                flush=True,
            )
    meta = provenance_metadata(None)
    meta[b"migsim.configs"] = json.dumps(configs, sort_keys=True, default=str).encode()
    meta[b"migsim.seeds"] = json.dumps([c["seed"] for c in configs]).encode()
    if not timelines:
        empty = TIMELINE_SCHEMA.empty_table()
        timelines = [_with_labels(empty, runs[0]["labels"], 0)] if runs else [empty]
    for tables, path in (
        (summaries, summary_path),
        (rounds, rounds_path),
        (timelines, timeline_path),
    ):
        table = pa.concat_tables(tables, promote_options="permissive").replace_schema_metadata(meta)
        write_parquet_atomic(table, path)
    wall = time.perf_counter() - t_start
    if log is not None:
        print(f"{len(runs)} runs: engine {engine_s:.2f} s of {wall:.2f} s", file=log, flush=True)
    return {"runs": len(runs), "engine_s": engine_s, "wall_s": wall}


# --------------------------------------------------------------------------------------------
# closed form


def closed_form_table(summary: pl.DataFrame) -> pl.DataFrame:
    """Per ``lam``: the engine's mean (over seeds) of total time, downtime and pages
    transferred next to the corrected closed form (:func:`precopy_expected`, with each run's own
    configuration from ``config_json``) and Clark's geometric series for the same number of
    rounds. Columns ``lam``, ``n``, ``<metric>_engine``, ``<metric>_model``, ``<metric>_clark``
    and ``<metric>_model_dev`` (relative deviation of the engine from the model)."""
    rows = []
    for lam, grp in summary.sort("lam").group_by("lam", maintain_order=True):
        conf = json.loads(grp["config_json"][0])
        vm, st, link, wl = conf["vm"], conf["strategy"], conf["link"], conf["workload"]
        rate = float(link["bandwidth_bps"]) * float(link.get("efficiency", 1.0))
        pages = int(vm["memory_bytes"]) // int(vm["page_size"])
        model = precopy_expected(
            pages,
            float(wl["rate"]),
            rate,
            hot_pages=int(wl.get("pages") or 0) or None,
            page_size=int(vm["page_size"]),
            header_bytes=int(st["page_header_bytes"]),
            state_bytes=int(vm["state_bytes"]),
            resume_time=float(vm.get("resume_time", 0.0)),
            skip=bool(st["skip"]),
            scan_order=st["scan_order"],
            max_rounds=int(st["max_rounds"]),
            max_factor=float(st["max_factor"]),
            stop_pages=int(st["stop_pages"]),
            switchover=st["switchover"],
            downtime_limit=float(st["downtime_limit"]),
        )
        c = page_send_time(rate, int(vm["page_size"]), int(st["page_header_bytes"]))
        state_s = int(vm["state_bytes"]) * 8.0 / rate
        clark = clark_precopy(float(pages), float(wl["rate"]), 1.0 / c, model.rounds)
        row = {
            "lam": float(lam[0]),
            "n": model.rounds,
            "seeds": grp.height,
            "pages_transferred_engine": float(grp["pages_transferred"].mean()),
            "pages_transferred_model": model.pages_transferred,
            "pages_transferred_clark": clark.volume,
            "total_time_s_engine": float(grp["total_time_s"].mean()),
            "total_time_s_model": model.total_time_s,
            "total_time_s_clark": clark.total_time_s + state_s,
            "downtime_s_engine": float(grp["downtime_s"].mean()),
            "downtime_s_model": model.downtime_s,
            "downtime_s_clark": clark.downtime_s + state_s,
        }
        for m in ("pages_transferred", "total_time_s", "downtime_s"):
            row[f"{m}_model_dev"] = row[f"{m}_engine"] / row[f"{m}_model"] - 1.0
        rows.append(row)
    return pl.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# figures


def _palette(names: Sequence[str]) -> dict[str, Any]:
    return dict(zip(names, sns.color_palette("colorblind", max(len(names), 1)), strict=False))


def wws_figure(wws: pl.DataFrame, workloads: Sequence[str] | None = None) -> Figure:
    """Figure 1 (Clark Fig. 2): writable working set (MiB) of each workload over time, one
    panel per workload; ``wws`` has ``workload``, ``t_start`` (s) and ``wws_mib`` and the
    window/sample lengths in ``window_s``/``sample_s``."""
    names = list(workloads or dict.fromkeys(wws["workload"].to_list()))
    with _style():
        fig = Figure(figsize=(9, 1.9 * len(names) + 0.8), layout="constrained")
        axes = np.atleast_1d(fig.subplots(len(names), 1, sharex=True))
        colours = _palette(names)
        for ax, name in zip(axes, names, strict=True):
            d = wws.filter(pl.col("workload") == name).sort("t_start")
            ax.plot(d["t_start"].to_numpy(), d["wws_mib"].to_numpy(), color=colours[name], lw=1.2)
            ax.set_ylabel("WWS (MiB)")
            ax.set_ylim(bottom=0)
            ax.set_title(name, loc="left", fontsize="medium")
        axes[-1].set_xlabel("Window start in the trace (s)")
        w = wws["window_s"][0] if "window_s" in wws.columns and wws.height else 8.0
        s = wws["sample_s"][0] if "sample_s" in wws.columns and wws.height else 0.05
        fig.suptitle(
            f"Writable working set: distinct pages dirtied per {w:g} s window, "
            f"sampled every {s * 1000:g} ms (Clark et al. Fig. 2)"
        )
    return fig


def clark_downtime_figure(summary: pl.DataFrame, workload: str) -> Figure:
    """Figure 2 (Clark Figs. 3-6): downtime (s, log axis) if migration starts at trace time T,
    one panel per bandwidth, one line per number of pre-copy rounds, the stop-and-copy level
    dashed. ``summary`` holds the ``clark_downtime`` runs of ``workload``."""
    df = summary.filter(pl.col("part") == workload)
    bws = df.select("bandwidth", "bandwidth_bps").unique().sort("bandwidth_bps")["bandwidth"]
    rounds = sorted(x for x in df["n_rounds"].unique().to_list() if x > 0)
    colours = _palette([str(n) for n in rounds])
    with _style():
        fig = Figure(figsize=(4.0 * len(bws) + 1, 4.8), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(bws), sharey=True))
        for ax, bw in zip(axes, bws.to_list(), strict=True):
            d = df.filter(pl.col("bandwidth") == bw)
            sc = d.filter(pl.col("n_rounds") == 0).sort("trace_start_s")
            level = float(sc["downtime_s"].mean()) if sc.height else float("nan")
            ax.axhline(level, color="0.3", ls="--", lw=1.2)
            ax.annotate(f"stop-and-copy {level:.1f} s", (0.02, level), xycoords=("axes fraction",
                        "data"), va="bottom", fontsize="small", color="0.3")  # fmt: skip
            for i, n in enumerate(rounds):
                r = d.filter(pl.col("n_rounds") == n).sort("trace_start_s")
                ax.plot(r["trace_start_s"].to_numpy(), r["downtime_s"].to_numpy(), marker="os^D"[i % 4],
                        ms=3.5, color=colours[str(n)], label=f"{n} round{'s' * (n > 1)}")  # fmt: skip
            ax.set_yscale("log")
            _plain_log_ticks(ax)
            ax.set_title(f"{bw}")
            ax.set_xlabel("Migration start time T in the trace (s)")
        axes[0].set_ylabel("Downtime (s)")
        # below the panels: inside one, it hides the curves it labels
        handles, labels = axes[-1].get_legend_handles_labels()
        fig.legend(handles, labels, title="pre-copy rounds before stop-and-copy",
                   loc="outside lower center", ncol=len(rounds), frameon=False)  # fmt: skip
        fig.suptitle(f"{workload}: downtime vs migration start, 512 MB VM (Clark et al. Figs. 3-6)")
    return fig


def clark_ratelimit_figure(rounds: pl.DataFrame) -> Figure:
    """Figure 3 (Clark section 6): per-round volume (MiB, bars) and rate limit and dirty rate
    (Mbit/s, lines) under dynamic rate limiting, one panel per case."""
    cases = list(dict.fromkeys(rounds["case"].to_list()))
    with _style():
        fig = Figure(figsize=(5.2 * len(cases), 4.3), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(cases)))
        blue, orange, green = sns.color_palette("colorblind", 3)
        for ax, case in zip(axes, cases, strict=True):
            d = rounds.filter(pl.col("case") == case).sort("round")
            x = np.arange(d.height)
            ax.bar(x, d["bytes"].to_numpy() / _MIB, color=blue, alpha=0.8, label="volume sent")
            ax.set_xticks(x, [("SC" if p == "stop_copy" else str(r)) for r, p in
                              zip(d["round"].to_list(), d["phase"].to_list(), strict=True)])  # fmt: skip
            ax.set_xlabel("Round (SC = stop-and-copy)")
            ax.set_ylabel("Volume sent (MiB)")
            tw = ax.twinx()
            tw.plot(
                x,
                d["rate_limit_bps"].to_numpy() / 1e6,
                color=orange,
                marker="o",
                label="rate limit",
            )
            tw.plot(x, d["dirty_rate_pps"].to_numpy() * 4096 * 8 / 1e6, color=green, marker="s",
                    ls=":", label="dirty rate")  # fmt: skip
            tw.set_ylabel("Rate (Mbit/s)")
            tw.set_ylim(bottom=0)
            tw.grid(False)
            mem = d["memory"][0] if d.height else ""
            ax.set_title(f"{case}, {mem} VM")
            handles = ax.get_legend_handles_labels()[0] + tw.get_legend_handles_labels()[0]
            ax.legend(handles=handles, fontsize="small", loc="upper right")
        fig.suptitle(
            "Dynamic rate limiting, 100 -> 500 Mbit/s, +50 Mbit/s (Clark et al. section 6)"
        )
    return fig


_STRESS_METRICS = (
    ("total_time_s", "Total migration time (s)"),
    ("downtime_s", "Downtime (s)"),
    ("pages_transferred", "Pages sent"),
)


def hines_stress_figure(summary: pl.DataFrame) -> Figure:
    """Figure 4 (Hines Figs. 4-6): total time, downtime and pages sent vs working set (MiB)
    of the sequential stress test, one column per mode (write/read), one colour per strategy,
    solid with self-ballooning (DSB), dashed without."""
    modes = list(dict.fromkeys(summary["mode"].to_list()))
    variants = list(dict.fromkeys(summary["variant"].to_list()))
    colours = _palette(variants)
    with _style():
        fig = Figure(figsize=(5.0 * len(modes), 9), layout="constrained")
        axes = np.array(fig.subplots(3, len(modes), sharex=True, squeeze=False))
        for c, mode in enumerate(modes):
            for r, (metric, label) in enumerate(_STRESS_METRICS):
                ax = axes[r, c]
                for i, v in enumerate(variants):
                    for dsb in (True, False):
                        d = summary.filter((pl.col("mode") == mode) & (pl.col("variant") == v)
                                           & (pl.col("dsb") == dsb)).sort("working_set_mib")  # fmt: skip
                        if d.is_empty():
                            continue
                        ax.plot(d["working_set_mib"].to_numpy(), d[metric].to_numpy(),
                                color=colours[v], marker="os^D"[i % 4], ms=4,
                                ls="-" if dsb else "--",
                                label=f"{v}, {'DSB' if dsb else 'no DSB'}")  # fmt: skip
                ax.set_xscale("log", base=2)
                _plain_log_ticks(ax, "x")
                ax.set_yscale("log")
                _plain_log_ticks(ax)
                ax.set_ylabel(label)
                if r == 0:
                    ax.set_title(f"sequential {mode}")
            axes[-1, c].set_xlabel("Working set (MiB)")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=3, frameon=False)
        mem = summary["memory_bytes"][0] / 2**30 if summary.height else 2
        fig.suptitle(f"Sequential stress on a {mem:g} GiB VM over "
                     f"{format_rate(summary['bandwidth_bps'][0]) if summary.height else ''} "
                     "(Hines & Gopalan Figs. 4-6)")  # fmt: skip
    return fig


def hines_netperf_figure(
    summary: pl.DataFrame, timeline: pl.DataFrame, before: float = 2.0
) -> Figure:
    """Figure 5 (Hines Figs. 9/10): NetPerf throughput (Mbit/s) over time during pre-copy and
    post-copy, one panel each; ``before`` seconds of the baseline are drawn before migration
    starts at t = 0, and the migration's end is marked."""
    variants = list(dict.fromkeys(summary["variant"].to_list()))
    colours = _palette(variants)
    with _style():
        fig = Figure(figsize=(9, 2.8 * len(variants) + 0.6), layout="constrained")
        axes = np.atleast_1d(fig.subplots(len(variants), 1, sharey=True))
        for ax, v in zip(axes, variants, strict=True):
            s = summary.filter(pl.col("variant") == v).row(0, named=True)
            d = timeline.filter(pl.col("variant") == v).sort("t_s")
            base = s["service_baseline"]
            t = np.concatenate(([-before, 0.0], d["t_s"].to_numpy()))
            y = np.concatenate(([base, base], d["service_rate"].to_numpy()))
            ax.plot(t, y, color=colours[v], lw=1.2, drawstyle="steps-post")
            ax.axvline(0, color="0.4", ls=":", lw=1)
            ax.axvline(s["total_time_s"], color="0.4", ls="--", lw=1)
            ax.axhline(base, color="0.6", lw=0.8)
            ax.set_ylabel(f"Throughput ({s['service_unit']})")
            ax.set_ylim(bottom=0, top=base * 1.1)
            ax.set_title(f"{v}: total {s['total_time_s']:.2f} s, downtime "
                         f"{s['downtime_s'] * 1000:.1f} ms", loc="left", fontsize="medium")  # fmt: skip
        axes[-1].set_xlabel("Time since migration start (s); dashed: migration complete")
        fig.suptitle("NetPerf throughput during migration (Hines & Gopalan Figs. 9/10)")
    return fig


_APP_METRICS = (
    ("pages_transferred", "Pages sent"),
    ("total_time_s", "Total migration time (s)"),
    ("downtime_s", "Downtime (s)"),
    ("app_degradation_pct", "Application degradation (%)"),
)


def _bars(ax: Any, df: pl.DataFrame, metric: str, variants: Sequence[str], colours: dict) -> None:
    workloads = list(dict.fromkeys(df["part"].to_list()))
    width = 0.8 / max(len(variants), 1)
    x = np.arange(len(workloads))
    for i, v in enumerate(variants):
        agg = (df.filter(pl.col("variant") == v).group_by("part")
               .agg(pl.col(metric).mean().alias("m"), pl.col(metric).std().alias("s")))  # fmt: skip
        lookup = {r["part"]: (r["m"], r["s"] or 0.0) for r in agg.iter_rows(named=True)}
        vals = np.array([lookup.get(w, (np.nan, 0.0)) for w in workloads], dtype=float)
        ax.bar(x + (i - (len(variants) - 1) / 2) * width, vals[:, 0], width, yerr=vals[:, 1],
               color=colours[v], label=v, capsize=2)  # fmt: skip
    ax.set_xticks(x, workloads)


def hines_apps_figure(summary: pl.DataFrame, variants: Sequence[str]) -> Figure:
    """Figure 6 (Hines Figs. 12-15): pages sent, total time, downtime and degradation per
    workload (mean over seeds, error bar = standard deviation) for ``variants``."""
    variants = [v for v in variants if v in set(summary["variant"].to_list())]
    colours = _palette(variants)
    with _style():
        fig = Figure(figsize=(11, 7.5), layout="constrained")
        axes = fig.subplots(2, 2).ravel()
        for ax, (metric, label) in zip(axes, _APP_METRICS, strict=True):
            _bars(ax, summary, metric, variants, colours)
            ax.set_ylabel(label)
            if metric in ("downtime_s", "total_time_s", "pages_transferred"):
                ax.set_yscale("log")
                _plain_log_ticks(ax)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(variants), frameon=False)
        fig.suptitle("Application workloads, 512 MiB VM over GigE (Hines & Gopalan Figs. 12-15)")
    return fig


def hines_faults_figure(summary: pl.DataFrame, variants: Sequence[str]) -> Figure:
    """Figure 6b (Hines Figs. 12-15): network page faults per workload for demand paging,
    active push and single-/multi-pivot bubbling (forward and dual), log axis."""
    variants = [v for v in variants if v in set(summary["variant"].to_list())]
    colours = _palette(variants)
    with _style():
        fig = Figure(figsize=(11, 4.8), layout="constrained")
        ax = fig.subplots()
        _bars(ax, summary, "network_faults", variants, colours)
        ax.set_yscale("log")
        _plain_log_ticks(ax)
        ax.set_ylabel("Network page faults")
        fig.legend(
            *ax.get_legend_handles_labels(), loc="outside lower center", ncol=3, frameon=False
        )
        fig.suptitle("Post-copy network faults by pre-paging scheme (Hines & Gopalan Figs. 12-15)")
    return fig


def closed_form_figure(table: pl.DataFrame) -> Figure:
    """Figure 7: the engine on the uniform workload (mean over seeds, markers) against the
    corrected closed form (line) and Clark's geometric series (dashed) across
    lambda = D / B, for pages transferred, total time and downtime."""
    metrics = (("pages_transferred", "Pages sent"), ("total_time_s", "Total migration time (s)"),
               ("downtime_s", "Downtime (s)"))  # fmt: skip
    blue, orange, green = sns.color_palette("colorblind", 3)
    with _style():
        fig = Figure(figsize=(13, 4.3), layout="constrained")
        axes = fig.subplots(1, 3)
        lam = table["lam"].to_numpy()
        for ax, (m, label) in zip(axes, metrics, strict=True):
            ax.plot(
                lam, table[f"{m}_clark"].to_numpy(), color=green, ls="--", label="Clark's series"
            )
            ax.plot(lam, table[f"{m}_model"].to_numpy(), color=orange, label="corrected model")
            ax.plot(lam, table[f"{m}_engine"].to_numpy(), color=blue, ls="", marker="o",
                    label="migsim (uniform)")  # fmt: skip
            ax.set_xlabel("lambda = D / B")
            ax.set_ylabel(label)
            if m == "downtime_s":
                ax.set_yscale("log")
                _plain_log_ticks(ax)
        axes[0].legend(fontsize="small")
        n = table["n"][0] if table.height else 0
        fig.suptitle(f"Closed-form pre-copy model vs the engine, {n} pre-copy rounds "
                     "(Clark et al. section 5)")  # fmt: skip
    return fig


# --------------------------------------------------------------------------------------------
# workflow helpers (workflow/rules/paper.smk)


class PaperTargets:
    """File names and input/param functions of the ``paper`` rules for one paper config.

    Bound methods that take ``wildcards`` serve as Snakemake input/param functions (so the
    rule file holds rules only). Paths: ``<results>/paper/runs/<experiment>/<part>/<table>.parquet``,
    ``<results>/paper/wws/<workload>.parquet``, ``<results>/paper/figures/<name>.{pdf,png}``.
    """

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.cfg = cfg
        self.results = str(cfg["results"]).rstrip("/")
        self.root = f"{self.results}/paper"
        self.parts = {e: experiment_parts(cfg, e) for e in EXPERIMENTS}

    def runs_json(self, wildcards: Any) -> str:
        """The runs of one simulate job as canonical JSON (editing them reruns the job)."""
        runs = experiment_runs(self.cfg, wildcards.experiment, wildcards.part)
        return json.dumps(runs, sort_keys=True, separators=(",", ":"))

    def keep_timeline(self, wildcards: Any) -> bool:
        """Whether the simulate job keeps its timelines."""
        return wildcards.experiment in TIMELINE_EXPERIMENTS

    def table(self, experiment: str, table: str) -> list[str]:
        """One table (summary, rounds, timeline) of every part of an experiment."""
        return [
            f"{self.root}/runs/{experiment}/{part}/{table}.parquet"
            for part in self.parts[experiment]
        ]

    def figure(self, name: str, ext: str) -> str:
        """``<results>/paper/figures/<name>.<ext>``."""
        return f"{self.root}/figures/{name}.{ext}"

    def wws_files(self) -> list[str]:
        """The WWS tables of every workload of figure 1."""
        return [f"{self.root}/wws/{w}.parquet" for w in self.cfg["wws"]["workloads"]]

    def clark_downtime_pngs(self) -> list[str]:
        """The PNG of every workload of figure 2."""
        return [
            self.figure(f"clark_figs3-6_downtime_{w}", "png")
            for w in self.cfg["clark_downtime"]["workloads"]
        ]

    def validation_inputs(self) -> dict[str, list[str]]:
        """Every experiment's summaries and the NetPerf timelines, by name."""
        out = {e: self.table(e, "summary") for e in EXPERIMENTS}
        out["netperf_timeline"] = self.table("hines_netperf", "timeline")
        return out

    def fault_variants(self) -> list[str]:
        """The post-copy variants of the network-fault figure."""
        return [
            v for v, spec in self.cfg["hines_apps"]["variants"].items()
            if spec.get("strategy") == "post_copy"
        ]  # fmt: skip
