# One figure per file, PDF and PNG; the PNG goes into the report with a caption.


rule figure_headline:
    input:
        aggregate=rules.aggregate.output.aggregate,
    output:
        pdf=f"{RESULTS}/figures/headline/{{workload}}.pdf",
        png=report(
            f"{RESULTS}/figures/headline/{{workload}}.png",
            caption="../report/headline.rst",
            category="Metrics vs bandwidth",
            labels={"workload": "{workload}"},
        ),
    log:
        f"{RESULTS}/logs/figure_headline/{{workload}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_headline/{{workload}}.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        variants=variant_order(),
        dpi=config["figures"]["dpi"],
        fingerprint=FIGURES_FINGERPRINT,
    script:
        "../scripts/plot_headline.py"


rule figure_bars:
    input:
        aggregate=rules.aggregate.output.aggregate,
    output:
        pdf=figure_paths("bars_reference")["pdf"],
        png=report(
            figure_paths("bars_reference")["png"],
            caption="../report/bars.rst",
            category="Comparison at the reference bandwidth",
        ),
    log:
        f"{RESULTS}/logs/figure_bars.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_bars.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        bandwidth=REFERENCE_BANDWIDTH,
        variants=variant_order(),
        dpi=config["figures"]["dpi"],
        fingerprint=FIGURES_FINGERPRINT,
    script:
        "../scripts/plot_bars.py"


rule figure_service_rate:
    input:
        timelines=timeline_files,
        runs=rules.aggregate.output.runs,
    output:
        pdf=f"{RESULTS}/figures/service_rate/{{workload}}.pdf",
        png=report(
            f"{RESULTS}/figures/service_rate/{{workload}}.png",
            caption="../report/service_rate.rst",
            category="Application service over time",
            labels={"workload": "{workload}"},
        ),
    log:
        f"{RESULTS}/logs/figure_service_rate/{{workload}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_service_rate/{{workload}}.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        bandwidth=REFERENCE_BANDWIDTH,
        memory=MEMORIES[0],
        seed=timeline_seed(),
        variants=variant_order(),
        dpi=config["figures"]["dpi"],
        fingerprint=FIGURES_FINGERPRINT,
    script:
        "../scripts/plot_service_rate.py"


rule figure_decision_map:
    input:
        winners=rules.aggregate.output.winners,
    output:
        pdf=figure_paths("decision_map")["pdf"],
        png=report(
            figure_paths("decision_map")["png"],
            caption="../report/decision_map.rst",
            category="Decision map",
        ),
    log:
        f"{RESULTS}/logs/figure_decision_map.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_decision_map.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        variants=variant_order(),
        dpi=config["figures"]["dpi"],
        fingerprint=FIGURES_FINGERPRINT,
    script:
        "../scripts/plot_decision_map.py"


rule figure_precopy_rounds:
    input:
        rounds=ROUNDS_FILES,
    output:
        pdf=figure_paths("precopy_rounds")["pdf"],
        png=report(
            figure_paths("precopy_rounds")["png"],
            caption="../report/precopy_rounds.rst",
            category="Pre-copy rounds",
        ),
    log:
        f"{RESULTS}/logs/figure_precopy_rounds.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_precopy_rounds.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        bandwidth=REFERENCE_BANDWIDTH,
        variants=variant_order(),
        dpi=config["figures"]["dpi"],
        fingerprint=FIGURES_FINGERPRINT,
    script:
        "../scripts/plot_precopy_rounds.py"
