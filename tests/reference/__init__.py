"""An independent, deliberately simple reference model of docs/semantics.md (see model.py)."""

from .model import RefResult, RefRound, reference_simulate

__all__ = ["RefResult", "RefRound", "reference_simulate"]
