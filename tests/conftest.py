"""Helpers shared by the test modules, as fixtures (test modules never import each other).

``copy_workflow`` and ``snakemake`` run the Snakemake workflow in a temporary copy of the
repository's Snakefile, profiles link, workflow/ and config/ (test_workflow.py, test_paper.py,
test_crash_resume.py). The comparison of engine and reference model results lives with the
reference model (``reference.compare``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _copy_workflow(dest: Path, paper_config: dict | None = None) -> Path:
    """Snakefile, the profiles link, workflow/ and config/ in a fresh directory (results go
    there too), with ``paper_config`` as config/paper.yaml when given. The link stays a link,
    so Snakemake finds the default profile in the copy as it does in the repository."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "Snakefile", dest / "Snakefile")
    shutil.copy2(ROOT / "profiles", dest / "profiles", follow_symlinks=False)
    for sub in ("workflow", "config"):
        shutil.copytree(ROOT / sub, dest / sub, ignore=shutil.ignore_patterns("__pycache__"))
    if paper_config is not None:
        (dest / "config" / "paper.yaml").write_text(yaml.safe_dump(paper_config))
    return dest


def _snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``snakemake ARGS`` in ``workdir``; fails the test when it fails and ``check``."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [*SNAKEMAKE, *args], cwd=workdir, capture_output=True, text=True, env=env, timeout=600
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def copy_workflow() -> Callable[..., Path]:
    """``copy_workflow(dest, paper_config=None)``: a copy of the workflow to run in ``dest``."""
    return _copy_workflow


@pytest.fixture(scope="session")
def snakemake() -> Callable[..., subprocess.CompletedProcess]:
    """``snakemake(workdir, *args, check=True)``: run Snakemake in a workflow copy."""
    return _snakemake
