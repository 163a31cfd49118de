"""Side-by-side benchmark of ``rgg.rank_genes_groups`` and ``scanpy.tl.rank_genes_groups``.

Run ``python benchmarks/compare_scanpy.py --size S`` (S, M or L). Every (tool, case)
measurement runs in its own worker process (``--worker TOOL``), which loads the cached
dataset, times the calls and measures peak memory; the parent collects the workers' JSON,
checks that both tools' scores agree and writes a markdown table and a JSON file to
``benchmarks/results/``. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from datagen import DatasetSpec, cached_dataset, make_dataset, read_for_ranking

__all__ = ["CASES", "SIZES", "Case", "main", "make_dataset"]

HERE = Path(__file__).resolve().parent
GROUPBY = "group"
MB = 2**20
#: Scores compared per group, and the relative tolerance of the comparison.
TOP_N = 10
RTOL = 1e-4
#: Genes tested by the agreement check when the full scanpy run is skipped.
CHECK_GENES = 1000

SIZES: dict[str, DatasetSpec] = {
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
    """``rank_genes_groups`` of scanpy with ``sc.settings.n_jobs = n_jobs``."""
    import scanpy as sc

    sc.settings.n_jobs = n_jobs
    sc.settings.verbosity = 0

    def run(adata: Any, groupby: str, **kwargs: Any) -> None:
        sc.tl.rank_genes_groups(adata, groupby, **kwargs)

    return run


#: Tool name -> factory of its runner. Add peers here.
TOOLS: dict[str, Callable[[int], Runner]] = {"rgg": rgg_runner, "scanpy": scanpy_runner}
#: The tool being benchmarked; the others are its peers, checked against it.
SUBJECT = "rgg"


# --- measuring inside a worker ------------------------------------------------------------


def current_rss() -> int:
    """Resident set size of this process now, in bytes."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss() -> int:
    """Peak resident set size of this process, in bytes (``ru_maxrss``)."""
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


def compare_scores(
    ours: Mapping[str, Sequence[float]], theirs: Mapping[str, Sequence[float]], rtol: float = RTOL
) -> dict[str, Any]:
    """Whether two tools' top scores agree (``np.allclose`` per group with ``rtol``).

    Returns
    -------
    ``ok``, the largest relative difference ``max_rel_diff`` and ``rtol``.
    """
    if set(ours) != set(theirs):
        return {"ok": False, "max_rel_diff": math.inf, "rtol": rtol, "note": "different groups"}
    ok, worst = True, 0.0
    for group, values in ours.items():
        a, b = np.asarray(values), np.asarray(theirs[group])
        ok &= a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol))
        if a.shape == b.shape and a.size:
            worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12))))
    return {"ok": bool(ok), "max_rel_diff": worst, "rtol": rtol}


def measure(
    tool: str, case: Case, data: Path, repeats: int, n_jobs: int, separate_first: bool
) -> dict[str, Any]:
    """Load ``data``, time ``repeats`` calls of ``tool`` on ``case`` and track peak memory.

    With ``separate_first``, one call is timed separately first (for rgg it includes
    loading or compiling the Numba kernels) and left out of the median and the peak.
    Peak extra memory is the peak RSS over the measured calls minus the RSS after
    loading the data; the peak is reset after loading and again after the first call.
    """
    run = TOOLS[tool](n_jobs)
    adata = read_for_ranking(data)
    kwargs = case.kwargs(adata)
    gc.collect()
    rss_loaded = current_rss()
    can_reset = reset_peak_rss()

    first_s = timed_call(run, adata, kwargs)
    peak_first = peak_rss()
    gc.collect()
    rss_after_first = current_rss()
    reset_peak_rss()
    times = [timed_call(run, adata, kwargs) for _ in range(repeats - (0 if separate_first else 1))]
    if not separate_first:
        times.insert(0, first_s)
    steady = times[1:] if not separate_first else times
    peak_steady = peak_rss() if steady else peak_first
    return {
        "tool": tool,
        "version": version(tool),
        "case": case.name,
        "kwargs": {key: str(value) for key, value in kwargs.items()},
        "n_jobs": n_jobs,
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
    }


def check_on_subset(case: Case, data: Path, n_genes: int, n_jobs: int) -> dict[str, Any]:
    """Agreement of every tool with rgg on the first ``n_genes`` genes (one call each)."""
    adata = read_for_ranking(data)
    mask = np.zeros(adata.n_vars, dtype=bool)
    mask[:n_genes] = True
    kwargs = {**case.kwargs(adata), "mask_var": mask}
    scores = {}
    for tool, factory in TOOLS.items():
        factory(n_jobs)(adata, GROUPBY, **kwargs)
        scores[tool] = top_scores(adata)
    return {
        "case": case.name,
        "n_genes": n_genes,
        "agreement": {
            tool: compare_scores(scores[SUBJECT], theirs)
            for tool, theirs in scores.items()
            if tool != SUBJECT
        },
    }


