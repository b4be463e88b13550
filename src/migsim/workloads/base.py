"""The workload interface: what the engine needs to know about a guest.

A workload is the sequence of page touches of a guest over *guest time* ``t`` (seconds of the
trace), each ``(t, page, is_write)``, plus the VM's page count and size, the pages in use
(what ballooning and free-page skipping leave out), the pages that are all zero at the start of
the trace, and a service model (baseline rate, its unit, and network demand).

The engine only calls :meth:`Workload.touches` with increasing, adjacent windows; every
workload must return the same touches for a window however it is asked (one call for
``[0, 2)`` equals the calls for ``[0, 1)`` and ``[1, 2)`` concatenated). Generators get this
from :class:`BlockWorkload`: the trace is cut in fixed blocks of guest time, each drawn from its
own counter-based random stream keyed by ``(seed, block index)``.

Contract checked by the engine: every touched page is in use (``in_use[page]`` is true). Three
optional attributes let the engine do less: ``touches_in_use = True`` says the contract was
already checked (a validated trace), ``segment_end(t)`` gives the end of the contiguous
stretch of trace holding ``t`` (a looped trace's next loop boundary), where the engine ends its
windows so that a window never straddles two stretches, and ``fetch_touches`` is how many
touches a window may hold before the engine stops enlarging its windows (default 200,000;
generators ask for fewer, since touches made past the end of a migration are wasted).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "GENERATORS",
    "BlockWorkload",
    "ServiceModel",
    "Touches",
    "Workload",
    "block_rng",
    "empty_touches",
    "register",
]


class Touches(NamedTuple):
    """Time-ordered page touches. ``t`` float64 seconds, ``page`` int64, ``is_write`` bool."""

    t: np.ndarray
    page: np.ndarray
    is_write: np.ndarray

    def __len__(self) -> int:  # number of touches, not tuple fields
        return int(self.t.shape[0])

    def slice(self, t0: float, t1: float) -> Touches:
        """The touches with ``t0 <= t < t1``."""
        lo, hi = np.searchsorted(self.t, [t0, t1], side="left")
        return Touches(self.t[lo:hi], self.page[lo:hi], self.is_write[lo:hi])

    @staticmethod
    def concat(parts: list[Touches]) -> Touches:
        """Concatenate time-ordered, adjacent parts."""
        if not parts:
            return empty_touches()
        if len(parts) == 1:
            return parts[0]
        return Touches(
            np.concatenate([p.t for p in parts]),
            np.concatenate([p.page for p in parts]),
            np.concatenate([p.is_write for p in parts]),
        )


def empty_touches() -> Touches:
    """No touches."""
    return Touches(np.empty(0, np.float64), np.empty(0, np.int64), np.empty(0, np.bool_))


@dataclass(frozen=True)
class ServiceModel:
    """How the workload's service is measured.

    baseline: service rate with no migration, in ``unit``.
    unit: "transactions/s", "Mbit/s", "requests/s" or "progress/s".
    network_demand_bps: the workload's own traffic on the migration NIC (bit/s), 0 if none.
        A network-bound workload's service scales with the share of this demand it gets.
    """

    baseline: float = 1.0
    unit: str = "progress/s"
    network_demand_bps: float = 0.0

    @property
    def network_bound(self) -> bool:
        """True when the service depends on the NIC share (SPEC section 3)."""
        return self.network_demand_bps > 0


@runtime_checkable
class Workload(Protocol):
    """What the engine reads from a workload (see the module docstring)."""

    name: str
    memory_pages: int
    page_size: int
    seed: int
    service: ServiceModel

    @property
    def params(self) -> Mapping[str, Any]:
        """Generator parameters (JSON-serialisable), for provenance."""
        ...

    def in_use(self) -> np.ndarray:
        """bool[memory_pages]: pages the guest uses (free pages are skipped with DSB)."""
        ...

    def zero_pages(self) -> np.ndarray:
        """bool[memory_pages]: pages that are all zero at the start of the trace."""
        ...

    def touches(self, t0: float, t1: float) -> Touches:
        """Touches with ``t0 <= t < t1`` in guest seconds, time-ordered."""
        ...


def block_rng(seed: int, stream: int, block: int) -> np.random.Generator:
    """A counter-based generator for one block: Philox keyed by (seed, stream), counter block.

    Any block can be drawn independently of the others, so a window is the same however the
    trace is asked for. The block index and the stream sit in the two high words of Philox's
    256-bit counter; drawing increments the low words, so a block has 2**128 draws before it
    could reach the next block's counter (with the block in the low word, consecutive blocks
    would be shifted copies of one stream).
    """
    key = (int(seed) & 0xFFFFFFFFFFFFFFFF) ^ ((int(stream) & 0xFFFFFFFF) << 32) ^ 0x9E3779B97F4A7C15
    counter = [0, 0, int(block) & 0xFFFFFFFFFFFFFFFF, int(stream) & 0xFFFFFFFFFFFFFFFF]
    bitgen = np.random.Philox(key=key & 0xFFFFFFFFFFFFFFFF, counter=counter)
    return np.random.Generator(bitgen)


class BlockWorkload:
    """Base for lazy generators: the trace is produced in blocks of ``block_s`` guest seconds.

    Subclasses set ``name``, ``service`` and implement :meth:`_block` (touches of block ``k``,
    covering ``[k * block_s, (k + 1) * block_s)``, time-ordered) and may override
    :meth:`in_use` and :meth:`zero_pages`. A small LRU of recent blocks avoids regenerating
    them when the engine asks overlapping windows.
    """

    name = "base"
    block_s = 1.0
    # touches per engine fetch window above which windows stop growing: generating touches
    # costs far more than fetching often, so the engine fetches little ahead (a cap of 50k
    # instead of 200k took about 10% off the engine time of the default sweep's runs)
    fetch_touches = 50_000
    service = ServiceModel()

    def __init__(self, memory_pages: int, page_size: int = 4096, seed: int = 0, **params: Any):
        if memory_pages < 1:
            raise ValueError(f"{self.name}: memory_pages must be >= 1, got {memory_pages}")
        self.memory_pages = int(memory_pages)
        self.page_size = int(page_size)
        self.seed = int(seed)
        self._params = dict(params)
        self._cache: dict[int, Touches] = {}

    @property
    def params(self) -> Mapping[str, Any]:
        return dict(self._params)

    def in_use(self) -> np.ndarray:
        return np.ones(self.memory_pages, dtype=np.bool_)

    def zero_pages(self) -> np.ndarray:
        return np.zeros(self.memory_pages, dtype=np.bool_)

    def _block(self, k: int) -> Touches:
        raise NotImplementedError

    def block(self, k: int) -> Touches:
        """Touches of block ``k`` (cached)."""
        hit = self._cache.get(k)
        if hit is None:
            hit = self._block(k)
            if len(self._cache) >= 8:
                self._cache.pop(next(iter(self._cache)))
            self._cache[k] = hit
        return hit

    def touches(self, t0: float, t1: float) -> Touches:
        if t1 <= t0:
            return empty_touches()
        k0 = int(np.floor(t0 / self.block_s))
        k1 = int(np.ceil(t1 / self.block_s))
        parts = [self.block(k).slice(t0, t1) for k in range(max(k0, 0), k1)]
        return Touches.concat(parts)


GENERATORS: dict[str, Callable[..., Workload]] = {}


def register(name: str) -> Callable[[type], type]:
    """Class decorator registering a generator under ``name``."""

    def deco(cls: type) -> type:
        GENERATORS[name] = cls
        cls.name = name
        return cls

    return deco
