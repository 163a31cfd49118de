"""``rgg report``: the HTML report of a workflow run."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..io.paths import check_output_paths
from ._options import Subcommands, say


def add_parser(commands: Subcommands) -> None:
    """Declare ``rgg report`` and its options."""
    report = commands.add_parser(
        "report",
        help="write the HTML report of a workflow run",
        description="Write one self-contained HTML file (no network resources) from a combined "
        "table of `rgg collect`: datasets, groupings, tests and comparisons; per comparison the "
        "top genes per group in a sortable, searchable table, a dot plot, a heatmap and volcano "
        "plots; agreement between the tests of each grouping; run time and memory of each job; "
        "and the provenance of every result. Written atomically.",
    )
    report.add_argument("markers", help="the combined Parquet table from `rgg collect`")
    report.add_argument("--out", required=True, help="the HTML file to write")
    report.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a dataset's h5ad file, for the dot plots and heatmaps (repeat for each dataset)",
    )
    report.add_argument("--benchmarks", help="folder of Snakemake's benchmark files (run facts)")
    report.add_argument(
        "--pseudobulk", help="the combined pseudobulk table from `rgg collect` (its own section)"
    )
    report.add_argument(
        "--top-n",
        type=int,
        default=10,
        help="genes per group in tables and plots (default: %(default)s)",
    )
    report.add_argument("--title", default="rgg marker genes", help="the report's title")
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The HTML report of a workflow run."""
    from ..report import build_report

    datasets = {}
    for item in args.dataset:
        name, separator, path = item.partition("=")
        if not separator or not name or not path:
            msg = f"--dataset {item!r}: write NAME=PATH, e.g. --dataset pbmc=data/pbmc.h5ad."
            raise ValueError(msg)
        if name in datasets:
            msg = f"--dataset {name!r} is given twice ({datasets[name]} and {path}); give it once."
            raise ValueError(msg)
        datasets[name] = path
    check_output_paths(
        {
            "the markers table": args.markers,
            "the --pseudobulk table": args.pseudobulk,
            **{f"the file of --dataset {name}": path for name, path in datasets.items()},
        },
        {"--out": args.out},
    )
    if args.benchmarks is not None and not Path(args.benchmarks).is_dir():
        msg = f"--benchmarks {args.benchmarks}: not a folder of Snakemake benchmark files."
        raise ValueError(msg)
    if args.top_n < 1:
        msg = f"--top-n {args.top_n}: show at least one gene per group."
        raise ValueError(msg)
    build_report(
        args.markers,
        args.out,
        datasets=datasets,
        benchmarks=args.benchmarks,
        top_n=args.top_n,
        title=args.title,
        command=["rgg", *args.argv],
        pseudobulk=args.pseudobulk,
    )
    say(f"report written to {args.out}")
    return 0
