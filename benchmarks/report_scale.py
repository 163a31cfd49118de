"""Benchmark of ``rgg report`` on a screen: build time, peak memory, file size, page load.

Generates a screen with ``screen_data.py`` (cached), ranks it with two tests against the
non-targeting controls (Wilcoxon with tie correction and pts; t-test), combines the tables
with a screen grouping in the recorded config (so the report has its on-target panel), then
times ``rgg report`` ``--repeats`` times in fresh processes (median wall time, peak RSS of
the process) and opens the report in Debian's chromium (time until every view is drawn).
Writes ``results/report_<cells>x<genes>_p<perturbations>.{json,md}``.

    python benchmarks/report_scale.py --cells 30000 --genes 20000 --perturbations 2000

The ranked tables are kept beside the data (``$RGG_BENCH_DATA`` or ``~/.cache/rgg-bench``).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import polars as pl
from screen_data import CONTROL, DEFAULT_DATA_DIR, ScreenSpec, cached_screen

RESULTS = Path(__file__).resolve().parent / "results"
TESTS = {
    "wilcoxon": ["--method", "wilcoxon", "--tie-correct", "--pts"],
    "t-test": ["--method", "t-test"],
}


def rgg(*argv: str) -> float:
    """Run the rgg CLI in a fresh process; its wall time in seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rgg", *argv], check=True, capture_output=True)
    return time.perf_counter() - started


def ranked_tables(data: Path, spec: ScreenSpec) -> list[Path]:
    """One table per test against the controls, made once and kept beside the data."""
    tables = []
    for test, options in TESTS.items():
        table = data.with_name(f"{data.stem}.{test}.parquet")
        if not table.exists():
            print(f"ranking {test} ...", flush=True)
            rgg(
                "rank", str(data), "--groupby", "perturbation", "--reference", CONTROL,
                "--dataset", "screen", "--grouping", "perturbation", "--test", test,
                "--out", str(table), *options,
            )  # fmt: skip
        tables.append(table)
    return tables


#: Runs the rgg CLI and prints the process's peak RSS (kB) as its last line of stderr.
_WITH_PEAK = (
    "import resource, sys\n"
    "from rgg.cli import main\n"
    "code = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def report_once(markers: Path, data: Path, out: Path) -> tuple[float, int]:
    """Wall time (s) and peak RSS (bytes) of one ``rgg report`` process."""
    argv = ["report", str(markers), "--dataset", f"screen={data}", "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _WITH_PEAK, *argv], check=True, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    return seconds, int(done.stderr.strip().splitlines()[-1]) * 1024


def page_load(report: Path) -> dict[str, Any]:
    """Open the report in chromium: seconds until loaded and every view drawn, requests."""
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        started = time.perf_counter()
        page.goto(report.as_uri())
        page.wait_for_load_state("load")
        page.wait_for_selector("[data-view='cluster'] canvas, [data-view='cluster'] p")
        loaded = time.perf_counter() - started
        lookup = page.locator("[data-view='lookup'] input.gene-lookup").first
        started = time.perf_counter()
        lookup.fill("gene00010")
        page.wait_for_selector("[data-view='lookup'] .lookup-summary:not(:empty)")
        lookup_seconds = time.perf_counter() - started
        browser.close()
    return {
        "load_s": loaded,
        "lookup_s": lookup_seconds,
        "network_requests": [url for url in requests if not url.startswith(("file:", "data:"))],
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=30_000)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--perturbations", type=int, default=2_000)
    parser.add_argument("--density", type=float, default=0.04)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args()
    spec = ScreenSpec(
        n_cells=args.cells, n_genes=args.genes, n_perturbations=args.perturbations,
        density=args.density,
    )  # fmt: skip
    data = cached_screen(spec, args.data_dir)
    tables = ranked_tables(data, spec)
    markers = data.with_name(f"{data.stem}.markers.parquet")
    config = {
        "datasets": {"screen": {"path": str(data)}},
        "groupings": {"perturbation": {"screen": {"control": CONTROL}}},
    }
    rgg("collect", *map(str, tables), "--out", str(markers), "--record-config", json.dumps(config))
    report = data.with_name(f"{data.stem}.report.html")
    runs = [report_once(markers, data, report) for _ in range(args.repeats)]
    browser = page_load(report)
    rows = pl.scan_parquet(markers).select(pl.len()).collect().item()
    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "screen": {"cells": args.cells, "genes": args.genes, "perturbations": args.perturbations},
        "tests": list(TESTS),
        "table_rows": rows,
        "table_bytes": markers.stat().st_size,
        "report_seconds": [seconds for seconds, _ in runs],
        "report_median_s": statistics.median(seconds for seconds, _ in runs),
        "report_peak_rss_bytes": max(peak for _, peak in runs),
        "report_bytes": report.stat().st_size,
        "browser": browser,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "versions": {name: version(name) for name in ("rgg", "polars", "matplotlib", "jinja2")},
    }
    stem = f"report_{args.cells}x{args.genes}_p{args.perturbations}"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))


def markdown(result: dict[str, Any]) -> str:
    screen = result["screen"]
    browser = result["browser"]
    seconds = ", ".join(f"{s:.1f}" for s in result["report_seconds"])
    return (
        f"## rgg report on a screen: {screen['cells']:,} cells x {screen['genes']:,} genes, "
        f"{screen['perturbations']:,} perturbations\n\n"
        f"{result['date']}; {result['machine']}; rgg {result['versions']['rgg']}, polars "
        f"{result['versions']['polars']}, matplotlib {result['versions']['matplotlib']}.\n"
        f"Tests against the controls: {', '.join(result['tests'])}; combined table "
        f"{result['table_rows']:,} rows ({result['table_bytes'] / 1e6:.0f} MB).\n\n"
        "| measure | value |\n|---|---|\n"
        f"| `rgg report` wall time, median of {len(result['report_seconds'])} | "
        f"{result['report_median_s']:.1f} s ({seconds}) |\n"
        f"| peak memory of the report process | {result['report_peak_rss_bytes'] / 1e9:.2f} GB |\n"
        f"| HTML file | {result['report_bytes'] / 1e6:.1f} MB |\n"
        f"| chromium: load until every view is drawn | {browser['load_s']:.1f} s |\n"
        f"| chromium: gene lookup answered | {browser['lookup_s']:.2f} s |\n"
        f"| network requests / page errors | {len(browser['network_requests'])} / "
        f"{len(browser['errors'])} |\n"
    )


if __name__ == "__main__":
    main()
