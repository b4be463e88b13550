"""Tables of the aggregate: CSV (every number), Markdown and LaTeX (booktabs) with
``mean ± half-width`` cells, and a plain-text summary for logs.

Inputs are the polars frames of :func:`migsim.analysis.metrics.aggregate` and
:func:`migsim.analysis.metrics.winners`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from migsim.analysis.metrics import METRICS

__all__ = [
    "TABLE_METRICS",
    "fmt_ci",
    "latex_table",
    "markdown_table",
    "summary_text",
    "write_csv",
    "write_latex",
    "write_markdown",
]

#: Metrics shown in the Markdown and LaTeX tables (the CSV has every metric).
TABLE_METRICS = (
    "total_time_s",
    "downtime_s",
    "pages_transferred",
    "app_degradation_pct",
    "network_faults",
    "rounds",
)

_KEYS = ("workload", "variant", "bandwidth", "memory", "n")
_KEY_HEADERS = {"workload": "Workload", "variant": "Strategy", "bandwidth": "Bandwidth",
                "memory": "Memory", "n": "Seeds"}  # fmt: skip


def _num(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1e7 or ax < 10 ** -(digits + 1):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}" if ax < 10**digits else f"{x:.0f}"


def fmt_ci(mean: float | None, half: float | None, pm: str = "±") -> str:
    """``mean ± half`` with 3 significant digits (just the mean when the interval is 0 or
    unknown)."""
    if half is None or (isinstance(half, float) and math.isnan(half)) or half == 0:
        return _num(mean)
    return f"{_num(mean)} {pm} {_num(half, 2)}"


def _header(metric: str) -> str:
    m = METRICS[metric]
    return f"{m.label} ({m.unit})"


def _rows(agg: pl.DataFrame, metrics: Sequence[str], pm: str) -> tuple[list[str], list[list[str]]]:
    keys = [k for k in _KEYS if k in agg.columns]
    header = [_KEY_HEADERS[k] for k in keys] + [_header(m) for m in metrics]
    rows = []
    for rec in agg.iter_rows(named=True):
        cells = [str(rec[k]) for k in keys]
        cells += [fmt_ci(rec[f"{m}_mean"], rec.get(f"{m}_ci"), pm) for m in metrics]
        rows.append(cells)
    return header, rows


def markdown_table(agg: pl.DataFrame, metrics: Sequence[str] = TABLE_METRICS) -> str:
    """A GitHub-flavoured Markdown table, one row per aggregate row, cells ``mean ± CI``."""
    header, rows = _rows(agg, metrics, "±")
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


_TEX_ESCAPE = {"\\": r"\textbackslash{}", "_": r"\_", "%": r"\%", "&": r"\&", "#": r"\#",
               "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}  # fmt: skip


def _tex(text: str) -> str:
    return "".join(_TEX_ESCAPE.get(c, c) for c in text)


def latex_table(
    agg: pl.DataFrame,
    metrics: Sequence[str] = TABLE_METRICS,
    caption: str = "Migration metrics, mean and confidence interval over seeds.",
    label: str = "tab:migsim-aggregate",
) -> str:
    """A LaTeX ``table`` with a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``),
    cells ``mean $\\pm$ CI``; a ``\\midrule`` between workloads."""
    header, rows = _rows(agg, metrics, "\x00")
    keys = [k for k in _KEYS if k in agg.columns]
    spec = "l" * len(keys) + "r" * len(metrics)
    out = [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\small",
        rf"\caption{{{_tex(caption)}}}",
        rf"\label{{{label}}}",
        rf"\begin{{tabular}}{{{spec}}}",
        r"\toprule",
        " & ".join(_tex(h) for h in header) + r" \\",
        r"\midrule",
    ]
    last = None
    for r in rows:
        if last is not None and r[0] != last:
            out.append(r"\midrule")
        last = r[0]
        out.append(" & ".join(_tex(c).replace("\x00", r"$\pm$") for c in r) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def write_csv(df: pl.DataFrame, path: str | Path) -> None:
    """Every column of ``df`` as CSV (floats in full precision)."""
    df.write_csv(path)


def write_markdown(
    agg: pl.DataFrame, path: str | Path, metrics: Sequence[str] = TABLE_METRICS
) -> None:
    Path(path).write_text(markdown_table(agg, metrics))


def write_latex(
    agg: pl.DataFrame, path: str | Path, metrics: Sequence[str] = TABLE_METRICS, **kw: str
) -> None:
    Path(path).write_text(latex_table(agg, metrics, **kw))


def winners_markdown(win: pl.DataFrame) -> str:
    """The decision table (one row per workload x bandwidth x memory x metric) as Markdown."""
    cols = [
        "workload",
        "bandwidth",
        "memory",
        "metric",
        "winner",
        "value",
        "runner_up",
        "margin",
        "ties",
    ]
    header = ["Workload", "Bandwidth", "Memory", "Metric", "Winner", "Winner's mean",
              "Runner-up", "Margin (%)", "Tied"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for rec in win.select(cols).iter_rows(named=True):
        margin = rec["margin"]
        cells = [
            str(rec["workload"]), str(rec["bandwidth"]), str(rec["memory"]),
            METRICS[rec["metric"]].label, str(rec["winner"]), _num(rec["value"]),
            str(rec["runner_up"] or "–"), "–" if margin is None else _num(100 * margin),
            str(rec["ties"]),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def winners_latex(win: pl.DataFrame) -> str:
    """The decision table as a booktabs LaTeX table."""
    md = winners_markdown(win).splitlines()
    header = [c.strip() for c in md[0].strip("|").split("|")]
    out = [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\small",
        r"\caption{Winning strategy (lowest mean) per workload, bandwidth and metric.}",
        r"\label{tab:migsim-winners}",
        r"\begin{tabular}{" + "l" * 5 + "r" + "l" + "rr}",
        r"\toprule",
        " & ".join(_tex(h) for h in header) + r" \\",
        r"\midrule",
    ]
    for line in md[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out.append(" & ".join(_tex(c) for c in cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(out) + "\n"


def summary_text(agg: pl.DataFrame, bandwidth: str | None = None) -> str:
    """A compact fixed-width table of the headline metrics (mean over seeds) for logs: every
    workload x variant at ``bandwidth`` (default: every bandwidth)."""
    df = agg if bandwidth is None else agg.filter(pl.col("bandwidth") == bandwidth)
    cols = [
        ("workload", "workload", None),
        ("variant", "strategy", None),
        ("bandwidth", "bandwidth", None),
        ("memory", "memory", None),
        ("total_time_s_mean", "total (s)", 4),
        ("downtime_s_mean", "downtime (s)", 3),
        ("pages_transferred_mean", "pages", 4),
        ("app_degradation_pct_mean", "degr. (%)", 3),
        ("network_faults_mean", "faults", 3),
        ("rounds_mean", "rounds", 3),
    ]
    table = [[title for _, title, _ in cols]]
    table += [
        [str(rec[c]) if d is None else _num(rec[c], d) for c, _, d in cols]
        for rec in df.iter_rows(named=True)
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(cols))]
    lines = [
        "  ".join(
            cell.ljust(w) if i < 4 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    title = "migsim summary" + (f" at {bandwidth}" if bandwidth else "") + " (mean over seeds)"
    return title + "\n" + "\n".join(lines) + "\n"
