"""Figure (c): application service rate over time for one workload and every variant, at
the reference bandwidth, the first memory size and the chosen seed."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import polars as pl
from _common import redirect_log, variants

from migsim.analysis import figures

redirect_log(snakemake)
p = snakemake.params
workload = snakemake.wildcards.workload
point = (
    (pl.col("bandwidth") == p.bandwidth)
    & (pl.col("memory") == p.memory)
    & (pl.col("seed") == p.seed)
)
timeline = (
    pl.scan_parquet(list(snakemake.input.timelines), hive_partitioning=True).filter(point).collect()
)
runs = pl.read_parquet(snakemake.input.runs).filter(point & (pl.col("workload") == workload))
unit = runs["service_unit"][0] if runs.height else ""
baseline = runs["service_baseline"][0] if runs.height else None
print(f"{workload}: {timeline.height} timeline rows, unit {unit!r}, baseline {baseline}")
fig = figures.service_rate(timeline, workload, unit, baseline, variants(snakemake))
figures.save(fig, snakemake.output.pdf, snakemake.output.png, p.dpi)
