"""Out-of-core ranking: time and whole-process-tree peak memory, lazy beside in-memory.

Each run is a fresh Python process (``--child``) that reads the h5ad backed (``lazy``: rgg
ranks it through Dask on a local cluster of ``--jobs`` workers, which are child processes)
or into memory (``memory``), and times ``rgg.rank_genes_groups``. The parent samples the
summed RSS of the child and all its descendants (the Dask scheduler's workers included)
every 0.2 s; that sum is the peak reported. Results go to ``benchmarks/results/out_of_core.{json,md}``.

A bare file name that does not exist in the working directory is looked up in the data
directory of ``datagen_disk.py`` (``$RGG_BENCH_DATA``, else ``~/.cache/rgg-bench``):

    python benchmarks/datagen_disk.py --cells 2000000 --genes 20000
    python benchmarks/out_of_core.py ooc_2000000x20000_g12_s0.h5ad --modes lazy --runs 1
    python benchmarks/out_of_core.py ooc_500000x20000_g12_s0.h5ad --modes lazy memory
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

try:
    from benchmarks import datagen
except ImportError:  # run as a script
    import datagen  # type: ignore[no-redef]

RESULTS = Path(__file__).parent / "results"
CASES = {
    "wilcoxon": {"method": "wilcoxon", "tie_correct": True, "pts": True},
    "wilcoxon_ref": {"method": "wilcoxon", "reference": "g11"},
    "t-test": {"method": "t-test", "pts": True},
}


def child(path: str, mode: str, case: str, jobs: int) -> None:
    """Rank once and print the wall time of the call as JSON (run in a fresh process)."""
    import anndata as ad

    import rgg

    kwargs = dict(CASES[case])
    started = time.perf_counter()
    adata = ad.read_h5ad(path, backed="r") if mode == "lazy" else ad.read_h5ad(path)
    loaded = time.perf_counter()
    rgg.rank_genes_groups(adata, "group", n_jobs=jobs, **kwargs)
    done = time.perf_counter()
    top = adata.uns["rank_genes_groups"]["names"][0].tolist()[:3]
    print(json.dumps({"load_s": loaded - started, "rank_s": done - loaded, "top": top}))


def tree_rss(process: psutil.Process) -> int:
    """Summed resident memory of ``process`` and all its descendants, in bytes."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def measure(path: Path, mode: str, case: str, jobs: int) -> dict[str, Any]:
    """One child run: its timings and the peak summed RSS of its process tree."""
    command = [sys.executable, __file__, "--child", str(path), mode, case, str(jobs)]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.2):
            peak = max(peak, tree_rss(root))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        msg = f"{mode} {case} failed:\n{err[-3000:]}"
        raise RuntimeError(msg)
    result = json.loads(out.strip().splitlines()[-1])
    return {**result, "peak_tree_gb": peak / 1e9, "process_s": time.perf_counter() - started}


def resolve_data(path: Path) -> Path:
    """``path``, or, if it is a bare name that does not exist, that name in the data directory."""
    if path.exists() or path.parent != Path():
        return path
    return datagen.DEFAULT_DATA_DIR / path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "data",
        type=Path,
        help="h5ad file; a bare name not found here is looked up in $RGG_BENCH_DATA, else "
        "~/.cache/rgg-bench",
    )
    parser.add_argument("--modes", nargs="+", default=["lazy"], choices=["lazy", "memory"])
    parser.add_argument("--cases", nargs="+", default=["wilcoxon", "t-test"], choices=list(CASES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    args.data = resolve_data(args.data)

    import h5py

    with h5py.File(args.data) as file:
        shape = tuple(int(n) for n in file["X"].attrs["shape"])
        nnz = int(file["X/data"].shape[0])
    size = {
        "file": args.data.name,
        "n_cells": shape[0],
        "n_genes": shape[1],
        "nnz": nnz,
        "file_gb": args.data.stat().st_size / 1e9,
        "csr_in_memory_gb": nnz * (4 + (8 if nnz >= 2**31 else 4)) / 1e9,
    }
    print(json.dumps(size))
    rows = []
    for case in args.cases:
        for mode in args.modes:
            runs = [measure(args.data, mode, case, args.jobs) for _ in range(args.runs)]
            row = {
                "case": case,
                "mode": mode,
                "runs": len(runs),
                "rank_s_median": statistics.median(r["rank_s"] for r in runs),
                "load_s_median": statistics.median(r["load_s"] for r in runs),
                "peak_tree_gb_max": max(r["peak_tree_gb"] for r in runs),
                "top": runs[0]["top"],
                "all": runs,
            }
            print(json.dumps({k: v for k, v in row.items() if k != "all"}), flush=True)
            rows.append(row)
    save(size, rows, args.jobs)


def save(size: dict[str, Any], rows: list[dict[str, Any]], jobs: int) -> None:
    """Append this dataset's rows to the JSON results and rewrite the markdown table."""
    RESULTS.mkdir(exist_ok=True)
    store = RESULTS / "out_of_core.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    results[size["file"]] = {"size": size, "jobs": jobs, "rows": rows}
    store.write_text(json.dumps(results, indent=1))
    lines = [
        "| data | nnz | CSR in memory | case | mode | runs | rank (median) | load | peak RSS, process tree |",
        "|---|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    for entry in results.values():
        s = entry["size"]
        for r in entry["rows"]:
            lines.append(
                f"| {s['n_cells']:,} x {s['n_genes']:,} | {s['nnz'] / 1e9:.2f} G | "
                f"{s['csr_in_memory_gb']:.1f} GB | {r['case']} | {r['mode']} | {r['runs']} | "
                f"{r['rank_s_median']:.1f} s | {r['load_s_median']:.1f} s | "
                f"{r['peak_tree_gb_max']:.2f} GB |"
            )
    (RESULTS / "out_of_core.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        main()
