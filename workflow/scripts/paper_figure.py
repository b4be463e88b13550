"""One paper figure (params.figure names it), drawn by migsim.analysis.paper_figures from Parquet."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import polars as pl
from _common import redirect_log

from migsim.analysis import paper_figures
from migsim.analysis.figures import save
from migsim.units import parse_duration

redirect_log(snakemake)
inp, out, p = snakemake.input, snakemake.output, snakemake.params


def read(paths):
    return pl.concat([pl.read_parquet(f) for f in paths], how="diagonal_relaxed")


if p.figure == "wws":
    fig = paper_figures.wws_figure(read(inp.wws), p.workloads)
elif p.figure == "clark_downtime":
    fig = paper_figures.clark_downtime_figure(read([inp.summary]), snakemake.wildcards.workload)
elif p.figure == "clark_ratelimit":
    fig = paper_figures.clark_ratelimit_figure(read(inp.rounds))
elif p.figure == "hines_stress":
    fig = paper_figures.hines_stress_figure(read(inp.summary))
elif p.figure == "hines_netperf":
    before = parse_duration(p.before)
    fig = paper_figures.hines_netperf_figure(read(inp.summary), read(inp.timeline), before)
elif p.figure == "hines_apps":
    summary = read(inp.summary)
    main = ["stop_and_copy", "pre_copy", p.post_copy_variant, "post_copy_hines"]
    save(paper_figures.hines_apps_figure(summary, main), out.apps_pdf, out.apps_png, p.dpi)
    fig = paper_figures.hines_faults_figure(summary, p.fault_variants)
    out = {"pdf": out.faults_pdf, "png": out.faults_png}
elif p.figure == "closed_form":
    fig = paper_figures.closed_form_figure(paper_figures.closed_form_table(read(inp.summary)))
else:
    raise ValueError(f"unknown paper figure {p.figure!r}")
save(fig, out["pdf"], out["png"], p.dpi)
print(f"wrote {out['pdf']} and {out['png']}")
