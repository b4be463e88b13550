# The papers' figures (Clark et al. NSDI'05, Hines & Gopalan VEE'09) and the validation report.
#
#   snakemake --cores 8 paper
#
# Settings come from config/paper.yaml (schema workflow/schemas/paper.schema.yaml; the
# `paper_config` config key names another file where the main schema allows it); published
# values and citations from config/published.yaml. Simulation batches write Parquet under
# <results>/paper/runs/<experiment>/<part>/; figures go to <results>/paper/figures/ and the
# report to <results>/validation.md and .csv. docs/paper.md lists every output.

import yaml

# Included by the Snakefile only when the paper is asked for (paper_requested, common.smk).
PAPER_CONFIG_FILE = config.get("paper_config", "config/paper.yaml")
with open(PAPER_CONFIG_FILE) as _paper_handle:
    PAPER = yaml.safe_load(_paper_handle) or {}
validate(PAPER, "../schemas/paper.schema.yaml")
PAPER_RESULTS = str(PAPER["results"]).rstrip("/")
PR = f"{PAPER_RESULTS}/paper"
PAPER_FIGURES_FINGERPRINT = migsweep.analysis_fingerprint(
    "figures", "paper_figures", "closed_form"
)
PAPER_VALIDATION_FINGERPRINT = migsweep.analysis_fingerprint(
    "paper_figures", "validation", "closed_form"
)


wildcard_constraints:
    experiment="|".join(migexperiments.EXPERIMENTS),


rule paper_simulate:
    output:
        summary=f"{PR}/runs/{{experiment}}/{{part}}/summary.parquet",
        rounds=f"{PR}/runs/{{experiment}}/{{part}}/rounds.parquet",
        timeline=f"{PR}/runs/{{experiment}}/{{part}}/timeline.parquet",
    log:
        f"{PAPER_RESULTS}/logs/paper/simulate/{{experiment}}/{{part}}.log",
    benchmark:
        f"{PAPER_RESULTS}/benchmarks/paper/simulate/{{experiment}}/{{part}}.tsv"
    conda:
        "../envs/migsim.yaml"
    resources:
        runtime=30,
        mem_mb=3000,
    params:
        runs=paper_runs,
        keep_timeline=paper_keep_timeline,
        fingerprint=ENGINE_FINGERPRINT,
    script:
        "../scripts/paper_simulate.py"


rule paper_wws:
    output:
        wws=f"{PR}/wws/{{workload}}.parquet",
    log:
        f"{PAPER_RESULTS}/logs/paper/wws/{{workload}}.log",
    benchmark:
        f"{PAPER_RESULTS}/benchmarks/paper/wws/{{workload}}.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        memory=PAPER["wws"]["memory"],
        duration=PAPER["wws"]["duration"],
        window=PAPER["wws"]["window"],
        sample=PAPER["wws"]["sample"],
        seed=PAPER["seed"],
        fingerprint=ENGINE_FINGERPRINT,
    script:
        "../scripts/paper_wws.py"


rule paper_figure_wws:
    input:
        wws=paper_wws_files(),
    output:
        pdf=paper_figure("clark_fig2_wws", "pdf"),
        png=report(
            paper_figure("clark_fig2_wws", "png"),
            caption="../report/paper_wws.rst",
            category="Paper",
        ),
    log:
        f"{PAPER_RESULTS}/logs/paper/figure_wws.log",
    benchmark:
        f"{PAPER_RESULTS}/benchmarks/paper/figure_wws.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        figure="wws",
        workloads=PAPER["wws"]["workloads"],
        dpi=PAPER["figures"]["dpi"],
        fingerprint=PAPER_FIGURES_FINGERPRINT,
    script:
        "../scripts/paper_figure.py"


rule paper_figure_clark_downtime:
    input:
        summary=f"{PR}/runs/clark_downtime/{{workload}}/summary.parquet",
    output:
        pdf=f"{PR}/figures/clark_figs3-6_downtime_{{workload}}.pdf",
        png=report(
            f"{PR}/figures/clark_figs3-6_downtime_{{workload}}.png",
            caption="../report/paper_clark_downtime.rst",
            category="Paper",
            labels={"figure": "Clark Figs. 3-6", "workload": "{workload}"},
        ),
    log:
        f"{PAPER_RESULTS}/logs/paper/figure_clark_downtime/{{workload}}.log",
    benchmark:
        f"{PAPER_RESULTS}/benchmarks/paper/figure_clark_downtime/{{workload}}.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        figure="clark_downtime",
        dpi=PAPER["figures"]["dpi"],
        fingerprint=PAPER_FIGURES_FINGERPRINT,
    script:
        "../scripts/paper_figure.py"


rule paper_figure_clark_ratelimit:
    input:
        rounds=paper_table("clark_ratelimit", "rounds"),
    output:
        pdf=paper_figure("clark_sec6_ratelimit", "pdf"),
        png=report(
            paper_figure("clark_sec6_ratelimit", "png"),
            caption="../report/paper_clark_ratelimit.rst",
            category="Paper",
        ),
    log:
        f"{PAPER_RESULTS}/logs/paper/figure_clark_ratelimit.log",
    benchmark:
        f"{PAPER_RESULTS}/benchmarks/paper/figure_clark_ratelimit.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        figure="clark_ratelimit",
        dpi=PAPER["figures"]["dpi"],
        fingerprint=PAPER_FIGURES_FINGERPRINT,
    script:
        "../scripts/paper_figure.py"


