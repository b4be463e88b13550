# Tables of the aggregate with confidence intervals (CSV, Markdown, LaTeX booktabs) and a
# plain-text summary printed at the end of a successful run.


rule tables:
    input:
        aggregate=rules.aggregate.output.aggregate,
        winners=rules.aggregate.output.winners,
    output:
        csv=report(
            f"{RESULTS}/tables/aggregate.csv",
            caption="../report/aggregate_table.rst",
            category="Tables",
        ),
        md=f"{RESULTS}/tables/aggregate.md",
        tex=f"{RESULTS}/tables/aggregate.tex",
        winners_csv=report(
            f"{RESULTS}/tables/winners.csv",
            caption="../report/winners_table.rst",
            category="Tables",
        ),
        winners_md=f"{RESULTS}/tables/winners.md",
        winners_tex=f"{RESULTS}/tables/winners.tex",
        summary=f"{RESULTS}/tables/summary.txt",
    log:
        f"{RESULTS}/logs/tables.log",
    benchmark:
        f"{RESULTS}/benchmarks/tables.tsv"
    conda:
        "../envs/migsim.yaml"
    params:
        bandwidth=REFERENCE_BANDWIDTH,
        variants=variant_order(),
        confidence=config["analysis"]["confidence"],
        fingerprint=TABLES_FINGERPRINT,
    script:
        "../scripts/tables.py"
