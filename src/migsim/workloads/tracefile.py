"""The Parquet trace format: write, read, validate, import, and replay as a workload.

A trace file holds the page touches of a guest over ``[0, span)`` seconds of guest time, one row
per touch, time-ordered:

========== ========= =====================================================================
column     type      meaning
========== ========= =====================================================================
t          float64   guest time of the touch, seconds from the start of the trace, ``>= 0``
page       int64     guest-physical page number, ``0 <= page < memory_pages``
is_write   bool      true for a write (dirties the page), false for a read
========== ========= =====================================================================

No column may hold nulls; ``t`` is non-decreasing and below ``span``; every touched page is in
use. The Parquet file's key-value metadata (all values UTF-8 strings) describes the VM and the
provenance; see ``docs/traces.md`` for the full table:

``migsim.format`` (``"migsim-trace"``), ``migsim.version`` (``"1"``), ``migsim.page_size``
(bytes), ``migsim.memory_pages``, ``migsim.span`` (seconds, a Python float repr),
``migsim.in_use`` and ``migsim.zero_pages`` (bitmaps over the pages, encoded as
``zlib+base64:`` followed by base64 of the zlib-compressed ``numpy.packbits(bitorder="little")``
bytes), ``migsim.service`` (JSON: baseline, unit, network_demand_bps), ``migsim.generator``,
``migsim.params`` (JSON) and ``migsim.seed``.

Files are written atomically (a temporary file in the same directory, renamed into place), so a
failed or interrupted write never leaves a half-written trace; the same trace always gives a
byte-identical file. Every problem found reading or importing a trace raises :class:`TraceError`
naming the file, the column and the first bad row.
"""

from __future__ import annotations

import base64
import json
import math
import os
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from migsim.io import write_parquet_atomic
from migsim.workloads.base import ServiceModel, Touches, Workload, empty_touches

__all__ = [
    "FORMAT",
    "LOOP_POLICIES",
    "SCHEMA",
    "VERSION",
    "Trace",
    "TraceError",
    "TraceWorkload",
    "decode_bitmap",
    "encode_bitmap",
    "import_trace",
    "materialize",
    "open_trace",
    "read_trace",
    "validate",
    "write_trace",
]

FORMAT = "migsim-trace"
VERSION = 1
LOOP_POLICIES = ("loop", "reject")
SCHEMA = pa.schema(
    [
        pa.field("t", pa.float64(), nullable=False),
        pa.field("page", pa.int64(), nullable=False),
        pa.field("is_write", pa.bool_(), nullable=False),
    ]
)
_REQUIRED = (
    "format",
    "version",
    "page_size",
    "memory_pages",
    "span",
    "in_use",
    "zero_pages",
    "service",
    "generator",
    "params",
    "seed",
)
_BITMAP_PREFIX = "zlib+base64:"


class TraceError(ValueError):
    """A trace file or table is invalid; the message names the file, the column and the first
    bad row (or the metadata key)."""


def encode_bitmap(mask: np.ndarray) -> str:
    """Encode a bool array as ``zlib+base64:`` + base64(zlib(packbits, little bit order))."""
    packed = np.packbits(np.asarray(mask, dtype=np.bool_), bitorder="little").tobytes()
    return _BITMAP_PREFIX + base64.b64encode(zlib.compress(packed, 6)).decode("ascii")


def decode_bitmap(text: str, n: int) -> np.ndarray:
    """Decode :func:`encode_bitmap` output to a bool array of length ``n``.

    Raises ValueError if the text is not a bitmap of exactly ``n`` bits (padding bits zero).
    """
    if not text.startswith(_BITMAP_PREFIX):
        raise ValueError(f"expected a value starting with {_BITMAP_PREFIX!r}")
    try:
        raw = zlib.decompress(base64.b64decode(text[len(_BITMAP_PREFIX) :], validate=True))
    except (ValueError, zlib.error) as exc:
        raise ValueError(f"cannot decode the bitmap ({exc})") from None
    if len(raw) != (n + 7) // 8:
        raise ValueError(f"bitmap has {len(raw) * 8} bits, expected {n} (memory_pages)")
    bits = np.unpackbits(np.frombuffer(raw, np.uint8), bitorder="little").astype(np.bool_)
    if bits[n:].any():
        raise ValueError(f"bitmap has bits set beyond memory_pages ({n})")
    return bits[:n]


