"""Flow-level network shared by concurrent transfers: max-min fair, driven by SimPy.

Two layers:

* :func:`maxmin` is a pure function: max-min fair rates (bit/s) of flows, each with a path of
  one or more links and its own rate cap, by progressive filling (water-filling).
* :class:`Network` keeps the active :class:`Flow` objects of a SimPy environment, re-allocates
  with :func:`maxmin` whenever a flow starts, ends or changes its cap, integrates each flow's
  bits exactly (piecewise linear in time) and completes flows that carry a fixed volume at their
  exact completion time.

It knows nothing about migration strategies: a flow is a path, a cap and optionally a volume.

**Callbacks, not a process.** The network is a set of SimPy callbacks, not a process of its own
(as ``docs/architecture.md`` argues for the two-flow link): shares change only when a flow
starts, ends or changes its cap, and those are already events of the processes that own the
flows; a network process would have to be woken by the same changes through extra events and
would answer the same question at the same instants. Three kinds of events exist:

1. *end of instant* (one at a time, priority ``LATE``): the re-allocation. A change
   (:meth:`Network.add_flow`, :meth:`Flow.set_cap`, :meth:`Flow.remove`, a completion) only
   marks the network dirty and schedules this event at the current time with a priority that
   sorts after SimPy's ``NORMAL`` (``LATE = 2``; SimPy orders its queue by (time, priority,
   insertion)). Every ``NORMAL`` event of the same instant, including ones scheduled after the
   change, is therefore processed first, so all changes made at one instant, by any number of
   processes in any order, produce a single allocation, computed once from the final set of
   flows and caps. :func:`maxmin` itself does not depend on the order of the flows either.
2. *completion* (one :class:`simpy.Timeout` per flow with a volume, re-armed whenever its rate
   changes; a superseded one is ignored): at ``t + remaining_bits / rate`` the flow is removed,
   its ``sent_bits`` set to its volume exactly and ``flow.done`` succeeds.
3. *notification*: ``flow.changed`` is a fresh, untriggered ``env.event()``; when the flow's
   rate takes a new value (after a re-allocation, or the drop to 0 when the flow ends) it
   succeeds with the new rate (bit/s) and is replaced by a fresh one. The flows of one
   re-allocation are notified in the order they were added (the rates do not depend on it).

Between a change and the end of its instant ``flow.rate`` still shows the old allocation (a new
flow shows 0); no simulated time passes in between, so no bits are lost or gained. A process
that needs the new rate at once yields :meth:`Network.settle`.

**How a process waits.** A process that does its own work at the flow's rate waits for "my
rate changed, or my work ended" as::

    flow = net.add_flow(("src_nic", "dst_nic"), cap=limit)
    yield net.settle()                  # the first allocation (end of this instant)
    while work_left > 0:
        t0, rate = env.now, flow.rate
        end = env.timeout(work_left / rate) if rate > 0 else env.event()
        yield flow.changed | end        # read flow.changed anew each time: it is replaced
        work_left = 0.0 if end.processed else work_left - rate * (env.now - t0)
    flow.remove()

or, with ``volume_bits`` given, simply ``yield flow.done``.

Units: capacities, caps and rates in bit/s, volumes and ``sent_bits`` in bits, times in
seconds (SimPy time).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

import simpy
from simpy.events import NORMAL, Event, EventPriority

__all__ = ["LATE", "EndOfInstant", "Flow", "Network", "maxmin", "two_flow_shares"]

L = TypeVar("L", bound=Hashable)

#: SimPy event priority of the end-of-instant re-allocation: after every ``NORMAL`` (1) and
#: ``URGENT`` (0) event of the same simulated time.
LATE = EventPriority(NORMAL + 1)

_INF = math.inf


def _check_rate(value: float, what: str) -> float:
    v = float(value)
    if math.isnan(v) or v < 0:
        raise ValueError(f"{what} must be a number >= 0 (bit/s), got {value!r}")
    return v


def maxmin(
    capacities: Mapping[L, float], flows: Sequence[tuple[Sequence[L], float]]
) -> list[float]:
    """Max-min fair rates (bit/s) of ``flows`` over links of the given ``capacities`` (bit/s).

    Each flow is ``(path, cap)``: ``path`` a sequence of one or more distinct links (keys of
    ``capacities``; the order does not matter), ``cap`` its own rate limit (``math.inf`` for
    none). Returns one rate per flow, in the order given.

    Progressive filling: all unfrozen flows rise together; the *level* stops at the smallest of
    the unfrozen flows' caps and the links' bottleneck shares (remaining capacity / unfrozen
    flows on the link); flows at their cap, and all unfrozen flows on every link whose share is
    reached (ties saturate together), freeze at that level; the remaining capacity of the links
    they cross is recomputed and filling goes on until every flow is frozen.

    Exactness and order: a link's remaining capacity is computed with :func:`math.fsum` (one
    rounding of the exact value, whatever the order of its terms), the next level is a minimum
    over sets and freezing acts on sets, so the result does not depend on the order of the flows,
    of their paths or of ``capacities`` (bitwise). A rate never exceeds its flow's cap or any
    capacity on its path; the sum on a link exceeds its capacity by rounding only (a few ulps).
    Level is kept non-decreasing, so a flow frozen later never gets less than one frozen
    earlier (rounding could otherwise dip it by an ulp).

    Raises ``ValueError`` for a negative or NaN capacity or cap, an unknown or repeated link in
    a path, and a flow that nothing bounds (infinite cap, only infinite-capacity links).
    Cost: O((F + L) log(F + L) + sum of path lengths) plus the remaining-capacity sums of the
    links touched at each level.
    """
    if len(flows) == 2 and len(capacities) == 1:
        # one migration alone on its link (every run of ``simulate``, at each round): the
        # two-flow case in closed form, the same numbers as progressive filling (tested)
        ((link, c),) = capacities.items()
        (pa, ca), (pb, cb) = flows
        if tuple(pa) == (link,) and tuple(pb) == (link,) and c < _INF:
            return list(
                two_flow_shares(
                    _check_rate(c, f"capacity of link {link!r}"),
                    _check_rate(ca, "cap of flow 0"),
                    _check_rate(cb, "cap of flow 1"),
                )
            )
    return _progressive(capacities, flows)


def two_flow_shares(capacity: float, a: float, b: float) -> tuple[float, float]:
    """Max-min shares of two flows with caps ``a`` and ``b`` on one link."""
    if a + b <= capacity:
        return a, b
    half = capacity / 2
    if b <= half:
        return capacity - b, b
    if a <= half:
        return a, capacity - a
    return half, half


def _progressive(
    capacities: Mapping[L, float], flows: Sequence[tuple[Sequence[L], float]]
) -> list[float]:
    """:func:`maxmin` by progressive filling, for any links and flows."""
    link_of: dict[Any, int] = {}
    cap_link: list[float] = []
    for link, c in capacities.items():
        link_of[link] = len(cap_link)
        cap_link.append(_check_rate(c, f"capacity of link {link!r}"))
    n_links = len(cap_link)

    n = len(flows)
    caps: list[float] = []
    paths: list[list[int]] = []
    members: list[list[int]] = [[] for _ in range(n_links)]
    for i, (path, cap) in enumerate(flows):
        c = _check_rate(cap, f"cap of flow {i}")
        try:
            idx = [link_of[link] for link in path]
        except KeyError as exc:
            raise ValueError(f"flow {i}: unknown link {exc.args[0]!r}") from None
        if len(set(idx)) != len(idx):
            raise ValueError(f"flow {i}: a link appears twice in path {tuple(path)!r}")
        if c == _INF and all(cap_link[j] == _INF for j in idx):
            raise ValueError(
                f"flow {i} is unbounded: infinite cap and no finite-capacity link on its path"
            )
        caps.append(c)
        paths.append(idx)
        for j in idx:
            members[j].append(i)

    rates = [0.0] * n
    frozen = [False] * n
    active_on = [len(m) for m in members]
    neg_frozen: list[list[float]] = [[] for _ in range(n_links)]  # -rate of frozen flows
    version = [0] * n_links
    heap: list[tuple[float, int, int]] = [
        (cap_link[j] / active_on[j], j, 0) for j in range(n_links) if active_on[j]
    ]
    heapq.heapify(heap)
    by_cap = sorted(range(n), key=caps.__getitem__)
    ptr = 0
    level = 0.0
    left = n
    while left:
        while frozen[by_cap[ptr]]:
            ptr += 1
        next_cap = caps[by_cap[ptr]]
        while heap and heap[0][2] != version[heap[0][1]]:
            heapq.heappop(heap)
        next_share = heap[0][0] if heap else _INF
        level = max(level, min(next_cap, next_share))

        to_freeze: set[int] = set()
        while ptr < n and caps[by_cap[ptr]] <= level:
            if not frozen[by_cap[ptr]]:
                to_freeze.add(by_cap[ptr])
            ptr += 1
        while heap and heap[0][0] <= level:
            _, j, ver = heapq.heappop(heap)
            if ver == version[j]:
                to_freeze.update(i for i in members[j] if not frozen[i])
        touched: set[int] = set()
        for i in to_freeze:
            r = min(caps[i], level)
            rates[i] = r
            frozen[i] = True
            for j in paths[i]:
                active_on[j] -= 1
                neg_frozen[j].append(-r)
                touched.add(j)
        left -= len(to_freeze)
        for j in touched:
            version[j] += 1
            if active_on[j]:
                remaining = max(0.0, math.fsum([cap_link[j], *neg_frozen[j]]))
                heapq.heappush(heap, (remaining / active_on[j], j, version[j]))
    return rates


class EndOfInstant(Event):
    """An event already triggered, processed at the current time after all events of a
    higher priority (default after every ``NORMAL`` one: ``LATE``).

    Triggered at creation and scheduled with ``priority``, the way ``simpy.Timeout`` triggers
    itself and schedules with ``NORMAL``; ``callback`` (optional) is called when processed."""

    def __init__(
        self, env: simpy.Environment, callback: Any = None, priority: EventPriority = LATE
    ):
        super().__init__(env)
        if callback is not None:
            self.callbacks.append(callback)
        self._ok = True
        self._value = None
        env.schedule(self, priority)


class Flow:
    """One flow of a :class:`Network`; made by :meth:`Network.add_flow`, never directly.

    Attributes: ``name``; ``path`` (tuple of link names); ``volume_bits`` (bits, or ``None``
    for a flow that runs until removed); ``started_at`` and ``ended_at`` (seconds; ``ended_at``
    is ``None`` while active); ``done`` (SimPy event, succeeds with the flow at its exact
    completion time; only for a flow with a volume, and never if it is removed before);
    ``changed`` (SimPy event, succeeds with the new rate in bit/s whenever :attr:`rate` takes a
    new value; replaced by a fresh event each time, so read it anew before each wait).
    """

    __slots__ = (
        "_cap",
        "_fid",
        "_net",
        "_rate",
        "_sent0",
        "_t0",
        "_timer",
        "active",
        "changed",
        "done",
        "ended_at",
        "name",
        "path",
        "started_at",
        "volume_bits",
    )

    def __init__(
        self,
        net: Network,
        fid: int,
        path: tuple[str, ...],
        cap: float,
        volume_bits: float | None,
        name: str,
    ):
        env = net.env
        self._net = net
        self._fid = fid
        self.name = name
        self.path = path
        self.volume_bits = volume_bits
        self._cap = cap
        self._rate = 0.0
        self._sent0 = 0.0
        self._t0 = env.now
        self._timer: simpy.Timeout | None = None
        self.active = True
        self.started_at: float = env.now
        self.ended_at: float | None = None
        self.changed: Event = env.event()
        self.done: Event = env.event()

    def __repr__(self) -> str:
        state = "active" if self.active else f"ended at {self.ended_at}"
        return f"Flow({self.name!r}, path={self.path}, rate={self._rate}, {state})"

    @property
    def cap(self) -> float:
        """The flow's own rate limit (bit/s; ``inf`` for none)."""
        return self._cap

    @property
    def rate(self) -> float:
        """Current allocation (bit/s); 0 once the flow has ended."""
        return self._rate

    @property
    def sent_bits(self) -> float:
        """Bits carried so far: the integral of :attr:`rate` over time (exact, piecewise
        linear); equal to ``volume_bits`` once the flow has completed."""
        sent = self._sent0 + self._rate * (self._net.env.now - self._t0)
        if self.volume_bits is not None:
            sent = min(sent, self.volume_bits)
        return sent

    @property
    def remaining_bits(self) -> float | None:
        """``volume_bits - sent_bits`` (bits), or ``None`` for a flow without a volume."""
        if self.volume_bits is None:
            return None
        return max(0.0, self.volume_bits - self.sent_bits)

    def set_cap(self, cap: float) -> None:
        """Change the flow's rate limit (bit/s; ``inf`` for none). The new allocation applies
        at the end of the current instant. A no-op on a flow that has ended (it may have
        completed at this very instant)."""
        c = _check_rate(cap, f"cap of flow {self.name!r}")
        if not self.active:
            return
        self._net._check_bounded(self.path, c, self.name)
        if c != self._cap:
            self._cap = c
            self._net._dirty()

    def remove(self) -> None:
        """End the flow now (its ``done`` event, if any, is not triggered). A no-op on a flow
        that has already ended."""
        if self.active:
            self._net._end(self, completed=False)

    # internal -------------------------------------------------------------------------------
    def _checkpoint(self, now: float) -> None:
        self._sent0 = self.sent_bits
        self._t0 = now

    def _set_rate(self, rate: float) -> None:
        """Apply a new rate at the current time (caller checks that it differs)."""
        self._checkpoint(self._net.env.now)
        self._rate = rate
        self._arm()

    def _arm(self) -> None:
        """(Re)start the completion timer from the remaining volume and the current rate."""
        if self.volume_bits is None:
            return
        remaining = self.volume_bits - self._sent0
        if remaining <= 0:
            delay = 0.0
        elif self._rate > 0:
            delay = remaining / self._rate
        else:
            self._timer = None
            return
        timer = self._net.env.timeout(delay)
        timer.callbacks.append(self._on_timer)
        self._timer = timer

    def _on_timer(self, timer: Event) -> None:
        if timer is self._timer and self.active:
            self._net._end(self, completed=True)

    def _notify(self) -> None:
        for watcher in self._net._watchers:
            watcher(self._net.env.now, self, self._rate)
        if not self._net.deferred and not self.changed.callbacks:
            return  # one owner, not waiting on it: no event to process (see Network)
        event, self.changed = self.changed, self._net.env.event()
        event.succeed(self._rate)


