"""``specweb``: an Apache web server under SPECweb99 (Clark et al. 2005, Figs. 3-6).

What it models (4 KiB pages):

- the guest OS (:func:`~migsim.workloads.generators._model.add_os`);
- Apache children and the network stack: a **hot set** of 300 pages (scoreboard, listener
  state) rewritten at 6,000 writes/s, a **warm set** of 7,150 pages (28 MiB: per-connection
  request buffers, socket buffers, child heaps) at 9,500 writes/s (each page every ~0.75 s) and a
  **cold tail** of 15,000 pages (59 MiB: logs, dynamic-content heaps) at 3,900 writes/s (each
  page every ~3.8 s): d(w) rises to ~11k pages at 1.4 s and saturates near 22k;
- the **file set in the page cache** (``file_set``, default ``auto`` = min(256 MiB, 3/8 of
  memory)): served by page-cache reads, ``requests`` x 4 pages per request (SPECweb99's mean file
  is ~15 KB), with a Zipf-like skew over files;
- the rest of memory is free.

``intensity`` multiplies every touch rate, the request rate and the network demand. Working sets
are absolute; when they do not fit in 60 % of the memory left after the OS and the file set
(VMs under ~256 MiB), they shrink by a common factor with their rates, keeping each page's rewrite
interval, so d(w) scales down by that factor.

Service: requests/s, baseline ``requests`` (default 1,000) x ``intensity``; network demand
``network`` (default 160 Mbit/s: 350 conformant SPECweb99 clients at ~450 kbit/s each), so the
server competes with the migration stream on the NIC.
"""

from __future__ import annotations

from typing import Any

from migsim.workloads.base import ServiceModel, register
from migsim.workloads.generators._model import (
    Layout,
    MixWorkload,
    Tier,
    add_os,
    auto_size,
    bitrate,
    check_positive,
    shrink,
)

TIERS = ((300, 6_000.0), (7_150, 9_500.0), (15_000, 3_900.0))
PAGES_PER_REQUEST = 4


@register("specweb")
class Specweb(MixWorkload):
    """Apache serving SPECweb99 (see the module docstring for the model)."""

    def __init__(
        self,
        memory_pages: int,
        page_size: int = 4096,
        seed: int = 0,
        requests: float = 1000.0,
        intensity: float = 1.0,
        file_set: Any = "auto",
        network: Any = "160Mbit/s",
    ):
        g = "specweb"
        req = check_positive(g, "requests", requests, "requests/s")
        x = check_positive(g, "intensity", intensity, "(rate multiplier)")
        bps = bitrate(g, "network", network)
        mib = 2**20 // page_size
        fs = auto_size(g, "file_set", file_set, page_size, min(256 * mib, memory_pages * 3 // 8))
        super().__init__(
            memory_pages,
            page_size,
            seed,
            requests=req,
            intensity=x,
            file_set=file_set,
            network=network,
        )
        lay = Layout(memory_pages)
        comps = add_os(lay, page_size, x)
        if fs < 1:
            raise ValueError(f"{g}: file_set must be at least one page, got {file_set!r}")
        try:
            fs_start, _ = lay.add("file_set", fs)
        except ValueError as exc:
            raise ValueError(f"{g}: file_set: {exc}") from None
        need = sum(p for p, _ in TIERS)
        budget = int((memory_pages - lay.next_page) * 0.6)
        if budget < len(TIERS):
            raise ValueError(f"{g}: file_set {file_set!r} leaves no memory for the server")
        f = shrink(need, budget)
        for i, (pages, rate) in enumerate(TIERS):
            start, count = lay.add(f"tier{i}", max(1, int(pages * f)))
            comps.append(Tier(start, count, rate * f * x))
        comps.append(Tier(fs_start, fs, 0.0, read_rate=req * PAGES_PER_REQUEST * x, read_skew=2.0))
        self.service = ServiceModel(baseline=req * x, unit="requests/s", network_demand_bps=bps * x)
        self.shrink_factor = f
        self._setup(lay, comps)
