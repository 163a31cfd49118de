"""Side-by-side benchmark of ``rgg.rank_genes_groups``, scanpy and other peers.

Run ``python benchmarks/compare_scanpy.py --size S`` (XS, S, M or L). The peers are
``scanpy.tl.rank_genes_groups`` and, where installed (``pip install -e .[bench]``), illico,
hpdex and pegasus, each on the cases it supports (``peers.py``). Every (tool, case)
measurement runs in its own worker process (``--worker TOOL``), which loads the cached
dataset, times the calls and measures peak memory; the parent collects the workers' JSON,
checks that every peer's scores agree with rgg's and writes a markdown table, a JSON file
and a plot to ``benchmarks/results/``. With scanpy >= 1.13 the peer ``scanpy-illico`` runs
scanpy's Wilcoxon cases with ``method='wilcoxon_illico'``. The generated data are cached in
``$RGG_BENCH_DATA``, else ``~/.cache/rgg-bench`` (``--data-dir``). See
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.util
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
from datagen import (
    DEFAULT_DATA_DIR,
    DatasetSpec,
    cached_dataset,
    make_dataset,
    read_for_ranking,
)
from peers import hpdex_runner, illico_runner, pegasus_runner

__all__ = ["CASES", "SIZES", "TOOLS", "Case", "Tool", "main", "make_dataset"]

HERE = Path(__file__).resolve().parent
GROUPBY = "group"
MB = 2**20
#: Scores compared per group, and the relative tolerance of the comparison.
TOP_N = 10
RTOL = 1e-4
#: Genes tested by the agreement check when the full scanpy run is skipped.
CHECK_GENES = 1000

SIZES: dict[str, DatasetSpec] = {
    #: For checking the harness and the peers' agreement, not for timing.
    "XS": DatasetSpec(2_000, 500),
    "S": DatasetSpec(10_000, 5_000),
    "M": DatasetSpec(50_000, 20_000),
    "L": DatasetSpec(200_000, 20_000),
}


@dataclass(frozen=True)
class Case:
    """One ``rank_genes_groups`` configuration.

    Attributes
    ----------
    name
        Identifier used on the command line and in file names.
    label
        Description for the table.
    method
        ``method`` argument.
    params
        Further keyword arguments, the same for every tool.
    vs_largest
        Compare each group against the largest group (``reference=``) instead of the rest.
    """

    name: str
    label: str
    method: str
    params: Mapping[str, Any] = field(default_factory=dict)
    vs_largest: bool = False

    def kwargs(self, adata: Any) -> dict[str, Any]:
        """Keyword arguments of ``rank_genes_groups`` (besides ``groupby``) on ``adata``."""
        kwargs = {"method": self.method, **self.params}
        if self.vs_largest:
            kwargs["reference"] = str(adata.obs[GROUPBY].value_counts().idxmax())
        return kwargs


CASES: tuple[Case, ...] = (
    Case(
        "wilcoxon",
        "wilcoxon, one-vs-rest, tie_correct, pts",
        "wilcoxon",
        {"tie_correct": True, "pts": True},
    ),
    Case("wilcoxon_ref", "wilcoxon vs largest group", "wilcoxon", vs_largest=True),
    Case("t-test", "t-test, pts", "t-test", {"pts": True}),
    Case(
        "t-test_overestim_var", "t-test_overestim_var, pts", "t-test_overestim_var", {"pts": True}
    ),
    Case("logreg", "logreg (max_iter=100)", "logreg"),
)
CASES_BY_NAME = {case.name: case for case in CASES}

Runner = Callable[..., None]


# --- tools --------------------------------------------------------------------------------


def rgg_runner(n_jobs: int) -> Runner:
    """``rank_genes_groups`` of rgg with ``n_jobs`` threads."""
    import rgg

    def run(adata: Any, groupby: str, **kwargs: Any) -> None:
        rgg.rank_genes_groups(adata, groupby, n_jobs=n_jobs, **kwargs)

    return run


def scanpy_runner(n_jobs: int) -> Runner:
    """``rank_genes_groups`` of scanpy with ``sc.settings.n_jobs = n_jobs``.

    scanpy >= 1.12.2 runs its Wilcoxon test on ``sc.settings.n_jobs`` Numba threads (default
    1 in 1.12, 4 in 1.13), older versions on one thread whatever the setting; the other
    methods do not read it.
    """
    import scanpy as sc

    sc.settings.n_jobs = n_jobs
    sc.settings.verbosity = 0

    def run(adata: Any, groupby: str, **kwargs: Any) -> None:
        sc.tl.rank_genes_groups(adata, groupby, **kwargs)

    return run


#: scanpy's method that computes its Wilcoxon statistic with illico (scanpy >= 1.13; the
#: plain ``wilcoxon`` from scanpy 2.0 and under the ``ScanpyV2Preview`` preset).
SCANPY_ILLICO_METHOD = "wilcoxon_illico"


def scanpy_illico_runner(n_jobs: int) -> Runner:
    """scanpy's ``rank_genes_groups`` for ``method='wilcoxon_illico'`` (the tool's ``method``).

    Under scanpy's default preset (``ScanpyV1``) that method name warns that it will become
    the plain ``wilcoxon`` in scanpy 2.0 (a ``DeprecationWarning``); the warning is ignored.
    ``sc.settings.n_jobs = n_jobs`` as for ``scanpy``: scanpy passes it to illico as
    ``n_threads``.
    """
    run_scanpy = scanpy_runner(n_jobs)

    def run(adata: Any, groupby: str, **kwargs: Any) -> None:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", message=".*wilcoxon_illico", category=DeprecationWarning
            )
            run_scanpy(adata, groupby, **kwargs)

    return run


def scanpy_has_illico_method() -> bool:
    """Whether the installed scanpy (>= 1.13, without importing it) has ``wilcoxon_illico``."""
    try:
        installed = version("scanpy")
    except PackageNotFoundError:
        return False
    from packaging.version import InvalidVersion, Version

    try:
        return Version(installed) >= Version("1.13.0a1")
    except InvalidVersion:
        return False


#: How a peer's agreement with the subject is checked on a case: ``"scores"`` (the top
#: scores of every group, in order), ``"pvals"`` (the p-values of the subject's top genes,
#: looked up by name), or ``"n/a: <reason>"`` (not comparable).
Check = str


@dataclass(frozen=True)
class Tool:
    """A tool taking part in the benchmark.

    Attributes
    ----------
    factory
        ``factory(n_jobs)`` returns ``run(adata, groupby, **kwargs)``, which leaves its results
        in ``adata.uns['rank_genes_groups']`` in scanpy's layout.
    module
        Import name; the tool takes part only if it can be imported.
    dist
        Distribution name, for its version.
    checks
        Case name -> how agreement is checked (see ``Check``); the tool runs only these
        cases. ``None``: every case, comparing scores.
    separate_first
        Time the first call on its own and leave it out of the median and the peak (for
        tools that compile kernels or start worker processes on their first call).
    mask_var
        Accepts scanpy's ``mask_var`` (otherwise the subset check gives it a column subset).
    processes
        Works in child processes, whose summed RSS is sampled as well.
    notes
        Case name -> footnote for the table.
    available
        Whether the tool can run here, if importing ``module`` is not enough to tell.
    also_versions
        Further distributions whose versions the results record (what the tool runs on).
    method
        ``method`` the tool is called with instead of the case's (the subject keeps the
        case's).
    """

    factory: Callable[[int], Runner]
    module: str
    dist: str
    checks: Mapping[str, Check] | None = None
    separate_first: bool = True
    mask_var: bool = False
    processes: bool = False
    notes: Mapping[str, str] = field(default_factory=dict)
    available: Callable[[], bool] | None = None
    also_versions: tuple[str, ...] = ()
    method: str | None = None

    def __call__(self, n_jobs: int) -> Runner:
        return self.factory(n_jobs)

    def supports(self, case: str) -> bool:
        """Whether the tool runs ``case``."""
        return self.checks is None or case in self.checks

    def check(self, case: str) -> Check:
        """How agreement is checked on ``case``."""
        return "scores" if self.checks is None else self.checks[case]

    def kwargs(self, case: Case, adata: Any) -> dict[str, Any]:
        """Keyword arguments of the tool's calls on ``case`` (the case's, but ``method``)."""
        kwargs = case.kwargs(adata)
        if self.method is not None:
            kwargs["method"] = self.method
        return kwargs

    def installed(self) -> bool:
        """Whether the tool can be imported (and, if it says how to tell, run) here."""
        if importlib.util.find_spec(self.module) is None:
            return False
        return self.available is None or self.available()


#: Tool name -> its description. Add peers here (runners of third-party tools: ``peers.py``).
TOOLS: dict[str, Tool] = {
    "rgg": Tool(rgg_runner, "rgg", "rgg", mask_var=True),
    "scanpy": Tool(scanpy_runner, "scanpy", "scanpy", separate_first=False, mask_var=True),
    "scanpy-illico": Tool(
        scanpy_illico_runner,
        "scanpy",
        "scanpy",
        checks={"wilcoxon": "scores", "wilcoxon_ref": "scores"},
        # illico's Numba kernels compile on the first call (about 13 s)
        separate_first=True,
        mask_var=True,
        notes=dict.fromkeys(
            ("wilcoxon", "wilcoxon_ref"),
            "scanpy's method='wilcoxon_illico' (its Wilcoxon statistic computed by illico); "
            "rgg runs method='wilcoxon'. The first call compiles illico's kernels.",
        ),
        available=scanpy_has_illico_method,
        also_versions=("illico",),
        method=SCANPY_ILLICO_METHOD,
    ),
    "illico": Tool(
        illico_runner,
        "illico",
        "illico",
        checks={"wilcoxon": "scores", "wilcoxon_ref": "scores"},
        notes={"wilcoxon": "illico computes no pts (fraction of cells expressing)."},
    ),
    "hpdex": Tool(
        hpdex_runner,
        "hpdex",
        "hpdex",
        checks={"wilcoxon_ref": "pvals"},
        notes={"wilcoxon_ref": "hpdex converts X to CSC inside the call."},
    ),
    "pegasus": Tool(
        pegasus_runner,
        "pegasus",
        "pegasuspy",
        checks={
            "wilcoxon": "n/a: reports U and continuity-corrected float32 p-values, no z",
            "t-test": "scores",
        },
        processes=True,
        notes={
            "wilcoxon": "pegasus also computes AUROC, log2 fold changes and percentages.",
            "t-test": "pegasus computes Welch's t on top of its Mann-Whitney U test and "
            "AUROC, which it always runs.",
        },
    ),
}
#: The tool being benchmarked; the others are its peers, checked against it.
SUBJECT = "rgg"


# --- measuring inside a worker ------------------------------------------------------------


def current_rss() -> int:
    """Resident set size of this process now, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """Peak resident set size of this process, in bytes.

    Linux's ``VmHWM``, which ``reset_peak_rss`` resets. ``ru_maxrss`` is not used there: after
    ``exec`` it starts from the peak of the process that spawned this one, so a worker started
    by a parent that had just generated a large dataset reported the parent's peak.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> bool:
    """Reset the peak RSS to the current RSS (Linux ``clear_refs``); False if impossible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def matrix_bytes(x: Any) -> int:
    """Bytes of a sparse matrix's ``data``, ``indices`` and ``indptr`` (or a dense array)."""
    if hasattr(x, "indptr"):
        return x.data.nbytes + x.indices.nbytes + x.indptr.nbytes
    return np.asarray(x).nbytes