class Network:
    """Links of given capacities (bit/s) shared max-min fairly by the flows on them.

    ``links`` maps a link name to its capacity in bit/s (``inf`` allowed for a link that never
    limits; every flow must then be bounded by a cap or a finite link). Flows start with
    :meth:`add_flow`; see the module docstring for when allocations change and how a process
    waits on them.
    """

    def __init__(
        self, env: simpy.Environment, links: Mapping[str, float], *, deferred: bool = True
    ):
        self.env = env
        #: False: changes are not re-allocated at the end of the instant but when the owner of
        #: every flow calls :meth:`flush` (one process acts on the network: no event needed),
        #: and a flow's ``changed`` succeeds only if something waits on it already
        self.deferred = deferred
        self._stale = False
        self._capacities: dict[str, float] = {
            name: _check_rate(c, f"capacity of link {name!r}") for name, c in links.items()
        }
        self._flows: dict[int, Flow] = {}
        self._ids = itertools.count()
        self._pending: EndOfInstant | None = None
        self._settle: list[Event] = []
        self._watchers: list[Any] = []
        #: Number of re-allocations performed so far (diagnostics).
        self.reallocations = 0

    @property
    def capacities(self) -> Mapping[str, float]:
        """Link name -> capacity (bit/s); a copy."""
        return dict(self._capacities)

    @property
    def flows(self) -> tuple[Flow, ...]:
        """The active flows, oldest first."""
        return tuple(self._flows.values())

    def load(self, link: str) -> float:
        """Sum of the current rates of the flows crossing ``link`` (bit/s)."""
        if link not in self._capacities:
            raise ValueError(f"unknown link {link!r}")
        return math.fsum(f.rate for f in self._flows.values() if link in f.path)

    def add_flow(
        self,
        path: Sequence[str] | str,
        cap: float = _INF,
        volume_bits: float | None = None,
        name: str | None = None,
    ) -> Flow:
        """Start a flow now over ``path`` (a link name or a sequence of distinct link names)
        with rate limit ``cap`` (bit/s). With ``volume_bits`` (bits) it completes by itself:
        ``flow.done`` succeeds at the exact time its last bit is carried and the flow is
        removed. Its first rate is allocated at the end of the current instant."""
        p: tuple[str, ...] = (path,) if isinstance(path, str) else tuple(path)
        if not p:
            raise ValueError("a flow needs at least one link")
        unknown = [link for link in p if link not in self._capacities]
        if unknown:
            raise ValueError(f"unknown link {unknown[0]!r}; links are {sorted(self._capacities)}")
        if len(set(p)) != len(p):
            raise ValueError(f"a link appears twice in path {p!r}")
        c = _check_rate(cap, "cap")
        vol: float | None = None
        if volume_bits is not None:
            vol = float(volume_bits)
            if not (0 <= vol < _INF):
                raise ValueError(f"volume_bits must be finite and >= 0, got {volume_bits!r}")
        fid = next(self._ids)
        label = f"flow{fid}" if name is None else name
        self._check_bounded(p, c, label)
        flow = Flow(self, fid, p, c, vol, label)
        self._flows[fid] = flow
        flow._arm()  # a zero volume completes at once
        self._dirty()
        return flow

    def watch(self, callback: Any) -> None:
        """Call ``callback(time, flow, rate)`` whenever a flow's rate takes a new value (when
        its ``changed`` event succeeds): a monitor that attaches without changing anything."""
        self._watchers.append(callback)

    def settle(self) -> Event:
        """An event that succeeds (value ``None``) once the allocation of the current instant
        is in place: right after the pending re-allocation, or at once if none is pending."""
        event = self.env.event()
        if self._pending is None:
            event.succeed()
        else:
            self._settle.append(event)
        return event

    # internal -------------------------------------------------------------------------------
    def _check_bounded(self, path: tuple[str, ...], cap: float, name: str) -> None:
        if cap == _INF and all(self._capacities[link] == _INF for link in path):
            raise ValueError(f"flow {name!r} is unbounded: no cap and only infinite-capacity links")

    def _dirty(self) -> None:
        if not self.deferred:
            self._stale = True
        elif self._pending is None:
            self._pending = EndOfInstant(self.env, self._reallocate)

    def flush(self) -> None:
        """Re-allocate now if anything changed (a network made with ``deferred=False``)."""
        if self._stale:
            self._stale = False
            self._reallocate(None)

    def _end(self, flow: Flow, *, completed: bool) -> None:
        now = self.env.now
        flow._checkpoint(now)
        if completed and flow.volume_bits is not None:
            flow._sent0 = flow.volume_bits
        flow.active = False
        flow.ended_at = now
        flow._timer = None
        old = flow._rate
        flow._rate = 0.0
        del self._flows[flow._fid]
        self._dirty()
        if completed:
            flow.done.succeed(flow)
        if old != 0.0:
            flow._notify()

    def _reallocate(self, _event: Event) -> None:
        self._pending = None
        self.reallocations += 1
        flows = list(self._flows.values())
        rates = maxmin(self._capacities, [(f.path, f.cap) for f in flows])
        changed = [(f, r) for f, r in zip(flows, rates, strict=True) if r != f._rate]
        for f, r in changed:
            f._set_rate(r)
        for f, _ in changed:
            f._notify()
        settle, self._settle = self._settle, []
        for event in settle:
            event.succeed()
