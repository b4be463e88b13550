"""WWS analysis: exact window counts against a brute force, and the frames' shapes."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from migsim.workloads import GENERATORS
from migsim.workloads.base import Touches
from migsim.workloads.wws import (
    d_curve,
    dirty_per_sample,
    trace_summary,
    window_counts,
    wws_timeline,
)


def _brute(tt: Touches, span: float, window_bins: int, sample: float) -> np.ndarray:
    nbins = round(span / sample)
    b = np.floor(tt.t / sample).astype(int)
    out = []
    for s in range(nbins - window_bins + 1):
        sel = tt.is_write & (b >= s) & (b < s + window_bins)
        out.append(np.unique(tt.page[sel]).size)
    return np.array(out, dtype=np.int64)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 199), st.integers(0, 9), st.booleans()), min_size=0, max_size=80
    ),
    st.integers(1, 20),
)
def test_window_counts_match_brute_force(rows: list, m: int) -> None:
    rows.sort()
    t = np.array([r[0] * 0.05 + 0.001 for r in rows], dtype=np.float64)
    tt = Touches(t, np.array([r[1] for r in rows], np.int64), np.array([r[2] for r in rows], bool))
    got = window_counts(tt, m * 0.05, 0.05, span=10.0)
    assert np.array_equal(got, _brute(tt, 10.0, m, 0.05))


def test_frames() -> None:
    wl = GENERATORS["game_server"](memory_pages=131072, seed=1)
    tt = wl.touches(0.0, 20.0)
    dw = d_curve(tt, windows=(0.05, 1.0, 8.0, 32.0), span=20.0)
    assert dw["w_s"].to_list() == [0.05, 1.0, 8.0]  # 32 s is longer than the span
    assert (dw["min"] <= dw["mean"]).all() and (dw["mean"] <= dw["max"]).all()
    assert dw["mean"].is_sorted()
    wws = wws_timeline(tt, window=8.0, sample=0.05, span=20.0)
    assert wws.columns == ["t_start", "t_end", "wws_pages", "wws_mib"]
    assert wws.height == round((20.0 - 8.0) / 0.05) + 1
    assert wws["wws_pages"].to_numpy()[0] == window_counts(tt, 8.0, 0.05, span=20.0)[0]
    per = dirty_per_sample(tt, span=20.0)
    assert per.height == 400 and per.schema["pages"] == pl.Int64
    s = trace_summary(tt, 20.0)
    assert s["touches"] == len(tt) and 0 < s["read_fraction"] < 1


def test_workload_source_and_empty() -> None:
    wl = GENERATORS["idle"](memory_pages=1000)
    assert d_curve(wl, span=10.0)["mean"].sum() == 0
    wl = GENERATORS["uniform"](memory_pages=1000, rate=100.0)
    assert wws_timeline(wl, span=4.0).height == 0  # shorter than one 8 s window