class ChildrenPeak:
    """Peak of the summed RSS of this process's descendants, sampled in a background thread.

    For tools that work in child processes (pegasus' loky workers), whose memory
    ``ru_maxrss`` of this process does not see. The list of descendants is refreshed every
    second and their RSS read every ``interval`` seconds, so a short-lived peak can be missed.
    """

    def __init__(self, interval: float = 0.05) -> None:
        import psutil

        self._psutil = psutil
        self._process = psutil.Process()
        self._interval = interval
        self._children: list[Any] = []
        self._listed = -math.inf
        self._peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def current(self) -> int:
        """Summed RSS of the descendants now, in bytes."""
        if time.monotonic() - self._listed > 1.0:
            self._children = self._process.children(recursive=True)
            self._listed = time.monotonic()
        total = 0
        for child in self._children:
            with contextlib.suppress(self._psutil.Error):
                total += child.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.wait(self._interval):
            self._peak = max(self._peak, self.current())

    def __enter__(self) -> ChildrenPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        """Start a new peak from the current value."""
        self._listed = -math.inf
        self._peak = self.current()

    def peak(self) -> int:
        """Peak since the last ``reset``, in bytes."""
        self._listed = -math.inf
        return max(self._peak, self.current())


def timed_call(run: Runner, adata: Any, kwargs: Mapping[str, Any]) -> float:
    """Wall time of one call, in seconds, after collecting garbage."""
    gc.collect()
    start = time.perf_counter()
    run(adata, GROUPBY, **kwargs)
    return time.perf_counter() - start


