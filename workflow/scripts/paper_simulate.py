"""Simulate the runs of one part of a paper experiment; write summary, rounds and timeline."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

import json

from _common import redirect_log

from migsim.experiments import run_experiment

log = redirect_log(snakemake)
runs = json.loads(snakemake.params.runs)
print(f"engine fingerprint {snakemake.params.fingerprint}; {len(runs)} runs")
out = snakemake.output
run_experiment(runs, out.summary, out.rounds, out.timeline, snakemake.params.keep_timeline, log=log)
