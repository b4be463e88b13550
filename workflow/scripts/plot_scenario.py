"""The figure of one scenario: its migrations' phases and allocated rates over time."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import polars as pl
from _common import redirect_log

from migsim.analysis.figures import save
from migsim.analysis.scenario_figures import scenario_figure

redirect_log(snakemake)
inp, out = snakemake.input, snakemake.output
fig = scenario_figure(
    pl.read_parquet(inp.migrations),
    pl.read_parquet(inp.link_rates),
    title=snakemake.wildcards.scenario,
)
save(fig, out.pdf, out.png, snakemake.params.dpi)
