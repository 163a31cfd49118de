"""``rgg collect``: combine result tables into one Parquet file."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from .._version import __version__
from ..io.paths import check_output_paths
from ._options import Subcommands, add_record_config, json_object, say


def add_parser(commands: Subcommands) -> None:
    """Declare ``rgg collect`` and its options."""
    collect = commands.add_parser(
        "collect",
        help="combine result tables of `rgg rank` (or of `rgg pseudobulk`) into one Parquet file",
        description="Concatenate Parquet tables written by `rgg rank`, or by `rgg pseudobulk` "
        "(in the order given; one kind per call) into one table with the same columns. Each "
        "input's parameters are kept in the output's metadata (rgg:comparisons). No table "
        "gives an empty markers table. Written atomically.",
    )
    collect.add_argument(
        "tables",
        nargs="*",
        metavar="TABLE",
        help="Parquet files from `rgg rank` or `rgg pseudobulk`",
    )
    collect.add_argument("--out", required=True, help="the combined Parquet file to write")
    add_record_config(collect, "the resolved workflow config")
    collect.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Concatenate result tables into one file."""
    from ..io import write_combined_results
    from ..io.provenance import now, provenance_record

    started = now()
    given = Counter(Path(path).resolve() for path in args.tables)
    repeated = sorted({str(path) for path in args.tables if given[Path(path).resolve()] > 1})
    if repeated:
        msg = f"{repeated[0]} is given more than once; its rows would be in the table twice."
        raise ValueError(msg)
    check_output_paths({f"the input table {p}": p for p in args.tables}, {"--out": args.out})
    config = json_object(args.record_config, "--record-config")
    n_rows = write_combined_results(
        args.tables,
        args.out,
        rgg_version=__version__,
        provenance=lambda: provenance_record(
            command=["rgg", *args.argv], inputs=args.tables, started=started, config=config
        ),
    )
    say(f"{n_rows} rows from {len(args.tables)} tables written to {args.out}")
    return 0
