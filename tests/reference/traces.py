"""Hand-made traces for the reference model's own tests."""

from __future__ import annotations

import numpy as np

from migsim.workloads import ServiceModel, Touches


class ListWorkload:
    """A workload given as an explicit list of ``(g, page, is_write)`` touches."""

    name = "list"
    seed = 0

    def __init__(
        self,
        memory_pages: int,
        touches: list[tuple[float, int, bool]],
        page_size: int = 4096,
        in_use: list[int] | None = None,
        zero: list[int] | None = None,
        network_demand_bps: float = 0.0,
    ):
        self.memory_pages = memory_pages
        self.page_size = page_size
        self._touches = sorted(touches, key=lambda x: x[0])
        self._in_use = np.ones(memory_pages, np.bool_)
        if in_use is not None:
            self._in_use[:] = False
            self._in_use[in_use] = True
        self._zero = np.zeros(memory_pages, np.bool_)
        if zero is not None:
            self._zero[zero] = True
        self.service = ServiceModel(network_demand_bps=network_demand_bps)

    @property
    def params(self) -> dict:
        return {}

    def in_use(self) -> np.ndarray:
        return self._in_use.copy()

    def zero_pages(self) -> np.ndarray:
        return self._zero.copy()

    def touches(self, t0: float, t1: float) -> Touches:
        sel = [x for x in self._touches if t0 <= x[0] < t1]
        return Touches(
            np.array([x[0] for x in sel], np.float64),
            np.array([x[1] for x in sel], np.int64),
            np.array([x[2] for x in sel], np.bool_),
        )
