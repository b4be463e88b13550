"""Figure (a): the four headline metrics vs bandwidth for one workload."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import polars as pl
from _common import redirect_log, variants

from migsim.analysis import figures

redirect_log(snakemake)
agg = pl.read_parquet(snakemake.input.aggregate)
fig = figures.headline(agg, snakemake.wildcards.workload, variants(snakemake))
figures.save(fig, snakemake.output.pdf, snakemake.output.png, snakemake.params.dpi)
