"""Max-min sharing of the source NIC between the migration stream and the workload's traffic.

While the VM runs on the source, the migration stream and a network-bound workload's own
traffic share the link; bandwidth is split max-min fairly between the two flows (as in
SimGrid's flow model). Rules: docs/semantics.md, *Rates and link sharing*.
"""

from __future__ import annotations

__all__ = ["alloc"]


def alloc(mig_demand: float, app_demand: float, capacity: float) -> tuple[float, float]:
    """Max-min fair shares (bit/s) of two flows with the given demands on one link."""
    if app_demand + mig_demand <= capacity:
        return mig_demand, app_demand
    half = capacity / 2
    if app_demand <= half:
        return capacity - app_demand, app_demand
    if mig_demand <= half:
        return mig_demand, capacity - mig_demand
    return half, half
