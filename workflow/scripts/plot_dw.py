"""Figure: d(w) of every workload of the sweep."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import polars as pl
from _common import redirect_log

from migsim.analysis import figures

redirect_log(snakemake)
dw = pl.concat([pl.read_parquet(p) for p in snakemake.input.dw], how="diagonal_relaxed")
fig = figures.dw_curves(dw)
figures.save(fig, snakemake.output.pdf, snakemake.output.png, snakemake.params.dpi)
