"""Writable working set over time of one workload (Clark Fig. 2): distinct pages dirtied per
window, sampled on a fixed grid, from the start of its trace."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import polars as pl
from _common import redirect_log

from migsim.config import VMSpec, WorkloadSpec
from migsim.io import write_parquet_atomic
from migsim.units import parse_duration, parse_size
from migsim.workloads import make_workload
from migsim.workloads.wws import wws_timeline

redirect_log(snakemake)
p = snakemake.params
name = snakemake.wildcards.workload
duration, window, sample = (parse_duration(x) for x in (p.duration, p.window, p.sample))
vm = VMSpec(memory_bytes=parse_size(p.memory))
wl = make_workload(WorkloadSpec(name=name), vm, int(p.seed))
df = wws_timeline(wl.touches(0.0, duration), window=window, sample=sample, span=duration)
df = df.with_columns(
    pl.lit(name).alias("workload"),
    pl.lit(window).alias("window_s"),
    pl.lit(sample).alias("sample_s"),
    pl.lit(vm.memory_bytes).alias("memory_bytes"),
    pl.lit(int(p.seed)).alias("seed"),
)
print(df.describe())
write_parquet_atomic(df.to_arrow(), snakemake.output.wws)
