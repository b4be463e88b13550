# One job per batch of points (simulate.batch_size points of one workload x variant).
# The engine fingerprint param reruns every batch when the engine, strategy or workload
# sources change; the points param reruns a batch when its points change.


rule simulate:
    output:
        summary=f"{RESULTS}/runs/workload={{workload}}/variant={{variant}}/part-{{batch}}.parquet",
        rounds=f"{RESULTS}/rounds/workload={{workload}}/variant={{variant}}/part-{{batch}}.parquet",
        timeline=f"{RESULTS}/timeline/workload={{workload}}/variant={{variant}}/part-{{batch}}.parquet",
    log:
        f"{RESULTS}/logs/simulate/{{workload}}/{{variant}}/{{batch}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulate/{{workload}}/{{variant}}/{{batch}}.tsv"
    conda:
        "../envs/migsim.yaml"
    resources:
        runtime=30,
        mem_mb=2000,
    params:
        points=batch_points,
        fingerprint=ENGINE_FINGERPRINT,
    script:
        "../scripts/simulate.py"
