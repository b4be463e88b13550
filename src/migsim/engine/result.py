"""RunResult and the Arrow schemas of its three tables: summary, rounds, timeline.

The tables hold no wall-clock values, so identical inputs give identical tables; the engine's
wall runtime is kept apart in :attr:`RunResult.runtime_s` (JSON output and logs only).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pyarrow as pa

from migsim.config import RunConfig, to_mapping

__all__ = [
    "ROUNDS_SCHEMA",
    "SUMMARY_SCHEMA",
    "TIMELINE_SCHEMA",
    "RunResult",
    "library_versions",
    "provenance_metadata",
]

SUMMARY_SCHEMA = pa.schema(
    [
        pa.field("strategy", pa.string()),
        pa.field("workload", pa.string()),
        pa.field("memory_bytes", pa.int64()),
        pa.field("page_size", pa.int64()),
        pa.field("bandwidth_bps", pa.float64()),
        pa.field("rtt_s", pa.float64()),
        pa.field("seed", pa.int64()),
        pa.field("start_time_s", pa.float64()),
        pa.field("total_time_s", pa.float64()),
        pa.field("downtime_s", pa.float64()),
        pa.field("precopy_time_s", pa.float64()),
        pa.field("postcopy_time_s", pa.float64()),
        pa.field("pages_transferred", pa.int64()),
        pa.field("bytes_transferred", pa.int64()),
        pa.field("pages_skipped", pa.int64()),
        pa.field("zero_pages_sent", pa.int64()),
        pa.field("rounds", pa.int64()),
        pa.field("network_faults", pa.int64()),
        pa.field("stall_time_s", pa.float64()),
        pa.field("app_lost_s", pa.float64()),
        pa.field("app_degradation_pct", pa.float64()),
        pa.field("service_unit", pa.string()),
        pa.field("service_baseline", pa.float64()),
        pa.field("converged", pa.bool_()),
        pa.field("stop_reason", pa.string()),
        pa.field("page_events", pa.int64()),
        pa.field("migsim_version", pa.string()),
        pa.field("config_json", pa.string()),
    ]
)

ROUNDS_SCHEMA = pa.schema(
    [
        pa.field("round", pa.int64()),
        pa.field("phase", pa.string()),  # precopy | stop_copy | postcopy
        pa.field("start_s", pa.float64()),
        pa.field("duration_s", pa.float64()),
        pa.field("to_send", pa.int64()),
        pa.field("sent", pa.int64()),
        pa.field("skipped", pa.int64()),
        pa.field("dirtied", pa.int64()),
        pa.field("bytes", pa.int64()),
        pa.field("rate_limit_bps", pa.float64()),
        pa.field("dirty_rate_pps", pa.float64()),
        pa.field("throttle", pa.float64()),
    ]
)

TIMELINE_SCHEMA = pa.schema(
    [
        pa.field("t_s", pa.float64()),
        pa.field("phase", pa.string()),  # precopy | downtime | postcopy | done
        pa.field("send_rate_bps", pa.float64()),
        pa.field("service_rate", pa.float64()),
        pa.field("service_fraction", pa.float64()),
        pa.field("dirty_outstanding", pa.int64()),
        pa.field("present_at_dest", pa.int64()),
    ]
)


def _version(dist: str) -> str:
    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


@functools.cache
def _library_versions() -> tuple[tuple[str, str], ...]:
    return tuple(
        (d, _version(d)) for d in ("migsim", "numpy", "numba", "simpy", "polars", "pyarrow")
    )


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a result (recorded in every result file)."""
    return dict(_library_versions())


def provenance_metadata(config: RunConfig | dict[str, Any] | None = None) -> dict[bytes, bytes]:
    """Parquet key-value metadata: config, seed, migsim and library versions."""
    meta: dict[bytes, bytes] = {
        b"migsim.version": _version("migsim").encode(),
        b"migsim.libraries": json.dumps(library_versions(), sort_keys=True).encode(),
    }
    if config is not None:
        mapping = to_mapping(config) if isinstance(config, RunConfig) else config
        meta[b"migsim.config"] = json.dumps(mapping, sort_keys=True, default=str).encode()
        if "seed" in mapping:
            meta[b"migsim.seed"] = str(mapping["seed"]).encode()
    return meta


@dataclass
class RunResult:
    """The outcome of one :func:`migsim.simulate` call.

    summary: one row (a dict keyed by :data:`SUMMARY_SCHEMA` names).
    rounds: per-round table (:data:`ROUNDS_SCHEMA`).
    timeline: fixed-grid time series (:data:`TIMELINE_SCHEMA`).
    config: the validated config; seed and version are in ``summary``.
    runtime_s: wall seconds the simulation took (not in the tables).
    """

    summary: dict[str, Any]
    rounds: pa.Table
    timeline: pa.Table
    config: RunConfig
    runtime_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary_table(self) -> pa.Table:
        """The summary as a one-row Arrow table with provenance metadata."""
        table = pa.Table.from_pylist([self.summary], schema=SUMMARY_SCHEMA)
        return table.replace_schema_metadata(provenance_metadata(self.config))

    def to_json(self) -> dict[str, Any]:
        """The summary plus ``runtime_s``, JSON-ready (for ``migsim run --json``)."""
        out = {k: v for k, v in self.summary.items() if k != "config_json"}
        out["runtime_s"] = self.runtime_s
        return out