def top_scores(adata: Any, n: int = TOP_N) -> dict[str, list[float]]:
    """The ``n`` best scores of every group in ``adata.uns['rank_genes_groups']``."""
    scores = adata.uns["rank_genes_groups"]["scores"]
    return {
        group: np.asarray(scores[group][:n], dtype=float).tolist() for group in scores.dtype.names
    }


def top_genes(adata: Any, n: int = TOP_N) -> dict[str, dict[str, list]]:
    """Names and p-values (if any) of the ``n`` best genes of every group.

    Returns
    -------
    ``top_names`` and, unless the method reports no p-values (logreg), ``top_pvals``.
    """
    result = adata.uns["rank_genes_groups"]
    groups = result["names"].dtype.names
    genes = {"top_names": {g: [str(name) for name in result["names"][g][:n]] for g in groups}}
    if "pvals" in result:
        genes["top_pvals"] = {
            g: np.asarray(result["pvals"][g][:n], dtype=float).tolist() for g in groups
        }
    return genes


def pvals_of(adata: Any, names: Mapping[str, Sequence[str]]) -> dict[str, list[float]]:
    """P-values that ``adata.uns['rank_genes_groups']`` gives the genes ``names`` of each group."""
    result = adata.uns["rank_genes_groups"]
    found = {}
    for group in result["names"].dtype.names:
        pvals = np.asarray(result["pvals"][group], dtype=float)
        lookup = dict(zip(result["names"][group], pvals, strict=True))
        found[group] = [lookup.get(name, math.nan) for name in names.get(group, [])]
    return found


def compare_scores(
    ours: Mapping[str, Sequence[float]],
    theirs: Mapping[str, Sequence[float]],
    rtol: float = RTOL,
    atol: float = 1e-8,
    floor: float = 1e-12,
) -> dict[str, Any]:
    """Whether two tools' top values agree (``np.allclose`` per group with ``rtol``, ``atol``).

    Returns
    -------
    ``ok``, the largest relative difference ``max_rel_diff`` (relative to ``theirs``, at
    least ``floor``) and ``rtol``.
    """
    if set(ours) != set(theirs):
        return {"ok": False, "max_rel_diff": math.inf, "rtol": rtol, "note": "different groups"}
    ok, worst = True, 0.0
    for group, values in ours.items():
        a, b = np.asarray(values, dtype=float), np.asarray(theirs[group], dtype=float)
        if a.shape != b.shape:
            ok = False
            continue
        # relative to at least `floor`, so that 0 and a subnormal p-value (both underflowed)
        # agree; NaN in either disagrees
        scale = np.maximum(np.abs(b), floor)
        ok &= bool(np.all(np.abs(a - b) <= atol + rtol * scale))
        if a.size:
            worst = max(worst, float(np.max(np.abs(a - b) / scale)))
    return {"ok": bool(ok), "max_rel_diff": worst, "rtol": rtol}


