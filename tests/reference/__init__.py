"""An independent, deliberately simple reference model of docs/semantics.md (see model.py),
and the comparison of its results with the engine's (compare.py)."""

from .compare import compare_results
from .model import RefResult, RefRound, reference_simulate

__all__ = ["RefResult", "RefRound", "compare_results", "reference_simulate"]
