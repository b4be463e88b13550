"""Tables of the aggregate (CSV, Markdown, LaTeX booktabs) and the summary printed to the log."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

from pathlib import Path

import polars as pl
from _common import redirect_log

from migsim.analysis import tables

redirect_log(snakemake)
out = snakemake.output
agg = pl.read_parquet(snakemake.input.aggregate)
win = pl.read_parquet(snakemake.input.winners)
level = round(100 * snakemake.params.confidence)
tables.write_csv(agg, out.csv)
tables.write_markdown(agg, out.md)
tables.write_latex(
    agg, out.tex, caption=f"Migration metrics: mean and {level}% confidence interval over seeds."
)
tables.write_csv(win, out.winners_csv)
Path(out.winners_md).write_text(tables.winners_markdown(win))
Path(out.winners_tex).write_text(tables.winners_latex(win))
text = tables.summary_text(agg, snakemake.params.bandwidth)
Path(out.summary).write_text(text)
print(text)