rule paper_figure_hines_stress:
    input:
        summary=paper_table("hines_stress", "summary"),
    output:
        pdf=paper_figure("hines_figs4-6_stress", "pdf"),
        png=report(
            paper_figure("hines_figs4-6_stress", "png"),
            caption="../report/paper_hines_stress.rst",
            category="Paper",
        ),
    log:
        f"{PAPER_RESULTS}/logs/paper/figure_hines_stress.log",
    benchmark:
        f"{PAPER_RESULTS}/benchmarks/paper/figure_hines_stress.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        figure="hines_stress",
        dpi=PAPER["figures"]["dpi"],
        fingerprint=PAPER_FIGURES_FINGERPRINT,
    script:
        "../scripts/paper_figure.py"


rule paper_figure_hines_netperf:
    input:
        summary=paper_table("hines_netperf", "summary"),
        timeline=paper_table("hines_netperf", "timeline"),
    output:
        pdf=paper_figure("hines_figs9-10_netperf", "pdf"),
        png=report(
            paper_figure("hines_figs9-10_netperf", "png"),
            caption="../report/paper_hines_netperf.rst",
            category="Paper",
        ),
    log:
        f"{PAPER_RESULTS}/logs/paper/figure_hines_netperf.log",
    benchmark:
        f"{PAPER_RESULTS}/benchmarks/paper/figure_hines_netperf.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        figure="hines_netperf",
        before=PAPER["hines_netperf"]["before"],
        dpi=PAPER["figures"]["dpi"],
        fingerprint=PAPER_FIGURES_FINGERPRINT,
    script:
        "../scripts/paper_figure.py"


rule paper_figure_hines_apps:
    input:
        summary=paper_table("hines_apps", "summary"),
    output:
        apps_pdf=paper_figure("hines_figs12-15_apps", "pdf"),
        apps_png=report(
            paper_figure("hines_figs12-15_apps", "png"),
            caption="../report/paper_hines_apps.rst",
            category="Paper",
        ),
        faults_pdf=paper_figure("hines_figs12-15_faults", "pdf"),
        faults_png=report(
            paper_figure("hines_figs12-15_faults", "png"),
            caption="../report/paper_hines_faults.rst",
            category="Paper",
        ),
    log:
        f"{PAPER_RESULTS}/logs/paper/figure_hines_apps.log",
    benchmark:
        f"{PAPER_RESULTS}/benchmarks/paper/figure_hines_apps.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        figure="hines_apps",
        post_copy_variant=PAPER["hines_apps"]["post_copy_variant"],
        fault_variants=paper_fault_variants(),
        dpi=PAPER["figures"]["dpi"],
        fingerprint=PAPER_FIGURES_FINGERPRINT,
    script:
        "../scripts/paper_figure.py"


rule paper_figure_closed_form:
    input:
        summary=paper_table("closed_form", "summary"),
    output:
        pdf=paper_figure("closed_form_model", "pdf"),
        png=report(
            paper_figure("closed_form_model", "png"),
            caption="../report/paper_closed_form.rst",
            category="Paper",
        ),
    log:
        f"{PAPER_RESULTS}/logs/paper/figure_closed_form.log",
    benchmark:
        f"{PAPER_RESULTS}/benchmarks/paper/figure_closed_form.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        figure="closed_form",
        dpi=PAPER["figures"]["dpi"],
        fingerprint=PAPER_FIGURES_FINGERPRINT,
    script:
        "../scripts/paper_figure.py"


rule paper_validation:
    input:
        **paper_validation_inputs(),
        published=PAPER["published"],
    output:
        md=report(
            f"{PAPER_RESULTS}/validation.md",
            caption="../report/paper_validation.rst",
            category="Paper",
        ),
        csv=f"{PAPER_RESULTS}/validation.csv",
    log:
        f"{PAPER_RESULTS}/logs/paper/validation.log",
    benchmark:
        f"{PAPER_RESULTS}/benchmarks/paper/validation.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        experiments=list(migexperiments.EXPERIMENTS),
        fingerprint=PAPER_VALIDATION_FINGERPRINT,
    script:
        "../scripts/paper_validation.py"


# The target: every paper figure and the validation report.
rule paper:
    input:
        rules.paper_figure_wws.output.png,
        paper_clark_downtime_pngs(),
        rules.paper_figure_clark_ratelimit.output.png,
        rules.paper_figure_hines_stress.output.png,
        rules.paper_figure_hines_netperf.output.png,
        rules.paper_figure_hines_apps.output.apps_png,
        rules.paper_figure_hines_apps.output.faults_png,
        rules.paper_figure_closed_form.output.png,
        rules.paper_validation.output.md,
        rules.paper_validation.output.csv,
