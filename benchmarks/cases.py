"""The benchmark cases shared by ``benchmarks.engine`` and ``benchmarks.ab``: strategy options
and workload mappings, as plain data (this module imports no migsim, so that ``benchmarks.ab``
can hand the same cases to two versions of it)."""

CASES = {
    "pre_copy/fixed": {"name": "pre_copy"},
    "pre_copy/dynamic": {"name": "pre_copy", "rate_limit": "dynamic"},
    "post_copy/bubble": {"name": "post_copy", "prepaging": "bubble"},
}
WORKLOADS = {
    "oltp": {"name": "oltp"},
    # 20k writes/s over a hot set of 1/16 of memory (64k pages at 1 GiB)
    "uniform": {"name": "uniform", "rate": 20000, "hot_fraction": 1 / 16},
}
