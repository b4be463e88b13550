"""The papers' figures: one plotting function per figure, from the experiments' Parquet files.

The ``paper`` target of the workflow (``workflow/rules/paper.smk``, config ``config/paper.yaml``)
regenerates the classic figures of Clark et al. (NSDI'05) and Hines & Gopalan (VEE'09); the runs
behind them are the experiments of :mod:`migsim.experiments`:

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

The figure functions take polars frames read from the experiments' Parquet files (never engine
objects; nothing here runs a simulation) and return matplotlib Figures; save them with
:func:`migsim.analysis.figures.save`. :func:`closed_form_table` sets the ``closed_form`` runs
beside the closed-form models (figure 7 and the validation report).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
import seaborn as sns
from matplotlib.figure import Figure

from migsim.analysis.closed_form import clark_precopy, page_send_time, precopy_expected
from migsim.analysis.figures import figure_style, plain_log_ticks
from migsim.units import format_rate

__all__ = [
    "clark_downtime_figure",
    "clark_ratelimit_figure",
    "closed_form_figure",
    "closed_form_table",
    "hines_apps_figure",
    "hines_faults_figure",
    "hines_netperf_figure",
    "hines_stress_figure",
    "wws_figure",
]

_MIB = 2**20


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
    with figure_style():
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
    with figure_style():
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
            plain_log_ticks(ax)
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
    with figure_style():
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
    with figure_style():
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
                plain_log_ticks(ax, "x")
                ax.set_yscale("log")
                plain_log_ticks(ax)
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
    with figure_style():
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
    with figure_style():
        fig = Figure(figsize=(11, 7.5), layout="constrained")
        axes = fig.subplots(2, 2).ravel()
        for ax, (metric, label) in zip(axes, _APP_METRICS, strict=True):
            _bars(ax, summary, metric, variants, colours)
            ax.set_ylabel(label)
            if metric in ("downtime_s", "total_time_s", "pages_transferred"):
                ax.set_yscale("log")
                plain_log_ticks(ax)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(variants), frameon=False)
        fig.suptitle("Application workloads, 512 MiB VM over GigE (Hines & Gopalan Figs. 12-15)")
    return fig


def hines_faults_figure(summary: pl.DataFrame, variants: Sequence[str]) -> Figure:
    """Figure 6b (Hines Figs. 12-15): network page faults per workload for demand paging,
    active push and single-/multi-pivot bubbling (forward and dual), log axis."""
    variants = [v for v in variants if v in set(summary["variant"].to_list())]
    colours = _palette(variants)
    with figure_style():
        fig = Figure(figsize=(11, 4.8), layout="constrained")
        ax = fig.subplots()
        _bars(ax, summary, "network_faults", variants, colours)
        ax.set_yscale("log")
        plain_log_ticks(ax)
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
    with figure_style():
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
                plain_log_ticks(ax)
        axes[0].legend(fontsize="small")
        n = table["n"][0] if table.height else 0
        fig.suptitle(f"Closed-form pre-copy model vs the engine, {n} pre-copy rounds "
                     "(Clark et al. section 5)")  # fmt: skip
    return fig
