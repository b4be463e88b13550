# Workload characterisation: the d(w) curve of every workload of the sweep (distinct pages
# written within a window of w seconds), the quantity that decides pre-copy.


rule trace_dw:
    output:
        dw=f"{RESULTS}/traces/dw/workload={{workload}}/dw.parquet",
    log:
        f"{RESULTS}/logs/trace_dw/{{workload}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/trace_dw/{{workload}}.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        run=workload_mapping,
        windows=config["analysis"]["dw_windows"],
        duration=config["analysis"]["dw_duration"],
        fingerprint=ENGINE_FINGERPRINT,
    script:
        "../scripts/trace_dw.py"


rule figure_dw:
    input:
        dw=expand(rules.trace_dw.output.dw, workload=WORKLOADS),
    output:
        pdf=figure_paths("dw")["pdf"],
        png=report(
            figure_paths("dw")["png"],
            caption="../report/dw.rst",
            category="Workloads",
        ),
    log:
        f"{RESULTS}/logs/figure_dw.log",
    benchmark:
        f"{RESULTS}/benchmarks/figure_dw.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        dpi=config["figures"]["dpi"],
        fingerprint=FIGURES_FINGERPRINT,
    script:
        "../scripts/plot_dw.py"
