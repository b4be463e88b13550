"""The d(w) curve of one workload: distinct pages written within windows of w seconds."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import json

import polars as pl
from _common import redirect_log

from migsim.config import from_mapping, to_mapping
from migsim.io import write_parquet_atomic
from migsim.sweep import file_metadata
from migsim.units import parse_duration
from migsim.workloads import Touches, make_workload
from migsim.workloads.wws import d_curve

redirect_log(snakemake)
cfg = from_mapping(json.loads(snakemake.params.run))
windows = [parse_duration(w) for w in snakemake.params.windows]
duration = parse_duration(snakemake.params.duration)
wl = make_workload(cfg.workload, cfg.vm, cfg.seed)
start = cfg.workload.start
tt = wl.touches(start, start + duration)
shifted = Touches(tt.t - start, tt.page, tt.is_write)
dw = d_curve(shifted, windows=windows, span=duration, page_size=cfg.vm.page_size)
dw = dw.with_columns(
    pl.lit(snakemake.wildcards.workload).alias("workload"),
    pl.lit(cfg.workload.name).alias("generator"),
    pl.lit(cfg.vm.memory_bytes).alias("memory_bytes"),
    pl.lit(cfg.seed).alias("seed"),
    pl.lit(start).alias("start_s"),
)
print(dw)
meta = file_metadata()
meta[b"migsim.config"] = json.dumps(to_mapping(cfg), sort_keys=True, default=str).encode()
write_parquet_atomic(dw.to_arrow(), snakemake.output.dw, metadata=meta)
