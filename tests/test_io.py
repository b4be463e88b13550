"""The one atomic Parquet writer (migsim.io.write_parquet_atomic)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from migsim.io import write_parquet_atomic


def test_write_parquet_atomic_leaves_nothing_on_error(tmp_path):
    path = tmp_path / "d" / "x.parquet"
    write_parquet_atomic(pa.table({"a": [1]}), path)
    assert pq.read_table(path).num_rows == 1

    with pytest.raises((TypeError, AttributeError)):
        write_parquet_atomic("not a table", path)  # type: ignore[arg-type]
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.parquet"]
    assert pq.read_table(path).num_rows == 1


def test_a_killed_writers_temporary_goes_with_the_next_write_of_its_path(tmp_path):
    """SIGKILL between the temporary and the rename runs no cleanup; the temporary would be
    read by a directory scan (pl.scan_parquet("results/runs"), as the README reads it)."""
    stale = tmp_path / ".x.parquet.k1ll3d.tmp"
    stale.write_bytes(b"PAR1 half a file")
    other = tmp_path / ".y.parquet.k1ll3d.tmp"  # another path's: maybe being written now
    other.write_bytes(b"PAR1")
    write_parquet_atomic(pa.table({"a": [1]}), tmp_path / "x.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "x.parquet"]


def test_metadata_replaces_the_tables_own_and_options_reach_the_writer(tmp_path):
    table = pa.table({"a": [1, 2, 3]}).replace_schema_metadata({b"old": b"1"})
    kept = write_parquet_atomic(table, tmp_path / "kept.parquet")
    assert kept == tmp_path / "kept.parquet"
    assert pq.read_schema(kept).metadata[b"old"] == b"1"
    new = write_parquet_atomic(
        table, tmp_path / "new.parquet", metadata={b"new": b"2"}, row_group_size=1
    )
    meta = pq.read_schema(new).metadata
    assert meta[b"new"] == b"2" and b"old" not in meta
    pf = pq.ParquetFile(new)
    assert pf.num_row_groups == 3
    assert pf.metadata.row_group(0).column(0).compression == "ZSTD"
    plain = write_parquet_atomic(table, tmp_path / "plain.parquet", compression="none")
    assert pq.ParquetFile(plain).metadata.row_group(0).column(0).compression == "UNCOMPRESSED"
    assert not list(tmp_path.glob(".*.tmp"))