def worker(args: argparse.Namespace) -> None:
    """Entry point of a worker process: measure (or check) one case, write JSON to ``--out``."""
    case = CASES_BY_NAME[args.case]
    if args.worker == "check":
        result = check_on_subset(case, args.data, args.check_genes, args.n_jobs)
    else:
        separate_first = args.worker == SUBJECT
        result = measure(args.worker, case, args.data, args.repeats, args.n_jobs, separate_first)
        if args.compare is not None:
            subject = json.loads(args.compare.read_text())
            result["agreement"] = compare_scores(subject["top_scores"], result["top_scores"])
    args.out.write_text(json.dumps(result, indent=1))


# --- driving the workers ------------------------------------------------------------------


def spawn(mode: str, case: Case, data: Path, out: Path, **options: Any) -> dict[str, Any]:
    """Run a worker process and return its JSON (or ``{'error': ...}`` if it failed)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", mode]
    command += ["--case", case.name, "--data", str(data), "--out", str(out)]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    log(f"  {mode:7s} {case.name} ...")
    start = time.perf_counter()
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        log(finished.stderr[-3000:])
        return {"error": f"worker exited with {finished.returncode}"}
    log(f"  {mode:7s} {case.name} done in {time.perf_counter() - start:.0f} s")
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


def run_case(
    case: Case, data: Path, work: Path, args: argparse.Namespace, estimates: Mapping
) -> dict[str, Any]:
    """Measure the subject and its peers on one case; check agreement."""
    subject_out = work / f"{SUBJECT}_{case.name}.json"
    row: dict[str, Any] = {"case": case.name, "label": case.label}
    row["subject"] = spawn(
        SUBJECT, case, data, subject_out, repeats=args.repeats, n_jobs=args.n_jobs
    )
    row["peers"] = {}
    for tool in TOOLS:
        if tool == SUBJECT:
            continue
        estimate = estimates.get(tool, {}).get(case.name)
        n = peer_repeats(estimate, args.repeats, args.peer_budget, args.peer_single_budget)
        n = args.peer_runs.get(case.name, n)
        if n == 0 or "error" in row["subject"]:
            reason = "skipped (too slow)" if n == 0 else "skipped (rgg failed)"
            record: dict[str, Any] = {"skipped": reason, "estimate_s": estimate}
            if n == 0:
                out = work / f"check_{case.name}.json"
                check = spawn("check", case, data, out, check_genes=CHECK_GENES, n_jobs=args.n_jobs)
                record["agreement"] = check.get("agreement", {}).get(tool, check)
                record["agreement_genes"] = CHECK_GENES
        else:
            out = work / f"{tool}_{case.name}.json"
            record = spawn(
                tool, case, data, out, repeats=n, n_jobs=args.n_jobs, compare=subject_out
            )
            record["estimate_s"] = estimate
        row["peers"][tool] = record
    return row


# --- reporting ----------------------------------------------------------------------------


def results_path(results_dir: Path, size: str, suffix: str) -> Path:
    """``results_dir/compare_scanpy_<size>.<suffix>``."""
    return results_dir / f"compare_scanpy_{size}.{suffix}"


def seconds(value: float) -> str:
    """Seconds with three significant digits."""
    return f"{value:.3g}" if value < 1000 else f"{value:.0f}"


def agreement_cell(record: Mapping[str, Any]) -> str:
    """Table cell for a peer's agreement with the subject."""
    agreement = record.get("agreement")
    if not agreement or "ok" not in agreement:
        return "not checked"
    verdict = "yes" if agreement["ok"] else "**NO**"
    where = f"; on {record['agreement_genes']:,} genes" if "agreement_genes" in record else ""
    return f"{verdict} (max rel diff {agreement['max_rel_diff']:.1e}{where})"


def memory_cell(record: Mapping[str, Any]) -> str:
    """Peak extra MB, and in parentheses the working part (above the RSS after the first call)."""
    if "peak_extra_mb" not in record:
        return ""
    working = record.get("peak_working_mb")
    return f"{record['peak_extra_mb']:.0f}" + ("" if working is None else f" ({working:.0f})")


