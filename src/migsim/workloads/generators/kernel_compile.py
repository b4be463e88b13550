"""``kernel_compile``: a Linux kernel build (``make -j``), Clark et al. 2005 Figs. 3-6.

What it models (4 KiB pages):

- the guest OS (:func:`~migsim.workloads.generators._model.add_os`);
- ``make``/shell state: 100 pages rewritten at 500 writes/s;
- the toolchain and sources in the page cache (64 MiB, clamped to 1/8 of memory): read at
  6,000 skewed reads/s;
- **freshly allocated memory**: compiler processes are born, fill a heap and exit, so the pages
  they write move through free memory. Modelled as a window of 2,000 pages (8 MiB of live
  ``cc1`` heaps) written at 6,000 writes/s, sliding through an *arena* (half of memory) at a
  speed set by the build phase. The arena is zero at the start of the trace (free memory);
- **object files** written to the page cache: a 16-page window sliding through an output region
  (64 MiB, clamped to 1/8 of memory), also zero at the start;
- phases, repeating every ``cycle`` seconds (default 120 s): *configure / dependencies* for
  the first 30 % (heap window still: d(32 s) ~ 2k pages), *compile* for the next 50 % (heap
  window moving at 300 pages/s, objects at 30 pages/s: d(32 s) ~ 12.5k) and *link* for the last
  20 % (heap at 60 pages/s, vmlinux written at 120 pages/s).

``intensity`` multiplies the touch rates and the window speeds (a faster build). Sizes are
absolute; on VMs too small for the arena the window wraps around it sooner (d(w) is capped at
the arena's size).

Service: progress/s, baseline 1 (build progress, normalised); no network demand.
"""

from __future__ import annotations

from migsim.workloads.base import ServiceModel, register
from migsim.workloads.generators._model import (
    Layout,
    MixWorkload,
    Schedule,
    Sliding,
    Tier,
    add_os,
    check_positive,
)

MAKE_PAGES, MAKE_RATE = 100, 500.0
TOOLCHAIN_BYTES, TOOLCHAIN_READ_RATE = 64 * 2**20, 6_000.0
HEAP_WINDOW, HEAP_RATE = 2_000, 6_000.0
OBJ_WINDOW, OBJ_RATE = 16, 200.0
PHASES = (0.0, 0.3, 0.8)  # configure, compile, link (fractions of the cycle)
HEAP_SPEED = (0.0, 300.0, 60.0)  # pages/s in each phase
OBJ_SPEED = (2.0, 30.0, 120.0)


@register("kernel_compile")
class KernelCompile(MixWorkload):
    """Linux kernel build (see the module docstring for the model)."""

    def __init__(
        self,
        memory_pages: int,
        page_size: int = 4096,
        seed: int = 0,
        intensity: float = 1.0,
        cycle: float = 120.0,
    ):
        g = "kernel_compile"
        x = check_positive(g, "intensity", intensity, "(rate multiplier)")
        cyc = check_positive(g, "cycle", cycle, "s")
        super().__init__(memory_pages, page_size, seed, intensity=x, cycle=cyc)
        lay = Layout(memory_pages)
        comps = add_os(lay, page_size, x)
        make = lay.add("make", max(1, min(MAKE_PAGES, memory_pages // 64)))
        tc = lay.add("toolchain", max(1, min(TOOLCHAIN_BYTES // page_size, memory_pages // 8)))
        out = lay.add("objects", max(OBJ_WINDOW, min(64 * 2**20 // page_size, memory_pages // 8)))
        arena_pages = max(memory_pages // 2, 1)
        arena = lay.add("arena", min(arena_pages, memory_pages - lay.next_page))
        lay.zero += [out, arena]
        edges = tuple(p * cyc for p in PHASES)
        window = max(1, min(HEAP_WINDOW, arena[1] // 2))
        comps += [
            Tier(make[0], make[1], MAKE_RATE * x),
            Tier(tc[0], tc[1], 0.0, read_rate=TOOLCHAIN_READ_RATE * x, read_skew=2.0),
            Sliding(
                arena[0],
                arena[1],
                window,
                HEAP_RATE * x * window / HEAP_WINDOW,
                0.0,
                Schedule(cyc, edges, tuple(v * x for v in HEAP_SPEED)),
            ),
            Sliding(
                out[0],
                out[1],
                OBJ_WINDOW,
                OBJ_RATE * x,
                0.0,
                Schedule(cyc, edges, tuple(v * x for v in OBJ_SPEED)),
            ),
        ]
        self.service = ServiceModel(baseline=1.0, unit="progress/s")
        self._setup(lay, comps)
