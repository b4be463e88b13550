# The scenarios target: every file in config/scenarios/ run in one simulation each, its
# Parquet tables and a figure (docs/scenarios.md).
#
#   snakemake --cores 8 scenarios
#
# Tables go to <results>/scenarios/<scenario>/, figures to <results>/figures/scenarios/.


rule scenario_run:
    input:
        scenario="config/scenarios/{scenario}.yaml",
    output:
        migrations=f"{RESULTS}/scenarios/{{scenario}}/migrations.parquet",
        rounds=f"{RESULTS}/scenarios/{{scenario}}/rounds.parquet",
        timeline=f"{RESULTS}/scenarios/{{scenario}}/timeline.parquet",
        link_rates=f"{RESULTS}/scenarios/{{scenario}}/link_rates.parquet",
        evacuations=f"{RESULTS}/scenarios/{{scenario}}/evacuations.parquet",
    log:
        f"{RESULTS}/logs/scenario_run/{{scenario}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/scenario_run/{{scenario}}.tsv"
    conda:
        "../envs/migsim.yaml"
    resources:
        runtime=60,
        mem_mb=8000,
    params:
        fingerprint=SCENARIO_FINGERPRINT,
    script:
        "../scripts/scenario_run.py"


rule scenario_figure:
    input:
        migrations=rules.scenario_run.output.migrations,
        link_rates=rules.scenario_run.output.link_rates,
    output:
        pdf=f"{RESULTS}/figures/scenarios/{{scenario}}.pdf",
        png=report(
            f"{RESULTS}/figures/scenarios/{{scenario}}.png",
            caption="../report/scenario.rst",
            category="Scenarios",
            labels={"scenario": "{scenario}"},
        ),
    log:
        f"{RESULTS}/logs/scenario_figure/{{scenario}}.log",
    conda:
        "../envs/migsim.yaml"
    params:
        dpi=config["figures"]["dpi"],
        fingerprint=SCENARIO_FIGURES_FINGERPRINT,
    script:
        "../scripts/plot_scenario.py"


rule scenarios:
    input:
        scenario_outputs(),
