# migsim: sweep -> Parquet -> polars aggregates -> seaborn figures, tables and an HTML report.
#
#   snakemake --cores 8                              # the default sweep (config/config.yaml)
#   snakemake --cores 2 --configfile config/test.yaml
#   snakemake --cores 8 scenarios                    # every file in config/scenarios/
#   snakemake --report results/report.html
#   snakemake --workflow-profile workflow/profiles/slurm   # on a SLURM cluster
#
# See docs/pipeline.md for what every rule makes.

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/traces.smk"
include: "workflow/rules/simulate.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/scenarios.smk"


# the paper target; only then is config/paper.yaml read (see paper_requested in common.smk)
if paper_requested():

    include: "workflow/rules/paper.smk"


rule all:
    default_target: True
    input:
        all_outputs(),


onsuccess:
    print_summary()
