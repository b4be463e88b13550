"""Scenario figures, drawn from a scenario run's Parquet tables (``migsim scenario run --out``
or the ``scenarios`` pipeline target); each function returns a matplotlib Figure.

:func:`scenario_figure`: (top) one bar per migration over scenario time, split into its
pre-copy, downtime and post-copy phases, with its outcome; (bottom) the rate each migration's
stream was allocated over time (its max-min share of the NICs and links it crosses), stacked,
so the sum shows how busy the shared NICs were.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from migsim.analysis.figures import figure_style

__all__ = ["scenario_figure"]

_PHASES = (
    ("precopy", "pre-copy (VM on source)", 0),
    ("downtime", "downtime", 3),
    ("postcopy", "post-copy (VM on target)", 2),
)


def _phases(row: dict) -> list[tuple[str, float, float]]:
    """(phase, start, length) in scenario time for one migration (its summary row)."""
    t0 = row["started_at_s"]
    pre, down, post = row["precopy_time_s"], row["downtime_s"], row["postcopy_time_s"]
    out = []
    if pre > 0:
        out.append(("precopy", t0, pre))
    if down > 0:
        out.append(("downtime", t0 + pre, down))
    if post > 0:
        out.append(("postcopy", t0 + pre + down, post))
    return out


def _stream_rates(rates: pl.DataFrame, start: float, grid: np.ndarray) -> np.ndarray:
    """The migration stream's allocated rate (bit/s) at each time of ``grid`` (scenario
    time), from its rows of the link_rates table (held from each change to the next)."""
    own = rates.filter(pl.col("flow") == "migration").sort("t_s")
    t = own["t_s"].to_numpy() + start
    r = own["rate_bps"].to_numpy()
    out = np.zeros_like(grid)
    if len(t):
        idx = np.searchsorted(t, grid, side="right") - 1
        ok = idx >= 0
        out[ok] = r[idx[ok]]
    return out


def scenario_figure(migrations: pl.DataFrame, link_rates: pl.DataFrame, title: str = "") -> Figure:
    """The phases of every migration and their allocated rates over scenario time."""
    rows = migrations.sort("started_at_s", "migration", maintain_order=True).to_dicts()
    names = [r["migration"] for r in rows]
    colours = sns.color_palette("colorblind", 6)
    end = max(r["ended_at_s"] for r in rows) if rows else 1.0
    with figure_style():
        fig = Figure(figsize=(8, 2.2 + 0.32 * len(rows) + 2.4), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[0.32 * len(rows) + 0.6, 2.4])
        for y, row in enumerate(rows):
            for phase, t0, length in _phases(row):
                colour = colours[dict((p, c) for p, _, c in _PHASES)[phase]]
                top.barh(y, length, left=t0, height=0.6, color=colour, edgecolor="none")
            if row["outcome"] != "completed":
                top.annotate(
                    row["outcome"],
                    (row["ended_at_s"], y),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                )
        top.set_yticks(range(len(rows)), [f"{r['migration']} ({r['strategy']})" for r in rows])
        top.invert_yaxis()
        top.set_xlim(0, end * 1.02)
        handles = [Patch(color=colours[c], label=label) for _, label, c in _PHASES]
        top.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, 1.0),
            ncol=3,
            fontsize=8,
            frameon=False,
        )
        if title:
            fig.suptitle(title)
        grid = np.linspace(0.0, end, 2001)
        stack = [
            _stream_rates(
                link_rates.filter(pl.col("migration") == r["migration"]), r["started_at_s"], grid
            )
            / 1e9
            for r in rows
        ]
        palette = sns.color_palette("husl" if len(rows) > 10 else "colorblind", max(len(rows), 1))
        bottom.stackplot(grid, stack, labels=names, colors=palette, step="post", linewidth=0)
        bottom.set_xlabel("scenario time (s)")
        bottom.set_ylabel("allocated rate (Gbit/s)")
        if len(rows) <= 12:
            bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return fig
