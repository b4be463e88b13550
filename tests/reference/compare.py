"""What differs between an engine result and the reference model's (tests/test_reference_*.py).

The engine and the reference must agree exactly on rounds, per-round pages to send / sent /
skipped / dirtied and bytes, pages and bytes transferred, zero pages, network faults and stop
reason, and within 1e-9 relative on times.
"""

from __future__ import annotations

import math

REL = 1e-9
SUMMARY_EXACT = (
    "pages_transferred",
    "bytes_transferred",
    "pages_skipped",
    "zero_pages_sent",
    "rounds",
    "network_faults",
    "stop_reason",
    "converged",
)
SUMMARY_TIMES = {
    "total_time_s": "total_time",
    "downtime_s": "downtime",
    "stall_time_s": "stall_time",
    "app_lost_s": "app_lost_s",
    "app_degradation_pct": "app_degradation_pct",
}
ROW_EXACT = ("round", "phase", "to_send", "sent", "skipped", "dirtied", "bytes")
ROW_CLOSE = {
    "start_s": "start",
    "duration_s": "duration",
    "rate_limit_bps": "rate",
    "dirty_rate_pps": "dirty_rate",
    "throttle": "throttle",
}


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-12)


def compare_results(eng, ref) -> list[str]:
    """What differs between an engine RunResult and a reference RefResult (empty: agree)."""
    s = eng.summary
    out = [
        f"summary.{key}: engine {s[key]!r} != reference {getattr(ref, key)!r}"
        for key in SUMMARY_EXACT
        if s[key] != getattr(ref, key)
    ]
    for key, rkey in SUMMARY_TIMES.items():
        if not close(s[key], getattr(ref, rkey)):
            out.append(f"summary.{key}: engine {s[key]!r} != reference {getattr(ref, rkey)!r}")
    rows = eng.rounds.to_pylist()
    if len(rows) != len(ref.rows):
        out.append(
            f"rounds table: engine {len(rows)} rows "
            f"{[(r['phase'], r['sent']) for r in rows]} != reference {len(ref.rows)} rows "
            f"{[(r.phase, r.sent) for r in ref.rows]}"
        )
    for i, (er, rr) in enumerate(zip(rows, ref.rows, strict=False)):
        out.extend(
            f"row {i}.{key}: engine {er[key]!r} != reference {getattr(rr, key)!r}"
            for key in ROW_EXACT
            if er[key] != getattr(rr, key)
        )
        for key, rkey in ROW_CLOSE.items():
            if not close(er[key], getattr(rr, rkey)):
                out.append(f"row {i}.{key}: engine {er[key]!r} != reference {getattr(rr, rkey)!r}")
        if len(out) > 12:
            break
    return out
