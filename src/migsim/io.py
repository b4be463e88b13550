"""Atomic Parquet writing: the one writer of every Parquet file migsim makes.

Results (``migsim run --out``, sweep and paper batches), aggregates, d(w) and WWS tables and
trace files all go through :func:`write_parquet_atomic`: the table is written to a temporary file
in the target's directory and renamed into place, so a reader never sees a half-written file and
a failed write leaves nothing behind. A writer killed outright (SIGKILL, power loss) runs no
cleanup and leaves its temporary; the next write of the same path removes it. It imports only
pyarrow, so every layer (workloads included) can use it.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["write_parquet_atomic"]


def write_parquet_atomic(
    table: pa.Table,
    path: str | os.PathLike[str],
    *,
    metadata: Mapping[bytes | str, bytes | str] | None = None,
    compression: str = "zstd",
    **options: Any,
) -> Path:
    """Write ``table`` to ``path`` via a temporary file in the same directory and a rename.

    ``metadata`` replaces the table's schema metadata (Parquet key-value metadata) when given;
    otherwise the table's own is written. ``compression`` and ``options`` go to
    :func:`pyarrow.parquet.write_table`. Creates the parent directories; on any error the
    temporary file is removed and the exception re-raised (an existing ``path`` is untouched).
    Temporaries of ``path`` left by a killed writer are removed first (a directory scan such as
    ``pl.scan_parquet(dir)`` would read them); one writer per path at a time, as Snakemake
    runs one job per output. Returns the path.
    """
    path = Path(path)
    if metadata is not None:
        table = table.replace_schema_metadata(metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression=compression, **options)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
