"""Workloads: the interface (:mod:`.base`), generators, trace files and WWS analysis."""

from __future__ import annotations

import inspect
from typing import Any

from migsim.config import ConfigError, VMSpec, WorkloadSpec
from migsim.workloads import generators as _generators  # noqa: F401  (registers generators)
from migsim.workloads.base import GENERATORS, ServiceModel, Touches, Workload

__all__ = ["GENERATORS", "ServiceModel", "Touches", "Workload", "make_workload"]


def _coerce(default: Any, value: Any) -> Any:
    """Command-line values arrive as strings; give them the type of the parameter's default."""
    if not isinstance(value, str) or default is inspect.Parameter.empty or default is None:
        return value
    if isinstance(default, bool):
        if value.lower() in ("true", "yes", "on", "1"):
            return True
        if value.lower() in ("false", "no", "off", "0"):
            return False
        return value
    if isinstance(default, int | float):
        try:
            number = float(value)
        except ValueError:
            return value  # the generator may parse units ("256MiB")
        return int(number) if isinstance(default, int) and number == int(number) else number
    return value


def make_workload(spec: WorkloadSpec, vm: VMSpec, seed: int) -> Workload:
    """Build the workload of a run: a registered generator by name, or a ``.parquet`` trace.

    Raises :class:`ConfigError` naming the bad parameter and what is allowed.
    """
    params = spec.param_dict()
    if spec.name.endswith(".parquet"):
        from migsim.workloads.tracefile import open_trace

        if params:
            raise ConfigError(
                f"workload: a recorded trace takes no generator parameters, got {sorted(params)}"
            )
        wl = open_trace(spec.name, loop=spec.loop)
        if wl.memory_pages * wl.page_size != vm.memory_bytes or wl.page_size != vm.page_size:
            raise ConfigError(
                f"workload: trace {spec.name} is for {wl.memory_pages} pages of {wl.page_size} B "
                f"({wl.memory_pages * wl.page_size} bytes); vm.memory is {vm.memory_bytes} bytes "
                f"with vm.page_size {vm.page_size}"
            )
        return wl
    if spec.name not in GENERATORS:
        raise ConfigError(
            f"workload.name: unknown workload {spec.name!r}; allowed: "
            f"{', '.join(sorted(GENERATORS))} or a path to a .parquet trace"
        )
    cls = GENERATORS[spec.name]
    sig = inspect.signature(cls)
    allowed = [p for p in sig.parameters if p not in ("memory_pages", "page_size", "seed")]
    kwargs = {}
    for key, value in params.items():
        if key not in allowed:
            raise ConfigError(
                f"unknown key workload.{key} for {spec.name}; allowed keys: "
                f"{', '.join(allowed) or '(none)'}"
            )
        kwargs[key] = _coerce(sig.parameters[key].default, value)
    try:
        return cls(memory_pages=vm.pages, page_size=vm.page_size, seed=seed, **kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"workload ({spec.name}): {exc}") from None
