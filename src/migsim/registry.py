"""The strategy registry: migration strategies are plug-ins, registered by name.

A strategy is a class decorated with :func:`register_strategy` (see
:mod:`migsim.strategies.base` and docs/strategies.md). It carries its options dataclass
(``Options``) and its SimPy process. The config layer validates the ``strategy`` section through
this registry and the engine finds a run's process here, so neither names a strategy nor imports
:mod:`migsim.strategies`: the built-in strategies register themselves when the registry is
first asked (:func:`load_builtin`), as the workload generators do.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["register_strategy", "registered", "strategy_class", "strategy_names"]

_REGISTRY: dict[str, type] = {}
_loaded = False


def register_strategy(name: str):
    """Class decorator: register a strategy under ``name`` (sets ``cls.name``)."""

    def deco(cls: type) -> type:
        old = _REGISTRY.get(name)
        if old is not None and old.__qualname__ != cls.__qualname__:
            raise ValueError(f"strategy {name!r} is registered twice ({old!r} and {cls!r})")
        if not hasattr(cls, "Options") or not hasattr(cls, "process"):
            raise TypeError(f"strategy {name!r}: a strategy class needs Options and process()")
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def load_builtin() -> None:
    """Import :mod:`migsim.strategies` once, which registers every strategy module in it."""
    global _loaded
    if not _loaded:
        _loaded = True
        importlib.import_module("migsim.strategies")


def strategy_names() -> tuple[str, ...]:
    """The registered strategy names, in registration order."""
    load_builtin()
    return tuple(_REGISTRY)


def strategy_class(name: str) -> Any:
    """The strategy class registered as ``name``; KeyError if there is none."""
    load_builtin()
    return _REGISTRY[name]


def registered() -> dict[str, Any]:
    """A copy of the registry: name -> strategy class."""
    load_builtin()
    return dict(_REGISTRY)
