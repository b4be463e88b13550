"""``bittorrent``: a BitTorrent client downloading into its piece cache.

What it models (4 KiB pages):

- the guest OS (:func:`~migsim.workloads.generators._model.add_os`);
- the client's heap: 256 pages (peer tables, bitfields, request queues) rewritten at 2,000
  writes/s and 2,000 pages (8 MiB) at 100 writes/s;
- the **piece cache** in the page cache (``cache``, default ``auto`` = min(256 MiB, 3/8 of
  memory)): downloaded data is written sequentially into it (``download / 8 / page_size``
  pages/s, each page written once), circling the cache, and hashed (read) as it arrives; uploads
  read random cached pieces at ``upload``. d(w) therefore grows linearly with w (about 1,200
  pages/s at 40 Mbit/s) until it reaches the cache size: write-heavy, hard for pre-copy when
  the download outpaces the migration link. The cache is zero at the start (fresh pages);
- the rest of memory is free.

Sizes are absolute; the piece cache is clamped to 3/8 of memory on small VMs.

Service: Mbit/s, baseline ``download`` (default 40 Mbit/s); network demand download + upload
(default 40 + 10 Mbit/s), so the client shares the NIC with the migration stream.
"""

from __future__ import annotations

from typing import Any

from migsim.workloads.base import ServiceModel, register
from migsim.workloads.generators._model import (
    Layout,
    MixWorkload,
    Sequential,
    Tier,
    add_os,
    auto_size,
    bitrate,
)

HEAP_HOT, HEAP_HOT_RATE = 256, 2_000.0
HEAP_WARM, HEAP_WARM_RATE = 2_000, 100.0


@register("bittorrent")
class Bittorrent(MixWorkload):
    """BitTorrent client (see the module docstring for the model)."""

    def __init__(
        self,
        memory_pages: int,
        page_size: int = 4096,
        seed: int = 0,
        download: Any = "40Mbit/s",
        upload: Any = "10Mbit/s",
        cache: Any = "auto",
    ):
        g = "bittorrent"
        down = bitrate(g, "download", download)
        up = bitrate(g, "upload", upload)
        if down <= 0:
            raise ValueError(f"{g}: download must be > 0, got {download!r}")
        mib = 2**20 // page_size
        cp = auto_size(g, "cache", cache, page_size, min(256 * mib, memory_pages * 3 // 8))
        super().__init__(
            memory_pages, page_size, seed, download=download, upload=upload, cache=cache
        )
        lay = Layout(memory_pages)
        comps = add_os(lay, page_size, 1.0)
        hot = lay.add("heap_hot", max(1, min(HEAP_HOT, memory_pages // 64)))
        warm = lay.add("heap_warm", max(1, min(HEAP_WARM, memory_pages // 16)))
        if cp < 1:
            raise ValueError(f"{g}: cache must be at least one page, got {cache!r}")
        try:
            pc = lay.add("piece_cache", cp)
        except ValueError as exc:
            raise ValueError(f"{g}: cache: {exc}") from None
        lay.zero.append(pc)
        rate = down / 8 / page_size
        comps += [
            Tier(hot[0], hot[1], HEAP_HOT_RATE),
            Tier(warm[0], warm[1], HEAP_WARM_RATE),
            Sequential(pc[0], pc[1], rate, write=True),
            Sequential(pc[0], pc[1], rate, write=False),
            Tier(pc[0], pc[1], 0.0, read_rate=up / 8 / page_size),
        ]
        self.service = ServiceModel(
            baseline=down / 1e6, unit="Mbit/s", network_demand_bps=down + up
        )
        self._setup(lay, comps)
