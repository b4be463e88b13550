"""Migration strategies: plug-ins, one module each, registered by name.

Importing this package imports every module in it, and each registers its strategy with
:func:`migsim.registry.register_strategy`; a new strategy is therefore one new file here
(docs/strategies.md). The four of the papers come first, in this order; any other module
follows in alphabetical order.
"""

from __future__ import annotations

import importlib
import pkgutil

_PAPERS = ("stop_and_copy", "pre_copy", "post_copy", "hybrid")

for _module in (
    *_PAPERS,
    *sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _PAPERS),
):
    if _module != "base" and not _module.startswith("_"):
        importlib.import_module(f"{__name__}.{_module}")
