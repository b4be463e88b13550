"""Shared by the workflow scripts: make migsim importable and send output to the rule's log.

Snakemake puts this directory on ``sys.path`` and sets ``__file__`` to the real script path,
so scripts ``import _common`` first. When migsim is not installed in the running environment
(e.g. a conda environment from workflow/envs/), the repository's ``src/`` is used.
"""

import json
import sys
from pathlib import Path

try:
    import migsim  # noqa: F401
except ImportError:  # pragma: no cover - only without an installed migsim
    sys.path.append(str(Path(__file__).resolve().parents[2] / "src"))


def redirect_log(snakemake):
    """Send stdout and stderr of the script to the rule's log file; return the stream."""
    log = open(snakemake.log[0], "w", buffering=1)  # noqa: SIM115 - lives as long as the script
    sys.stdout = sys.stderr = log
    return log


def variants(snakemake):
    """The variant order of the config (the legend order of every figure)."""
    return json.loads(snakemake.params.variants)
