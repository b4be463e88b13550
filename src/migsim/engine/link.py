"""The migration link: capacity, max-min sharing with the workload's traffic, rate limits.

The migration stream and a network-bound workload's own traffic share the source NIC while the
VM runs on the source; bandwidth is split max-min fairly between the two flows (as in SimGrid's
flow model). Rules: docs/semantics.md, *Rates and link sharing*.
"""

from __future__ import annotations

from migsim.config import LinkSpec, StrategySpec

__all__ = ["alloc", "final_rate", "next_dynamic_limit"]


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


def final_rate(strategy: StrategySpec, link: LinkSpec) -> float:
    """Rate (bit/s) while the guest is paused or runs at the destination (no sharing)."""
    if strategy.rate_limit == "dynamic":
        return min(strategy.max_rate, link.capacity_bps)
    return link.capacity_bps


def next_dynamic_limit(
    strategy: StrategySpec, dirtied: int, page_size: int, duration: float
) -> float:
    """Xen's dynamic rate limit for the next round: last round's dirtying rate + increment,
    within [min_rate, max_rate] (Clark et al. 2005, section 5.2)."""
    if duration <= 0:
        return strategy.max_rate
    dirty_bps = dirtied * page_size * 8 / duration
    return min(strategy.max_rate, max(strategy.min_rate, dirty_bps + strategy.rate_increment))
