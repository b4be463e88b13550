"""results/validation.md and .csv: every published statement against its reproduction."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import polars as pl
from _common import redirect_log

from migsim.analysis import validation

redirect_log(snakemake)
inp = snakemake.input


def read(paths):
    return pl.concat([pl.read_parquet(f) for f in paths], how="diagonal_relaxed")


frames = {e: read(inp[e]) for e in snakemake.params.experiments}
frames["hines_netperf.timeline"] = read(inp.netperf_timeline)
published = validation.load_published(inp.published)
table = validation.validate(published, frames)
validation.write_markdown(table, snakemake.output.md, published["sources"])
validation.write_csv(table, snakemake.output.csv)
with pl.Config(tbl_rows=-1, fmt_str_lengths=40):
    print(table.select("id", "published", "reproduced", "deviation", "pass"))
print(f"{int(table['pass'].sum())} of {table.height} statements pass")
