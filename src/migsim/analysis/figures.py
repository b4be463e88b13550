"""The pipeline's figures: one function per figure, each returning a matplotlib Figure.

Functions take polars DataFrames read from the pipeline's Parquet outputs (never engine
objects) and draw with seaborn's colour-blind palette; :func:`save` writes PDF and PNG.
Figures are built with :class:`matplotlib.figure.Figure` (no pyplot state), so they can be
made in any process without a display.

=========================  ==========================================================
function                   figure
=========================  ==========================================================
:func:`headline`           (a) the four headline metrics vs bandwidth, one workload
:func:`bars`               (b) grouped bars per workload at a reference bandwidth
:func:`service_rate`       (c) application service rate over time, one workload
:func:`decision_map`       (d) which variant wins each metric per workload x bandwidth
:func:`precopy_rounds`     (e) pre-copy volume per round
:func:`dw_curves`          d(w) of every workload (distinct pages written per window)
=========================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib.lines
import numpy as np
import polars as pl
import seaborn as sns
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from migsim.analysis.metrics import HEADLINE, METRICS
from migsim.units import format_rate

__all__ = [
    "bars",
    "decision_map",
    "dw_curves",
    "figure_style",
    "headline",
    "plain_log_ticks",
    "precopy_rounds",
    "save",
    "service_rate",
    "variant_palette",
]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


@contextmanager
def figure_style():
    """The style of every figure (seaborn whitegrid, paper context), as a context manager."""
    with sns.axes_style("whitegrid"), sns.plotting_context("paper", font_scale=1.1):
        yield


def variant_palette(variants: Sequence[str]) -> dict[str, Any]:
    """A fixed colour per variant (seaborn's colour-blind palette, in the given order; pass
    the config's full variant list so colours agree between figures)."""
    colours = sns.color_palette("colorblind", max(len(variants), 1))
    if len(variants) > len(colours):  # pragma: no cover - more variants than colours
        colours = sns.color_palette("husl", len(variants))
    return dict(zip(variants, colours, strict=False))


def _order(present: Sequence[str], variants: Sequence[str] | None) -> list[str]:
    present = list(dict.fromkeys(present))
    if not variants:
        return sorted(present)
    ordered = [v for v in variants if v in present]
    return ordered + sorted(v for v in present if v not in ordered)


def _all_variants(present: Sequence[str], variants: Sequence[str] | None) -> list[str]:
    """The config's variant list plus any present variant it lacks: colours are assigned over
    this list, so a variant has the same colour in every figure whichever subset it shows."""
    full = list(variants or [])
    return full + [v for v in present if v not in full]


def _variant_legend(fig: Figure, palette: dict, order: Sequence[str]) -> None:
    """One colour patch per strategy variant, below the panels."""
    fig.legend(
        handles=[Patch(color=palette[v], label=v) for v in order],
        loc="outside lower center",
        ncol=3,
        frameon=False,
    )


def _axis_label(metric: str) -> str:
    m = METRICS[metric]
    return f"{m.label} ({m.unit})"


def _legend(fig: Figure, variants: Sequence[str], palette: dict[str, Any], ncol: int = 3) -> None:
    handles = [
        matplotlib.lines.Line2D(
            [], [], color=palette[v], marker=_MARKERS[i % len(_MARKERS)], label=v
        )
        for i, v in enumerate(variants)
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=ncol, frameon=False)


def _wants_log(values: np.ndarray, span: float = 30.0) -> bool:
    """Log scale when every value is positive and they span more than ``span``x."""
    finite = values[np.isfinite(values)]
    return (
        finite.size > 0 and bool(np.all(finite > 0)) and float(finite.max() / finite.min()) > span
    )


def plain_log_ticks(ax: Any, axis: str = "y") -> None:
    """Label a log axis with plain numbers (0.01, 0.1, 1, 10) instead of powers of ten."""
    fmt = FuncFormatter(lambda v, _pos: f"{v:g}")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(fmt)
    target.set_minor_formatter(NullFormatter())


def headline(agg: pl.DataFrame, workload: str, variants: Sequence[str] | None = None) -> Figure:
    """(a) Total time, downtime, pages transferred and app degradation vs bandwidth for one
    workload: one line per variant (mean over seeds, bars = confidence interval), log axes
    for bandwidth and for metrics spanning orders of magnitude. One memory size: a 2 x 2
    grid; several: one column per memory size, one row per metric."""
    df = agg.filter(pl.col("workload") == workload).sort("bandwidth_bps")
    order = _order(df["variant"].to_list(), variants)
    palette = variant_palette(_all_variants(order, variants))
    memories = df.select("memory", "memory_bytes").unique().sort("memory_bytes")["memory"]
    memories = memories.to_list() or [""]
    with figure_style():
        if len(memories) == 1:
            fig = Figure(figsize=(9, 7), layout="constrained")
            grid = fig.subplots(2, 2, sharex=True).ravel()
            panels = [(ax, metric, memories[0]) for ax, metric in zip(grid, HEADLINE, strict=True)]
            bottom = list(grid[2:])
        else:
            fig = Figure(figsize=(4.2 * len(memories), 11), layout="constrained")
            grid = fig.subplots(len(HEADLINE), len(memories), sharex=True, sharey="row")
            panels = [
                (grid[r, c], metric, mem)
                for r, metric in enumerate(HEADLINE)
                for c, mem in enumerate(memories)
            ]
            bottom = list(grid[-1, :])
        for ax, metric, mem in panels:
            for i, v in enumerate(order):
                d = df.filter((pl.col("variant") == v) & (pl.col("memory") == mem))
                if d.is_empty():
                    continue
                x = d["bandwidth_bps"].to_numpy() / 1e9
                y = d[f"{metric}_mean"].to_numpy()
                err = np.vstack(
                    [y - d[f"{metric}_lo"].to_numpy(), d[f"{metric}_hi"].to_numpy() - y]
                )
                ax.errorbar(
                    x,
                    y,
                    yerr=np.clip(np.nan_to_num(err), 0, None),
                    color=palette[v],
                    marker=_MARKERS[i % len(_MARKERS)],
                    capsize=3,
                    markersize=5,
                    label=v,
                )
            ax.set_xscale("log")
            plain_log_ticks(ax, "x")
            if METRICS[metric].log and _wants_log(df[f"{metric}_mean"].to_numpy()):
                ax.set_yscale("log")
                plain_log_ticks(ax)
            ax.set_ylabel(_axis_label(metric))
            title = (
                METRICS[metric].label
                if len(memories) == 1
                else f"{METRICS[metric].label}, VM {mem}"
            )
            ax.set_title(title)
        for ax in bottom:
            ax.set_xlabel("Link bandwidth (Gbit/s)")
        vm = f", VM {memories[0]}" if len(memories) == 1 else ""
        fig.suptitle(f"{workload}: migration metrics vs bandwidth{vm}")
        _legend(fig, order, palette)
    return fig


def bars(agg: pl.DataFrame, bandwidth: str, variants: Sequence[str] | None = None) -> Figure:
    """(b) Grouped bars of the four headline metrics per workload at one bandwidth (label as
    in the config), one bar per variant, error bars = confidence interval. The first memory
    size of the sweep is shown."""
    df = agg.filter(pl.col("bandwidth") == bandwidth)
    if not df.is_empty():
        df = df.filter(pl.col("memory_bytes") == df["memory_bytes"].min())
    workloads = list(dict.fromkeys(df.sort("workload")["workload"].to_list()))
    order = _order(df["variant"].to_list(), variants)
    palette = variant_palette(_all_variants(order, variants))
    width = 0.8 / max(len(order), 1)
    x = np.arange(len(workloads))
    with figure_style():
        fig = Figure(figsize=(10, 7), layout="constrained")
        axes = fig.subplots(2, 2, sharex=True).ravel()
        for ax, metric in zip(axes, HEADLINE, strict=True):
            for i, v in enumerate(order):
                d = df.filter(pl.col("variant") == v)
                lookup = dict(
                    zip(
                        d["workload"].to_list(),
                        d.select(f"{metric}_mean", f"{metric}_lo", f"{metric}_hi").rows(),
                        strict=True,
                    )
                )
                vals = np.array([lookup.get(w, (np.nan,) * 3) for w in workloads], dtype=float)
                if vals.size == 0:
                    continue
                err = np.clip(
                    np.nan_to_num(np.vstack([vals[:, 0] - vals[:, 1], vals[:, 2] - vals[:, 0]])),
                    0,
                    None,
                )
                ax.bar(
                    x + (i - (len(order) - 1) / 2) * width,
                    vals[:, 0],
                    width,
                    yerr=err,
                    color=palette[v],
                    label=v,
                    capsize=2,
                    error_kw={"elinewidth": 0.8},
                )
            if METRICS[metric].log and _wants_log(df[f"{metric}_mean"].to_numpy()):
                ax.set_yscale("log")
                plain_log_ticks(ax)
            ax.set_ylabel(_axis_label(metric))
            ax.set_title(METRICS[metric].label)
            ax.set_xticks(x, workloads, rotation=20, ha="right")
        mem = df["memory"][0] if not df.is_empty() else ""
        fig.suptitle(f"Strategies per workload at {bandwidth}, VM {mem}")
        _variant_legend(fig, palette, order)
    return fig


def service_rate(
    timeline: pl.DataFrame,
    workload: str,
    unit: str = "",
    baseline: float | None = None,
    variants: Sequence[str] | None = None,
) -> Figure:
    """(c) Application service rate over time for one workload, one panel per variant
    (shared y axis; each panel spans its own migration), downtime shaded. ``timeline`` holds the TIMELINE_SCHEMA rows of one point
    per variant (one bandwidth, memory and seed) with the ``variant`` column."""
    df = timeline.filter(pl.col("workload") == workload).sort("t_s")
    order = _order(df["variant"].to_list(), variants)
    palette = variant_palette(_all_variants(order, variants))
    with figure_style():
        fig = Figure(figsize=(8, 1.2 + 1.3 * max(len(order), 1)), layout="constrained")
        axes = np.atleast_1d(fig.subplots(max(len(order), 1), 1, sharey=True))
        for ax, v in zip(axes, order, strict=False):
            d = df.filter(pl.col("variant") == v)
            t = d["t_s"].to_numpy()
            ax.plot(t, d["service_rate"].to_numpy(), color=palette[v], linewidth=1.2)
            down = (d["phase"] == "downtime").to_numpy()
            if down.any():
                ax.fill_between(
                    t, 0, 1, where=down, transform=ax.get_xaxis_transform(),
                    color="0.5", alpha=0.25, linewidth=0, step="mid",
                )  # fmt: skip
            if baseline is not None:
                ax.axhline(baseline, color="0.3", linestyle=":", linewidth=0.8)
            ax.set_ylabel(unit or "service rate")
            span = f" (migration {t.max():.3g} s)" if t.size else ""
            ax.set_title(f"{v}{span}", loc="left", fontsize="medium")
            ax.set_xlim(left=0)
            ax.set_ylim(bottom=0)
        for ax in axes:
            ax.set_xlabel("Time since migration start (s)", fontsize="small")
        fig.legend(
            handles=[
                Patch(color="0.5", alpha=0.25, label="downtime"),
                matplotlib.lines.Line2D([], [], color="0.3", linestyle=":", label="baseline"),
            ],
            loc="outside lower center",
            ncol=2,
            frameon=False,
        )
        point = ""
        if not df.is_empty():
            point = f" ({df['bandwidth'][0]}, VM {df['memory'][0]}, seed {df['seed'][0]})"
        fig.suptitle(f"{workload}: service rate{point}")
    return fig


def decision_map(winners: pl.DataFrame, variants: Sequence[str] | None = None) -> Figure:
    """(d) For each workload x bandwidth (rows x columns) and each headline metric (panels),
    the variant with the lowest mean; ``*`` marks a tie for the best."""
    df = winners.filter(pl.col("metric").is_in(list(HEADLINE)))
    order = _order(df["winner"].to_list(), variants)
    palette = variant_palette(_all_variants(order, variants))
    index = {v: i for i, v in enumerate(order)}
    bws = (
        df.select("bandwidth", "bandwidth_bps")
        .unique()
        .sort("bandwidth_bps")["bandwidth"]
        .to_list()
    )
    multi_mem = df["memory"].n_unique() > 1
    rows_df = (
        df.select("workload", "memory", "memory_bytes").unique().sort("workload", "memory_bytes")
    )
    rows = [(w, m) for w, m, _ in rows_df.rows()]
    row_labels = [f"{w} ({m})" if multi_mem else w for w, m in rows]
    cmap = ListedColormap([palette[v] for v in order] or ["white"])
    with figure_style():
        fig = Figure(figsize=(4 + 2.2 * len(bws), 2 + 0.5 * len(rows) * 2), layout="constrained")
        axes = fig.subplots(2, 2).ravel()
        for ax, metric in zip(axes, HEADLINE, strict=True):
            d = df.filter(pl.col("metric") == metric)
            grid = np.full((len(rows), len(bws)), np.nan)
            text = np.full((len(rows), len(bws)), "", dtype=object)
            for w, m, bw, win, ties in d.select(
                "workload", "memory", "bandwidth", "winner", "ties"
            ).rows():
                r, c = rows.index((w, m)), bws.index(bw)
                grid[r, c] = index[win]
                text[r, c] = win + ("*" if ties and ties > 1 else "")
            sns.heatmap(
                grid, ax=ax, cmap=cmap, vmin=-0.5, vmax=max(len(order), 1) - 0.5,
                cbar=False, linewidths=1, linecolor="white", annot=text, fmt="",
                annot_kws={"fontsize": 7, "color": "black"},
                xticklabels=bws, yticklabels=row_labels,
            )  # fmt: skip
            ax.set_title(f"Lowest {METRICS[metric].label.lower()}")
            ax.set_xlabel("Link bandwidth")
            ax.set_ylabel("")
            ax.tick_params(axis="y", rotation=0)
        fig.suptitle("Decision map: the winning strategy per workload and bandwidth (* = tie)")
        _variant_legend(fig, palette, order)
    return fig


def precopy_rounds(
    rounds: pl.DataFrame, bandwidth: str, variants: Sequence[str] | None = None
) -> Figure:
    """(e) Volume sent per pre-copy round (MiB, mean over seeds, log scale) at one bandwidth,
    one panel per workload and one line per variant with pre-copy rounds; the final
    stop-and-copy round is drawn as an open marker."""
    df = rounds.filter(
        (pl.col("bandwidth") == bandwidth) & pl.col("phase").is_in(["precopy", "stop_copy"])
    )
    if not df.is_empty():
        df = df.filter(pl.col("memory") == df.sort("memory")["memory"][0])
    df = (
        df.group_by("workload", "variant", "round", "phase")
        .agg((pl.col("bytes").cast(pl.Float64).mean() / 2**20).alias("mib"))
        .sort("workload", "variant", "round")
    )
    precopy_variants = (
        df.filter(pl.col("phase") == "precopy")["variant"].unique().to_list()
        if not df.is_empty()
        else []
    )
    df = df.filter(pl.col("variant").is_in(precopy_variants))
    workloads = sorted(df["workload"].unique().to_list())
    order = _order(df["variant"].to_list(), variants)
    palette = variant_palette(_all_variants(order, variants))
    ncols = min(3, max(len(workloads), 1))
    nrows = max(1, -(-len(workloads) // ncols))
    with figure_style():
        fig = Figure(figsize=(3.6 * ncols, 2.9 * nrows + 0.8), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
        for ax, w in zip(axes, workloads, strict=False):
            for i, v in enumerate(order):
                d = df.filter((pl.col("workload") == w) & (pl.col("variant") == v))
                if d.is_empty():
                    continue
                pre = d.filter(pl.col("phase") == "precopy")
                stop = d.filter(pl.col("phase") == "stop_copy")
                mk = _MARKERS[i % len(_MARKERS)]
                ax.plot(pre["round"], pre["mib"], color=palette[v], marker=mk, markersize=4)
                ax.plot(
                    stop["round"], stop["mib"], linestyle="none", marker=mk,
                    markerfacecolor="none", color=palette[v], markersize=6,
                )  # fmt: skip
            if _wants_log(df["mib"].to_numpy(), span=10):
                ax.set_yscale("log")
                plain_log_ticks(ax)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(w)
            ax.set_xlabel("Round")
            ax.set_ylabel("Sent in round (MiB)")
        for ax in axes[len(workloads) :]:
            ax.set_visible(False)
        if not workloads:
            axes[0].set_visible(True)
            axes[0].text(0.5, 0.5, "no pre-copy rounds in this sweep", ha="center", va="center")
            axes[0].set_axis_off()
        fig.suptitle(f"Pre-copy volume per round at {bandwidth} (open marker: final stop-and-copy)")
        if order:
            _legend(fig, order, palette)
    return fig


def dw_curves(dw: pl.DataFrame) -> Figure:
    """d(w): mean distinct pages written within a window of ``w`` seconds, per workload
    (log-log), band = min to max over window starts."""
    workloads = sorted(dw["workload"].unique().to_list())
    palette = dict(
        zip(workloads, sns.color_palette("colorblind", max(len(workloads), 1)), strict=False)
    )
    with figure_style():
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.subplots()
        for i, w in enumerate(workloads):
            d = dw.filter((pl.col("workload") == w) & (pl.col("mean") > 0)).sort("w_s")
            if d.is_empty():
                continue
            ax.plot(
                d["w_s"], d["mean"], color=palette[w], marker=_MARKERS[i % len(_MARKERS)], label=w
            )
            ax.fill_between(
                d["w_s"].to_numpy(), d["min"].to_numpy(), d["max"].to_numpy(),
                color=palette[w], alpha=0.15, linewidth=0,
            )  # fmt: skip
        ax.set_xscale("log")
        plain_log_ticks(ax, "x")
        if (dw["mean"] > 0).any():
            ax.set_yscale("log")
        ax.set_xlabel("Window length w (s)")
        ax.set_ylabel("Distinct pages written in w (pages)")
        ax.set_title("d(w): writable working set vs window length")
        if workloads:
            ax.legend(frameon=False)
    return fig


def save(fig: Figure, pdf: str | Path, png: str | Path, dpi: int = 150) -> None:
    """Write ``fig`` as PDF and PNG (no creation date in the PDF, so reruns are identical)."""
    for path in (pdf, png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(pdf, metadata={"CreationDate": None})
    fig.savefig(png, dpi=dpi)


def bandwidth_label(bps: float) -> str:
    """A bandwidth in bit/s as a label (``1e9`` -> ``"1Gbit/s"``)."""
    return format_rate(bps)
