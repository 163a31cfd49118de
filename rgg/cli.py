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
    rank = commands.add_parser(
        "rank",
        help="rank marker genes of an h5ad file and write a long Parquet table",
        description="Run rank_genes_groups on INPUT (an .h5ad file) and write the results as a "
        "long Parquet table (one row per group and ranked gene; columns dataset, grouping, "
        "test, method, group, reference, gene, rank, score, logfoldchange, pval, pval_adj, "
        "pts, pts_rest) with the parameters in the file's metadata. Test parameters come from "
        "--test-config and/or the options below; an option given on the command line wins.",
    )
    rank.add_argument("input", help="the .h5ad file to test")
    rank.add_argument("--groupby", required=True, help="obs column with the groups")
    rank.add_argument("--out", required=True, help="the Parquet file to write (written atomically)")
    rank.add_argument(
        "--test-config", help="YAML file with test parameters (keys: " + ", ".join(TEST_KEYS) + ")"
    )
    rank.add_argument("--method", choices=METHODS, help="test (default: t-test)")
    rank.add_argument(
        "--corr-method",
        choices=CORR_METHODS,
        help="p-value correction (default: benjamini-hochberg)",
    )
    rank.add_argument("--reference", help="'rest' (default) or a group to compare against")
    rank.add_argument("--groups", nargs="+", help="groups to report (default: all)")
    rank.add_argument("--n-genes", type=int, help="genes per group in the table (default: all)")
    rank.add_argument(
        "--rankby-abs", action="store_true", default=None, help="rank by absolute score"
    )
    rank.add_argument(
        "--pts", action="store_true", default=None, help="also report fractions of expressing cells"
    )
    rank.add_argument(
        "--tie-correct", action="store_true", default=None, help="tie-corrected Wilcoxon"
    )
    rank.add_argument("--mask-var", help="boolean var column: test only these genes")
    rank.add_argument("--layer", help="test this layer (implies --no-use-raw)")
    rank.add_argument(
        "--use-raw",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="test adata.raw (default: when it exists)",
    )
    rank.add_argument("--dataset", help="dataset name in the table (default: the file name)")
    rank.add_argument("--grouping", help="grouping name in the table (default: --groupby)")
    rank.add_argument("--test", help="test name in the table (default: the method)")
    rank.add_argument("--n-jobs", type=int, default=None, help="threads (default: all cores)")
    return parser


#: rank_genes_groups parameters a test config or an option may set.
PARAMETER_KEYS = (
    "method", "corr_method", "reference", "groups", "n_genes", "rankby_abs", "pts",
    "tie_correct", "mask_var", "layer", "use_raw",
)  # fmt: skip
#: Keys of a --test-config file: the parameters, plus LogisticRegression options.
TEST_KEYS = (*PARAMETER_KEYS, "logreg")


def _test_parameters(args: argparse.Namespace) -> dict:
    """rank_genes_groups keyword arguments from --test-config, overridden by options."""
    import yaml

    from ._errors import did_you_mean

    config: dict = {}
    if args.test_config:
        with open(args.test_config) as handle:
            config = yaml.safe_load(handle) or {}
        if not isinstance(config, dict):
            msg = f"{args.test_config}: a test config is a mapping of parameters, got {type(config).__name__}."
            raise ValueError(msg)
        for key in config:
            if key not in TEST_KEYS:
                msg = (
                    f"{args.test_config}: unknown key {key!r}.{did_you_mean(key, TEST_KEYS)} "
                    f"Valid keys: {', '.join(TEST_KEYS)}."
                )
                raise ValueError(msg)
    params = {key: value for key, value in config.items() if key != "logreg"}
    for key in PARAMETER_KEYS:
        value = getattr(args, key)
        if value is not None:
            params[key] = value
    if params.get("layer") is not None and params.get("use_raw") is None:
        params["use_raw"] = False
    logreg = config.get("logreg") or {}
    if not isinstance(logreg, dict):
        msg = f"{args.test_config}: 'logreg' holds LogisticRegression options as a mapping, e.g. {{max_iter: 500}}."
        raise ValueError(msg)
    return {**params, **logreg}


def _rank(args: argparse.Namespace) -> int:
    from pathlib import Path

    import anndata as ad

    from . import rank_genes_groups
    from .io import results_table, write_results

    params = _test_parameters(args)
    adata = ad.read_h5ad(args.input)
    rank_genes_groups(adata, args.groupby, n_jobs=args.n_jobs, **params)
    uns = adata.uns["rank_genes_groups"]
    table = results_table(
        uns,
        dataset=args.dataset or Path(args.input).stem,
        grouping=args.grouping or args.groupby,
        test=args.test or uns["params"]["method"],
    )
    write_results(
        table, args.out, params={"groupby": args.groupby, **params}, rgg_version=__version__
    )
    print(f"rgg: {len(table)} rows ({len(uns['names'].dtype.names)} groups) written to {args.out}")
    return 0


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
        if args.command == "rank":
            return _rank(args)
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