@dataclass(frozen=True, eq=False)
class Trace:
    """A materialized trace: touches over ``[0, span)`` plus the VM and provenance metadata.

    touches: time-ordered touches (``t`` s, ``page``, ``is_write``).
    memory_pages, page_size (bytes): the VM. span: trace length (s), ``t < span``.
    in_use, zero_pages: bool[memory_pages]. service: the workload's service model.
    generator, params, seed: provenance (``"import"`` for an imported table).
    """

    touches: Touches
    memory_pages: int
    page_size: int
    span: float
    in_use: np.ndarray
    zero_pages: np.ndarray
    service: ServiceModel = field(default_factory=ServiceModel)
    generator: str = "import"
    params: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0

    def equals(self, other: Trace) -> bool:
        """True when every column and metadata field is identical."""
        a, b = self.touches, other.touches
        return (
            np.array_equal(a.t, b.t)
            and np.array_equal(a.page, b.page)
            and np.array_equal(a.is_write, b.is_write)
            and self.memory_pages == other.memory_pages
            and self.page_size == other.page_size
            and self.span == other.span
            and np.array_equal(self.in_use, other.in_use)
            and np.array_equal(self.zero_pages, other.zero_pages)
            and self.service == other.service
            and self.generator == other.generator
            and json.dumps(dict(self.params), sort_keys=True, default=str)
            == json.dumps(dict(other.params), sort_keys=True, default=str)
            and self.seed == other.seed
        )

    def metadata(self) -> dict[bytes, bytes]:
        """The Parquet key-value metadata of this trace."""
        service = {
            "baseline": float(self.service.baseline),
            "unit": self.service.unit,
            "network_demand_bps": float(self.service.network_demand_bps),
        }
        meta = {
            "format": FORMAT,
            "version": str(VERSION),
            "page_size": str(int(self.page_size)),
            "memory_pages": str(int(self.memory_pages)),
            "span": repr(float(self.span)),
            "in_use": encode_bitmap(self.in_use),
            "zero_pages": encode_bitmap(self.zero_pages),
            "service": json.dumps(service, sort_keys=True),
            "generator": self.generator,
            "params": json.dumps(dict(self.params), sort_keys=True, default=str),
            "seed": str(int(self.seed)),
        }
        return {f"migsim.{k}".encode(): v.encode() for k, v in meta.items()}


