"""Closed-form pre-copy models: Clark's geometric series and the corrected uniform-write model.

Two models of iterative pre-copy (Clark et al., NSDI'05) under a dirty rate ``D`` and a
bandwidth ``B``, with ``lambda = D / B`` (``D`` and ``B`` in the same unit, pages/s here):

:func:`clark_precopy`
    The textbook geometric series: round 0 sends all ``M`` pages, and every page written during
    a round is assumed to be a *new* dirty page, so round ``i`` sends ``M lambda**i``. After
    ``n`` pre-copy rounds the stop-and-copy sends ``M lambda**n``; the total volume is
    ``M (1 - lambda**(n+1)) / (1 - lambda)`` and the downtime ``M lambda**n / B``.

:func:`precopy_expected`
    The expectation of what migsim's engine computes (``docs/semantics.md``) for the
    ``uniform`` workload (Poisson writes at ``D`` pages/s, each to a page drawn uniformly from
    ``W`` hot pages) with a fixed migration rate ``R``. It corrects Clark's series for two
    effects that both make it overestimate:

    1. *Overwrites.* Writes that hit a page already dirty in the round dirty nothing new. A
       page receives writes as a Poisson process of rate ``a = D / W``, so a round of length
       ``L`` dirties ``W (1 - exp(-a L))`` distinct pages in expectation, not ``D L``.
    2. *Skipping* (Xen's peek). A page queued in a round and written again before its send slot
       is skipped: it costs no time and is sent next round. With ``c = 8 (P + H) / R`` seconds
       per page and ``s(x)`` pages sent among the first ``x`` queue positions, the page at
       position ``x`` is reached at ``c s(x)`` seconds into the round; its next write comes
       after an exponential time of rate ``a`` (Poisson increments are independent of the past
       rounds that put the page in the queue), so it is sent with probability
       ``exp(-a c s(x))``. In the large-``M`` (fluid) limit ``ds/dx = exp(-beta s)`` with
       ``beta = a c``, so

           s(x) = ln(1 + beta x) / beta,

       and a round with ``Q`` queued pages sends ``ln(1 + beta Q) / beta`` of them in
       ``L = ln(1 + beta Q) / a`` seconds and skips the rest.

    With every page hot (``W = M``), ``beta = lambda / M`` and the two effects combine into
    a one-line recursion: the next queue is ``W (1 - exp(-a L)) = lambda Q / (1 + lambda Q / M)``,
    i.e. ``M / Q_{k+1} = M / (lambda Q_k) + 1``. It converges for every ``lambda`` (to
    ``M (lambda - 1) / lambda`` pages when ``lambda > 1``), which Clark's series cannot.

    Round 0 queues every page; pages outside the hot set (``W < M``) are never written and are
    always sent. With ``scan_order="sequential"`` the hot pages (pages ``0 .. W-1``) come first
    in round 0; with ``"random"`` they are spread uniformly through the queue, giving
    ``ds/dx = (1 - f) + f exp(-beta s)`` (``f = W / M``), solved by
    ``s(x) = ln((exp(beta (1 - f) x) - f) / (1 - f)) / beta``.

    The recursion is iterated with Xen's stop rules (or QEMU's switchover) applied to the
    expected queue, then the stop-and-copy sends the last queue and the CPU/device state.

Both functions are pure and vectorise nothing clever; they are cheap (a few dozen rounds).
Units: pages, pages/s, bit/s, bytes and seconds as named in each parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ClarkPrecopy",
    "PrecopyExpectation",
    "clark_precopy",
    "distinct_dirtied",
    "page_send_time",
    "precopy_expected",
    "round_sent",
]


@dataclass(frozen=True)
class ClarkPrecopy:
    """Clark's geometric series for ``n`` pre-copy rounds.

    per_round: pages (or the unit of ``M``) sent in rounds ``0 .. n``; the last entry is the
        stop-and-copy.
    volume: total sent, ``M (1 - lambda**(n+1)) / (1 - lambda)``.
    total_time_s: ``volume / B`` seconds.
    downtime_s: ``M lambda**n / B`` seconds (the stop-and-copy).
    lam: ``D / B``.
    """

    per_round: tuple[float, ...]
    volume: float
    total_time_s: float
    downtime_s: float
    lam: float


def clark_precopy(M: float, D: float, B: float, n: int) -> ClarkPrecopy:
    """Clark et al.'s geometric pre-copy series.

    M: memory (pages, or bytes: any unit of volume).
    D: dirty rate in units of ``M`` per second, every write assumed to dirty a new page.
    B: bandwidth in units of ``M`` per second.
    n: pre-copy rounds (>= 0); round 0 sends all of ``M``, round ``n`` is the stop-and-copy,
        so ``n = 1`` is Clark's "one pre-copy iteration".

    Returns the per-round volumes ``M lambda**i`` (``i = 0 .. n``), the total volume
    ``M (1 - lambda**(n+1)) / (1 - lambda)`` (``M (n + 1)`` when ``lambda = 1``), the total
    time ``volume / B`` and the downtime ``M lambda**n / B``, with ``lambda = D / B``.
    """
    if M < 0 or D < 0 or B <= 0 or n < 0:
        raise ValueError(f"clark_precopy: need M >= 0, D >= 0, B > 0, n >= 0; got {M, D, B, n}")
    lam = D / B
    per_round = tuple(M * lam**i for i in range(n + 1))
    volume = M * (n + 1) if lam == 1 else M * (1 - lam ** (n + 1)) / (1 - lam)
    return ClarkPrecopy(
        per_round=per_round,
        volume=volume,
        total_time_s=volume / B,
        downtime_s=M * lam**n / B,
        lam=lam,
    )


def page_send_time(bandwidth_bps: float, page_size: int = 4096, header_bytes: int = 8) -> float:
    """Seconds to send one page with its header at ``bandwidth_bps``: ``8 (P + H) / R``."""
    return (page_size + header_bytes) * 8.0 / bandwidth_bps


def distinct_dirtied(hot_pages: float, dirty_rate: float, duration_s: float) -> float:
    """Expected distinct pages written in ``duration_s`` seconds by Poisson writes at
    ``dirty_rate`` pages/s spread uniformly over ``hot_pages`` pages:
    ``W (1 - exp(-D L / W))`` pages."""
    if hot_pages <= 0:
        return 0.0
    return hot_pages * -math.expm1(-dirty_rate * duration_s / hot_pages)


def round_sent(
    queued_hot: float,
    queued_cold: float,
    beta: float,
    *,
    skip: bool = True,
    hot_first: bool = True,
) -> float:
    """Expected pages sent in one round (fluid limit); the rest of the queue is skipped.

    queued_hot: queued pages that receive writes, each at ``a`` writes/s.
    queued_cold: queued pages that are never written (always sent).
    beta: ``a c`` = per-page write rate (1/s) times the send time of a page (s); dimensionless.
    skip: Xen's peek/skip on; off, every queued page is sent.
    hot_first: the hot pages come before the cold ones in the queue (sequential scan with the
        hot set at the low pages); otherwise they are spread uniformly (random scan).

    The page at queue position ``x`` is sent with probability ``exp(-beta s(x))``, where
    ``s(x)`` is the number sent before it; see the module docstring for the solutions.
    """
    total = queued_hot + queued_cold
    if not skip or queued_hot <= 0 or beta <= 0:
        return total
    if hot_first or queued_cold <= 0:
        return math.log1p(beta * queued_hot) / beta + queued_cold
    f = queued_hot / total
    y = beta * queued_cold  # = beta (1 - f) x at x = total
    # s = ln((e^y - f) / (1 - f)) / beta, written to avoid overflow for large y
    return (y + math.log1p(-f * math.exp(-y)) - math.log1p(-f)) / beta


@dataclass(frozen=True)
class PrecopyExpectation:
    """Expected pre-copy run of the ``uniform`` workload at a fixed rate (fluid limit).

    Per pre-copy round ``k`` (tuples of equal length ``rounds``): ``to_send`` (queue size),
    ``sent``, ``skipped``, ``dirtied`` (distinct pages written in the round = next queue),
    ``duration_s``; all in pages or seconds, real-valued expectations.

    stop_copy_pages: pages sent by the final stop-and-copy (the last ``dirtied``).
    rounds: number of pre-copy rounds; stop_reason: as the engine names it.
    total_time_s: pre-copy time + stop-and-copy time + resume (s).
    downtime_s: stop-and-copy of the last queue and the state at ``R``, plus resume (s).
    pages_transferred: sent in every round + stop_copy_pages.
    bytes_transferred: ``pages_transferred (P + H) + state``.
    pages_skipped: sum of ``skipped``.
    lam: ``D / B`` with ``B = R / (8 (P + H))`` pages/s.
    """

    to_send: tuple[float, ...]
    sent: tuple[float, ...]
    skipped: tuple[float, ...]
    dirtied: tuple[float, ...]
    duration_s: tuple[float, ...]
    stop_copy_pages: float
    rounds: int
    stop_reason: str
    total_time_s: float
    downtime_s: float
    pages_transferred: float
    bytes_transferred: float
    pages_skipped: float
    lam: float


def precopy_expected(
    memory_pages: int,
    dirty_rate: float,
    bandwidth_bps: float,
    *,
    hot_pages: int | None = None,
    page_size: int = 4096,
    header_bytes: int = 8,
    state_bytes: int = 256 * 2**10,
    resume_time: float = 0.0,
    skip: bool = True,
    scan_order: str = "sequential",
    max_rounds: int = 30,
    max_factor: float = 3.0,
    stop_pages: int = 50,
    switchover: str = "xen",
    downtime_limit: float = 0.3,
) -> PrecopyExpectation:
    """Expected outcome of pre-copy with a fixed rate under uniform Poisson writes.

    memory_pages: ``M``, pages of the VM (all in use, none zero: the ``uniform`` workload).
    dirty_rate: ``D``, writes per second (pages/s), uniform over the hot pages.
    bandwidth_bps: the migration rate ``R`` in bit/s (link capacity x efficiency).
    hot_pages: ``W``, the pages written (the first ``W``; default all ``M``).
    page_size, header_bytes, state_bytes: ``P``, ``H`` and the CPU/device state, bytes.
    resume_time: seconds added to downtime and total time.
    skip, scan_order, max_rounds, max_factor, stop_pages, switchover, downtime_limit: the
        strategy options of the same names (``docs/semantics.md``); the stop rules are applied
        to the expected queue sizes.

    Each round ``k`` with queue ``Q_k`` sends ``s_k`` (:func:`round_sent`) in
    ``L_k = c s_k`` seconds (``c`` = :func:`page_send_time`), skips ``Q_k - s_k`` and dirties
    ``Q_{k+1} = W (1 - exp(-D L_k / W))`` distinct pages (:func:`distinct_dirtied`).
    """
    if memory_pages < 1 or dirty_rate < 0 or bandwidth_bps <= 0:
        raise ValueError("precopy_expected: need memory_pages >= 1, dirty_rate >= 0, R > 0")
    if scan_order not in ("sequential", "random"):
        raise ValueError(f"scan_order: {scan_order!r} is not one of sequential, random")
    if switchover not in ("xen", "qemu"):
        raise ValueError(f"switchover: {switchover!r} is not one of xen, qemu")
    W = memory_pages if hot_pages is None else int(hot_pages)
    if not 1 <= W <= memory_pages:
        raise ValueError(f"hot_pages must be in [1, {memory_pages}], got {hot_pages}")
    c = page_send_time(bandwidth_bps, page_size, header_bytes)
    a = dirty_rate / W
    beta = a * c

    to_send: list[float] = []
    sent: list[float] = []
    skipped: list[float] = []
    dirtied: list[float] = []
    duration: list[float] = []
    q_hot, q_cold = float(W), float(memory_pages - W)
    total_sent = 0.0
    reason = "max_rounds"
    while True:
        k = len(to_send)
        q = q_hot + q_cold
        s = round_sent(q_hot, q_cold, beta, skip=skip, hot_first=scan_order == "sequential")
        length = c * s
        d = distinct_dirtied(W, dirty_rate, length)
        to_send.append(q)
        sent.append(s)
        skipped.append(q - s)
        dirtied.append(d)
        duration.append(length)
        total_sent += s
        n = k + 1
        if switchover == "xen":
            if d < stop_pages:
                reason = "converged"
                break
        # fixed rate: the measured bandwidth of a round is R itself
        elif d * (page_size + header_bytes) * 8 <= bandwidth_bps * downtime_limit:
            reason = "converged"
            break
        if n >= max_rounds:
            reason = "max_rounds"
            break
        if switchover == "xen" and total_sent > max_factor * memory_pages:
            reason = "max_factor"
            break
        q_hot, q_cold = d, 0.0

    last = dirtied[-1]
    precopy_time = sum(duration)
    downtime = ((page_size + header_bytes) * last + state_bytes) * 8.0 / bandwidth_bps
    downtime += resume_time
    pages = sum(sent) + last
    return PrecopyExpectation(
        to_send=tuple(to_send),
        sent=tuple(sent),
        skipped=tuple(skipped),
        dirtied=tuple(dirtied),
        duration_s=tuple(duration),
        stop_copy_pages=last,
        rounds=len(to_send),
        stop_reason=reason,
        total_time_s=precopy_time + downtime,
        downtime_s=downtime,
        pages_transferred=pages,
        bytes_transferred=pages * (page_size + header_bytes) + state_bytes,
        pages_skipped=sum(skipped),
        lam=dirty_rate * c,
    )
