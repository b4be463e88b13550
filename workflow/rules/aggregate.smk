# Aggregation in polars (lazy): mean and confidence interval over seeds per
# workload x variant x bandwidth x memory, and the winner per metric.


rule aggregate:
    input:
        summaries=SUMMARY_FILES,
    output:
        runs=f"{RESULTS}/aggregate/runs.parquet",
        aggregate=f"{RESULTS}/aggregate/aggregate.parquet",
        winners=f"{RESULTS}/aggregate/winners.parquet",
    log:
        f"{RESULTS}/logs/aggregate.log",
    benchmark:
        f"{RESULTS}/benchmarks/aggregate.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        confidence=config["analysis"]["confidence"],
        variants=variant_order(),
        fingerprint=METRICS_FINGERPRINT,
    script:
        "../scripts/aggregate.py"
