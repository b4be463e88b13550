"""Run a validated :class:`~migsim.scenario.spec.Scenario` and tabulate it.

One SimPy environment runs every migration (:func:`migsim.engine.core.run_migrations`), each
page-exact with its strategy's plug-in, all sharing the network max-min. The tables hold one
row per migration (``migrations``: where from, where to, when, its outcome, and the summary of
``migsim run``) and, with a ``migration`` column first, the rounds, timelines and link
allocations of all of them; times in these are counted from that migration's start
(``started_at_s`` in ``migrations``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from migsim.engine.core import run_migrations
from migsim.engine.result import RunResult, library_versions
from migsim.scenario.spec import Scenario

__all__ = ["EVACUATIONS_SCHEMA", "ScenarioResult", "outcome", "run_scenario"]

EVACUATIONS_SCHEMA = pa.schema(
    [
        ("evacuation", pa.string()),
        ("host", pa.string()),
        ("vms", pa.int64()),
        ("concurrency", pa.int64()),
        ("started_at_s", pa.float64()),
        ("empty_at_s", pa.float64()),
        ("time_to_empty_s", pa.float64()),
        ("downtime_sum_s", pa.float64()),
        ("downtime_max_s", pa.float64()),
        ("bytes_moved", pa.int64()),
        ("app_lost_s", pa.float64()),
        ("not_converged", pa.int64()),
        ("aborted", pa.int64()),
    ]
)


def outcome(result: RunResult) -> str:
    """``completed``, or ``aborted_vm_safe`` when the migration was cancelled before
    switchover (``strategy.max_time``): the VM keeps running on its source."""
    return "aborted_vm_safe" if result.summary["stop_reason"] == "cancelled" else "completed"


@dataclass
class ScenarioResult:
    """The migrations of a scenario run, in file order, and their tables."""

    scenario: Scenario
    results: list[RunResult]

    def migrations(self) -> pa.Table:
        """One row per migration: ``migration``, ``vm``, ``source``, ``target``, ``outcome``,
        ``started_at_s``, ``ended_at_s`` (scenario time) and the summary columns."""
        s = self.scenario
        rows = []
        for p, v, src, dst, r in zip(
            s.planned, s.vm, s.source, s.target, self.results, strict=True
        ):
            start = r.extra["started_at_s"]
            rows.append(
                {
                    "migration": p.name,
                    "vm": v,
                    "source": src,
                    "target": dst,
                    "outcome": outcome(r),
                    "started_at_s": start,
                    "ended_at_s": start + r.summary["total_time_s"],
                    **r.summary,
                }
            )
        return pa.Table.from_pylist(rows)

    def evacuations(self) -> pa.Table:
        """One row per evacuation: the host, how many VMs left and how many at a time, when
        it started and when the host was empty (scenario time), the summed and largest
        downtime, bytes moved, lost service, and the migrations that did not converge or
        were aborted."""
        rows = []
        mig = self.migrations().to_pylist()
        for name, host, members in self.scenario.drains:
            ms = [mig[i] for i in members]
            start = min(m["started_at_s"] for m in ms)
            empty = max(m["ended_at_s"] for m in ms)
            rows.append(
                {
                    "evacuation": name,
                    "host": host,
                    "vms": len(ms),
                    "concurrency": self.scenario.pools[name],
                    "started_at_s": start,
                    "empty_at_s": empty,
                    "time_to_empty_s": empty - start,
                    "downtime_sum_s": sum(m["downtime_s"] for m in ms),
                    "downtime_max_s": max(m["downtime_s"] for m in ms),
                    "bytes_moved": sum(m["bytes_transferred"] for m in ms),
                    "app_lost_s": sum(m["app_lost_s"] for m in ms),
                    "not_converged": sum(not m["converged"] for m in ms),
                    "aborted": sum(m["outcome"] != "completed" for m in ms),
                }
            )
        return pa.Table.from_pylist(rows, schema=EVACUATIONS_SCHEMA)

    def _stacked(self, tables: list[pa.Table]) -> pa.Table:
        names = [p.name for p in self.scenario.planned]
        parts = [
            t.add_column(0, "migration", pa.array([n] * t.num_rows, pa.string()))
            for n, t in zip(names, tables, strict=True)
        ]
        return pa.concat_tables(parts)

    def rounds(self) -> pa.Table:
        return self._stacked([r.rounds for r in self.results])

    def timeline(self) -> pa.Table:
        return self._stacked([r.timeline for r in self.results])

    def link_rates(self) -> pa.Table:
        return self._stacked([r.extra["link_rates"] for r in self.results])

    def metadata(self) -> dict[str, str]:
        """Provenance: the scenario file's text, its seed, the versions."""
        return {
            "migsim.scenario": self.scenario.text,
            "migsim.seed": str(self.scenario.seed),
            "migsim.versions": json.dumps(library_versions(), sort_keys=True),
        }

    def write(self, out: str | Path) -> list[Path]:
        """Write migrations, rounds, timeline, link_rates and evacuations (no rows without
        evacuations) Parquet files into ``out``, atomically, with provenance metadata."""
        from migsim.io import write_parquet_atomic

        out = Path(out)
        meta = self.metadata()
        names = ["migrations", "rounds", "timeline", "link_rates", "evacuations"]
        return [
            write_parquet_atomic(getattr(self, name)(), out / f"{name}.parquet", metadata=meta)
            for name in names
        ]

    def to_json(self) -> list[dict]:
        """The migrations table as JSON-ready rows (without the config JSON)."""
        rows = self.migrations().drop_columns(["config_json"]).to_pylist()
        return rows


def run_scenario(scenario: Scenario) -> ScenarioResult:
    """Simulate every migration of ``scenario`` in one environment."""
    return ScenarioResult(
        scenario, run_migrations(scenario.links, scenario.planned, pools=scenario.pools)
    )
