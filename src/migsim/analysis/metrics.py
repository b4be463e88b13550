"""Metrics over the sweep's summary rows, as polars expressions.

Everything here works on the summary dataset (``results/runs``, SUMMARY_SCHEMA plus the point
columns of :mod:`migsim.sweep`) and returns ``pl.Expr`` or lazy frames, so the workflow can
aggregate thousands of runs without loading them eagerly:

* :data:`METRICS`: the metrics that are aggregated, with labels and units;
* :func:`mean`, :func:`ci_half_width`, :func:`ci_bounds`: mean and Student-t confidence
  interval over seeds of one metric;
* :func:`aggregate`: mean and CI of every metric per workload x variant x bandwidth x memory;
* :func:`winners`: the variant with the lowest mean per group and metric (the decision map).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

__all__ = [
    "GROUP_KEYS",
    "HEADLINE",
    "METRICS",
    "Metric",
    "aggregate",
    "ci_bounds",
    "ci_half_width",
    "mean",
    "sort_variants",
    "t_critical",
    "winners",
]


@dataclass(frozen=True)
class Metric:
    """A summary column that is aggregated: its column, a label, its unit and whether plots
    want a log axis for it. Lower is better for every metric here."""

    column: str
    label: str
    unit: str
    log: bool = False
    scale: float = 1.0  # multiply the column by this to get ``unit``


METRICS: dict[str, Metric] = {
    m.column: m
    for m in (
        Metric("total_time_s", "Total migration time", "s", log=True),
        Metric("downtime_s", "Downtime", "s", log=True),
        Metric("pages_transferred", "Pages transferred", "pages", log=True),
        Metric("app_degradation_pct", "Application degradation", "%"),
        Metric("app_lost_s", "Lost service", "service-s"),
        Metric("network_faults", "Network page faults", "faults"),
        Metric("rounds", "Rounds", "rounds"),
    )
}

#: The four headline metrics of the figures.
HEADLINE = ("total_time_s", "downtime_s", "pages_transferred", "app_degradation_pct")

#: Tie-break order of :func:`winners` (lower is better for each).
_TIEBREAK = ("downtime_s", "app_degradation_pct", "total_time_s", "pages_transferred")

#: The columns an aggregate row is keyed by.
GROUP_KEYS = (
    "workload",
    "variant",
    "strategy",
    "bandwidth",
    "bandwidth_bps",
    "memory",
    "memory_bytes",
)

# two-sided Student t critical values t_{0.975, df}, df = 1..30
_T975 = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip


def _norm_ppf(p: float) -> float:
    """Inverse standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9)."""
    if not 0 < p < 1:
        raise ValueError(f"probability must be in (0, 1), got {p}")
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)  # fmt: skip
    lo = 0.02425
    if p < lo:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    if p > 1 - lo:
        return -_norm_ppf(1 - p)
    q = p - 0.5
    r = q * q
    return (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )


def _t_ppf(p: float, df: int) -> float:
    """Student t quantile: exact table at p = 0.975 for df <= 30, otherwise the
    Cornish-Fisher expansion around the normal quantile (error < 1e-3 for df >= 5)."""
    if df < 1:
        return math.nan
    if abs(p - 0.975) < 1e-12 and df <= 30:
        return _T975[df - 1]
    z = _norm_ppf(p)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


def t_critical(n: pl.Expr, confidence: float = 0.95, max_n: int = 1000) -> pl.Expr:
    """Two-sided Student t critical value for ``n`` samples (``df = n - 1``) as an expression;
    null when ``n < 2``. Sample counts above ``max_n`` use the normal quantile."""
    p = 1 - (1 - confidence) / 2
    table = {k: _t_ppf(p, k - 1) for k in range(2, max_n + 1)}
    return (
        pl.when(n < 2)
        .then(None)
        .when(n > max_n)
        .then(pl.lit(_norm_ppf(p)))
        .otherwise(n.cast(pl.Int64).replace_strict(table, default=None, return_dtype=pl.Float64))
    )


def mean(column: str) -> pl.Expr:
    """Mean of ``column`` over the group (a float), named ``<column>_mean``."""
    return pl.col(column).cast(pl.Float64).mean().alias(f"{column}_mean")


def ci_half_width(column: str, confidence: float = 0.95) -> pl.Expr:
    """Half-width of the Student-t confidence interval of the mean of ``column`` over the
    group: ``t_{(1+c)/2, n-1} * s / sqrt(n)``; 0 when every sample is equal, null for n < 2.
    Named ``<column>_ci``."""
    x = pl.col(column).cast(pl.Float64)
    n = x.count()
    return (t_critical(n, confidence) * x.std(ddof=1) / n.cast(pl.Float64).sqrt()).alias(
        f"{column}_ci"
    )


def ci_bounds(column: str) -> list[pl.Expr]:
    """``<column>_lo`` and ``<column>_hi`` from the ``_mean`` and ``_ci`` columns of an
    aggregate (a null half-width gives bounds equal to the mean)."""
    m, h = pl.col(f"{column}_mean"), pl.col(f"{column}_ci").fill_null(0.0)
    return [(m - h).alias(f"{column}_lo"), (m + h).alias(f"{column}_hi")]


def aggregate(
    runs: pl.LazyFrame | pl.DataFrame,
    metrics: Sequence[str] = tuple(METRICS),
    confidence: float = 0.95,
    keys: Sequence[str] = GROUP_KEYS,
) -> pl.LazyFrame:
    """Mean and CI over seeds of every metric, per ``keys`` (workload x variant x bandwidth x
    memory by default). Columns: the keys, ``n`` (seeds), ``converged_share`` and, per metric,
    ``_mean``, ``_ci``, ``_lo``, ``_hi``."""
    lf = runs.lazy()
    keys = [k for k in keys if k in lf.collect_schema().names()]
    exprs: list[pl.Expr] = [
        pl.len().alias("n"),
        pl.col("converged").cast(pl.Float64).mean().alias("converged_share"),
    ]
    for col in metrics:
        exprs += [mean(col), ci_half_width(col, confidence)]
    out = lf.group_by(keys).agg(exprs)
    bounds = [e for col in metrics for e in ci_bounds(col)]
    sort = [k for k in ("workload", "memory_bytes", "bandwidth_bps", "variant") if k in keys]
    return out.with_columns(bounds).sort(sort)


def winners(
    agg: pl.LazyFrame | pl.DataFrame,
    metrics: Sequence[str] = (*HEADLINE, "network_faults"),
    keys: Sequence[str] = ("workload", "bandwidth", "bandwidth_bps", "memory", "memory_bytes"),
    variants: Sequence[str] | None = None,
    rel_tol: float = 1e-6,
) -> pl.LazyFrame:
    """For each group of ``keys`` and each metric, the variant with the lowest mean.

    Variants within ``rel_tol`` (relative) of the best are tied; among them the one with the
    lowest mean of the other headline metrics wins (in the order downtime, app degradation,
    total time, pages transferred: stop-and-copy and post-copy tie on total time when both
    send every page once, and post-copy wins for its shorter downtime), then the first in
    ``variants`` (config order), then by name. Columns: the keys, ``metric``, ``winner``, ``value`` (its mean), ``ties`` (variants
    tied for the best, >= 1), ``runner_up`` (best of the others), ``margin`` (runner-up /
    winner - 1, null when the winner's mean is 0 or there is no runner-up).
    """
    lf = agg.lazy()
    names = lf.collect_schema().names()
    keys = [k for k in keys if k in names]
    rank = {v: i for i, v in enumerate(variants or ())}
    parts = []
    for col in metrics:
        tiebreak = [m for m in _TIEBREAK if m != col and f"{m}_mean" in names]
        base = lf.select(
            *keys,
            "variant",
            pl.col(f"{col}_mean").alias("value"),
            *[pl.col(f"{m}_mean").alias(f"_tb{i}") for i, m in enumerate(tiebreak)],
            pl.col("variant")
            .replace_strict(rank, default=len(rank), return_dtype=pl.Int64)
            .alias("_rank"),
        ).filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
        best = pl.col("value").min().over(keys)
        tied = pl.col("value") <= best + rel_tol * best.abs()
        order_by = [f"_tb{i}" for i in range(len(tiebreak))]
        ranked = base.with_columns(tied.alias("_tied")).sort(
            [*keys, "_tied", *order_by, "_rank", "variant"],
            descending=[False] * len(keys) + [True] + [False] * (len(order_by) + 2),
            nulls_last=True,
        )
        others = pl.col("value").filter(pl.col("variant") != pl.col("variant").first())
        others_name = pl.col("variant").filter(pl.col("variant") != pl.col("variant").first())
        parts.append(
            ranked.group_by(keys, maintain_order=True).agg(
                pl.lit(col).alias("metric"),
                pl.col("variant").first().alias("winner"),
                pl.col("value").first().alias("value"),
                pl.col("_tied").sum().cast(pl.Int64).alias("ties"),
                others_name.sort_by(others).first().alias("runner_up"),
                pl.when(pl.col("value").first() != 0)
                .then(others.min() / pl.col("value").first() - 1)
                .otherwise(None)
                .alias("margin"),
            )
        )
    sort = [k for k in ("workload", "memory_bytes", "bandwidth_bps") if k in keys]
    return pl.concat(parts).sort([*sort, "metric"])


def sort_variants(df: pl.DataFrame, variants: Sequence[str]) -> pl.DataFrame:
    """``df`` sorted by workload, memory, bandwidth and then variant in the given order
    (variants not listed go last, by name)."""
    rank = {v: i for i, v in enumerate(variants)}
    keys = [k for k in ("workload", "memory_bytes", "bandwidth_bps") if k in df.columns]
    return df.sort(
        *keys,
        pl.col("variant").replace_strict(rank, default=len(rank), return_dtype=pl.Int64),
        "variant",
    )
