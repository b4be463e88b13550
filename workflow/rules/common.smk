# Parse-time work: expand the sweep into points, validate every point, cut batches, and
# the helper functions the rules use (no lambdas in rules), the paper rules' included.

import json
import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

try:
    import migsim
except ImportError:  # not installed: use the source tree next to the Snakefile
    sys.path.append(str(Path(workflow.basedir) / "src"))

from migsim import experiments as migexperiments
from migsim import sweep as migsweep
from migsim.units import parse_rate, parse_size

RESULTS = config["results"].rstrip("/")


def _load_sweep():
    try:
        points = migsweep.expand(config)
        migsweep.check_points(points)
        batches = migsweep.batches(points, config["simulate"]["batch_size"])
    except migsweep.SweepError as exc:
        raise WorkflowError(f"invalid configuration: {exc}") from None
    return points, batches


POINTS, BATCHES = _load_sweep()
WORKLOADS = list(dict.fromkeys(p.workload for p in POINTS))
VARIANTS = list(dict.fromkeys(p.variant for p in POINTS))
BANDWIDTHS = list(dict.fromkeys(p.bandwidth for p in POINTS))
MEMORIES = list(dict.fromkeys(p.memory for p in POINTS))
SEEDS = list(dict.fromkeys(p.seed for p in POINTS))
ENGINE_FINGERPRINT = migsweep.engine_fingerprint()
METRICS_FINGERPRINT = migsweep.analysis_fingerprint("metrics")
FIGURES_FINGERPRINT = migsweep.analysis_fingerprint("metrics", "figures")
TABLES_FINGERPRINT = migsweep.analysis_fingerprint("metrics", "tables")
SCENARIO_FINGERPRINT = migsweep.engine_fingerprint(extra=("scenario",))
SCENARIO_FIGURES_FINGERPRINT = migsweep.analysis_fingerprint(
    "figures", "scenario_figures"
)


wildcard_constraints:
    workload="[A-Za-z0-9][A-Za-z0-9_.-]*",
    variant="[A-Za-z0-9][A-Za-z0-9_.-]*",
    batch="[0-9]+",


def _dataset_files(table):
    return [
        f"{RESULTS}/{table}/workload={w}/variant={v}/part-{b}.parquet"
        for (w, v), groups in BATCHES.items()
        for b in migsweep.batch_ids(len(groups))
    ]


SUMMARY_FILES = _dataset_files("runs")
ROUNDS_FILES = _dataset_files("rounds")
TIMELINE_FILES = _dataset_files("timeline")


def batch_points(wildcards):
    """The points of one simulate job, as canonical JSON (a param: editing them reruns it)."""
    groups = BATCHES[(wildcards.workload, wildcards.variant)]
    return migsweep.points_to_json(groups[int(wildcards.batch)])


