"""Workload generators, one module each; importing this package registers them all."""

from migsim.workloads.generators import (  # noqa: F401  (registers the generators)
    basic,
    bittorrent,
    game_server,
    kernel_compile,
    memory_stress,
    netperf,
    oltp,
    specweb,
)
