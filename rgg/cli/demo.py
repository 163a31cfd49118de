"""``rgg demo``: rank a small dataset and print the top genes of each group."""

from __future__ import annotations

import argparse
import time

from .._parameters import BY_NAME
from .._version import __version__
from ._options import Subcommands


def add_parser(commands: Subcommands) -> None:
    """Declare ``rgg demo`` and its options."""
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
        "--method",
        default="wilcoxon",
        choices=BY_NAME["method"].choices,
        help="test (default: %(default)s)",
    )
    demo.add_argument(
        "--corr-method",
        default="benjamini-hochberg",
        choices=BY_NAME["corr_method"].choices,
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
    demo.add_argument("--n-jobs", **BY_NAME["n_jobs"].argparse_options())
    demo.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Rank a small dataset and print the top genes of each group."""
    from .. import datasets, get
    from ..api import rank_genes_groups
    from ..io.h5ad import read_h5ad

    adata = read_h5ad(args.input) if args.input else datasets.pbmc68k_reduced()
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