def agreement(check: Check, subject: Mapping[str, Any], adata: Any) -> dict[str, Any]:
    """Agreement of the results in ``adata`` with the ``subject``'s record, as ``check`` says.

    ``"scores"``: the top scores of every group, position by position. ``"pvals"``: the
    p-values of the subject's top genes, looked up by name, with no absolute tolerance (the
    relative difference is taken against at least 1e-300, so two underflowed p-values agree).
    """
    if check == "scores":
        return {**compare_scores(subject["top_scores"], top_scores(adata)), "compared": "scores"}
    if check == "pvals":
        theirs = pvals_of(adata, subject["top_names"])
        result = compare_scores(subject["top_pvals"], theirs, atol=0.0, floor=1e-300)
        return {**result, "compared": "p-values"}
    return {"ok": None, "note": check.removeprefix("n/a: ")}


def measure(
    tool: str, case: Case, data: Path, repeats: int, n_jobs: int, separate_first: bool
) -> tuple[dict[str, Any], Any]:
    """Load ``data``, time ``repeats`` calls of ``tool`` on ``case`` and track peak memory.

    With ``separate_first``, one call is timed separately first (for rgg it includes
    loading or compiling the Numba kernels) and left out of the median and the peak.
    Peak extra memory is the peak RSS over the measured calls minus the RSS after
    loading the data; the peak is reset after loading and again after the first call.
    For tools that work in child processes their summed RSS is sampled as well.

    Returns
    -------
    The record, and the AnnData holding the last call's results.
    """
    spec = TOOLS[tool]
    run = spec(n_jobs)
    adata = read_for_ranking(data)
    kwargs = spec.kwargs(case, adata)
    children = ChildrenPeak() if spec.processes else contextlib.nullcontext()
    with children:
        gc.collect()
        rss_loaded = current_rss()
        can_reset = reset_peak_rss()

        first_s = timed_call(run, adata, kwargs)
        peak_first = peak_rss()
        children_first = children.peak() if spec.processes else None
        gc.collect()
        rss_after_first = current_rss()
        children_after_first = children.current() if spec.processes else None
        reset_peak_rss()
        if spec.processes:
            children.reset()
        n_more = repeats - (0 if separate_first else 1)
        times = [timed_call(run, adata, kwargs) for _ in range(n_more)]
        children_steady = children.peak() if spec.processes and times else children_first
    if not separate_first:
        times.insert(0, first_s)
    steady = times[1:] if not separate_first else times
    peak_steady = peak_rss() if steady else peak_first
    record = {
        "tool": tool,
        "version": version(spec.dist),
        "case": case.name,
        "kwargs": {key: str(value) for key, value in kwargs.items()},
        "n_jobs": n_jobs,
        "separate_first": separate_first,
        "x_bytes": matrix_bytes(adata.X),
        "x_nnz": int(adata.X.nnz) if hasattr(adata.X, "nnz") else int(np.count_nonzero(adata.X)),
        "rss_loaded_mb": rss_loaded / MB,
        "rss_after_first_mb": rss_after_first / MB,
        "peak_reset": can_reset,
        "first_call_s": first_s,
        "times_s": times,
        "median_s": statistics.median(times),
        "peak_extra_first_mb": (peak_first - rss_loaded) / MB,
        "peak_extra_mb": (peak_steady - rss_loaded) / MB,
        "peak_working_mb": (peak_steady - rss_after_first) / MB if steady else None,
        "top_scores": top_scores(adata),
        **top_genes(adata),
        **scanpy_settings(),
    }
    if spec.processes:
        record["peak_children_first_mb"] = children_first / MB
        record["children_after_first_mb"] = children_after_first / MB
        record["peak_children_mb"] = children_steady / MB
        record["peak_children_working_mb"] = (
            (children_steady - children_after_first) / MB if steady else None
        )
    return record, adata


def scanpy_settings() -> dict[str, Any]:
    """scanpy's ``n_jobs`` and preset (scanpy >= 1.13) if the worker imported scanpy."""
    sc = sys.modules.get("scanpy")
    settings = getattr(sc, "settings", None)
    if settings is None:
        return {}
    found = {"scanpy_n_jobs": settings.n_jobs}
    if getattr(settings, "preset", None) is not None:
        found["scanpy_preset"] = str(settings.preset)
    return found


def check_on_subset(case: Case, data: Path, n_genes: int, n_jobs: int, peer: str) -> dict[str, Any]:
    """Agreement of ``peer`` with the subject on the first ``n_genes`` genes (one call each).

    Tools that accept ``mask_var`` get it; the others get a copy of those genes' columns.
    """
    adata = read_for_ranking(data)
    n_genes = min(n_genes, adata.n_vars)
    mask = np.zeros(adata.n_vars, dtype=bool)
    mask[:n_genes] = True

    def run(tool: str) -> Any:
        spec = TOOLS[tool]
        target = adata if spec.mask_var else adata[:, mask].copy()
        extra = {"mask_var": mask} if spec.mask_var else {}
        spec(n_jobs)(target, GROUPBY, **spec.kwargs(case, adata), **extra)
        return target

    subject = run(SUBJECT)
    record = {"top_scores": top_scores(subject), **top_genes(subject)}
    result = agreement(TOOLS[peer].check(case.name), record, run(peer))
    return {"case": case.name, "n_genes": n_genes, "agreement": {peer: result}}


