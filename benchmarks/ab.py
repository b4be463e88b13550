"""A/B engine speed: the working tree against another commit, in one invocation.

    .venv/bin/python -m benchmarks.ab --base REV [--repeat 15] [--sizes 1GiB,4GiB]
        [--workloads oltp,uniform] [--cases pre_copy/fixed,pre_copy/dynamic,post_copy/bubble]
        [--span 60]

Checks ``REV`` out into a temporary detached git worktree (removed at the end) and starts two
long-lived worker processes of this same script, one importing ``migsim`` from that worktree's
``src`` (the base, "A"), one from this checkout's ``src`` (the new, "B", working-tree changes
included), each with ``PYTHONPATH`` pointing at its own tree. The controller talks to them
over stdin/stdout, one JSON line per request and per answer.

For each case (strategy x workload x VM size, as in benchmarks/engine.py: pre-copy with a
fixed and a dynamic rate limit, post-copy with bubbling prepaging, on the ``oltp`` and
``uniform`` workloads, 1 Gbit/s link) each worker builds the config from the same plain
mapping with its own ``migsim.config.from_mapping``, materializes the same workload trace in
memory (same generator, seed and ``--span`` seconds, replayed in a loop: trace generation is
not timed) and runs one warm-up simulation, which compiles or loads its numba kernels (the
caches live beside each tree's sources, so a fresh worktree compiles once). The warm-up
summaries of the two versions are compared, ``config_json`` and ``migsim_version`` aside: a
refactor changes no result, so a difference is printed as a WARNING line (a model change
shows here).

What is timed: the wall seconds (``time.perf_counter``) of ``migsim.simulate(cfg, workload)``
in the worker, after ``gc.collect()``. The runs are interleaved: in each repeat every case is
timed once in each version, base then new in even repeats and new then base in odd ones
(ABBA), so that drift and slow spells of a shared machine fall on both versions alike.

Reported per case: the median seconds of base and new, the ratio new/base of the medians with
a bootstrap 90% interval (resampling the repeat pairs), the interquartile range of the
per-pair ratios, the pairs won by new (faster than base in the same pair), and
"within 10%: yes" when the median ratio is at most 1.10 (faster is always within); a case the
base (or new) version cannot run (an option it does not know, say) is reported as "n/a". The
last line is the geometric mean of the ratios over the cases both versions ran.

It reports, it does not judge: the exit status is 0 whatever the ratios (2 for bad arguments
or a revision git does not know).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.cases import CASES, WORKLOADS

ROOT = Path(__file__).resolve().parents[1]

BANDWIDTH = "1Gbit/s"
#: summary fields that differ between versions without any change of results
IGNORED_FIELDS = ("config_json", "migsim_version")
THRESHOLD = 1.10


# --------------------------------------------------------------------------------- worker


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _build(req: dict) -> tuple[Any, Any, dict]:
    """Config, in-memory workload and warm-up summary of one case, with this migsim."""
    import migsim
    from migsim.config import from_mapping
    from migsim.units import parse_size
    from migsim.workloads import make_workload
    from migsim.workloads.tracefile import TraceWorkload, materialize

    workload = dict(req["workload"])
    if "hot_fraction" in workload:
        pages = parse_size(req["memory"]) // 4096
        workload["pages"] = max(1, int(pages * workload.pop("hot_fraction")))
    cfg = from_mapping(
        {
            "strategy": dict(req["strategy"]),
            "workload": workload,
            "vm": {"memory": req["memory"]},
            "link": {"bandwidth": req["bandwidth"]},
        }
    )
    trace = TraceWorkload(materialize(make_workload(cfg.workload, cfg.vm, cfg.seed), req["span"]))
    summary = migsim.simulate(cfg, trace).summary  # warm-up: compiles or loads the kernels
    return cfg, trace, _jsonable(dict(summary))


def worker() -> None:
    """Serve build/time requests, one JSON line each, on stdin; answer on stdout."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout = sys.stderr  # anything the library prints must not garble the protocol
    import migsim

    def answer(obj: dict) -> None:
        out.write(json.dumps(obj) + "\n")
        out.flush()

    answer({"ok": True, "version": getattr(migsim, "__version__", "?"), "path": migsim.__file__})
    cases: dict[int, tuple[Any, Any]] = {}
    for line in sys.stdin:
        req = json.loads(line)
        op = req.get("op")
        try:
            if op == "build":
                cfg, trace, summary = _build(req)
                cases[req["i"]] = (cfg, trace)
                answer({"ok": True, "summary": summary})
            elif op == "time":
                cfg, trace = cases[req["i"]]
                gc.collect()
                t0 = time.perf_counter()
                migsim.simulate(cfg, trace)
                answer({"ok": True, "seconds": time.perf_counter() - t0})
            elif op == "quit":
                answer({"ok": True})
                return
            else:
                answer({"ok": False, "error": f"unknown request {op!r}"})
        except Exception as exc:
            tb = traceback.format_exc(limit=-3)
            answer({"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": tb})


