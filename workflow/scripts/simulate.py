"""Simulate one batch of sweep points and write its summary, rounds and timeline Parquet."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

from _common import redirect_log

from migsim.sweep import points_from_json, run_points

log = redirect_log(snakemake)
points = points_from_json(snakemake.params.points)
print(f"engine fingerprint {snakemake.params.fingerprint}; {len(points)} points")
out = snakemake.output
run_points(points, out.summary, out.rounds, out.timeline, log=log)