def worker(args: argparse.Namespace) -> None:
    """Entry point of a worker process: measure (or check) one case, write JSON to ``--out``."""
    case = CASES_BY_NAME[args.case]
    if args.worker == "check":
        result = check_on_subset(case, args.data, args.check_genes, args.n_jobs, args.peer)
    else:
        spec = TOOLS[args.worker]
        result, adata = measure(
            args.worker, case, args.data, args.repeats, args.n_jobs, spec.separate_first
        )
        if args.compare is not None:
            subject = json.loads(args.compare.read_text())
            result["agreement"] = agreement(spec.check(case.name), subject, adata)
    args.out.write_text(json.dumps(result, indent=1))


# --- driving the workers ------------------------------------------------------------------


def spawn(mode: str, case: Case, data: Path, out: Path, **options: Any) -> dict[str, Any]:
    """Run a worker process and return its JSON (or ``{'error': ...}`` if it failed)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", mode]
    command += ["--case", case.name, "--data", str(data), "--out", str(out)]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    log(f"  {mode:8s} {case.name} ...")
    start = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        log(finished.stderr[-3000:])
        last = (finished.stderr.strip().splitlines() or [""])[-1]
        return {"error": f"worker exited with {finished.returncode}", "last_error": last[:300]}
    log(f"  {mode:8s} {case.name} done in {time.perf_counter() - start:.0f} s")
    return json.loads(out.read_text())


def cost_factor(spec: DatasetSpec, base: DatasetSpec) -> float:
    """Expected run-time ratio of ``spec`` to ``base``: genes x cells x log(cells)."""
    return (spec.n_genes * spec.n_cells * math.log(spec.n_cells)) / (
        base.n_genes * base.n_cells * math.log(base.n_cells)
    )


def estimate_peer_seconds(size: str, results_dir: Path) -> dict[str, dict[str, float]]:
    """Per tool and case, the median seconds expected at ``size``, scaled from size S results."""
    base_file = results_path(results_dir, "S", "json")
    if size == "S" or not base_file.exists():
        return {}
    base = json.loads(base_file.read_text())
    factor = cost_factor(SIZES[size], SIZES["S"])
    estimates: dict[str, dict[str, float]] = {}
    for row in base["rows"]:
        for tool, record in row["peers"].items():
            if "median_s" in record:
                estimates.setdefault(tool, {})[row["case"]] = record["median_s"] * factor
    return estimates


def peer_repeats(estimate: float | None, repeats: int, budget: float, single_budget: float) -> int:
    """Calls to make of a peer expected to take ``estimate`` s per call (0: skip it)."""
    if estimate is None or estimate <= budget:
        return repeats
    return 1 if estimate <= single_budget else 0


def peer_runs_for(runs: Mapping[tuple[str | None, str], int], tool: str, case: str, n: int) -> int:
    """Calls of ``tool`` on ``case``: ``--peer-runs TOOL:CASE=N``, else ``CASE=N``, else ``n``."""
    return runs.get((tool, case), runs.get((None, case), n))


def run_case(
    case: Case, data: Path, work: Path, args: argparse.Namespace, estimates: Mapping
) -> dict[str, Any]:
    """Measure the subject and the peers that support ``case``; check their agreement."""
    subject_out = work / f"{SUBJECT}_{case.name}.json"
    row: dict[str, Any] = {"case": case.name, "label": case.label}
    row["subject"] = spawn(
        SUBJECT, case, data, subject_out, repeats=args.repeats, n_jobs=args.n_jobs
    )
    row["peers"] = {}
    for tool in args.tools:
        spec = TOOLS[tool]
        if tool == SUBJECT or not spec.supports(case.name):
            continue
        estimate = estimates.get(tool, {}).get(case.name)
        n = peer_repeats(estimate, args.repeats, args.peer_budget, args.peer_single_budget)
        n = peer_runs_for(args.peer_runs, tool, case.name, n)
        if n == 0 or "error" in row["subject"]:
            reason = "skipped (too slow)" if n == 0 else f"skipped ({SUBJECT} failed)"
            record: dict[str, Any] = {"skipped": reason, "estimate_s": estimate}
            if n == 0 and spec.check(case.name).startswith("n/a"):
                record["agreement"] = agreement(spec.check(case.name), {}, None)
            elif n == 0:
                out = work / f"check_{tool}_{case.name}.json"
                check = spawn(
                    "check",
                    case,
                    data,
                    out,
                    peer=tool,
                    check_genes=CHECK_GENES,
                    n_jobs=args.n_jobs,
                )
                record["agreement"] = check.get("agreement", {}).get(tool, check)
                record["agreement_genes"] = check.get("n_genes", CHECK_GENES)
        else:
            out = work / f"{tool}_{case.name}.json"
            record = spawn(
                tool, case, data, out, repeats=n, n_jobs=args.n_jobs, compare=subject_out
            )
            record["estimate_s"] = estimate
        if spec.notes.get(case.name):
            record["note"] = spec.notes[case.name]
        row["peers"][tool] = record
    return row


# --- reporting ----------------------------------------------------------------------------


def results_path(results_dir: Path, size: str, suffix: str, tag: str | None = None) -> Path:
    """``results_dir/compare_scanpy_<size>[_<tag>].<suffix>``."""
    return results_dir / f"compare_scanpy_{size}{f'_{tag}' if tag else ''}.{suffix}"


def plot_path(json_file: Path) -> Path:
    """The plot of a results file: ``compare_scanpy_<name>.json`` -> ``compare_<name>.png``."""
    return json_file.with_name(json_file.stem.replace("compare_scanpy_", "compare_", 1) + ".png")


def seconds(value: float) -> str:
    """Seconds with three significant digits."""
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def agreement_cell(record: Mapping[str, Any]) -> str:
    """Table cell for a peer's agreement with the subject."""
    agreement = record.get("agreement")
    if not agreement or "ok" not in agreement:
        return "failed" if "error" in record else "not checked"
    if agreement["ok"] is None:
        return f"n/a ({agreement.get('note', 'not comparable')})"
    verdict = "yes" if agreement["ok"] else "**NO**"
    what = "p-values, " if agreement.get("compared") == "p-values" else ""
    where = f"; on {record['agreement_genes']:,} genes" if "agreement_genes" in record else ""
    return f"{verdict} ({what}max rel diff {agreement['max_rel_diff']:.1e}{where})"


