"""``memory_stress``: a sequential memory writer (MMuncher, Hines & Gopalan's stress test).

What it models (4 KiB pages):

- a small OS footprint (:func:`~migsim.workloads.generators._model.add_os`);
- a **region** of ``region`` bytes (default ``"50%"`` of memory; a size such as ``"256MiB"``
  or a percentage) swept sequentially and circularly at ``rate`` pages/s (default 65,536
  pages/s = 256 MiB/s = 2.1 Gbit/s at 4 KiB, faster than a GigE link, so pre-copy cannot
  converge once the region exceeds what one round can send). ``mode`` ``write`` (default) or
  ``read`` (the same sweep as reads: nothing is dirtied but the kernel's hot set).
  ``rate`` may be pages/s or a rate with a unit (``"2Gbit/s"``, ``"512MiB/s"``);
- in write mode the region is zero at the start (freshly allocated), unless ``prefault`` (the
  stress program touched its buffer before the migration, as MMuncher does when it starts
  before it); the rest of memory beyond the OS and the region is free;
- ``os``: the OS footprint (default ``"auto"``: 1/16 of memory, 8-256 MiB); a size;
- ``rate`` 0 is allowed: the region is allocated (and prefaulted) but not written.

Sizes: ``region`` keeps its meaning (bytes or a share of memory) at every VM size; it must fit
in memory next to the OS footprint. The region is not scattered: guest-physical pages follow the
sweep order.

Service: progress/s, baseline 1 (sweeps, normalised); no network demand.
"""

from __future__ import annotations

import math
from typing import Any

from migsim.workloads.base import ServiceModel, register
from migsim.workloads.generators._model import (
    Layout,
    MixWorkload,
    Sequential,
    add_os,
    rate_pages,
    size_param,
)


@register("memory_stress")
class MemoryStress(MixWorkload):
    """Sequential memory writer (see the module docstring for the model)."""

    scatter = False

    def __init__(
        self,
        memory_pages: int,
        page_size: int = 4096,
        seed: int = 0,
        region: Any = "50%",
        rate: Any = 65536.0,
        mode: str = "write",
        prefault: Any = False,
        os: Any = "auto",
    ):
        g = "memory_stress"
        if mode not in ("write", "read"):
            raise ValueError(f"{g}: mode must be 'write' or 'read', got {mode!r}")
        speed = rate_pages(g, "rate", rate, page_size, allow_zero=True)
        if prefault not in (True, False, "true", "false"):
            raise ValueError(f"{g}: prefault must be true or false, got {prefault!r}")
        prefault = prefault in (True, "true")
        os_count = None if os in ("auto", None) else size_param(g, "os", os, page_size)
        if os_count is not None and not 1 <= os_count <= memory_pages // 2:
            raise ValueError(
                f"{g}: os must be between one page and half of memory "
                f"({memory_pages // 2 * page_size} bytes), got {os!r}"
            )
        text = str(region).strip()
        if text.endswith("%"):
            try:
                share = float(text[:-1]) / 100
            except ValueError:
                raise ValueError(f"{g}: region: cannot parse {region!r}") from None
            if not 0 < share <= 1 or not math.isfinite(share):
                raise ValueError(f"{g}: region must be in (0%, 100%], got {region!r}")
            pages = max(1, int(memory_pages * share))
        else:
            pages = size_param(g, "region", region, page_size)
        params: dict[str, Any] = {"region": region, "rate": rate, "mode": mode}
        if prefault:  # (only non-default parameters, so that old traces keep their identity)
            params["prefault"] = True
        if os_count is not None:
            params["os"] = os
        super().__init__(memory_pages, page_size, seed, **params)
        lay = Layout(memory_pages)
        comps = add_os(lay, page_size, 1.0, os_count)
        left = memory_pages - lay.next_page
        if pages == int(memory_pages * 1.0) and text.endswith("%"):
            pages = left
        if not 1 <= pages <= left:
            raise ValueError(
                f"{g}: region must be between one page and the {left} pages left next to the OS "
                f"footprint ({left * page_size} bytes), got {region!r} ({pages} pages)"
            )
        reg = lay.add("region", pages)
        if mode == "write" and not prefault:
            lay.zero.append(reg)
        comps.append(Sequential(reg[0], reg[1], speed, write=mode == "write"))
        self.service = ServiceModel(baseline=1.0, unit="progress/s")
        self._setup(lay, comps)