def materialize(workload: Workload, duration: float) -> Trace:
    """Generate ``duration`` seconds of ``workload`` as a :class:`Trace`."""
    duration = float(duration)
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"duration must be a finite number of seconds > 0, got {duration}")
    return Trace(
        touches=workload.touches(0.0, duration),
        memory_pages=int(workload.memory_pages),
        page_size=int(workload.page_size),
        span=duration,
        in_use=np.asarray(workload.in_use(), np.bool_),
        zero_pages=np.asarray(workload.zero_pages(), np.bool_),
        service=workload.service,
        generator=workload.name,
        params=dict(workload.params),
        seed=int(workload.seed),
    )


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def validate(
    trace: Trace, path: str | os.PathLike[str] = "<memory>", time_column: str = "t"
) -> None:
    """Check a trace; raise :class:`TraceError` naming ``path``, the column and the first bad
    row. Checks: array types and lengths, ``t`` finite, ``>= 0``, non-decreasing and below the
    span, pages inside memory and in use, metadata consistent. ``time_column`` is the name of
    the time column in messages (``t_ms`` for an imported table)."""
    name = str(path)
    tc = time_column
    m = trace.memory_pages
    if not isinstance(m, int | np.integer) or m < 1:
        raise TraceError(f"{name}: metadata 'migsim.memory_pages' must be >= 1, got {m!r}")
    if not isinstance(trace.page_size, int | np.integer) or trace.page_size < 1:
        raise TraceError(
            f"{name}: metadata 'migsim.page_size' must be >= 1, got {trace.page_size!r}"
        )
    for key, arr in (("in_use", trace.in_use), ("zero_pages", trace.zero_pages)):
        if arr.dtype != np.bool_ or arr.shape != (m,):
            raise TraceError(
                f"{name}: metadata 'migsim.{key}' must be a bitmap of {m} pages, got "
                f"{arr.dtype} of shape {arr.shape}"
            )
    t, page, w = trace.touches
    for col, arr, kind in (("t", t, "f"), ("page", page, "i"), ("is_write", w, "b")):
        if arr.dtype.kind != kind:
            raise TraceError(
                f"{name}: column {col!r} has type {arr.dtype}, expected {SCHEMA.field(col).type}"
            )
    if not (t.shape == page.shape == w.shape) or t.ndim != 1:
        raise TraceError(f"{name}: columns t, page, is_write have different lengths")
    if np.isnan(t).any():
        i = _first(np.isnan(t))
        raise TraceError(f"{name}: column {tc!r}, row {i}: time is NaN")
    if (t < 0).any():
        i = _first(t < 0)
        raise TraceError(f"{name}: column {tc!r}, row {i}: negative time {t[i]!r} s")
    if not (math.isfinite(trace.span) and trace.span > 0):
        raise TraceError(
            f"{name}: metadata 'migsim.span' must be a number of seconds > 0, got {trace.span!r}"
        )
    if (t >= trace.span).any():
        i = _first(t >= trace.span)
        raise TraceError(
            f"{name}: column {tc!r}, row {i}: time {t[i]!r} s is not below the span "
            f"{trace.span!r} s (migsim.span)"
        )
    if t.size > 1 and (np.diff(t) < 0).any():
        i = _first(np.diff(t) < 0) + 1
        raise TraceError(
            f"{name}: column {tc!r}, row {i}: times are not sorted ({t[i]!r} s after {t[i - 1]!r} s)"
        )
    bad = (page < 0) | (page >= m)
    if bad.any():
        i = _first(bad)
        raise TraceError(
            f"{name}: column 'page', row {i}: page {page[i]} is outside memory "
            f"(0 <= page < {m}, migsim.memory_pages)"
        )
    unused = ~trace.in_use[page]
    if unused.any():
        i = _first(unused)
        raise TraceError(
            f"{name}: column 'page', row {i}: page {page[i]} is touched but not in use "
            f"(migsim.in_use)"
        )


def write_trace(
    source: Workload | Trace,
    path: str | os.PathLike[str],
    duration: float | None = None,
) -> Path:
    """Write a trace (or ``duration`` seconds of a workload) to ``path`` atomically.

    The trace is validated first; nothing is written if it is invalid. Parquet with zstd
    compression and fixed writer options, so equal traces give byte-identical files.
    Returns the path.
    """
    path = Path(path)
    if isinstance(source, Trace):
        trace = source
    else:
        if duration is None:
            raise ValueError("duration (s) is required to write a workload's trace")
        trace = materialize(source, duration)
    validate(trace, path)
    t, page, w = trace.touches
    table = pa.Table.from_arrays(
        [
            pa.array(np.ascontiguousarray(t, np.float64)),
            pa.array(np.ascontiguousarray(page, np.int64)),
            pa.array(np.ascontiguousarray(w, np.bool_)),
        ],
        schema=SCHEMA.with_metadata(trace.metadata()),
    )
    return write_parquet_atomic(
        table,
        path,
        compression="zstd",
        compression_level=3,
        row_group_size=1 << 20,
        use_dictionary=False,
        write_statistics=True,
        store_schema=True,
    )


def _meta(name: str, meta: Mapping[bytes, bytes], key: str) -> str:
    raw = meta.get(f"migsim.{key}".encode())
    if raw is None:
        raise TraceError(
            f"{name}: missing metadata key 'migsim.{key}' (not a migsim trace, or written by "
            f"another tool; import tables with `migsim trace import`)"
        )
    return raw.decode("utf-8", errors="replace")


def _meta_int(name: str, meta: Mapping[bytes, bytes], key: str) -> int:
    text = _meta(name, meta, key)
    try:
        return int(text)
    except ValueError:
        raise TraceError(
            f"{name}: metadata 'migsim.{key}' must be an integer, got {text!r}"
        ) from None