def memory_cell(record: Mapping[str, Any]) -> str:
    """Peak extra MB, in parentheses the working part (above the RSS after the first call),
    and the peak of the tool's worker processes if it has any."""
    if "peak_extra_mb" not in record:
        return ""
    working = record.get("peak_working_mb")
    cell = f"{round(record['peak_extra_mb'])}" + ("" if working is None else f" ({round(working)})")
    if record.get("peak_children_mb") is not None:
        working = record.get("peak_children_working_mb")
        cell += f" +{round(record['peak_children_mb'])}"
        cell += ("" if working is None else f" ({round(working)})") + " in workers"
    return cell


def ratio(theirs: float, ours: float) -> str:
    """``theirs / ours`` as ``12.3x`` (two significant digits below 1)."""
    value = theirs / ours
    return f"{value:.2g}x" if value < 1 else f"{value:.1f}x"


def report_peers(report: Mapping[str, Any]) -> list[str]:
    """The peers in a report, in ``TOOLS`` order, then any others."""
    seen = {tool for row in report["rows"] for tool in row["peers"]}
    return [t for t in TOOLS if t in seen] + sorted(seen - set(TOOLS))


class Footnotes:
    """Numbered footnotes, one per distinct text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str | None) -> str:
        """`` [n]`` for ``text`` (numbering it the first time), or ``''``."""
        if not text:
            return ""
        if text not in self.texts:
            self.texts.append(text)
        return f" [{self.texts.index(text) + 1}]"


def peer_cells(row: Mapping[str, Any], peer: str, notes: Footnotes) -> list[str]:
    """Median, ratio to the subject and peak memory cells of ``peer`` on one case."""
    ours, theirs = row["subject"], row["peers"].get(peer)
    if theirs is None:
        return ["-", "", ""]
    if "median_s" in theirs:
        cell = seconds(theirs["median_s"])
        extras = []
        if theirs.get("separate_first"):
            extras.append(f"1st {seconds(theirs['first_call_s'])}")
        if len(theirs["times_s"]) == 1:
            extras.append("1 run")
        cell += f" ({', '.join(extras)})" if extras else ""
        speed = ratio(theirs["median_s"], ours["median_s"]) if "median_s" in ours else ""
    else:
        cell, speed = theirs.get("skipped", theirs.get("error", "failed")), ""
    return [cell + notes.mark(theirs.get("note")), speed, memory_cell(theirs)]


def table_row(row: Mapping[str, Any], peers: Sequence[str], notes: Footnotes) -> list[str]:
    """Cells of one case's row: the subject, then every peer."""
    ours = row["subject"]
    if "error" in ours:
        cells = [row["label"], ours["error"], "", "", ""]
    else:
        x_mb = ours["x_bytes"] / MB
        cells = [
            row["label"],
            seconds(ours["first_call_s"]),
            seconds(ours["median_s"]),
            memory_cell(ours),
            f"{ours['peak_extra_mb'] / x_mb:.2f}",
        ]
    for peer in peers:
        cells += peer_cells(row, peer, notes)
    return cells


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(cells) + " |" for cells in rows]


def scanpy_preset_note(report: Mapping[str, Any]) -> str:
    """`` (scanpy's preset ...)`` if the scanpy workers recorded one (scanpy >= 1.13)."""
    presets = sorted(
        {
            record["scanpy_preset"]
            for row in report["rows"]
            for record in row["peers"].values()
            if "scanpy_preset" in record
        }
    )
    return f" (scanpy's preset {', '.join(presets)})" if presets else ""


