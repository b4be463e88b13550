"""Workload generators, one module each; importing this package registers them all."""

from migsim.workloads.generators import basic  # noqa: F401  (registers uniform, idle)
