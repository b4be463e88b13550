"""Aggregate the sweep (polars, lazy): mean and CI over seeds per workload x variant x
bandwidth x memory, and the winning variant per metric."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import polars as pl
from _common import redirect_log, variants

from migsim.analysis import metrics
from migsim.io import write_parquet_atomic
from migsim.sweep import file_metadata

redirect_log(snakemake)
runs = pl.scan_parquet(list(snakemake.input.summaries), hive_partitioning=True)
runs_df = runs.sort("workload", "variant", "memory_bytes", "bandwidth_bps", "seed").collect()
agg = metrics.aggregate(runs, confidence=snakemake.params.confidence).collect()
agg = metrics.sort_variants(agg, variants(snakemake))
win = metrics.winners(agg, variants=variants(snakemake)).collect()
print(f"{runs_df.height} runs, {agg.height} aggregate rows")
with pl.Config(tbl_rows=-1, tbl_cols=12, tbl_width_chars=200):
    print(win)
out = snakemake.output
for df, path in ((runs_df, out.runs), (agg, out.aggregate), (win, out.winners)):
    write_parquet_atomic(df.to_arrow(), path, metadata=file_metadata())