def markdown(report: Mapping[str, Any]) -> str:
    """The report as markdown: a header, the time and memory table, the agreement table."""
    data, env = report["dataset"], report["environment"]
    peers = report_peers(report)
    header = [
        "case",
        f"{SUBJECT} first call s",
        f"{SUBJECT} median s",
        f"{SUBJECT} peak extra MB",
        f"{SUBJECT} peak / X size",
    ]
    for peer in peers:
        header += [f"{peer} median s", f"{peer}/{SUBJECT}", f"{peer} peak extra MB"]
    notes = Footnotes()
    rows = [table_row(row, peers, notes) for row in report["rows"]]
    agreement_rows = [
        [row["label"]]
        + [agreement_cell(row["peers"][p]) if p in row["peers"] else "-" for p in peers]
        for row in report["rows"]
    ]
    lines = [
        f"## rank_genes_groups: {SUBJECT} vs {', '.join(peers)}, size {report['size']}",
        "",
        f"{data['n_cells']:,} cells x {data['n_genes']:,} genes, {data['n_groups']} groups, "
        f"{data['density']:.1%} non-zero, X (CSR float32) {data['x_mb']:.0f} MB. "
        f"Median of {report['repeats']} calls; n_jobs={report['n_jobs']} for every tool"
        f"{scanpy_preset_note(report)}. "
        f"{env['cpu_count']} cores, Python {env['python']}, "
        + ", ".join(f"{name} {ver}" for name, ver in env["versions"].items())
        + f". {report['date']}, total {report['total_s'] / 60:.1f} min.",
        "",
        *markdown_table(header, rows),
        "",
        f"`{{tool}}/{SUBJECT}`: the tool's median time over {SUBJECT}'s (above 1: slower "
        f"than {SUBJECT}). `-`: the tool has no equivalent of the case. `1st`: the tool's "
        "first call, timed on its own and left out of its median and peak. Peak extra MB: "
        "peak RSS over the timed calls minus RSS after loading the data; in parentheses, "
        "minus RSS after the first call instead (without the code, modules and results the "
        "first call leaves resident); `in workers`: the peak summed RSS of the tool's worker "
        "processes, whole (interpreter and imports included) and, in parentheses, above their "
        "RSS after the first call. Times in seconds.",
    ]
    lines += [f"[{i}] {text}" for i, text in enumerate(notes.texts, start=1)]
    lines += [
        "",
        f"### Agreement with {SUBJECT}",
        "",
        *markdown_table(["case", *peers], agreement_rows),
        "",
        f"Top {TOP_N} scores of every group compared position by position with rtol "
        f"{RTOL:g} (z-scores; t for the t-tests; for pegasus' t-test, its Welch t), or, where "
        f"it says so, the p-values of {SUBJECT}'s top {TOP_N} genes of every group, looked "
        "up by name, with no absolute tolerance. n/a: the tool reports no statistic that "
        "can be compared at that tolerance.",
    ]
    return "\n".join(lines) + "\n"


