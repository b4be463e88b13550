"""``netperf``: a TCP stream sender (NetPerf / iperf3) saturating the NIC (Hines & Gopalan,
Figs. 9-10).

What it models (4 KiB pages):

- the guest OS (:func:`~migsim.workloads.generators._model.add_os`);
- the sender's **user buffer** (``send_buffer``, default 128 KiB): read sequentially, once per
  page of data sent;
- the **socket buffers** (``socket_buffer``, default 512 KiB of skbs): every page of data sent
  is copied into the next page of this ring, so the writable working set is the ring (plus the
  kernel's hot pages), well under 1 MiB, rewritten every ``socket_buffer / throughput``
  (4.5 ms at 940 Mbit/s);
- the rest of memory is free.

Touch rates follow the data rate: ``throughput / 8 / page_size`` pages/s each for the reads and
for the writes (28,700/s at 940 Mbit/s). Sizes are absolute at every VM size.

Service: Mbit/s, baseline ``throughput`` (default 940 Mbit/s, TCP goodput on GigE); network
demand the same, so the stream shares the NIC with the migration and its service follows the
share it gets.
"""

from __future__ import annotations

from typing import Any

from migsim.workloads.base import ServiceModel, register
from migsim.workloads.generators._model import (
    Layout,
    MixWorkload,
    Sequential,
    add_os,
    bitrate,
    size_param,
)


@register("netperf")
class Netperf(MixWorkload):
    """TCP stream sender (see the module docstring for the model)."""

    def __init__(
        self,
        memory_pages: int,
        page_size: int = 4096,
        seed: int = 0,
        throughput: Any = "940Mbit/s",
        socket_buffer: Any = "512KiB",
        send_buffer: Any = "128KiB",
    ):
        g = "netperf"
        bps = bitrate(g, "throughput", throughput)
        if bps <= 0:
            raise ValueError(f"{g}: throughput must be > 0, got {throughput!r}")
        ring = size_param(g, "socket_buffer", socket_buffer, page_size)
        buf = size_param(g, "send_buffer", send_buffer, page_size)
        for key, pages in (("socket_buffer", ring), ("send_buffer", buf)):
            if not 1 <= pages <= memory_pages // 8:
                raise ValueError(
                    f"{g}: {key} must be between one page and 1/8 of memory "
                    f"({memory_pages // 8} pages), got {pages} pages"
                )
        super().__init__(
            memory_pages,
            page_size,
            seed,
            throughput=throughput,
            socket_buffer=socket_buffer,
            send_buffer=send_buffer,
        )
        lay = Layout(memory_pages)
        comps = add_os(lay, page_size, 1.0)
        rb = lay.add("socket_buffer", ring)
        ub = lay.add("send_buffer", buf)
        rate = bps / 8 / page_size
        comps += [
            Sequential(ub[0], ub[1], rate, write=False),
            Sequential(rb[0], rb[1], rate, write=True),
        ]
        self.service = ServiceModel(baseline=bps / 1e6, unit="Mbit/s", network_demand_bps=bps)
        self._setup(lay, comps)
