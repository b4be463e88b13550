"""Published vs reproduced: the rows of ``results/validation.md`` and ``.csv``.

Every published statement of SPEC section 5 is an entry of ``config/published.yaml`` (the only
place its numbers live, each with its citation): a ``measure`` (a function below, by name) with
``args``, and an ``expect`` that is one of

* ``{value: X, rel_tol: r}``: reproduced within ``r`` (relative) of ``X``;
* ``{band: [lo, hi]}``: reproduced in ``[lo, hi]``;
* ``{min: lo}`` / ``{max: hi}``: reproduced ``>= lo`` / ``<= hi``.

A measure reads the paper experiments' results (``frames``: experiment name -> summary
DataFrame, ``"<experiment>.rounds"`` / ``"<experiment>.timeline"`` for the other tables) and
returns one number. :func:`check` compares it with ``expect``: the deviation is relative to the
published value (``value``) or to the nearest violated edge (band, min, max; 0 inside), and the
row passes when the reproduced number meets ``expect``. :func:`validate` builds the table;
:func:`write_markdown` and :func:`write_csv` write it.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from migsim.analysis.paper_figures import closed_form_table
from migsim.units import parse_rate, parse_size

__all__ = [
    "COLUMNS",
    "MEASURES",
    "Check",
    "check",
    "expect_text",
    "load_published",
    "validate",
    "write_csv",
    "write_markdown",
]

#: Columns of the validation table, in order.
COLUMNS = (
    "id",
    "source",
    "figure",
    "statement",
    "measure",
    "published",
    "reproduced",
    "unit",
    "deviation",
    "pass",
    "citation",
)


class ValidationError(ValueError):
    """A published.yaml entry is malformed or names an unknown measure; the message says which."""


@dataclass(frozen=True)
class Check:
    """The outcome of comparing one reproduced number with its published expectation.

    published: the expectation as text; deviation: relative deviation (see the module
    docstring; NaN when nothing was reproduced); passed: whether the expectation is met.
    """

    published: str
    deviation: float
    passed: bool


def _rel(x: float, ref: float) -> float:
    if ref == 0:
        return x - ref
    return (x - ref) / abs(ref)


def expect_text(expect: Mapping[str, Any]) -> str:
    """The expectation as text: ``32 ± 1%``, ``[1.6, 2]``, ``>= 4``, ``<= 1``."""
    if "value" in expect:
        tol = float(expect.get("rel_tol", 0.0))
        return f"{expect['value']:g} ± {tol * 100:g}%"
    if "band" in expect:
        lo, hi = expect["band"]
        return f"[{lo:g}, {hi:g}]"
    if "min" in expect:
        return f">= {expect['min']:g}"
    if "max" in expect:
        return f"<= {expect['max']:g}"
    raise ValidationError(f"expect {dict(expect)!r}: give value (+ rel_tol), band, min or max")


def check(reproduced: float | None, expect: Mapping[str, Any]) -> Check:
    """Compare ``reproduced`` with ``expect`` (see the module docstring)."""
    text = expect_text(expect)
    if reproduced is None or not math.isfinite(reproduced):
        return Check(text, math.nan, False)
    x = float(reproduced)
    if "value" in expect:
        value = float(expect["value"])
        dev = _rel(x, value)
        return Check(text, dev, abs(dev) <= float(expect.get("rel_tol", 0.0)) + 1e-12)
    if "band" in expect:
        lo, hi = (float(v) for v in expect["band"])
        if lo > hi:
            raise ValidationError(f"band [{lo}, {hi}]: the low edge is above the high edge")
    else:
        lo = float(expect.get("min", -math.inf))
        hi = float(expect.get("max", math.inf))
    if x < lo:
        return Check(text, _rel(x, lo), False)
    if x > hi:
        return Check(text, _rel(x, hi), False)
    return Check(text, 0.0, True)


# --------------------------------------------------------------------------------------------
# measures: (frames, **args) -> float


def _summary(frames: Mapping[str, pl.DataFrame], experiment: str) -> pl.DataFrame:
    if experiment not in frames:
        raise ValidationError(f"no results for experiment {experiment!r}")
    return frames[experiment]


def _stat(values: pl.Series, stat: str) -> float:
    if values.is_empty():
        return math.nan
    fn = {"median": values.median, "mean": values.mean, "min": values.min, "max": values.max}
    if stat not in fn:
        raise ValidationError(f"stat {stat!r}: allowed median, mean, min, max")
    return float(fn[stat]())


def stop_copy_time(frames, memory: str, bandwidth: str) -> float:
    """Total time (s) of stop-and-copy of ``memory`` at ``bandwidth`` (experiment stop_copy)."""
    s = _summary(frames, "stop_copy").filter(
        (pl.col("memory_bytes") == parse_size(memory))
        & (pl.col("bandwidth_bps") == parse_rate(bandwidth))
    )
    return _stat(s["total_time_s"], "mean")


def _clark(frames, workload: str, bandwidth: str | None = None) -> pl.DataFrame:
    s = _summary(frames, "clark_downtime").filter(pl.col("part") == workload)
    if bandwidth is not None:
        s = s.filter(pl.col("bandwidth_bps") == parse_rate(bandwidth))
    return s


def clark_downtime(
    frames, workload: str, bandwidth: str, rounds: int, stat: str = "median"
) -> float:
    """``stat`` over migration start times T of the downtime (s) after ``rounds`` pre-copy
    rounds (0 = stop-and-copy) of ``workload`` at ``bandwidth`` (Clark Figs. 3-6)."""
    s = _clark(frames, workload, bandwidth).filter(pl.col("n_rounds") == int(rounds))
    return _stat(s["downtime_s"], stat)


def clark_reduction(frames, workload: str, stat: str = "median") -> float:
    """The smallest, over bandwidths, of stop-and-copy downtime / (``stat`` over T of the
    one-round downtime): how many times one pre-copy round cuts downtime."""
    s = _clark(frames, workload)
    out = []
    for bw in s["bandwidth_bps"].unique().to_list():
        d = s.filter(pl.col("bandwidth_bps") == bw)
        sc = _stat(d.filter(pl.col("n_rounds") == 0)["downtime_s"], "mean")
        one = _stat(d.filter(pl.col("n_rounds") == 1)["downtime_s"], stat)
        out.append(sc / one)
    return min(out) if out else math.nan


def clark_reduction_vs_others(frames, workload: str, stat: str = "median") -> float:
    """:func:`clark_reduction` of ``workload`` divided by the smallest of the other workloads
    (<= 1: ``workload`` is the worst case)."""
    names = _summary(frames, "clark_downtime")["part"].unique().to_list()
    others = [clark_reduction(frames, w, stat) for w in names if w != workload]
    return clark_reduction(frames, workload, stat) / min(others) if others else math.nan


def clark_diminishing(frames, workload: str, stat: str = "median") -> float:
    """The largest, over bandwidths and k, of (d_{k+1} - d_{k+2}) / (d_k - d_{k+1}), with d_k
    the ``stat`` over T of the downtime after k pre-copy rounds (k >= 1): each further round
    gains less than the one before when this is <= 1 (diminishing returns)."""
    s = _clark(frames, workload)
    worst = -math.inf
    for bw in s["bandwidth_bps"].unique().to_list():
        d = s.filter((pl.col("bandwidth_bps") == bw) & (pl.col("n_rounds") > 0))
        ks = sorted(d["n_rounds"].unique().to_list())
        dt = [_stat(d.filter(pl.col("n_rounds") == k)["downtime_s"], stat) for k in ks]
        gains = [a - b for a, b in itertools.pairwise(dt)]
        for g0, g1 in itertools.pairwise(gains):
            worst = max(worst, g1 / g0 if g0 > 0 else math.inf)
    return worst if worst > -math.inf else math.nan


def _apps(frames, workload: str, variant: str) -> pl.DataFrame:
    s = _summary(frames, "hines_apps").filter(pl.col("variant") == variant)
    if workload != "all":
        s = s.filter(pl.col("part") == workload)
    return s


def hines_apps_ratio(
    frames, workload: str, metric: str, variant: str, baseline: str, over: str = "max"
) -> float:
    """Mean over seeds of ``metric`` for ``variant`` divided by that of ``baseline`` on
    ``workload`` (Hines Figs. 12-15); ``workload: all`` takes the ``over`` (max or min) of
    the ratio across workloads."""
    workloads = (
        _summary(frames, "hines_apps")["part"].unique(maintain_order=True).to_list()
        if workload == "all"
        else [workload]
    )
    ratios = []
    for w in workloads:
        num = _stat(_apps(frames, w, variant)[metric], "mean")
        den = _stat(_apps(frames, w, baseline)[metric], "mean")
        ratios.append(num / den if den else (math.inf if num > 0 else 1.0))
    return _stat(pl.Series(ratios), over)


def hines_apps_value(
    frames, metric: str, variant: str, workload: str = "all", stat: str = "max"
) -> float:
    """``stat`` of ``metric`` over the runs (all seeds) of ``variant`` on ``workload``."""
    return _stat(_apps(frames, workload, variant)[metric], stat)


def postcopy_pages_per_memory_page(
    frames, experiments: Sequence[str] = ("hines_stress", "hines_apps"), dsb: bool | None = None,
    stat: str = "max",
) -> float:  # fmt: skip
    """``stat`` over post-copy runs of pages transferred / pages of the VM (each page crosses
    at most once: max <= 1; without DSB every page is sent: min = 1). ``dsb`` filters the
    runs by their self-ballooning setting (from the run's config)."""
    vals = []
    for exp in experiments:
        s = _summary(frames, exp).filter(pl.col("strategy") == "post_copy")
        for row in s.select(
            "pages_transferred", "memory_bytes", "page_size", "config_json"
        ).iter_rows():
            if dsb is not None and json.loads(row[3])["strategy"]["dsb"] != dsb:
                continue
            vals.append(row[0] / (row[1] // row[2]))
    return _stat(pl.Series(vals, dtype=pl.Float64), stat)


def _netperf(frames, variant: str) -> tuple[dict[str, Any], pl.DataFrame]:
    s = _summary(frames, "hines_netperf").filter(pl.col("variant") == variant)
    if s.is_empty():
        raise ValidationError(f"hines_netperf: no run of variant {variant!r}")
    tl = frames["hines_netperf.timeline"].filter(pl.col("variant") == variant).sort("t_s")
    return s.row(0, named=True), tl


def netperf_share_below(frames, variant: str, phase: str, fraction: float) -> float:
    """Share of the timeline samples of ``phase`` (precopy, downtime, postcopy) in which
    NetPerf runs below ``fraction`` of its baseline throughput (Hines Figs. 9/10)."""
    _, tl = _netperf(frames, variant)
    d = tl.filter(pl.col("phase") == phase)
    if d.is_empty():
        return math.nan
    return float((d["service_fraction"] < fraction).mean())


def netperf_time_below(frames, variant: str, fraction: float) -> float:
    """Seconds of the migration in which NetPerf runs below ``fraction`` of its baseline
    (timeline samples times the grid step)."""
    _, tl = _netperf(frames, variant)
    d = tl.filter(pl.col("phase") != "done")
    if d.height < 2:
        return 0.0
    step = float(d["t_s"][1] - d["t_s"][0])
    return float((d["service_fraction"] < fraction).sum()) * step


def netperf_time_below_ratio(frames, variant: str, baseline: str, fraction: float) -> float:
    """:func:`netperf_time_below` of ``variant`` over that of ``baseline``."""
    den = netperf_time_below(frames, baseline, fraction)
    num = netperf_time_below(frames, variant, fraction)
    return num / den if den else math.inf


def closed_form_deviation(frames, metric: str) -> float:
    """Largest |engine mean / corrected closed form - 1| of ``metric`` across lambda."""
    t = closed_form_table(_summary(frames, "closed_form"))
    return float(t[f"{metric}_model_dev"].abs().max())


def clark_series_over_engine(frames, metric: str) -> float:
    """Smallest, across lambda, of Clark's geometric series / engine mean for ``metric``
    (>= 1: the series overestimates)."""
    t = closed_form_table(_summary(frames, "closed_form"))
    return float((t[f"{metric}_clark"] / t[f"{metric}_engine"]).min())


MEASURES: dict[str, Callable[..., float]] = {
    f.__name__: f
    for f in (
        stop_copy_time,
        clark_downtime,
        clark_reduction,
        clark_reduction_vs_others,
        clark_diminishing,
        hines_apps_ratio,
        hines_apps_value,
        postcopy_pages_per_memory_page,
        netperf_share_below,
        netperf_time_below,
        netperf_time_below_ratio,
        closed_form_deviation,
        clark_series_over_engine,
    )
}


# --------------------------------------------------------------------------------------------
# the table


def load_published(path: str | Path) -> dict[str, Any]:
    """Read ``config/published.yaml`` and check every entry's shape (ids unique, known
    measure and source, a valid expect)."""
    import yaml

    data = yaml.safe_load(Path(path).read_text())
    sources = data.get("sources") or {}
    seen: set[str] = set()
    for i, st in enumerate(data.get("statements") or []):
        where = f"{path}: statements[{i}]"
        for key in ("id", "source", "statement", "measure", "expect"):
            if key not in st:
                raise ValidationError(f"{where}: missing key {key!r}")
        if st["id"] in seen:
            raise ValidationError(f"{where}: duplicate id {st['id']!r}")
        seen.add(st["id"])
        if st["source"] not in sources:
            raise ValidationError(f"{where}: source {st['source']!r} is not under 'sources'")
        if st["measure"] not in MEASURES:
            raise ValidationError(
                f"{where}: unknown measure {st['measure']!r}; allowed: {', '.join(MEASURES)}"
            )
        expect_text(st["expect"])
    return data


def validate(published: Mapping[str, Any], frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per published statement (:data:`COLUMNS`); a measure that cannot be computed
    (missing results) gives a NaN reproduction and a failing row."""
    sources = published.get("sources") or {}
    rows = []
    for st in published.get("statements") or []:
        fn = MEASURES[st["measure"]]
        args = dict(st.get("args") or {})
        try:
            value = fn(frames, **args)
        except (ValidationError, KeyError, ZeroDivisionError):
            value = math.nan
        c = check(value, st["expect"])
        call = ", ".join(f"{k}={v}" for k, v in args.items())
        rows.append(
            {
                "id": st["id"],
                "source": st["source"],
                "figure": str(st.get("figure", "")),
                "statement": st["statement"],
                "measure": f"{st['measure']}({call})",
                "published": c.published,
                "reproduced": float(value),
                "unit": str(st.get("unit", "")),
                "deviation": c.deviation,
                "pass": c.passed,
                "citation": str(sources[st["source"]]),
            }
        )
    schema = {k: pl.String for k in COLUMNS}
    schema.update({"reproduced": pl.Float64, "deviation": pl.Float64, "pass": pl.Boolean})
    return pl.DataFrame(rows, schema=schema)


def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "–"
    if x == 0:
        return "0"
    return f"{x:.4g}"


def write_markdown(table: pl.DataFrame, path: str | Path, sources: Mapping[str, str]) -> None:
    """``validation.md``: a header with the pass count, the table, and the citations."""
    n, ok = table.height, int(table["pass"].sum())
    lines = [
        "# Validation: published vs reproduced",
        "",
        f"{ok} of {n} published statements reproduced. Generated by the `paper_validation` rule "
        "from `config/published.yaml` (published values and citations) and the paper runs "
        "under `results/paper/`; see docs/paper.md.",
        "",
        "Deviation: relative to the published value, or to the nearest violated edge of a band "
        "or bound (0 = inside).",
        "",
        "| id | source | figure | statement | published | reproduced | unit | deviation | result |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.iter_rows(named=True):
        dev = "–" if not math.isfinite(r["deviation"]) else f"{r['deviation'] * 100:+.1f}%"
        lines.append(
            f"| {r['id']} | {r['source']} | {r['figure']} | {r['statement']} | {r['published']} "
            f"| {_fmt(r['reproduced'])} | {r['unit']} | {dev} | "
            f"{'pass' if r['pass'] else '**FAIL**'} |"
        )
    lines += ["", "## Sources", ""]
    lines += [f"- **{k}**: {v}" for k, v in sources.items()]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n")


def write_csv(table: pl.DataFrame, path: str | Path) -> None:
    """``validation.csv``: every column of :data:`COLUMNS`, full precision."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    table.write_csv(path)