def plot(report: Mapping[str, Any], path: Path) -> None:
    """Bar chart of the median time per case and tool (log scale), as PNG at ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tools = [SUBJECT, *report_peers(report)]
    rows = report["rows"]
    width = 0.8 / len(tools)
    fig, ax = plt.subplots(figsize=(2.0 + 1.5 * len(rows), 4.8))
    missing, values = [], []
    for i, tool in enumerate(tools):
        xs, ys = [], []
        for j, row in enumerate(rows):
            record = row["subject"] if tool == SUBJECT else row["peers"].get(tool)
            x = j - 0.4 + width * (i + 0.5)
            if record is not None and "median_s" in record:
                xs.append(x)
                ys.append(record["median_s"])
            elif record is not None:
                missing.append((x, "skipped" if "skipped" in record else "failed", i))
        values += ys
        bars = ax.bar(xs, ys, width, label=tool, color=f"C{i}")
        ax.bar_label(bars, labels=[seconds(y) for y in ys], fontsize=6, rotation=90, padding=2)
    for x, text, i in missing:
        ax.text(
            x, 0.02, text, transform=ax.get_xaxis_transform(), rotation=90, fontsize=6,
            ha="center", va="bottom", color=f"C{i}",
        )  # fmt: skip
    ax.set_yscale("log")
    if values:  # room for the legend and the value labels
        ax.set_ylim(min(values) / 2, max(values) * 6)
    ax.set_xticks(range(len(rows)), [row["case"] for row in rows], rotation=15, ha="right")
    ax.set_ylabel("median seconds per call (log scale)")
    data = report["dataset"]
    ax.set_title(
        f"rank_genes_groups, size {report['size']}: {data['n_cells']:,} cells x "
        f"{data['n_genes']:,} genes, n_jobs={report['n_jobs']}",
        fontsize=10,
    )
    ax.grid(axis="y", which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=min(len(tools), 5), loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def environment(tools: Sequence[str]) -> dict[str, Any]:
    """Machine and package versions (the base packages and every tool's distribution)."""
    names = ["rgg", "scanpy", "anndata", "numba", "numpy", "scipy", "pandas", "scikit-learn"]
    for tool in tools:
        names += [TOOLS[tool].dist, *TOOLS[tool].also_versions]
    return machine_and_versions(names)


def machine_and_versions(distributions: Sequence[str]) -> dict[str, Any]:
    """Cores, Python, platform and the installed version of each distribution (once each)."""
    versions = {}
    for name in dict.fromkeys(distributions):
        with contextlib.suppress(PackageNotFoundError):
            versions[name] = version(name)
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def dataset_summary(spec: DatasetSpec, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Shape, density and X size of the dataset, as the first successful worker saw it."""
    seen = next((row["subject"] for row in rows if "x_bytes" in row["subject"]), {})
    return {
        "n_cells": spec.n_cells,
        "n_genes": spec.n_genes,
        "n_groups": spec.n_groups,
        "seed": spec.seed,
        "density": seen.get("x_nnz", 0) / (spec.n_cells * spec.n_genes),
        "x_mb": seen.get("x_bytes", 0) / MB,
    }


def log(message: str) -> None:
    """Progress message on stderr."""
    print(message, file=sys.stderr, flush=True)


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run every selected case at ``args.size`` and write the markdown and JSON results."""
    start = time.perf_counter()
    spec = SIZES[args.size]
    log(f"dataset {spec.filename} ...")
    data = cached_dataset(spec, args.data_dir)
    estimates = estimate_peer_seconds(args.size, args.results_dir)
    cases = [CASES_BY_NAME[name] for name in args.cases]
    log(f"tools: {', '.join(args.tools)}")
    with tempfile.TemporaryDirectory(prefix="rgg-bench-") as work:
        rows = [run_case(case, data, Path(work), args, estimates) for case in cases]
    report = {
        "size": args.size,
        "tag": args.tag,
        "repeats": args.repeats,
        "n_jobs": args.n_jobs,
        "tools": args.tools,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "total_s": time.perf_counter() - start,
        "dataset": dataset_summary(spec, rows),
        "environment": environment(args.tools),
        "rows": rows,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    json_file = results_path(args.results_dir, args.size, "json", args.tag)
    json_file.write_text(json.dumps(report, indent=1))
    table = markdown(report)
    json_file.with_suffix(".md").write_text(table)
    plot(report, plot_path(json_file))
    print(table)
    return report


def parse_peer_runs(
    parser: argparse.ArgumentParser, items: Sequence[str]
) -> dict[tuple[str | None, str], int]:
    """``['wilcoxon=0', 'scanpy:t-test=1']`` -> ``{(None, 'wilcoxon'): 0, ('scanpy', 't-test'): 1}``.

    ``CASE=N`` applies to every peer, ``TOOL:CASE=N`` to one; errors go through ``parser``.
    """
    runs: dict[tuple[str | None, str], int] = {}
    for item in items:
        target, _, count = item.partition("=")
        tool, _, name = target.rpartition(":")
        if (tool and tool not in TOOLS) or name not in CASES_BY_NAME or not count.isdigit():
            parser.error(
                f"--peer-runs {item!r}: expected [TOOL:]CASE=N with TOOL one of {list(TOOLS)} "
                f"and CASE one of {list(CASES_BY_NAME)}"
            )
        runs[tool or None, name] = int(count)
    return runs


def installed_tools() -> list[str]:
    """The tools that can be imported here, in ``TOOLS`` order."""
    return [tool for tool, spec in TOOLS.items() if spec.installed()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="S", help="dataset size")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per measurement")
    parser.add_argument(
        "--cases", nargs="+", choices=list(CASES_BY_NAME), default=list(CASES_BY_NAME)
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="threads for every tool")
    parser.add_argument(
        "--tools",
        nargs="+",
        choices=list(TOOLS),
        help=f"tools to run ({SUBJECT} always runs; default: every installed one)",
    )
    parser.add_argument(
        "--peer-budget",
        type=float,
        default=240.0,
        help="seconds per call (estimated from size S) above which a peer runs only once",
    )
    parser.add_argument(
        "--peer-single-budget",
        type=float,
        default=360.0,
        help="seconds per call above which a peer is skipped (its agreement is then checked "
        f"on the first {CHECK_GENES} genes)",
    )
    parser.add_argument(
        "--peer-runs",
        nargs="+",
        default=[],
        metavar="[TOOL:]CASE=N",
        help="override the calls a peer (every peer, or TOOL) makes on a case (0: skip it), "
        "e.g. scanpy:wilcoxon=0",
    )
    parser.add_argument(
        "--tag",
        help="suffix of the result files: compare_scanpy_<size>_<tag>.{md,json}, "
        "compare_<size>_<tag>.png (e.g. scanpy1.13), so that a run does not replace another",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="only rewrite the table and the plot of a results file",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where the generated h5ad files are cached (default: $RGG_BENCH_DATA, else "
        "~/.cache/rgg-bench)",
    )
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    worker_options = parser.add_argument_group("worker (internal)")
    worker_options.add_argument("--worker", choices=[*TOOLS, "check"], help=argparse.SUPPRESS)
    worker_options.add_argument("--case", help=argparse.SUPPRESS)
    worker_options.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    worker_options.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    worker_options.add_argument("--compare", type=Path, help=argparse.SUPPRESS)
    worker_options.add_argument("--peer", choices=list(TOOLS), help=argparse.SUPPRESS)
    worker_options.add_argument(
        "--check-genes", type=int, default=CHECK_GENES, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.tag is not None and not args.tag.replace(".", "").replace("-", "").isalnum():
        parser.error(f"--tag {args.tag!r}: use letters, digits, '.' and '-' only")
    args.peer_runs = parse_peer_runs(parser, args.peer_runs)
    if not args.worker and args.render is None:
        available = installed_tools()
        wanted = args.tools or available
        missing = [tool for tool in wanted if tool not in available]
        if args.tools and missing:
            parser.error(f"--tools: not installed here: {', '.join(missing)}")
        args.tools = [SUBJECT, *(tool for tool in wanted if tool != SUBJECT)]
    return args


def render(json_file: Path) -> None:
    """Rewrite the markdown table and the plot of a results JSON file (after changing the format)."""
    report = json.loads(json_file.read_text())
    table = markdown(report)
    json_file.with_suffix(".md").write_text(table)
    plot(report, plot_path(json_file))
    print(table)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark, or one worker with ``--worker``."""
    args = parse_args(argv)
    if args.worker:
        worker(args)
    elif args.render is not None:
        render(args.render)
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