def table_row(row: Mapping[str, Any], peer: str) -> list[str]:
    """Cells of one case's table row against ``peer``."""
    ours, theirs = row["subject"], row["peers"][peer]
    if "error" in ours:
        return [row["label"], ours["error"], "", "", "", "", "", "", ""]
    x_mb = ours["x_bytes"] / MB
    cells = [
        row["label"],
        seconds(ours["first_call_s"]),
        seconds(ours["median_s"]),
    ]
    if "median_s" in theirs:
        runs = len(theirs["times_s"])
        cells.append(seconds(theirs["median_s"]) + ("" if runs > 1 else " (1 run)"))
        cells.append(f"{theirs['median_s'] / ours['median_s']:.1f}x")
    else:
        cells.append(theirs.get("skipped", theirs.get("error", "failed")))
        cells.append("")
    cells += [memory_cell(ours), f"{ours['peak_extra_mb'] / x_mb:.2f}", memory_cell(theirs)]
    cells.append(agreement_cell(theirs))
    return cells


def markdown(report: Mapping[str, Any], peer: str = "scanpy") -> str:
    """The report as a markdown table with a short header."""
    data, env = report["dataset"], report["environment"]
    header = [
        "case",
        f"{SUBJECT} first call s",
        f"{SUBJECT} median s",
        f"{peer} median s",
        f"speed-up ({peer}/{SUBJECT})",
        f"{SUBJECT} peak extra MB",
        f"{SUBJECT} peak / X size",
        f"{peer} peak extra MB",
        "agreement",
    ]
    lines = [
        f"## rank_genes_groups: {SUBJECT} vs {peer}, size {report['size']}",
        "",
        f"{data['n_cells']:,} cells x {data['n_genes']:,} genes, {data['n_groups']} groups, "
        f"{data['density']:.1%} non-zero, X (CSR float32) {data['x_mb']:.0f} MB. "
        f"Median of {report['repeats']} calls; n_jobs={report['n_jobs']} for both. "
        f"{env['cpu_count']} cores, Python {env['python']}, "
        + ", ".join(f"{name} {ver}" for name, ver in env["versions"].items())
        + f". {report['date']}, total {report['total_s'] / 60:.1f} min.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(table_row(row, peer)) + " |" for row in report["rows"]]
    lines += [
        "",
        "Peak extra MB: peak RSS over the timed calls minus RSS after loading the data; in "
        "parentheses, minus RSS after the first call instead (without the code, modules and "
        "results the first call leaves resident). Times in seconds.",
    ]
    return "\n".join(lines) + "\n"


def environment() -> dict[str, Any]:
    """Machine and package versions."""
    names = ["rgg", "scanpy", "anndata", "numba", "numpy", "scipy", "scikit-learn"]
    return {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: version(name) for name in names},
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
    with tempfile.TemporaryDirectory(prefix="rgg-bench-") as work:
        rows = [run_case(case, data, Path(work), args, estimates) for case in cases]
    report = {
        "size": args.size,
        "repeats": args.repeats,
        "n_jobs": args.n_jobs,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "total_s": time.perf_counter() - start,
        "dataset": dataset_summary(spec, rows),
        "environment": environment(),
        "rows": rows,
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    results_path(args.results_dir, args.size, "json").write_text(json.dumps(report, indent=1))
    table = markdown(report)
    results_path(args.results_dir, args.size, "md").write_text(table)
    print(table)
    return report


def parse_peer_runs(parser: argparse.ArgumentParser, items: Sequence[str]) -> dict[str, int]:
    """``['wilcoxon=0', ...]`` -> ``{'wilcoxon': 0, ...}``, with errors through ``parser``."""
    runs = {}
    for item in items:
        name, _, count = item.partition("=")
        if name not in CASES_BY_NAME or not count.isdigit():
            parser.error(
                f"--peer-runs {item!r}: expected CASE=N with CASE one of {list(CASES_BY_NAME)}"
            )
        runs[name] = int(count)
    return runs


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
        metavar="CASE=N",
        help="override the calls a peer makes on a case (0: skip it), e.g. wilcoxon=0",
    )
    parser.add_argument(
        "--render", type=Path, metavar="JSON", help="only rewrite the table of a results file"
    )
    parser.add_argument("--data-dir", type=Path, default=HERE / "data")
    parser.add_argument("--results-dir", type=Path, default=HERE / "results")
    worker_options = parser.add_argument_group("worker (internal)")
    worker_options.add_argument("--worker", choices=[*TOOLS, "check"], help=argparse.SUPPRESS)
    worker_options.add_argument("--case", help=argparse.SUPPRESS)
    worker_options.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    worker_options.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    worker_options.add_argument("--compare", type=Path, help=argparse.SUPPRESS)
    worker_options.add_argument(
        "--check-genes", type=int, default=CHECK_GENES, help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    args.peer_runs = parse_peer_runs(parser, args.peer_runs)
    return args


def render(json_file: Path) -> None:
    """Rewrite the markdown table of a results JSON file (after changing the format)."""
    report = json.loads(json_file.read_text())
    table = markdown(report)
    json_file.with_suffix(".md").write_text(table)
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
