"""The Parquet trace format: round trip, determinism, readers, replay, import and errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from migsim.config import VMSpec, WorkloadSpec
from migsim.workloads import GENERATORS, make_workload
from migsim.workloads.base import Touches
from migsim.workloads.tracefile import (
    SCHEMA,
    Trace,
    TraceError,
    decode_bitmap,
    encode_bitmap,
    import_trace,
    materialize,
    open_trace,
    read_trace,
    validate,
    write_trace,
)

MIB = 2**20
PAGES = 64 * MIB // 4096


def _wl(name: str = "oltp", seed: int = 5, pages: int = PAGES):
    return GENERATORS[name](memory_pages=pages, seed=seed)


@pytest.fixture(scope="module")
def oltp_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("traces") / "oltp.parquet"
    write_trace(_wl(), path, 4.0)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_exact(oltp_file: Path) -> None:
    ref = materialize(_wl(), 4.0)
    back = read_trace(oltp_file)
    assert back.equals(ref)
    assert back.generator == "oltp" and back.seed == 5 and back.span == 4.0
    assert back.params["tps"] == 250.0
    assert back.service.unit == "transactions/s"
    assert back.zero_pages.any() and not back.in_use.all()


def test_same_seed_byte_identical(tmp_path: Path, oltp_file: Path) -> None:
    again = write_trace(_wl(), tmp_path / "again.parquet", 4.0)
    assert _sha(again) == _sha(oltp_file)
    other = write_trace(_wl(seed=6), tmp_path / "other.parquet", 4.0)
    assert _sha(other) != _sha(oltp_file)


@pytest.mark.parametrize("name", ["oltp", "netperf", "kernel_compile", "memory_stress"])
def test_lazy_window_equals_materialized_slice(tmp_path: Path, name: str) -> None:
    path = write_trace(_wl(name, seed=3), tmp_path / "t.parquet", 3.0)
    whole = read_trace(path).touches
    lazy = _wl(name, seed=3)
    for t0, t1 in ((0.0, 0.25), (1.3, 2.9), (2.5, 3.0)):
        got, ref = lazy.touches(t0, t1), whole.slice(t0, t1)
        for col in range(3):
            assert np.array_equal(got[col], ref[col])


def test_readable_by_polars_duckdb_pandas(oltp_file: Path) -> None:
    import duckdb
    import pandas as pd
    import polars as pl

    ref = read_trace(oltp_file).touches
    df = pl.read_parquet(oltp_file)
    assert df.schema == {"t": pl.Float64, "page": pl.Int64, "is_write": pl.Boolean}
    assert np.array_equal(df["page"].to_numpy(), ref.page)
    [(n, writes)] = duckdb.sql(f"select count(*), sum(is_write::int) from '{oltp_file}'").fetchall()
    assert n == len(ref) and writes == int(ref.is_write.sum())
    pdf = pd.read_parquet(oltp_file)
    assert np.array_equal(pdf["t"].to_numpy(), ref.t)
    meta = pq.read_schema(oltp_file).metadata
    assert meta[b"migsim.format"] == b"migsim-trace"
    assert json.loads(meta[b"migsim.params"])["tps"] == 250.0


def test_open_trace_loop_and_reject(oltp_file: Path) -> None:
    base = read_trace(oltp_file).touches
    looped = open_trace(oltp_file, loop="loop")
    w = looped.touches(3.5, 9.0)
    assert (np.diff(w.t) >= 0).all() and w.t[0] >= 3.5 and w.t[-1] < 9.0
    second = looped.touches(4.0, 8.0)
    assert np.array_equal(second.page, base.page)
    assert np.allclose(second.t - 4.0, base.t)
    parts = [looped.touches(a, b) for a, b in ((3.5, 4.0), (4.0, 6.1), (6.1, 9.0))]
    assert np.array_equal(np.concatenate([p.page for p in parts]), w.page)
    rej = open_trace(oltp_file, loop="reject")
    assert len(rej.touches(0.0, 4.0)) == len(base)
    with pytest.raises(TraceError, match=r"oltp.parquet.*spans only \[0, 4\) s.*reject"):
        rej.touches(3.0, 4.5)


def test_make_workload_accepts_trace_files(oltp_file: Path) -> None:
    wl = make_workload(WorkloadSpec(name=str(oltp_file)), VMSpec(memory_bytes=64 * MIB), 0)
    assert wl.memory_pages == PAGES and wl.in_use()[wl.touches(0, 1).page].all()
    assert wl.params["loop"] == "loop"


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_every_generator_round_trips_through_make_workload(tmp_path: Path, name: str) -> None:
    path = write_trace(_wl(name, seed=2), tmp_path / f"{name}.parquet", 1.0)
    wl = make_workload(
        WorkloadSpec(name=str(path), loop="reject"), VMSpec(memory_bytes=64 * MIB), 0
    )
    assert len(wl.touches(0.0, 1.0)) == len(_wl(name, seed=2).touches(0.0, 1.0))


def test_bitmap_codec() -> None:
    rng = np.random.default_rng(0)
    for n in (1, 7, 8, 9, 1000, 16384 + 3):
        mask = rng.random(n) < 0.3
        assert np.array_equal(decode_bitmap(encode_bitmap(mask), n), mask)
    with pytest.raises(ValueError, match="expected 9"):
        decode_bitmap(encode_bitmap(np.ones(17, bool)), 9)


def test_write_is_atomic_and_validates_first(tmp_path: Path) -> None:
    tr = materialize(_wl(), 1.0)
    t = tr.touches.t.copy()
    t[10], t[11] = t[11], t[10] + 1.0  # unsorted
    bad = Trace(
        Touches(t, tr.touches.page, tr.touches.is_write),
        tr.memory_pages,
        4096,
        1.0 + 2,
        tr.in_use,
        tr.zero_pages,
    )
    out = tmp_path / "bad.parquet"
    with pytest.raises(TraceError, match="row 12"):
        write_trace(bad, out)
    assert list(tmp_path.iterdir()) == []


# --- corrupt traces -------------------------------------------------------------------------


def _write_raw(path: Path, cols: dict[str, pa.Array], meta: dict[bytes, bytes] | None) -> Path:
    table = pa.table(cols)
    if meta is not None:
        table = table.replace_schema_metadata(meta)
    pq.write_table(table, path)
    return path


def _good_meta(pages: int = 100, span: float = 10.0) -> dict[bytes, bytes]:
    tr = Trace(
        Touches(np.zeros(0), np.zeros(0, np.int64), np.zeros(0, bool)),
        pages,
        4096,
        span,
        np.ones(pages, bool),
        np.zeros(pages, bool),
    )
    return tr.metadata()


def _cols(t: list, page: list, w: list | None = None) -> dict[str, pa.Array]:
    w = w if w is not None else [True] * len(t)
    return {
        "t": pa.array(t, pa.float64()),
        "page": pa.array(page, pa.int64()),
        "is_write": pa.array(w, pa.bool_()),
    }


@pytest.mark.parametrize(
    ("cols", "meta", "pattern"),
    [
        (_cols([0.0, 2.0, 1.0], [1, 2, 3]), None, r"column 't', row 2: times are not sorted"),
        (_cols([0.0, 1.0, 2.0], [1, 100, 3]), None, r"column 'page', row 1: page 100 is outside"),
        (_cols([0.0, 1.0, 2.0], [1, 2, -4]), None, r"column 'page', row 2: page -4 is outside"),
        (_cols([-1.0, 1.0], [1, 2]), None, r"column 't', row 0: negative time"),
        (_cols([0.0, float("nan")], [1, 2]), None, r"column 't', row 1: time is NaN"),
        (_cols([0.0, 12.0], [1, 2]), None, r"column 't', row 1: .*not below the span"),
        (
            {"t": pa.array(["a", "b"]), "page": pa.array([1, 2]), "is_write": pa.array([1, 0])},
            None,
            r"column 't' has type string, expected double",
        ),
        (
            {
                "t": pa.array([0.0, 1.0]),
                "page": pa.array([1.0, 2.0]),
                "is_write": pa.array([True, False]),
            },
            None,
            r"column 'page' has type double, expected int64",
        ),
        (
            {
                "t": pa.array([0.0, 1.0]),
                "page": pa.array([1, None], pa.int64()),
                "is_write": pa.array([True, False]),
            },
            None,
            r"column 'page', row 1: null value",
        ),
        ({"t": pa.array([0.0]), "page": pa.array([1])}, None, r"missing column 'is_write'"),
        (_cols([0.0], [1]), {}, r"missing metadata key 'migsim.format'"),
        (
            _cols([0.0], [1]),
            {b"migsim.format": b"migsim-trace"},
            r"missing metadata key 'migsim.version'",
        ),
        (_cols([0.0], [1]), {"version": b"7"}, r"'migsim.version' is 7"),
        (_cols([0.0], [1]), {"in_use": b"zlib+base64:!!!"}, r"'migsim.in_use': cannot decode"),
        (_cols([0.0], [1]), {"memory_pages": b"lots"}, r"'migsim.memory_pages' must be an integer"),
        (_cols([0.0], [1]), {"service": b"{"}, r"'migsim.service' is not valid JSON"),
        (_cols([0.0], [1]), {"span": b"soon"}, r"'migsim.span' must be seconds"),
    ],
)
def test_corrupt_traces(tmp_path: Path, cols: dict, meta: dict | None, pattern: str) -> None:
    full = _good_meta()
    if meta is not None and not meta:
        full = {}
    elif meta is not None and b"migsim.format" in meta:
        full = dict(meta)
    elif meta is not None:
        for k, v in meta.items():
            full[f"migsim.{k}".encode()] = v
    path = _write_raw(tmp_path / "bad.parquet", cols, full)
    with pytest.raises(TraceError, match=pattern) as info:
        read_trace(path)
    assert str(path) in str(info.value)


def test_page_not_in_use(tmp_path: Path) -> None:
    meta = _good_meta()
    used = np.ones(100, bool)
    used[7] = False
    meta[b"migsim.in_use"] = encode_bitmap(used).encode()
    path = _write_raw(tmp_path / "x.parquet", _cols([0.0, 1.0], [3, 7]), meta)
    with pytest.raises(TraceError, match=r"x.parquet: column 'page', row 1: page 7 .*not in use"):
        read_trace(path)


def test_truncated_file(tmp_path: Path, oltp_file: Path) -> None:
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(oltp_file.read_bytes()[: oltp_file.stat().st_size // 2])
    with pytest.raises(TraceError, match=r"cut.parquet: not a readable Parquet file"):
        read_trace(cut)


def test_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "text.parquet"
    path.write_text("t,page\n0,1\n")
    with pytest.raises(TraceError, match=r"text.parquet: not a readable Parquet file"):
        read_trace(path)
    with pytest.raises(TraceError, match="no such trace file"):
        read_trace(tmp_path / "missing.parquet")


def test_validate_names_memory(oltp_file: Path) -> None:
    tr = read_trace(oltp_file)
    with pytest.raises(TraceError, match="<memory>: column 'page'"):
        validate(
            Trace(
                Touches(tr.touches.t[:1], np.array([10**9]), tr.touches.is_write[:1]),
                tr.memory_pages,
                4096,
                tr.span,
                tr.in_use,
                tr.zero_pages,
            )
        )


# --- import ---------------------------------------------------------------------------------


def test_import_csv_seconds(tmp_path: Path) -> None:
    src = tmp_path / "log.csv"
    src.write_text("t,page,is_write\n0.0,5,true\n0.5,6,false\n1.25,5,true\n")
    out = tmp_path / "log.parquet"
    tr = import_trace(src, out, 1 * MIB)
    back = read_trace(out)
    assert back.equals(tr)
    assert back.touches.page.tolist() == [5, 6, 5]
    assert back.touches.is_write.tolist() == [True, False, True]
    assert back.span == pytest.approx(1.251) and back.memory_pages == 256
    assert back.generator == "import" and back.in_use.all()


def test_import_parquet_ms_uint32(tmp_path: Path) -> None:
    src = tmp_path / "rec.parquet"
    pq.write_table(
        pa.table(
            {"t_ms": pa.array([0, 10, 20], pa.int64()), "page": pa.array([1, 2, 3], pa.uint32())}
        ),
        src,
    )
    out = tmp_path / "rec_trace.parquet"
    import_trace(src, out, 1 * MIB, span=0.05)
    back = read_trace(out)
    assert back.touches.t.tolist() == [0.0, 0.01, 0.02]
    assert back.touches.is_write.all() and back.span == 0.05


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("t,page\n0.0,1\n1.0,999\n", r"column 'page', row 1: page 999 is outside"),
        ("t,page\n1.0,1\n0.5,2\n", r"column 't', row 1: times are not sorted"),
        ("t_ms,page\n-5,1\n", r"column 't_ms', row 0: negative time"),
        ("t,page\n0.0,1.5\n", r"column 'page' has type double, expected an integer"),
        ("t,page\n0.0,1\n,2\n", r"column 't', row 1: missing value"),
        ("time,page\n0,1\n", r"missing column 't'"),
        ("t,page,is_write\n0,1,2\n", r"column 'is_write', row 0: 2 is not 0 or 1"),
        ("t,page\nx,1\n", r"column 't' has type string"),
    ],
)
def test_import_errors(tmp_path: Path, text: str, pattern: str) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(text)
    out = tmp_path / "out.parquet"
    with pytest.raises(TraceError, match=pattern) as info:
        import_trace(src, out, 1 * MIB)
    assert "bad.csv" in str(info.value)
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_import_bad_file_types(tmp_path: Path) -> None:
    src = tmp_path / "x.json"
    src.write_text("{}")
    with pytest.raises(TraceError, match="unsupported file type"):
        import_trace(src, tmp_path / "o.parquet", MIB)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"PAR1 nope")
    with pytest.raises(TraceError, match=r"junk\.parquet: not a readable Parquet"):
        import_trace(junk, tmp_path / "o.parquet", MIB)
    with pytest.raises(TraceError, match="whole number of pages"):
        import_trace(junk, tmp_path / "o.parquet", 1000)


def test_schema_is_documented() -> None:
    assert [f.name for f in SCHEMA] == ["t", "page", "is_write"]


def test_looped_windows_equal_masking_every_repeat(oltp_file: Path) -> None:
    base = read_trace(oltp_file).touches  # span 4 s
    looped = open_trace(oltp_file, loop="loop")
    for t0, t1 in ((3.9, 12.3), (4.0, 8.0), (7.999999, 8.000001), (0.5, 3.7), (11.0, 11.2)):
        got = looped.touches(t0, t1)
        want_t, want_p = [], []
        for m in range(5):
            t = base.t + m * 4.0
            keep = (t >= t0) & (t < t1)
            want_t.append(t[keep])
            want_p.append(base.page[keep])
        assert np.array_equal(got.t, np.concatenate(want_t))
        assert np.array_equal(got.page, np.concatenate(want_p))


def test_loop_stretches_end_at_whole_spans(oltp_file: Path) -> None:
    looped = open_trace(oltp_file, loop="loop")
    assert looped.segment_end(0.0) == 4.0 and looped.segment_end(9.5) == 12.0
    assert open_trace(oltp_file, loop="reject").segment_end(1.0) == float("inf")


def test_a_trace_built_in_memory_is_validated_once(tmp_path: Path) -> None:
    from dataclasses import replace

    from migsim.workloads.tracefile import TraceWorkload

    trace = materialize(_wl(), 0.5)
    free = int(np.flatnonzero(~trace.in_use)[0])
    page = trace.touches.page.copy()
    page[3] = free
    bad = replace(trace, touches=Touches(trace.touches.t, page, trace.touches.is_write))
    with pytest.raises(TraceError, match=rf"<memory>: column 'page', row 3: page {free}"):
        TraceWorkload(bad)
    assert TraceWorkload(trace).touches_in_use
