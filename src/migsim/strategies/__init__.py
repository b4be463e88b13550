"""Migration strategies, one module each, registered by name.

Each strategy is a SimPy process: ``run(ctx)``, a generator over the run's
:class:`migsim.engine.core.Context`. It reads the page state and the link and never the
workload's internals.
"""

from __future__ import annotations

from collections.abc import Callable, Generator

from migsim.strategies import hybrid, post_copy, pre_copy, stop_and_copy

__all__ = ["STRATEGY_PROCESSES"]

STRATEGY_PROCESSES: dict[str, Callable[..., Generator]] = {
    "stop_and_copy": stop_and_copy.run,
    "pre_copy": pre_copy.run,
    "post_copy": post_copy.run,
    "hybrid": hybrid.run,
}
