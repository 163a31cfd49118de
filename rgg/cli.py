"""The ``rgg`` command line: a thin layer over the Python API.

``main(argv) -> int`` parses, runs and returns an exit code; user errors print one line
(``--debug`` shows the traceback) and exit with 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from . import __version__
from ._types import CORR_METHODS, METHODS

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rgg",
        description="Rank marker genes of cell groups: scanpy's rank_genes_groups, fast.",
    )
    parser.add_argument("--version", action="version", version=f"rgg {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="rank marker genes on the bundled PBMC data (or an h5ad) and print the top genes",
        description="Run rank_genes_groups on the bundled pbmc68k_reduced data (or --input) "
        "and print the top marker genes of each group.",
    )
    demo.add_argument("--input", help="an .h5ad file to use instead of the bundled data")
    demo.add_argument(
        "--groupby", default="bulk_labels", help="obs column with the groups (default: %(default)s)"
    )
    demo.add_argument(
        "--method", default="wilcoxon", choices=METHODS, help="test (default: %(default)s)"
    )
    demo.add_argument(
        "--corr-method",
        default="benjamini-hochberg",
        choices=CORR_METHODS,
        help="p-value correction",
    )
    demo.add_argument(
        "--reference",
        default="rest",
        help="'rest' or a group to compare against (default: %(default)s)",
    )
    demo.add_argument("--tie-correct", action="store_true", help="tie-corrected Wilcoxon variance")
    demo.add_argument(
        "--n-genes", type=int, default=5, help="genes shown per group (default: %(default)s)"
    )
    demo.add_argument("--n-jobs", type=int, default=None, help="threads (default: all cores)")
    return parser


def _demo(args: argparse.Namespace) -> int:
    import anndata as ad

    from . import datasets, get, rank_genes_groups

    adata = ad.read_h5ad(args.input) if args.input else datasets.pbmc68k_reduced()
    source = args.input or "bundled pbmc68k_reduced"
    start = time.perf_counter()
    rank_genes_groups(
        adata,
        args.groupby,
        method=args.method,
        corr_method=args.corr_method,
        reference=args.reference,
        tie_correct=args.tie_correct,
        n_jobs=args.n_jobs,
        pts=args.method != "logreg",
    )
    elapsed = time.perf_counter() - start
    print(
        f"rgg {__version__}: {args.method} on {source} ({adata.n_obs} cells x {adata.n_vars} genes), "
        f"groups from obs[{args.groupby!r}], reference {args.reference!r}, {elapsed:.2f} s "
        "(the first run includes compiling the kernels)\n"
    )
    table = get.rank_genes_groups_df(adata, None)
    columns = [
        c for c in ("names", "scores", "logfoldchanges", "pvals_adj", "pct_nz_group") if c in table
    ]
    for group, rows in table.groupby("group", observed=True, sort=False):
        print(f"== {group}")
        print(
            rows[columns]
            .head(args.n_genes)
            .to_string(index=False, float_format=lambda v: f"{v:.3g}")
        )
        print()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rgg`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return _demo(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    except (ValueError, KeyError, FileNotFoundError, NotImplementedError, OSError) as error:
        if args.debug:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"rgg: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_USAGE


def console_main() -> None:
    """Entry point of the ``rgg`` script."""
    sys.exit(main())


if __name__ == "__main__":
    console_main()
