"""The flow-level network (migsim.engine.network): max-min allocation and its SimPy driver.

Closed forms at flow level (the acceptance criteria for shared links), an exact rational
reference of progressive filling, and hypothesis properties of ``maxmin``: feasibility, max-min
optimality and invariance under any reordering of flows, paths and links.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from collections.abc import Generator, Sequence
from fractions import Fraction
from typing import Any

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from migsim.engine import network
from migsim.engine.network import Flow, Network, maxmin

INF = math.inf


# --- an exact reference: progressive filling in rational arithmetic ------------------------------
def maxmin_exact(
    capacities: dict[str, float], flows: Sequence[tuple[Sequence[str], float]]
) -> list[Fraction]:
    """Textbook water-filling with Fractions (floats convert exactly); O(n^2), for tests."""
    caps = [None if c == INF else Fraction(c) for _, c in flows]
    cap_l = {k: None if v == INF else Fraction(v) for k, v in capacities.items()}
    rate: dict[int, Fraction] = {}
    active = set(range(len(flows)))
    while active:
        cands = [caps[i] for i in active if caps[i] is not None]
        shares = {}
        for link, c in cap_l.items():
            on = [i for i in range(len(flows)) if link in flows[i][0]]
            n_act = sum(1 for i in on if i in active)
            if c is not None and n_act:
                shares[link] = (c - sum(rate[i] for i in on if i not in active)) / n_act
        level = min(cands + list(shares.values()))
        freeze = {i for i in active if caps[i] is not None and caps[i] <= level}
        for link, s in shares.items():
            if s <= level:
                freeze |= {i for i in active if link in flows[i][0]}
        for i in freeze:
            rate[i] = level if caps[i] is None else min(caps[i], level)
        active -= freeze
    return [rate[i] for i in range(len(flows))]


# --- maxmin: closed forms ------------------------------------------------------------------------
def test_maxmin_single_link_equal_shares() -> None:
    assert maxmin({"L": 9.0}, [(("L",), INF)] * 3) == [3.0, 3.0, 3.0]


def test_maxmin_caps_below_at_and_above_the_fair_share() -> None:
    # C = 12, fair share 4: cap 2 (below) keeps 2; cap 4 (at the first share) keeps 4; the
    # uncapped flow takes what is left, 6.
    assert maxmin({"L": 12.0}, [(("L",), 2.0), (("L",), 4.0), (("L",), INF)]) == [2.0, 4.0, 6.0]
    # cap 5 is exactly the final fair share once the cap-2 flow froze: (12 - 2) / 2 = 5.
    assert maxmin({"L": 12.0}, [(("L",), 2.0), (("L",), 5.0), (("L",), 7.0)]) == [2.0, 5.0, 5.0]
    # all below: everyone at its cap, link not saturated
    assert maxmin({"L": 12.0}, [(("L",), 1.0), (("L",), 2.0), (("L",), 3.0)]) == [1.0, 2.0, 3.0]


def test_maxmin_two_links_bottleneck_on_the_slower() -> None:
    assert maxmin({"A": 10e9, "B": 4e9}, [(("A", "B"), INF)]) == [4e9]
    assert maxmin({"A": 10e9, "B": 4e9}, [(("A", "B"), 3e9)]) == [3e9]


@pytest.mark.parametrize(
    ("ca", "cb", "expected"),
    [
        (10.0, 10.0, [5.0, 5.0, 5.0]),  # symmetric parking lot: C/2 for all
        (10.0, 4.0, [2.0, 8.0, 2.0]),  # long flow bottlenecked on B; A's short flow takes the rest
        (4.0, 10.0, [2.0, 2.0, 8.0]),
    ],
)
def test_maxmin_parking_lot(ca: float, cb: float, expected: list[float]) -> None:
    flows = [(("A", "B"), INF), (("A",), INF), (("B",), INF)]
    assert maxmin({"A": ca, "B": cb}, flows) == expected


def test_maxmin_parking_lot_chain_of_three() -> None:
    # long flow over A, B, C (each capacity 1) and one short flow per link: all 1/2
    flows = [(("A", "B", "C"), INF), (("A",), INF), (("B",), INF), (("C",), INF)]
    assert maxmin({"A": 1.0, "B": 1.0, "C": 1.0}, flows) == [0.5] * 4


def test_maxmin_edge_cases() -> None:
    assert maxmin({"L": 5.0}, []) == []
    assert maxmin({"L": 5.0}, [(("L",), 0.0), (("L",), INF)]) == [0.0, 5.0]
    assert maxmin({"L": 0.0, "M": 3.0}, [(("L",), INF), (("M",), INF)]) == [0.0, 3.0]
    assert maxmin({"L": INF}, [(("L",), 7.0)]) == [7.0]
    assert maxmin({"L": INF, "M": 2.0}, [(("L", "M"), INF)]) == [2.0]


@pytest.mark.parametrize(
    ("caps", "flows", "match"),
    [
        ({"L": 1.0}, [(("X",), INF)], "unknown link"),
        ({"L": 1.0}, [(("L", "L"), INF)], "twice"),
        ({"L": INF}, [(("L",), INF)], "unbounded"),
        ({"L": 1.0}, [(("L",), -1.0)], ">= 0"),
        ({"L": -1.0}, [(("L",), 1.0)], ">= 0"),
        ({"L": 1.0}, [(("L",), math.nan)], ">= 0"),
    ],
)
def test_maxmin_rejects(caps: dict[str, float], flows: list[Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        maxmin(caps, flows)


def test_maxmin_1000_flows_is_fast() -> None:
    rng = random.Random(7)
    links = {f"L{i}": rng.uniform(1e8, 1e10) for i in range(60)}
    names = list(links)
    flows = [
        (tuple(rng.sample(names, rng.randint(1, 4))), rng.choice([INF, rng.uniform(0, 5e9)]))
        for _ in range(1000)
    ]
    t = time.perf_counter()
    rates = maxmin(links, flows)
    assert time.perf_counter() - t < 1.0  # about 10 ms on the development machine
    _check_feasible_and_optimal(links, flows, rates)


# --- maxmin: properties --------------------------------------------------------------------------
REL = 1e-9


def _check_feasible_and_optimal(
    capacities: dict[str, float], flows: Sequence[tuple[Sequence[str], float]], rates: list[float]
) -> None:
    on: dict[str, list[int]] = {k: [] for k in capacities}
    for i, (path, _) in enumerate(flows):
        for link in path:
            on[link].append(i)
    load = {k: math.fsum(rates[i] for i in v) for k, v in on.items()}
    saturated = {k: load[k] >= capacities[k] * (1 - REL) for k in capacities}
    for k, c in capacities.items():
        assert load[k] <= c * (1 + REL), (k, load[k], c)
    for i, ((path, cap), r) in enumerate(zip(flows, rates, strict=True)):
        assert 0 <= r <= cap, (i, r, cap)
        assert all(r <= capacities[k] for k in path), (i, r)
        if r == cap:
            continue
        # not at its cap: some saturated link on its path where it has the largest rate
        bottleneck = [
            k for k in path if saturated[k] and r >= max(rates[j] for j in on[k]) * (1 - REL)
        ]
        assert bottleneck, (i, r, path)


_value = st.one_of(
    st.just(0.0),
    st.integers(1, 100).map(float),
    st.floats(1e-3, 1e11, allow_nan=False, allow_infinity=False),
)


@st.composite
def _problems(draw: st.DrawFn) -> tuple[dict[str, float], list[tuple[tuple[str, ...], float]]]:
    n_links = draw(st.integers(1, 5))
    names = [f"L{i}" for i in range(n_links)]
    capacities = {k: draw(st.one_of(_value, st.just(INF))) for k in names}
    if all(c == INF for c in capacities.values()):
        capacities[names[0]] = draw(_value)
    finite = [c for c in capacities.values() if c != INF]
    flows = []
    for _ in range(draw(st.integers(0, 14))):
        path = tuple(draw(st.permutations(names))[: draw(st.integers(1, n_links))])
        # caps: none, arbitrary, or a fraction of a capacity (ties with fair shares)
        cap = draw(
            st.one_of(
                st.just(INF),
                _value,
                st.tuples(st.sampled_from(finite), st.integers(1, 4)).map(lambda t: t[0] / t[1]),
            )
        )
        if cap == INF and all(capacities[k] == INF for k in path):
            cap = draw(_value)
        flows.append((path, cap))
    return capacities, flows


@settings(max_examples=300, deadline=None)
@given(_problems(), st.randoms(use_true_random=False))
def test_maxmin_properties(
    problem: tuple[dict[str, float], list[tuple[tuple[str, ...], float]]], rnd: random.Random
) -> None:
    capacities, flows = problem
    rates = maxmin(capacities, flows)
    _check_feasible_and_optimal(capacities, flows, rates)

    # the exact rational progressive filling agrees to rounding
    for r, e in zip(rates, maxmin_exact(capacities, flows), strict=True):
        assert math.isclose(r, float(e), rel_tol=1e-12, abs_tol=1e-300), (r, float(e))

    # permutation invariance, bitwise: flows, each path, and the links' order
    perm = list(range(len(flows)))
    rnd.shuffle(perm)
    items = list(capacities.items())
    rnd.shuffle(items)
    shuffled = []
    for i in perm:
        path = list(flows[i][0])
        rnd.shuffle(path)
        shuffled.append((tuple(path), flows[i][1]))
    again = maxmin(dict(items), shuffled)
    assert [again[perm.index(i)] for i in range(len(flows))] == rates


# --- Network -------------------------------------------------------------------------------------
def _run_volumes(
    capacity: float, specs: Sequence[tuple[float, float]], start: float = 0.0
) -> list[float]:
    """Flows (volume_bits, cap) on one link, all started at ``start``; their completion times."""
    env = simpy.Environment()
    net = Network(env, {"L": capacity})
    flows: list[Flow] = []

    def starter() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(start)
        flows.extend(net.add_flow("L", cap=c, volume_bits=v) for v, c in specs)

    env.process(starter())
    env.run()
    for f in flows:
        assert not f.active and f.done.triggered and f.sent_bits == f.volume_bits
    return [f.ended_at for f in flows]  # type: ignore[misc]


@pytest.mark.parametrize(("capacity", "volume"), [(1e9, 8e9), (3e9 + 7, 12345678901.0)])
def test_two_identical_flows_take_twice_as_long(capacity: float, volume: float) -> None:
    (alone,) = _run_volumes(capacity, [(volume, INF)])
    both = _run_volumes(capacity, [(volume, INF), (volume, INF)])
    assert alone == volume / capacity
    assert both == [2 * alone, 2 * alone]  # exact: V / (C/2) == 2 * (V / C) in binary floats
    later = _run_volumes(capacity, [(volume, INF), (volume, INF)], start=0.1)
    assert later[0] == later[1]
    assert math.isclose(later[0] - 0.1, 2 * alone, rel_tol=1e-12)


def test_flow_beside_a_capped_flow_gets_the_rest_then_speeds_up() -> None:
    c, a, va, vb = 10e9, 3e9, 6e9, 50e9  # capped flow: a < C/2, ends at va / a = 2 s
    env = simpy.Environment()
    net = Network(env, {"L": c})
    capped = net.add_flow("L", cap=a, volume_bits=va, name="capped")
    other = net.add_flow("L", volume_bits=vb, name="other")
    seen: list[tuple[float, float, float]] = []

    def probe() -> Generator[simpy.Event, Any, None]:
        for t in (1.0, 3.0):
            yield env.timeout(t - env.now)
            seen.append((env.now, capped.rate, other.rate))

    env.process(probe())
    env.run()
    t1 = va / a
    t2 = t1 + (vb - (c - a) * t1) / c
    assert capped.ended_at == t1
    assert math.isclose(other.ended_at, t2, rel_tol=1e-12)  # type: ignore[arg-type]
    assert other.ended_at == pytest.approx(5.6, rel=1e-12)
    assert seen == [(1.0, a, c - a), (3.0, 0.0, c)]


def test_three_flows_capped_below_at_and_above_the_fair_share() -> None:
    env = simpy.Environment()
    net = Network(env, {"L": 12e9})
    flows = [net.add_flow("L", cap=cap) for cap in (2e9, 4e9, INF)]
    flows2 = []

    def later() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1)
        assert [f.rate for f in flows] == [2e9, 4e9, 6e9]
        for f in flows:
            f.remove()
        flows2.extend(net.add_flow("L", cap=cap) for cap in (2e9, 5e9, 7e9))
        yield net.settle()
        assert [f.rate for f in flows2] == [2e9, 5e9, 5e9]
        assert [f.sent_bits for f in flows] == [2e9, 4e9, 6e9]

    p = env.process(later())
    env.run(p)


def _scenario(order: Sequence[int]) -> list[tuple[str, float, float]]:
    """A mixed scenario on three links; flows added in ``order``, some at t=0, some at t=0.5
    by separate processes. Returns (name, completion time, sent bits) sorted by name."""
    specs: list[tuple[str, tuple[str, ...], float, float, float]] = [
        ("a", ("A", "B"), INF, 7e9, 0.0),
        ("b", ("A",), 2e9, 3e9, 0.0),
        ("c", ("B", "C"), INF, 5e9, 0.0),
        ("d", ("C",), INF, 9e9, 0.5),
        ("e", ("A", "C"), 1.5e9, 4e9, 0.5),
        ("f", ("B",), INF, 2e9, 0.5),
    ]
    env = simpy.Environment()
    net = Network(env, {"A": 10e9, "B": 4e9, "C": 6e9})
    flows: dict[str, Flow] = {}

    def start(spec: tuple[str, tuple[str, ...], float, float, float]):
        name, path, cap, vol, t = spec
        yield env.timeout(t)
        flows[name] = net.add_flow(path, cap=cap, volume_bits=vol, name=name)

    for i in order:
        env.process(start(specs[i]))
    env.run()
    return sorted((n, f.ended_at, f.sent_bits) for n, f in flows.items())  # type: ignore[misc]


def test_start_order_does_not_matter() -> None:
    reference = _scenario(range(6))
    assert all(t is not None for _, t, _ in reference)
    for order in itertools.permutations(range(6)):
        assert _scenario(order) == reference


def test_multi_link_flow_on_the_slower_link_and_parking_lot() -> None:
    env = simpy.Environment()
    net = Network(env, {"A": 10e9, "B": 4e9})
    long = net.add_flow(("A", "B"), volume_bits=8e9)
    env.run()
    assert long.ended_at == 2.0  # 8e9 / 4e9

    env = simpy.Environment()
    net = Network(env, {"A": 10e9, "B": 10e9})
    long = net.add_flow(("A", "B"), volume_bits=10e9)
    short_a = net.add_flow("A", volume_bits=5e9)
    short_b = net.add_flow("B", volume_bits=20e9)
    env.run()
    # all at 5e9 until short_a ends at 1 s; then long is still held to 5e9 by B (shared with
    # short_b) and ends at 2 s; short_b then runs alone: 20e9 - 10e9 sent at 2 s -> 1 s more.
    assert short_a.ended_at == 1.0
    assert long.ended_at == 2.0
    assert short_b.ended_at == 3.0
    assert net.flows == ()


def test_rate_changes_are_notified_with_the_new_rate() -> None:
    env = simpy.Environment()
    net = Network(env, {"L": 8e9})
    watched = net.add_flow("L", name="watched")
    log: list[tuple[float, float]] = []

    def watcher() -> Generator[simpy.Event, Any, None]:
        while True:
            rate = yield watched.changed
            log.append((env.now, rate))
            if rate == 0.0:
                return

    def other() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1)
        f = net.add_flow("L", cap=2e9)
        yield env.timeout(1)
        f.set_cap(6e9)  # fair share 4e9 -> both 4e9
        yield env.timeout(1)
        f.set_cap(5e9)  # still above 4e9: no change for watched
        yield env.timeout(1)
        watched.remove()

    env.process(watcher())
    env.process(other())
    env.run()
    assert log == [(0.0, 8e9), (1.0, 6e9), (2.0, 4e9), (4.0, 0.0)]
    assert watched.sent_bits == 8e9 + 6e9 + 4e9 + 4e9
    assert not watched.done.triggered  # removed, not completed


def test_simultaneous_changes_give_one_allocation_whatever_the_order() -> None:
    def run(order: Sequence[int]) -> tuple[list[tuple[float, float]], int, list[float]]:
        env = simpy.Environment()
        net = Network(env, {"L": 12e9, "M": 12e9})
        x = net.add_flow(("L", "M"), name="x")
        y = net.add_flow("L", name="y")
        z = net.add_flow("M", cap=1e9, name="z")
        log: list[tuple[float, float]] = []
        added: list[Flow] = []

        def watcher() -> Generator[simpy.Event, Any, None]:
            while True:
                rate = yield x.changed
                log.append((env.now, rate))

        def remove_y() -> Generator[simpy.Event, Any, None]:
            yield env.timeout(1)
            y.remove()

        def add_two() -> Generator[simpy.Event, Any, None]:
            yield env.timeout(1)
            added.append(net.add_flow("L", cap=3e9, name="w"))
            yield env.timeout(0)  # a later event of the same instant
            added.append(net.add_flow("M", name="v"))

        def uncap_z() -> Generator[simpy.Event, Any, None]:
            yield env.timeout(1)
            z.set_cap(INF)

        procs = [remove_y, add_two, uncap_z]
        env.process(watcher())
        for i in order:
            env.process(procs[i]())
        env.run(until=2)
        rates = [f.rate for f in (x, y, z, *sorted(added, key=lambda f: f.name))]
        return log, net.reallocations, rates

    reference = run([0, 1, 2])
    log, reallocations, rates = reference
    # at t=1, L: x, w(cap 3e9); M: x, z, v -> x = z = v = 4e9, w = 3e9, y gone
    assert log == [(0.0, 6e9), (1.0, 4e9)]  # one notification for all the changes at t=1
    assert reallocations == 2
    assert rates == [4e9, 0.0, 4e9, 4e9, 3e9]
    for order in itertools.permutations(range(3)):
        assert run(order) == reference


def test_a_process_waiting_on_rate_change_or_its_own_end() -> None:
    """The documented wait pattern tracks the exact completion time of its own work."""
    work = 30e9
    env = simpy.Environment()
    net = Network(env, {"L": 10e9})
    finished: list[float] = []

    def worker() -> Generator[simpy.Event, Any, None]:
        flow = net.add_flow("L")
        yield net.settle()
        left = work
        while left > 0:
            t0, rate = env.now, flow.rate
            end = env.timeout(left / rate) if rate > 0 else env.event()
            yield flow.changed | end
            left = 0.0 if end.processed else left - rate * (env.now - t0)
        flow.remove()
        finished.append(env.now)

    def disturber() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1)
        f = net.add_flow("L", volume_bits=10e9)  # halves the worker's rate from 1 s to 3 s
        yield f.done

    env.process(worker())
    env.process(disturber())
    env.run()
    # 10e9 in [0,1], 10e9 in [1,3] at 5e9, 10e9 in [3,4]
    assert finished == [4.0]


def test_sent_bits_is_piecewise_linear_and_set_cap_moves_completion() -> None:
    env = simpy.Environment()
    net = Network(env, {"L": 10e9})
    f = net.add_flow("L", cap=2e9, volume_bits=10e9)
    samples: list[float] = []

    def proc() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(1.5)
        samples.append(f.sent_bits)  # 3e9
        f.set_cap(INF)
        yield env.timeout(0.25)
        samples.append(f.sent_bits)  # 3e9 + 2.5e9
        yield f.done

    env.process(proc())
    env.run()
    assert samples == [3e9, 5.5e9]
    assert f.ended_at == 1.5 + 7e9 / 10e9
    assert f.remaining_bits == 0.0


def test_zero_cap_and_zero_volume() -> None:
    env = simpy.Environment()
    net = Network(env, {"L": 10e9})
    stalled = net.add_flow("L", cap=0.0, volume_bits=1e9)
    empty = net.add_flow("L", volume_bits=0.0)

    def proc() -> Generator[simpy.Event, Any, None]:
        yield env.timeout(5)
        assert stalled.rate == 0.0 and stalled.sent_bits == 0.0 and stalled.active
        stalled.set_cap(1e9)

    env.process(proc())
    env.run()
    assert empty.ended_at == 0.0
    assert stalled.ended_at == 6.0


def test_remove_and_set_cap_after_the_end_are_no_ops_and_errors() -> None:
    env = simpy.Environment()
    net = Network(env, {"L": 1e9, "U": INF})
    f = net.add_flow("L", volume_bits=1e9)
    env.run()
    f.remove()
    f.set_cap(5.0)
    assert f.ended_at == 1.0 and f.cap == INF
    with pytest.raises(ValueError, match="unknown link"):
        net.add_flow("X")
    with pytest.raises(ValueError, match="twice"):
        net.add_flow(("L", "L"))
    with pytest.raises(ValueError, match="unbounded"):
        net.add_flow("U")
    g = net.add_flow("U", cap=1.0)
    with pytest.raises(ValueError, match="unbounded"):
        g.set_cap(INF)
    with pytest.raises(ValueError, match=">= 0"):
        g.set_cap(-1.0)
    with pytest.raises(ValueError, match="volume_bits"):
        net.add_flow("L", volume_bits=-1.0)
    assert net.load("L") == 0.0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 20).map(lambda k: k / 4), st.floats(1e6, 1e10)),
        min_size=1,
        max_size=12,
    )
)
def test_one_link_is_work_conserving(specs: list[tuple[float, float]]) -> None:
    """Uncapped flows on one link keep it busy at full capacity whenever any is active, so the
    last completion of each busy period is that of a single server: t = max(t, start) + V/C."""
    capacity = 1e9
    env = simpy.Environment()
    net = Network(env, {"L": capacity})
    flows: list[Flow] = []
    loads: list[float] = []

    def start(t: float, volume: float) -> Generator[simpy.Event, Any, None]:
        yield env.timeout(t)
        flows.append(net.add_flow("L", volume_bits=volume))
        yield net.settle()
        loads.append(net.load("L"))

    for t, v in specs:
        env.process(start(t, v))
    env.run()
    t_end = 0.0
    for t, v in sorted(specs):
        t_end = max(t_end, t) + v / capacity
    assert math.isclose(max(f.ended_at for f in flows), t_end, rel_tol=1e-9)  # type: ignore[type-var]
    assert all(math.isclose(x, capacity, rel_tol=1e-12) for x in loads)
    assert all(f.sent_bits == f.volume_bits for f in flows)


@given(
    cap=st.floats(1.0, 1e11) | st.sampled_from([1e9, 1e10]),
    a=st.floats(0, 1e11) | st.sampled_from([0.0, 5e8, 1e9 / 3, math.inf]),
    b=st.floats(0, 1e11) | st.sampled_from([0.0, 5e8, 1e9 / 3, math.inf]),
)
@settings(max_examples=500, deadline=None)
def test_the_two_flow_shortcut_equals_progressive_filling(cap, a, b):
    """maxmin answers two flows on one link in closed form (every round of a migration alone
    on its link); it must give progressive filling's numbers bit for bit."""
    flows = [(("l",), a), (("l",), b)]
    assert maxmin({"l": cap}, flows) == network._progressive({"l": cap}, flows)
