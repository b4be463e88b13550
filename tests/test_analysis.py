"""Analysis on small synthetic frames with the real schemas: metrics, winners, tables, figures."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from matplotlib.figure import Figure

from migsim.analysis import figures, metrics, tables
from migsim.engine.result import ROUNDS_SCHEMA, SUMMARY_SCHEMA, TIMELINE_SCHEMA
from migsim.sweep import POINT_COLUMNS

VARIANTS = ["stop_and_copy", "pre_copy", "post_copy_prepaging"]
STRATEGY = {
    "stop_and_copy": "stop_and_copy",
    "pre_copy": "pre_copy",
    "post_copy_prepaging": "post_copy",
}
BANDWIDTHS = {"100Mbit/s": 1e8, "1Gbit/s": 1e9, "10Gbit/s": 1e10}


def _empty_row(schema: pa.Schema) -> dict:
    defaults = {pa.string(): "", pa.int64(): 0, pa.float64(): 0.0, pa.bool_(): True}
    return {f.name: defaults[f.type] for f in schema}


def synthetic_runs(seeds=(0, 1, 2), workloads=("oltp", "netperf")) -> pl.DataFrame:
    """Summary rows (SUMMARY_SCHEMA + point columns) with known values."""
    rng = np.random.default_rng(0)
    rows = []
    for w in workloads:
        for v in VARIANTS:
            for bw, bps in BANDWIDTHS.items():
                for seed in seeds:
                    r = _empty_row(SUMMARY_SCHEMA)
                    base = 8 * 512 * 2**20 / bps
                    r.update(
                        workload=w,
                        variant=v,
                        strategy=STRATEGY[v],
                        bandwidth=bw,
                        bandwidth_bps=bps,
                        memory="512MiB",
                        memory_bytes=512 * 2**20,
                        seed=seed,
                        point=f"{w}/{v}/{bw}/512MiB/s{seed}",
                        total_time_s=base * (1.0 if v != "pre_copy" else 1.5)
                        + rng.uniform(0, 0.01),
                        downtime_s=base if v == "stop_and_copy" else 0.002 + rng.uniform(0, 1e-3),
                        pages_transferred=131072 if v != "pre_copy" else 150000 + seed,
                        app_degradation_pct=100.0 if v == "stop_and_copy" else 5.0 + seed,
                        network_faults=0 if v != "post_copy_prepaging" else 100 + seed,
                        rounds=0 if v != "pre_copy" else 5,
                        converged=True,
                    )
                    rows.append(r)
    schema = pa.unify_schemas([POINT_COLUMNS, SUMMARY_SCHEMA])
    table = pa.Table.from_pylist(rows, schema=schema)
    return pl.from_arrow(table)


def test_t_critical_matches_student_t():
    n = pl.Series("n", [1, 2, 3, 5, 31, 100, 5000])
    t = pl.select(metrics.t_critical(pl.lit(n), 0.95)).to_series().to_list()
    assert t[0] is None
    assert t[1] == pytest.approx(12.7062, abs=1e-4)
    assert t[2] == pytest.approx(4.3027, abs=1e-4)
    assert t[3] == pytest.approx(2.7764, abs=1e-4)
    assert t[4] == pytest.approx(2.0423, abs=1e-4)
    assert t[5] == pytest.approx(1.9842, abs=1e-3)
    assert t[6] == pytest.approx(1.95996, abs=1e-4)
    t90 = pl.select(metrics.t_critical(pl.lit(pl.Series([11])), 0.90)).item()
    assert t90 == pytest.approx(1.8125, abs=2e-3)


def test_aggregate_mean_and_ci():
    runs = synthetic_runs()
    agg = metrics.aggregate(runs.lazy()).collect()
    assert agg.height == 2 * len(VARIANTS) * len(BANDWIDTHS)
    assert set(agg["n"]) == {3}
    row = agg.filter(
        (pl.col("workload") == "oltp")
        & (pl.col("variant") == "pre_copy")
        & (pl.col("bandwidth") == "1Gbit/s")
    ).row(0, named=True)
    x = np.array([150000, 150001, 150002], float)
    half = 4.3027 * x.std(ddof=1) / math.sqrt(3)
    assert row["pages_transferred_mean"] == pytest.approx(x.mean())
    assert row["pages_transferred_ci"] == pytest.approx(half, rel=1e-4)
    assert row["pages_transferred_lo"] == pytest.approx(x.mean() - half, rel=1e-6)
    assert row["pages_transferred_hi"] == pytest.approx(x.mean() + half, rel=1e-6)
    assert row["rounds_ci"] == 0
    for m in metrics.METRICS:
        assert {f"{m}_mean", f"{m}_ci", f"{m}_lo", f"{m}_hi"} <= set(agg.columns)


def test_aggregate_single_seed_has_null_ci_and_bounds_at_mean():
    agg = metrics.aggregate(synthetic_runs(seeds=(0,))).collect()
    assert agg["total_time_s_ci"].null_count() == agg.height
    assert (agg["total_time_s_lo"] == agg["total_time_s_mean"]).all()


def test_winners_picks_lowest_and_breaks_ties():
    agg = metrics.aggregate(synthetic_runs()).collect()
    win = metrics.winners(agg, variants=VARIANTS).collect()
    assert win.height == 2 * len(BANDWIDTHS) * 5
    down = win.filter((pl.col("metric") == "downtime_s") & (pl.col("workload") == "oltp"))
    assert set(down["winner"]) <= {"pre_copy", "post_copy_prepaging"}
    faults = win.filter(pl.col("metric") == "network_faults")
    # stop_and_copy and pre_copy tie at 0 faults; the lower mean downtime wins
    assert set(faults["ties"]) == {2}
    assert set(faults["winner"]) == {"pre_copy"}
    assert faults["margin"].null_count() == faults.height  # winner's mean is 0
    pages = win.filter(pl.col("metric") == "pages_transferred")
    assert set(pages["ties"]) == {2}
    assert set(pages["runner_up"]) <= set(VARIANTS)


def test_winners_tie_on_total_time_goes_to_lower_downtime():
    runs = synthetic_runs().with_columns(
        total_time_s=pl.col("bandwidth_bps").cast(pl.Float64) ** -1
    )
    agg = metrics.aggregate(runs).collect()
    win = metrics.winners(agg, variants=VARIANTS).collect()
    total = win.filter(pl.col("metric") == "total_time_s")
    assert set(total["ties"]) == {3}
    assert set(total["winner"]) <= {"post_copy_prepaging", "pre_copy"}
    assert "stop_and_copy" not in set(total["winner"])


def test_sort_variants_follows_config_order():
    agg = metrics.aggregate(synthetic_runs()).collect()
    order = ["post_copy_prepaging", "stop_and_copy", "pre_copy"]
    out = metrics.sort_variants(agg, order)
    first = out.filter((pl.col("workload") == "netperf") & (pl.col("bandwidth") == "1Gbit/s"))
    assert first["variant"].to_list() == order


def test_tables_markdown_latex_csv(tmp_path):
    agg = metrics.aggregate(synthetic_runs()).collect()
    md = tables.markdown_table(agg)
    lines = md.strip().splitlines()
    assert len(lines) == agg.height + 2
    assert "±" in md and "Total migration time (s)" in lines[0]
    tex = tables.latex_table(agg)
    for token in (r"\toprule", r"\midrule", r"\bottomrule", r"$\pm$", r"stop\_and\_copy"):
        assert token in tex
    assert "stop_and_copy" not in tex.replace(r"stop\_and\_copy", "")
    tables.write_csv(agg, tmp_path / "a.csv")
    back = pl.read_csv(tmp_path / "a.csv")
    assert back.height == agg.height and "downtime_s_hi" in back.columns
    win = metrics.winners(agg).collect()
    assert tables.winners_markdown(win).count("\n") == win.height + 2
    assert r"\toprule" in tables.winners_latex(win)
    text = tables.summary_text(agg, "1Gbit/s")
    assert "1Gbit/s" in text and len(text.splitlines()) == 3 + 2 * len(VARIANTS)


def test_fmt_ci():
    assert tables.fmt_ci(1.23456, 0.01234) == "1.23 ± 0.012"
    assert tables.fmt_ci(5.0, None) == "5"
    assert tables.fmt_ci(None, None) == "–"
    assert tables.fmt_ci(131072.0, 0.0) == "131072"


def _timeline(workloads=("netperf",)) -> pl.DataFrame:
    rows = []
    for w in workloads:
        for v in VARIANTS:
            for k in range(50):
                r = _empty_row(TIMELINE_SCHEMA)
                t = k * 0.01
                down = v == "stop_and_copy" or (20 <= k < 22)
                r.update(
                    workload=w, variant=v, bandwidth="1Gbit/s", memory="512MiB", seed=0,
                    point=f"{w}/{v}", t_s=t, phase="downtime" if down else "precopy",
                    service_rate=0.0 if down else 900.0, service_fraction=0.0 if down else 0.95,
                )  # fmt: skip
                rows.append(r)
    schema = pa.unify_schemas([POINT_COLUMNS, TIMELINE_SCHEMA])
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=schema))


def _rounds() -> pl.DataFrame:
    rows = []
    for w in ("oltp", "specweb"):
        for seed in (0, 1):
            for k in range(4):
                r = _empty_row(ROUNDS_SCHEMA)
                r.update(
                    workload=w, variant="pre_copy", bandwidth="1Gbit/s", memory="512MiB",
                    seed=seed, point="x", round=k, phase="precopy" if k < 3 else "stop_copy",
                    bytes=int(512 * 2**20 / 4**k),
                )  # fmt: skip
                rows.append(r)
    schema = pa.unify_schemas([POINT_COLUMNS, ROUNDS_SCHEMA])
    return pl.from_arrow(pa.Table.from_pylist(rows, schema=schema))


def _check(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert visible
    for ax in visible:
        if ax.has_data():
            assert ax.get_xlabel() or ax.get_ylabel()
    pdf, png = tmp_path / f"{name}.pdf", tmp_path / f"{name}.png"
    figures.save(fig, pdf, png, dpi=60)
    assert pdf.read_bytes().startswith(b"%PDF") and png.stat().st_size > 1000


def test_figures_build_and_save(tmp_path):
    runs = synthetic_runs()
    agg = metrics.aggregate(runs).collect()
    win = metrics.winners(agg).collect()
    fig = figures.headline(agg, "oltp", VARIANTS)
    _check(fig, tmp_path, "headline")
    labels = {ax.get_ylabel() for ax in fig.axes}
    assert "Downtime (s)" in labels and "Application degradation (%)" in labels
    assert all(ax.get_xscale() == "log" for ax in fig.axes)
    _check(figures.bars(agg, "1Gbit/s", VARIANTS), tmp_path, "bars")
    _check(
        figures.service_rate(_timeline(), "netperf", "Mbit/s", 940.0, VARIANTS), tmp_path, "service"
    )
    _check(figures.decision_map(win, VARIANTS), tmp_path, "decision")
    _check(figures.precopy_rounds(_rounds(), "1Gbit/s", VARIANTS), tmp_path, "rounds")
    dw = pl.DataFrame(
        {
            "workload": ["oltp"] * 3,
            "w_s": [0.1, 1.0, 8.0],
            "mean": [100.0, 900.0, 4000.0],
            "min": [80, 800, 3900],
            "max": [120, 1000, 4100],
        }
    )
    _check(figures.dw_curves(dw), tmp_path, "dw")


def test_headline_with_two_memory_sizes(tmp_path):
    runs = synthetic_runs()
    big = runs.with_columns(
        pl.lit("1GiB").alias("memory"),
        pl.lit(2**30).cast(pl.Int64).alias("memory_bytes"),
        pl.col("total_time_s") * 2,
    )
    agg = metrics.aggregate(pl.concat([runs, big])).collect()
    fig = figures.headline(agg, "netperf", VARIANTS)
    assert len(fig.axes) == 8
    _check(fig, tmp_path, "headline2")


def test_precopy_rounds_without_precopy_variant(tmp_path):
    rounds = _rounds().filter(pl.col("phase") == "stop_copy")
    _check(figures.precopy_rounds(rounds, "1Gbit/s", VARIANTS), tmp_path, "empty")


def test_palette_is_stable_and_colour_blind():
    pal = figures.variant_palette(VARIANTS)
    import seaborn as sns

    assert list(pal.values()) == sns.color_palette("colorblind", len(VARIANTS))


def test_variant_colours_agree_between_figures():
    agg = metrics.aggregate(synthetic_runs()).collect()
    fig = figures.precopy_rounds(_rounds(), "1Gbit/s", VARIANTS)
    line = next(ln for ax in fig.axes for ln in ax.get_lines() if len(ln.get_xdata()) > 1)
    expected = figures.variant_palette(VARIANTS)["pre_copy"]
    assert tuple(line.get_color()[:3]) == pytest.approx(tuple(expected))
    fig = figures.headline(agg, "oltp", VARIANTS)
    colours = {tuple(ln.get_color()[:3]) for ln in fig.axes[0].get_lines()}
    assert tuple(expected) in {tuple(round(c, 6) for c in col) for col in colours} or any(
        col == pytest.approx(tuple(expected)) for col in colours
    )