# ----------------------------------------------------------------------------- controller


class WorkerGone(RuntimeError):
    pass


class DeadWorker:
    """Stands in for a worker that could not start: every request fails."""

    def __init__(self, label: str, error: str) -> None:
        self.label, self.error = label, error
        self.version = self.path = "n/a"

    def send(self, **req: Any) -> None:
        raise WorkerGone(self.error)

    def receive(self) -> dict:
        raise WorkerGone(self.error)

    def request(self, **req: Any) -> dict:
        raise WorkerGone(self.error)

    def close(self) -> None:
        pass


class Worker:
    """A worker subprocess of this script importing ``migsim`` from ``src``."""

    def __init__(self, label: str, src: Path) -> None:
        self.label = label
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(src), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.ab", "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,  # this checkout's benchmarks package; migsim from PYTHONPATH
        )
        hello = self._read()
        self.version, self.path = hello["version"], hello["path"]
        if not Path(self.path).resolve().is_relative_to(src.resolve()):
            self.close()
            raise WorkerGone(f"{label} worker imported migsim from {self.path}, not from {src}")

    def _read(self) -> dict:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise WorkerGone(f"{self.label} worker exited (status {self.proc.poll()})")
        return json.loads(line)

    def send(self, **req: Any) -> None:
        if self.proc.poll() is not None or self.proc.stdin is None:
            raise WorkerGone(f"{self.label} worker exited (status {self.proc.poll()})")
        try:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError as exc:
            raise WorkerGone(f"{self.label} worker exited") from exc

    def receive(self) -> dict:
        return self._read()

    def request(self, **req: Any) -> dict:
        self.send(**req)
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.request(op="quit")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def summary_diff(a: dict, b: dict) -> list[str]:
    keys = sorted((set(a) | set(b)) - set(IGNORED_FIELDS))
    missing = object()
    return [
        f"{k}: {a.get(k, '(absent)')!r} -> {b.get(k, '(absent)')!r}"
        for k in keys
        if not _same(a.get(k, missing), b.get(k, missing))
    ]


def bootstrap_ratio(base: list[float], new: list[float], n: int = 4000) -> tuple[float, float]:
    """90% bootstrap interval of median(new) / median(base), resampling the pairs."""
    a, b = np.asarray(base), np.asarray(new)
    rng = np.random.default_rng(20240601)
    idx = rng.integers(0, len(a), size=(n, len(a)))
    ratios = np.median(b[idx], axis=1) / np.median(a[idx], axis=1)
    lo, hi = np.quantile(ratios, [0.05, 0.95])
    return float(lo), float(hi)


