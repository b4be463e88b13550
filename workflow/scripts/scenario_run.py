"""Run one scenario file (migsim.scenario) and write its Parquet tables."""
# ruff: noqa: F821  (snakemake is injected by the script directive)

from pathlib import Path

from _common import redirect_log

from migsim.scenario import load_scenario, run_scenario

redirect_log(snakemake)
result = run_scenario(load_scenario(snakemake.input.scenario))
for path in result.write(Path(snakemake.output.migrations).parent):
    print(path)
