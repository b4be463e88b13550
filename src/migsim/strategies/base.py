"""The base of a strategy plug-in (docs/strategies.md, "Adding a strategy").

A strategy is a class registered by name (:func:`migsim.registry.register_strategy`) with:

- ``Options``: a frozen dataclass extending :class:`migsim.config.StrategyOptions`, each field
  declared with :func:`migsim.options.option` (unit, default, range, source, meaning). Config
  validation, ``migsim run --help``, the config schema and the docs tables come from it.
- ``process(ctx)``: the SimPy process of one migration, a generator composing the primitives
  of :mod:`migsim.engine.primitives` over the run's context.

One instance serves one run, so per-run strategy state lives on ``self``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, ClassVar

from migsim.config import StrategyOptions

__all__ = ["Strategy"]


class Strategy:
    """A migration strategy; subclass it, set ``Options`` and write ``process``."""

    name: ClassVar[str]
    Options: ClassVar[type[StrategyOptions]] = StrategyOptions

    def __init__(self, options: StrategyOptions):
        self.opts: Any = options

    def process(self, ctx) -> Generator:  # pragma: no cover - every strategy overrides it
        """The migration, as a SimPy generator over the run's context."""
        raise NotImplementedError