def quartiles(xs: list[float]) -> tuple[float, float]:
    if len(xs) < 2:
        return xs[0], xs[0]
    q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
    return q1, q3


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", help="git revision to compare the working tree against")
    ap.add_argument("--repeat", type=int, default=15, help="timed runs per case and version")
    ap.add_argument("--sizes", default="1GiB,4GiB")
    ap.add_argument("--workloads", default="oltp,uniform")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--span", type=float, default=60.0, help="trace seconds held in memory")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return args
    if not args.base:
        ap.error("--base REV is required")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    for name, known in (("cases", CASES), ("workloads", WORKLOADS)):
        unknown = [x for x in getattr(args, name).split(",") if x not in known]
        if unknown:
            ap.error(f"unknown {name}: {', '.join(unknown)} (known: {', '.join(known)})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker()
        return 0
    wall0 = time.perf_counter()
    try:
        base_rev = git("rev-parse", "--verify", f"{args.base}^{{commit}}")
    except subprocess.CalledProcessError as exc:
        print(f"ab.py: unknown revision {args.base!r}: {exc.stderr.strip()}", file=sys.stderr)
        return 2
    head = git("rev-parse", "--short", "HEAD")
    dirty = " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else ""
    print(f"base: {base_rev[:9]} ({args.base}) {git('log', '-1', '--format=%s', base_rev)}")
    print(f"new:  {head} (working tree{dirty})", flush=True)

    cases = [
        (case, wl, size)
        for wl in args.workloads.split(",")
        for case in args.cases.split(",")
        for size in args.sizes.split(",")
    ]
    tmp = Path(tempfile.mkdtemp(prefix="migsim-ab-"))
    tree = tmp / "base"
    workers: dict[str, Worker] = {}
    try:
        git("worktree", "add", "--detach", "--quiet", str(tree), base_rev)
        for label, src in (("base", tree / "src"), ("new", ROOT / "src")):
            try:
                workers[label] = Worker(label, src)
            except WorkerGone as exc:  # e.g. migsim does not import in that tree
                print(f"WARNING {exc}", flush=True)
                workers[label] = DeadWorker(label, str(exc))
        print(f"base imports migsim {workers['base'].version} from {workers['base'].path}")
        print(f"new imports migsim {workers['new'].version} from {workers['new'].path}")
        return run(args, cases, workers, wall0)
    finally:
        for w in workers.values():
            w.close()
        with contextlib.suppress(subprocess.CalledProcessError):
            git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(subprocess.CalledProcessError):
            git("worktree", "prune")


def run(args: argparse.Namespace, cases: list, workers: dict[str, Any], wall0: float) -> int:
    order = ("base", "new")
    ok: list[int] = []  # indices of cases both versions built
    why: dict[int, str] = {}
    print(f"building and warming up {len(cases)} cases in each version ...", flush=True)
    for i, (case, wl, size) in enumerate(cases):
        req = {
            "op": "build",
            "i": i,
            "strategy": CASES[case],
            "workload": WORKLOADS[wl],
            "memory": size,
            "bandwidth": BANDWIDTH,
            "span": args.span,
        }
        # both versions build and warm up at once (nothing is timed yet)
        answers: dict[str, dict] = {}
        for label in order:
            try:
                workers[label].send(**req)
            except WorkerGone as exc:
                answers[label] = {"ok": False, "error": str(exc)}
        for label in order:
            if label not in answers:
                try:
                    answers[label] = workers[label].receive()
                except WorkerGone as exc:
                    answers[label] = {"ok": False, "error": str(exc)}
        failed = [f"{label}: {a['error']}" for label, a in answers.items() if not a["ok"]]
        if failed:
            why[i] = "; ".join(failed)
            print(f"  {case} {wl} {size}: n/a ({why[i]})", flush=True)
            continue
        ok.append(i)
        diff = summary_diff(answers["base"]["summary"], answers["new"]["summary"])
        if diff:
            shown = "; ".join(diff[:6]) + (f"; ... ({len(diff)} fields)" if len(diff) > 6 else "")
            print(f"WARNING {case} {wl} {size}: results differ: {shown}", flush=True)

    secs: dict[str, dict[int, list[float]]] = {label: {i: [] for i in ok} for label in order}
    t_timing = time.perf_counter()
    for r in range(args.repeat):
        for i in list(ok):
            for label in order if r % 2 == 0 else order[::-1]:
                try:
                    a = workers[label].request(op="time", i=i)
                except WorkerGone as exc:
                    a = {"ok": False, "error": str(exc)}
                if not a["ok"]:
                    why[i] = f"{label}: {a['error']}"
                    print(f"  {' '.join(cases[i])}: n/a ({why[i]})", flush=True)
                    ok.remove(i)
                    break
                secs[label][i].append(a["seconds"])
    timing_s = time.perf_counter() - t_timing

    print()
    print(
        f"median seconds of {args.repeat} interleaved (ABBA) runs per case and version; "
        f"ratio new/base of the medians [bootstrap 90%] (IQR of pair ratios); link {BANDWIDTH}"
    )
    header = (
        f"{'case':17} {'workload':8} {'memory':6} {'base s':>9} {'new s':>9} {'ratio':>6} "
        f"{'[90%]':>13} {'(pair IQR)':>13} {'won':>6}  within 10%"
    )
    print(header)
    print("-" * len(header))
    logs = []
    for i, (case, wl, size) in enumerate(cases):
        lead = f"{case:17} {wl:8} {size:6}"
        if i not in ok:
            print(f"{lead} {'n/a':>9} {'n/a':>9} {'n/a':>6} {'':13} {'':13} {'':6}  n/a")
            continue
        base, new = secs["base"][i], secs["new"][i]
        mb, mn = statistics.median(base), statistics.median(new)
        ratio = mn / mb
        logs.append(math.log(ratio))
        lo, hi = bootstrap_ratio(base, new)
        q1, q3 = quartiles([n / b for b, n in zip(base, new, strict=True)])
        won = sum(n < b for b, n in zip(base, new, strict=True))
        print(
            f"{lead} {mb:9.4f} {mn:9.4f} {ratio:6.3f} {f'[{lo:.2f}-{hi:.2f}]':>13} "
            f"{f'({q1:.2f}-{q3:.2f})':>13} {f'{won}/{len(base)}':>6}  "
            f"{'yes' if ratio <= THRESHOLD else 'no'}"
        )
    if logs:
        print(
            f"geometric-mean ratio new/base over {len(logs)} cases: {math.exp(np.mean(logs)):.3f}"
        )
    else:
        print("geometric-mean ratio new/base: n/a (no case ran in both versions)")
    print(
        f"timed runs {timing_s:.0f} s; total {time.perf_counter() - wall0:.0f} s "
        f"(worktree, warm-up and kernel compilation included)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