def _meta_json(name: str, meta: Mapping[bytes, bytes], key: str) -> Any:
    text = _meta(name, meta, key)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise TraceError(f"{name}: metadata 'migsim.{key}' is not valid JSON ({exc})") from None


def _np(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A pyarrow column as a numpy array (without importing pandas)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    return arr.to_numpy(zero_copy_only=False)


def _column(name: str, table: pa.Table, col: str, expect: pa.DataType) -> np.ndarray:
    if col not in table.column_names:
        raise TraceError(
            f"{name}: missing column {col!r}; a trace has columns t (float64), page (int64), "
            f"is_write (bool), got {table.column_names}"
        )
    arr = table.column(col)
    if arr.type != expect:
        raise TraceError(f"{name}: column {col!r} has type {arr.type}, expected {expect}")
    if arr.null_count:
        valid = np.asarray(_np(arr.is_valid()), np.bool_)
        raise TraceError(f"{name}: column {col!r}, row {_first(~valid)}: null value")
    return _np(arr)


def read_trace(path: str | os.PathLike[str], check: bool = True) -> Trace:
    """Read and (by default) validate a trace file. Raises :class:`TraceError` on any problem:
    a missing, truncated or non-Parquet file, missing metadata, wrong column types, nulls, and
    everything :func:`validate` checks."""
    name = str(path)
    if not Path(path).is_file():
        raise TraceError(f"{name}: no such trace file")
    try:
        pf = pq.ParquetFile(path)
        meta = pf.schema_arrow.metadata or {}
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TraceError(
            f"{name}: not a readable Parquet file (truncated or not Parquet: {exc})"
        ) from None
    fmt = _meta(name, meta, "format")
    if fmt != FORMAT:
        raise TraceError(f"{name}: metadata 'migsim.format' is {fmt!r}, expected {FORMAT!r}")
    version = _meta_int(name, meta, "version")
    if version != VERSION:
        raise TraceError(
            f"{name}: metadata 'migsim.version' is {version}, this migsim reads version {VERSION}"
        )
    for key in _REQUIRED:
        _meta(name, meta, key)
    m = _meta_int(name, meta, "memory_pages")
    page_size = _meta_int(name, meta, "page_size")
    seed = _meta_int(name, meta, "seed")
    span_text = _meta(name, meta, "span")
    try:
        span = float(span_text)
    except ValueError:
        raise TraceError(
            f"{name}: metadata 'migsim.span' must be seconds, got {span_text!r}"
        ) from None
    if m < 1:
        raise TraceError(f"{name}: metadata 'migsim.memory_pages' must be >= 1, got {m}")
    bitmaps = {}
    for key in ("in_use", "zero_pages"):
        try:
            bitmaps[key] = decode_bitmap(_meta(name, meta, key), m)
        except ValueError as exc:
            raise TraceError(f"{name}: metadata 'migsim.{key}': {exc}") from None
    svc = _meta_json(name, meta, "service")
    try:
        service = ServiceModel(
            baseline=float(svc["baseline"]),
            unit=str(svc["unit"]),
            network_demand_bps=float(svc["network_demand_bps"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TraceError(
            f"{name}: metadata 'migsim.service' needs baseline, unit, network_demand_bps ({exc!r})"
        ) from None
    params = _meta_json(name, meta, "params")
    if not isinstance(params, dict):
        raise TraceError(f"{name}: metadata 'migsim.params' must be a JSON object")
    try:
        table = pf.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise TraceError(
            f"{name}: not a readable Parquet file (truncated or corrupt: {exc})"
        ) from None
    trace = Trace(
        touches=Touches(
            _column(name, table, "t", pa.float64()),
            _column(name, table, "page", pa.int64()),
            _column(name, table, "is_write", pa.bool_()),
        ),
        memory_pages=m,
        page_size=page_size,
        span=span,
        in_use=bitmaps["in_use"],
        zero_pages=bitmaps["zero_pages"],
        service=service,
        generator=_meta(name, meta, "generator"),
        params=params,
        seed=seed,
    )
    if check:
        validate(trace, name)
    return trace


def _read_only(arr: np.ndarray) -> np.ndarray:
    """A view of ``arr`` that cannot be written through (the trace's own bitmaps are shared,
    not copied, with each run; the engine copies what it changes)."""
    view = arr.view()
    view.flags.writeable = False
    return view


class TraceWorkload:
    """A recorded trace replayed as a :class:`~migsim.workloads.base.Workload`.

    loop: ``"loop"`` repeats the trace with period ``span`` (touch times shifted by whole
    spans); ``"reject"`` raises :class:`TraceError` when asked for time past the span.
    checked: the trace already passed :func:`validate` (as :func:`read_trace` does); otherwise
    it is validated here, once, so that the engine need not check each touch's page against
    the in-use set as it replays the trace (``touches_in_use``).
    """

    touches_in_use = True  # every touch's page is in use (validated): TouchStream skips its check

    def __init__(
        self,
        trace: Trace,
        loop: str = "loop",
        path: str | os.PathLike[str] = "<memory>",
        *,
        checked: bool = False,
    ):
        if loop not in LOOP_POLICIES:
            raise ValueError(f"loop must be one of {LOOP_POLICIES}, got {loop!r}")
        if not checked:
            validate(trace, path)
        self.trace = trace
        self.loop = loop
        self.path = str(path)
        self.name = self.path
        self.memory_pages = trace.memory_pages
        self.page_size = trace.page_size
        self.seed = trace.seed
        self.service = trace.service
        self.span = trace.span

    @property
    def params(self) -> Mapping[str, Any]:
        return {
            "path": self.path,
            "loop": self.loop,
            "span": self.span,
            "generator": self.trace.generator,
            "generator_params": dict(self.trace.params),
        }

    def in_use(self) -> np.ndarray:
        return _read_only(self.trace.in_use)

    def zero_pages(self) -> np.ndarray:
        return _read_only(self.trace.zero_pages)

    def touches(self, t0: float, t1: float) -> Touches:
        if t1 <= t0:
            return empty_touches()
        span = self.span
        if self.loop == "reject":
            if t1 > span or t0 < 0:
                raise TraceError(
                    f"{self.path}: asked for trace time [{t0:g}, {t1:g}) s but the trace spans "
                    f"only [0, {span:g}) s and loop='reject'; use loop='loop' or a longer trace"
                )
            return self.trace.touches.slice(t0, t1)
        parts = []
        for m in range(max(math.floor(t0 / span), 0), math.ceil(t1 / span)):
            base = self.trace.touches.slice(t0 - m * span, t1 - m * span)
            if not len(base):
                continue
            if m == 0:  # the slice is already within [t0, t1)
                parts.append(base)
                continue
            # shifted times stay non-decreasing, so the touches in [t0, t1) (after rounding
            # of the shift) are one contiguous run: trim its ends instead of masking
            t = base.t + m * span
            lo, hi = np.searchsorted(t, [t0, t1], side="left")
            parts.append(Touches(t[lo:hi], base.page[lo:hi], base.is_write[lo:hi]))
        return Touches.concat(parts)

    def segment_end(self, t: float) -> float:
        """The end of the contiguous stretch of trace that contains guest time ``t``: the next
        loop boundary (a window that stops there is replayed without copying)."""
        if self.loop != "loop":
            return math.inf
        return (math.floor(t / self.span) + 1) * self.span


def open_trace(path: str | os.PathLike[str], loop: str = "loop") -> TraceWorkload:
    """Read and validate a trace file and return it as a workload (see :class:`TraceWorkload`)."""
    if loop not in LOOP_POLICIES:
        raise TraceError(f"{path}: loop must be one of {', '.join(LOOP_POLICIES)}, got {loop!r}")
    return TraceWorkload(read_trace(path), loop=loop, path=path, checked=True)


def _import_table(src: Path) -> pa.Table:
    name = str(src)
    if not src.is_file():
        raise TraceError(f"{name}: no such file")
    suffix = src.suffix.lower()
    try:
        if suffix == ".parquet":
            return pq.read_table(src)
        if suffix in (".csv", ".txt"):
            import pyarrow.csv as pacsv

            return pacsv.read_csv(src)
    except (pa.ArrowException, OSError, ValueError) as exc:
        kind = "Parquet" if suffix == ".parquet" else "CSV"
        raise TraceError(f"{name}: not a readable {kind} file ({exc})") from None
    raise TraceError(f"{name}: unsupported file type {suffix!r}; expected .csv or .parquet")


def import_trace(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    memory_bytes: int,
    page_size: int = 4096,
    span: float | None = None,
) -> Trace:
    """Convert a user's table (CSV or Parquet) to a validated trace file at ``out``.

    Columns: ``t`` (seconds) or ``t_ms`` (milliseconds), numeric; ``page`` (integer page
    number); optional ``is_write`` (bool, or integers 0/1; default: every touch is a write, as
    in a dirty-page log). Every page is taken to be in use and none zero. ``span`` (s) defaults
    to the last time rounded up to the next whole millisecond (strictly above it). Rows must
    already be time-ordered. Raises :class:`TraceError` naming the file, the column and the
    first bad row; nothing is written then.
    """
    src = Path(src)
    name = str(src)
    if page_size < 1 or memory_bytes < page_size or memory_bytes % page_size:
        raise TraceError(
            f"{name}: memory ({memory_bytes} bytes) must be a positive whole number of pages "
            f"of {page_size} bytes"
        )
    m = memory_bytes // page_size
    table = _import_table(src)
    cols = table.column_names
    if "t" in cols:
        tcol, scale = "t", 1.0
    elif "t_ms" in cols:
        tcol, scale = "t_ms", 1e-3
    else:
        raise TraceError(
            f"{name}: missing column 't' (seconds) or 't_ms' (milliseconds); got {cols}"
        )
    if "page" not in cols:
        raise TraceError(f"{name}: missing column 'page'; got {cols}")

    def col(c: str) -> pa.ChunkedArray:
        arr = table.column(c)
        if arr.null_count:
            valid = np.asarray(_np(arr.is_valid()), np.bool_)
            raise TraceError(f"{name}: column {c!r}, row {_first(~valid)}: missing value")
        return arr

    tarr = col(tcol)
    if not (pa.types.is_floating(tarr.type) or pa.types.is_integer(tarr.type)):
        raise TraceError(f"{name}: column {tcol!r} has type {tarr.type}, expected a number")
    t = _np(tarr).astype(np.float64) * scale
    parr = col("page")
    if not pa.types.is_integer(parr.type):
        raise TraceError(f"{name}: column 'page' has type {parr.type}, expected an integer type")
    page = _np(parr).astype(np.int64)
    if pa.types.is_unsigned_integer(parr.type):
        raw = _np(parr)
        if raw.size and raw.max() > np.iinfo(np.int64).max:
            raise TraceError(
                f"{name}: column 'page', row {_first(raw > np.iinfo(np.int64).max)}: page too large"
            )
    if "is_write" in cols:
        warr = col("is_write")
        if pa.types.is_boolean(warr.type):
            w = _np(warr).astype(np.bool_)
        elif pa.types.is_integer(warr.type):
            raw = _np(warr)
            if ((raw != 0) & (raw != 1)).any():
                i = _first((raw != 0) & (raw != 1))
                raise TraceError(f"{name}: column 'is_write', row {i}: {raw[i]} is not 0 or 1")
            w = raw.astype(np.bool_)
        else:
            raise TraceError(
                f"{name}: column 'is_write' has type {warr.type}, expected bool or 0/1"
            )
    else:
        w = np.ones(t.size, np.bool_)
    if span is None:
        finite = t[np.isfinite(t)]
        last = float(finite.max()) if finite.size else 0.0
        span = (math.floor(last * 1000 + 1e-9) + 1) / 1000
        while span <= last:
            span += 1e-3
    trace = Trace(
        touches=Touches(t, page, w),
        memory_pages=m,
        page_size=page_size,
        span=float(span),
        in_use=np.ones(m, np.bool_),
        zero_pages=np.zeros(m, np.bool_),
        service=ServiceModel(),
        generator="import",
        params={"source": src.name, "time_column": tcol},
        seed=0,
    )
    validate(trace, name, time_column=tcol)
    write_trace(trace, out)
    return trace
