"""Figure (e): pre-copy volume per round at the reference bandwidth."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import polars as pl
from _common import redirect_log, variants

from migsim.analysis import figures

redirect_log(snakemake)
rounds = pl.scan_parquet(list(snakemake.input.rounds), hive_partitioning=True).collect()
fig = figures.precopy_rounds(rounds, snakemake.params.bandwidth, variants(snakemake))
figures.save(fig, snakemake.output.pdf, snakemake.output.png, snakemake.params.dpi)
