"""``oltp``: a database server under an OLTP load (PostgreSQL + OSDB, as in Clark et al. 2005).

What it models (4 KiB pages; sizes absolute, so the same at any VM size that fits them):

- the guest OS (see :func:`~migsim.workloads.generators._model.add_os`);
- a PostgreSQL buffer pool (``buffer_pool``, default ``auto`` = min(128 MiB, 1/4 of memory),
  PostgreSQL's default ``shared_buffers``), 80 % filled with data, the rest still zero. Its first
  pages hold a **hot set** of 560 pages (2.2 MiB: index roots, lock and transaction tables)
  rewritten at 7,000 writes/s (each page about every 80 ms) and a **cold tail** of 5,300 pages
  (20.7 MiB) written at 2,300 writes/s (each page about every 2.3 s): together they give d(w)
  its fast rise and its saturation near 6-7k pages;
- sequential **log** (WAL) writes: 20 new pages/s, 16 appends per page, circling a 2 MiB WAL
  buffer;
- **checkpoint bursts**: every ``checkpoint_interval`` seconds (default 30 s, first at 10 s) the
  dirty data pages are written out during 1 s: 1,200 page-cache pages written at 3,600 writes/s;
- **reads** dominate (about 2/3 of touches): 20,000 skewed buffer-pool reads/s, 2,000 page-cache
  reads/s, backend heaps and the kernel;
- the rest of memory is free (not in use): ballooning / free-page skipping leaves it out.

``intensity`` multiplies every touch rate and the transaction rate. If the buffer pool is too small
for the hot set and cold tail (VMs under ~64 MiB or a small ``buffer_pool``), both shrink to 90 %
of its filled part with their rates scaled alike, so every page keeps its rewrite interval and
d(w) scales down by the same factor.

Service: transactions/s, baseline ``tps`` (default 250) x ``intensity``; no network demand on the
migration NIC (OSDB clients are light).
"""

from __future__ import annotations

from typing import Any

from migsim.workloads.base import ServiceModel, register
from migsim.workloads.generators._model import (
    Layout,
    MixWorkload,
    Schedule,
    Sequential,
    Tier,
    add_os,
    auto_size,
    check_positive,
    shrink,
)

HOT_PAGES, HOT_RATE = 560, 7_000.0
COLD_PAGES, COLD_RATE = 5_300, 2_300.0
LOG_PAGES, LOG_RATE, LOG_REPEAT = 512, 20.0, 16
CKPT_PAGES, CKPT_RATE, CKPT_LEN, CKPT_OFFSET = 1_200, 3_600.0, 1.0, 10.0
BP_READ_RATE, PC_READ_RATE, HEAP_READ_RATE = 20_000.0, 2_000.0, 1_000.0


@register("oltp")
class Oltp(MixWorkload):
    """PostgreSQL + OSDB OLTP guest (see the module docstring for the model)."""

    def __init__(
        self,
        memory_pages: int,
        page_size: int = 4096,
        seed: int = 0,
        tps: float = 250.0,
        intensity: float = 1.0,
        buffer_pool: Any = "auto",
        checkpoint_interval: float = 30.0,
    ):
        g = "oltp"
        tps = check_positive(g, "tps", tps, "transactions/s")
        x = check_positive(g, "intensity", intensity, "(rate multiplier)")
        ckpt = check_positive(g, "checkpoint_interval", checkpoint_interval, "s")
        if ckpt <= CKPT_LEN:
            raise ValueError(f"{g}: checkpoint_interval must be > {CKPT_LEN} s, got {ckpt}")
        mib = 2**20 // page_size
        bp = auto_size(g, "buffer_pool", buffer_pool, page_size, min(128 * mib, memory_pages // 4))
        super().__init__(
            memory_pages,
            page_size,
            seed,
            tps=tps,
            intensity=x,
            buffer_pool=buffer_pool,
            checkpoint_interval=ckpt,
        )
        lay = Layout(memory_pages)
        comps = add_os(lay, page_size, x)
        heap = lay.add("backends", max(1, min(8 * mib, memory_pages // 64)))
        log_pages = max(1, min(LOG_PAGES, bp // 64))
        log = lay.add("wal_buffers", log_pages)
        if bp < 16:
            raise ValueError(f"{g}: buffer_pool must be at least 16 pages, got {bp} pages")
        try:
            bp_start, _ = lay.add("buffer_pool", bp)
        except ValueError as exc:
            raise ValueError(f"{g}: buffer_pool: {exc}") from None
        filled = int(bp * 0.8)
        lay.zero.append((bp_start + filled, bp - filled))
        f = shrink(HOT_PAGES + COLD_PAGES, int(filled * 0.9))
        hot, cold = max(1, int(HOT_PAGES * f)), max(1, int(COLD_PAGES * f))
        free = memory_pages - lay.next_page
        pc = max(1, min(free // 2, memory_pages // 4))
        pc_start, _ = lay.add("page_cache", pc)
        ck = max(1, min(int(CKPT_PAGES * f), pc))
        off = CKPT_OFFSET % ckpt
        if off == 0 or off + CKPT_LEN >= ckpt:
            ck_sched = Schedule(ckpt, (0.0, CKPT_LEN), (1.0, 0.0))
        else:
            ck_sched = Schedule(ckpt, (0.0, off, off + CKPT_LEN), (0.0, 1.0, 0.0))
        comps += [
            Tier(bp_start, hot, HOT_RATE * f * x),
            Tier(bp_start + hot, cold, COLD_RATE * f * x),
            Tier(bp_start, filled, 0.0, read_rate=BP_READ_RATE * x, read_skew=3.0),
            Sequential(log[0], log[1], LOG_RATE * LOG_REPEAT * x, repeat=LOG_REPEAT),
            Tier(pc_start, ck, CKPT_RATE * f * x, schedule=ck_sched),
            Tier(pc_start, pc, 0.0, read_rate=PC_READ_RATE * x, read_skew=1.0),
            Tier(heap[0], heap[1], 0.0, read_rate=HEAP_READ_RATE * x, read_skew=1.0),
        ]
        self.service = ServiceModel(baseline=tps * x, unit="transactions/s")
        self.shrink_factor = f
        self._setup(lay, comps)
