"""Figure (d): decision map, the winning variant per workload x bandwidth and metric."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import polars as pl
from _common import redirect_log, variants

from migsim.analysis import figures

redirect_log(snakemake)
win = pl.read_parquet(snakemake.input.winners)
fig = figures.decision_map(win, variants(snakemake))
figures.save(fig, snakemake.output.pdf, snakemake.output.png, snakemake.params.dpi)