def reference_bandwidth():
    """The bandwidth label of the bar chart and time series (analysis.reference_bandwidth)."""
    ref = config["analysis"].get("reference_bandwidth")
    if ref is None:
        return BANDWIDTHS[len(BANDWIDTHS) // 2]
    for bw in BANDWIDTHS:
        if parse_rate(bw) == parse_rate(ref):
            return bw
    raise WorkflowError(
        f"invalid configuration: analysis.reference_bandwidth: {ref!r} is not one of "
        f"sweep.bandwidths ({', '.join(BANDWIDTHS)})"
    )


REFERENCE_BANDWIDTH = reference_bandwidth()


def timeline_workloads():
    """Workloads whose service rate over time is plotted (those of the sweep only)."""
    return [w for w in config["analysis"]["timeline_workloads"] if w in WORKLOADS]


def timeline_files(wildcards):
    """Timeline Parquet files of one workload (every variant)."""
    return [
        f"{RESULTS}/timeline/workload={w}/variant={v}/part-{b}.parquet"
        for (w, v), groups in BATCHES.items()
        if w == wildcards.workload
        for b in migsweep.batch_ids(len(groups))
    ]


def timeline_seed():
    seed = config["analysis"].get("timeline_seed")
    return SEEDS[0] if seed is None else int(seed)


def dw_memory():
    mem = config["analysis"].get("dw_memory")
    return MEMORIES[0] if mem is None else str(mem)


def workload_mapping(wildcards):
    """The run mapping of the first point of a workload (for its d(w) curve), as JSON."""
    first = next(p for p in POINTS if p.workload == wildcards.workload)
    mapping = dict(first.mapping)
    mapping["vm"] = {**mapping["vm"], "memory": dw_memory()}
    return json.dumps(mapping, sort_keys=True)


def variant_order():
    """Variant names in config order, as JSON (the legend order of every figure)."""
    return json.dumps(VARIANTS)


def figure_paths(name):
    return {ext: f"{RESULTS}/figures/{name}.{ext}" for ext in ("pdf", "png")}


def all_outputs():
    """Every final output: the datasets, figures and tables."""
    out = [
        rules.aggregate.output.aggregate,
        rules.figure_bars.output.png,
        rules.figure_decision_map.output.png,
        rules.figure_precopy_rounds.output.png,
        rules.figure_dw.output.png,
        rules.tables.output.csv,
    ]
    out += expand(
        f"{RESULTS}/figures/headline/{{workload}}.{{ext}}",
        workload=WORKLOADS,
        ext=["pdf", "png"],
    )
    out += expand(
        f"{RESULTS}/figures/service_rate/{{workload}}.{{ext}}",
        workload=timeline_workloads(),
        ext=["pdf", "png"],
    )
    return out


def scenario_names():
    """The scenario files of config/scenarios/ (the scenarios target), by stem."""
    return sorted(p.stem for p in Path("config/scenarios").glob("*.yaml"))


def scenario_outputs():
    """Every scenario's figure (its tables come with it)."""
    return expand(
        f"{RESULTS}/figures/scenarios/{{scenario}}.{{ext}}",
        scenario=scenario_names(),
        ext=["pdf", "png"],
    )


def print_summary():
    """Print the summary table written by the tables rule (onsuccess)."""
    path = Path(f"{RESULTS}/tables/summary.txt")
    if path.exists():
        print(path.read_text())


# ---------------------------------------------------------------------------------------------
# The paper target (workflow/rules/paper.smk, which loads the paper config as PAPER).


def paper_requested():
    """Whether this invocation needs the paper rules, and so reads config/paper.yaml.

    Snakemake parses the workflow before it hands over the targets, so this reads the command
    line: the `paper` target or another paper rule or job (`paper_*`, as in a cluster job's
    --target-jobs), a file in a `paper/` directory or named validation.md or validation.csv,
    or --lint and the rule listings. A default run never reads or validates the paper config.
    """
    listings = {"--lint", "--list-rules", "-l", "--list-target-rules", "--lt"}
    for arg in sys.argv[1:]:
        path = Path(arg)
        if (
            arg in listings
            or re.fullmatch(r"paper(_\w+)?(:.*)?", arg)
            or "paper" in path.parts[:-1]
            or path.name in ("validation.md", "validation.csv")
        ):
            return True
    return False


def paper_runs(wildcards):
    """The runs of one paper_simulate job as canonical JSON (editing them reruns the job)."""
    runs = migexperiments.experiment_runs(PAPER, wildcards.experiment, wildcards.part)
    return json.dumps(runs, sort_keys=True, separators=(",", ":"))


def paper_keep_timeline(wildcards):
    """Whether a paper_simulate job keeps its timelines."""
    return wildcards.experiment in migexperiments.TIMELINE_EXPERIMENTS


def paper_table(experiment, table):
    """One table (summary, rounds, timeline) of every part of an experiment:
    <results>/paper/runs/<experiment>/<part>/<table>.parquet."""
    return [
        f"{PR}/runs/{experiment}/{part}/{table}.parquet"
        for part in migexperiments.experiment_parts(PAPER, experiment)
    ]


def paper_figure(name, ext):
    """<results>/paper/figures/<name>.<ext>."""
    return f"{PR}/figures/{name}.{ext}"


def paper_wws_files():
    """The WWS tables of every workload of figure 1."""
    return [f"{PR}/wws/{w}.parquet" for w in PAPER["wws"]["workloads"]]


def paper_clark_downtime_pngs():
    """The PNG of every workload of figure 2."""
    return [
        paper_figure(f"clark_figs3-6_downtime_{w}", "png")
        for w in PAPER["clark_downtime"]["workloads"]
    ]


def paper_validation_inputs():
    """Every experiment's summaries and the NetPerf timelines, by name."""
    out = {e: paper_table(e, "summary") for e in migexperiments.EXPERIMENTS}
    out["netperf_timeline"] = paper_table("hines_netperf", "timeline")
    return out


def paper_fault_variants():
    """The post-copy variants of the network-fault figure."""
    return [
        v
        for v, spec in PAPER["hines_apps"]["variants"].items()
        if spec.get("strategy") == "post_copy"
    ]
