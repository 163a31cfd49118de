"""The ``rgg`` command line: a thin layer over the Python API.

``main(argv) -> int`` parses, runs and returns an exit code; user errors, usage errors
included, print one line (``--debug`` shows the traceback) and exit with 2; Ctrl-C prints
one line and ends the process as killed by SIGINT (status 130 in a shell). The commands themselves live in
:mod:`rgg._commands`.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence

from . import __version__
from ._types import CORR_METHODS, CORR_SCOPES, FOLD_CHANGES, METHODS, REST_SCOPES

#: Exit code of a user error (bad input, bad option); argparse uses it for usage errors too.
EXIT_USAGE = 2

#: rank_genes_groups parameters a test config or an option may set.
PARAMETER_KEYS = (
    "method", "corr_method", "reference", "groups", "n_genes", "rankby_abs", "pts",
    "tie_correct", "mask_var", "layer", "use_raw", "auroc", "corr_scope", "rest_scope",
    "fold_change", "min_pct", "min_diff_pct", "min_logfc", "mean_in_log_space",
)  # fmt: skip
#: Keys of a test config: the parameters, plus LogisticRegression options.
TEST_KEYS = (*PARAMETER_KEYS, "logreg")


#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem and where help is.

    argparse prints the whole usage block first; for ``rgg rank`` that is 16 lines in which
    the one that matters comes last.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"rgg: error: {message} (see `{self.prog} --help`).\n")


def _parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="rgg",
        description="Rank marker genes of cell groups: scanpy's rank_genes_groups, fast.",
    )
    parser.add_argument("--version", action="version", version=f"rgg {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(commands)
    _add_rank(commands)
    _add_pseudobulk(commands)
    _add_collect(commands)
    _add_annotate(commands)
    _add_report(commands)
    _add_crate(commands)
    _add_verify(commands)
    for command in commands.choices.values():  # whose usage an unknown option belongs to
        command.set_defaults(command_parser=command)
    return parser


def _add_demo(commands: argparse._SubParsersAction) -> None:
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


def _add_rank(commands: argparse._SubParsersAction) -> None:
    rank = commands.add_parser(
        "rank",
        help="rank marker genes of an h5ad file and write a long Parquet table",
        description="Run rank_genes_groups on INPUT (an .h5ad file) and write the results as a "
        "long Parquet table (one row per group and ranked gene; columns dataset, grouping, "
        "test, method, group, reference, gene, rank, score, logfoldchange, pval, pval_adj, "
        "pts, pts_rest, auroc, filtered) with the parameters in the file's metadata, and optionally "
        "adata.uns[KEY] in scanpy's structure (--uns-out, for `rgg annotate`). Test "
        "parameters come from --test-config, then --test-params, then the options below; "
        "a later source wins. Outputs are written to a temporary name and renamed into place.",
    )
    rank.add_argument("input", help="the .h5ad file to test")
    rank.add_argument("--groupby", required=True, help="obs column with the groups")
    rank.add_argument("--out", required=True, help="the Parquet file to write")
    rank.add_argument(
        "--uns-out",
        help="also write adata.uns[KEY] alone to this .h5ad file (read by `rgg annotate`)",
    )
    rank.add_argument(
        "--test-config",
        help="YAML file with test parameters (keys: " + ", ".join(TEST_KEYS) + ")",
    )
    rank.add_argument(
        "--test-params",
        metavar="YAML",
        help="test parameters inline, as a YAML or JSON mapping, e.g. "
        "'{method: wilcoxon, tie_correct: true}'",
    )
    rank.add_argument("--method", choices=METHODS, help="test (default: t-test)")
    rank.add_argument(
        "--corr-method",
        choices=CORR_METHODS,
        help="p-value correction (default: benjamini-hochberg)",
    )
    rank.add_argument(
        "--corr-scope",
        choices=CORR_SCOPES,
        help="correct each group's p-values on their own ('group', default, as scanpy) or all "
        "groups' together ('all')",
    )
    rank.add_argument(
        "--reference",
        action="append",
        help="'rest' (default) or a group to compare against; repeat it to pool several groups "
        "into one reference (--reference NK --reference DC)",
    )
    rank.add_argument(
        "--rest-scope",
        choices=REST_SCOPES,
        help="with reference 'rest': every other cell ('all', default, as scanpy) or only the "
        "other groups of --groups ('groups')",
    )
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
    rank.add_argument(
        "--fold-change",
        choices=FOLD_CHANGES,
        help="log fold change from the mean of log values ('log_mean', default, as scanpy) or "
        "of expm1 values ('expm1_mean', as Seurat)",
    )
    rank.add_argument(
        "--mean-in-log-space",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="scanpy 1.13: group means of the log values (default, as scanpy's classic "
        "preset), or with --no-mean-in-log-space of expm1 values, for the t-tests and every "
        "fold change",
    )
    rank.add_argument(
        "--auroc",
        action="store_true",
        default=None,
        help="also report each gene's area under the ROC curve (not with logreg)",
    )
    prefilter = "Seurat's pre-filter (default: off): test a gene for a group only if"
    rank.add_argument(
        "--min-pct",
        type=float,
        help=f"{prefilter} it is expressed in at least this fraction of the group's or of the "
        "other side's cells",
    )
    rank.add_argument(
        "--min-diff-pct",
        type=float,
        help=f"{prefilter} the two expressing fractions differ by at least this much",
    )
    rank.add_argument(
        "--min-logfc",
        type=float,
        help=f"{prefilter} its absolute log2 fold change reaches this",
    )
    rank.add_argument("--mask-var", help="boolean var column: test only these genes")
    rank.add_argument("--layer", help="test this layer (implies --no-use-raw)")
    rank.add_argument(
        "--use-raw",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="test adata.raw (default: when it exists)",
    )
    rank.add_argument(
        "--key-added",
        default="rank_genes_groups",
        help="uns key of the result in --uns-out (default: %(default)s)",
    )
    rank.add_argument("--dataset", help="dataset name in the table (default: the file name)")
    rank.add_argument("--grouping", help="grouping name in the table (default: --groupby)")
    rank.add_argument("--test", help="test name in the table (default: the method)")
    rank.add_argument("--n-jobs", type=int, default=None, help="threads (default: all cores)")
    rank.add_argument(
        "--out-of-core",
        action="store_true",
        help="read the matrix backed and rank it through Dask, block by block (for data larger "
        "than memory; the results are the same)",
    )
    rank.add_argument(
        "--scheduler",
        help="with --out-of-core: a dask.distributed scheduler address (default: a local "
        "cluster of --n-jobs workers), or 'threads' / 'synchronous'",
    )
    rank.add_argument(
        "--block-nnz",
        type=int,
        help="non-zeros one block of work holds (bounds memory; default 16M in memory, 20M "
        "out of core)",
    )
    rank.add_argument(
        "--temp-dir",
        help="with --out-of-core: where the gene-ordered copy for rank tests goes (default: "
        "the system's temporary directory; removed after the run)",
    )
    rank.add_argument(
        "--record-config",
        metavar="JSON",
        help="the workflow config of this comparison, recorded in the provenance (a JSON object)",
    )
    rank.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar over the genes on stderr (default: when stderr is a terminal)",
    )


#: Keys of a pseudobulk test config (``--test-params``).
PSEUDOBULK_KEYS = ("sample", "counts_layer", "min_cells", "design", "reference", "groups")


def _add_pseudobulk(commands: argparse._SubParsersAction) -> None:
    bulk = commands.add_parser(
        "pseudobulk",
        help="pseudobulk differential expression with PyDESeq2, one Parquet table",
        description="Sum the raw counts of INPUT per sample and group and test each group "
        "against the rest (or a reference group) across samples with PyDESeq2: cells of one "
        "sample are not independent replicates, samples are. Writes a long Parquet table "
        "(columns dataset, grouping, test, group, reference, gene, rank, base_mean, "
        "log2_fold_change, lfc_se, stat, pval, pval_adj, n_samples_group, "
        "n_samples_reference, design; rows by stat within each group) atomically. Parameters "
        "come from --test-params, then the options below.",
    )
    bulk.add_argument("input", help="the .h5ad file with raw counts")
    bulk.add_argument("--groupby", required=True, help="obs column with the groups")
    bulk.add_argument("--out", required=True, help="the Parquet file to write")
    bulk.add_argument(
        "--test-params",
        metavar="YAML",
        help="parameters inline, as a YAML or JSON mapping (keys: "
        + ", ".join(PSEUDOBULK_KEYS)
        + ")",
    )
    bulk.add_argument("--sample", help="obs column of the biological replicates (required)")
    bulk.add_argument(
        "--counts-layer", help="layer with raw integer counts (default: counts; '' means X)"
    )
    bulk.add_argument(
        "--min-cells",
        type=int,
        help="leave out sample x group pseudobulks of fewer cells (default: 10)",
    )
    bulk.add_argument(
        "--design",
        choices=("auto", "paired", "unpaired"),
        help="~ sample + group (paired), ~ group (unpaired), or auto (default)",
    )
    bulk.add_argument("--reference", help="'rest' (default) or a group to compare against")
    bulk.add_argument("--groups", nargs="+", help="groups to test (default: all)")
    bulk.add_argument("--dataset", help="dataset name in the table (default: the file name)")
    bulk.add_argument("--grouping", help="grouping name in the table (default: --groupby)")
    bulk.add_argument("--test", help="test name in the table (default: pseudobulk)")
    bulk.add_argument("--n-jobs", type=int, default=None, help="PyDESeq2 processes (default: 1)")
    bulk.add_argument(
        "--record-config",
        metavar="JSON",
        help="the workflow config of this comparison, recorded in the provenance (a JSON object)",
    )


def _add_collect(commands: argparse._SubParsersAction) -> None:
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
    collect.add_argument(
        "--record-config",
        metavar="JSON",
        help="the resolved workflow config, recorded in the output's provenance (a JSON object)",
    )


def _add_annotate(commands: argparse._SubParsersAction) -> None:
    annotate = commands.add_parser(
        "annotate",
        help="copy an h5ad file, adding the results of `rgg rank --uns-out` to its uns",
        description="Read INPUT and write it to --out with each RESULTS file's uns entries "
        "(scanpy's rank_genes_groups structure, under the key each was ranked with) added, "
        "so that scanpy's rank_genes_groups_df and plots work on the file after "
        "anndata.read_h5ad, also when group labels contain '/'. Results of about 1,000 groups "
        "or more, or with labels no HDF5 name can hold ('../x', '/a', '.', an empty label), "
        "are stored in rgg's columns layout: read those with rgg.read_h5ad. Written atomically.",
    )
    annotate.add_argument("input", help="the .h5ad file the results were computed on")
    annotate.add_argument(
        "results", nargs="+", metavar="RESULTS", help=".h5ad files from `rgg rank --uns-out`"
    )
    annotate.add_argument("--out", required=True, help="the annotated .h5ad file to write")


def _add_report(commands: argparse._SubParsersAction) -> None:
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


def _add_crate(commands: argparse._SubParsersAction) -> None:
    crate = commands.add_parser(
        "crate",
        help="describe a finished workflow run as a Workflow Run RO-Crate (the workflow's last step)",
        description="Write RESULTS/ro-crate-metadata.json (Workflow Run Crate 0.5): the "
        "workflow (copied to RESULTS/run/) as the main entity, the resolved config "
        "(RESULTS/run/config.yaml), every input and output with its sha256, the software (rgg's "
        "version and commit, Python, every package), the command, start and end times, and one "
        "action per comparison linking its input, parameters and table; and the run's packages "
        "pinned in RESULTS/environment.txt (pip) and RESULTS/environment.yml (conda). Check it "
        "later with `rgg verify RESULTS`. Each file is written atomically.",
    )
    crate.add_argument("results", help="the results folder of the run: the crate's root")
    crate.add_argument(
        "--table",
        action="append",
        default=[],
        required=True,
        help="a comparison's table from `rgg rank` or `rgg pseudobulk` (repeat for each)",
    )
    crate.add_argument(
        "--output",
        action="append",
        default=[],
        help="another output of the run: combined table, annotated h5ad, report (repeat)",
    )
    crate.add_argument(
        "--config", required=True, metavar="JSON", help="the resolved workflow config (JSON)"
    )
    crate.add_argument("--workflow", required=True, help="the folder of the Snakefile that ran")
    crate.add_argument(
        "--license", help="the results' licence: an SPDX URL or a sentence (default: none chosen)"
    )


def _add_verify(commands: argparse._SubParsersAction) -> None:
    verify = commands.add_parser(
        "verify",
        help="check a results folder against its RO-Crate, and optionally rerun comparisons",
        description="Check that every input still has the sha256 the run's "
        "ro-crate-metadata.json records, that every output still has its checksum and "
        "provenance (comparison, parameters, input, rgg version), and that this environment has "
        "the run's rgg version and the versions of rgg's dependencies. With --recompute, run N "
        "comparisons (or all) again in a temporary folder and compare the tables bit for bit. "
        "Prints one line per problem; exits with 0 only when everything holds, 1 otherwise.",
    )
    verify.add_argument("results", help="the results folder of a workflow run")
    verify.add_argument(
        "--recompute",
        nargs="?",
        const="all",
        default="0",
        metavar="N",
        help="rerun the first N comparisons, or all (the default when N is left out)",
    )
    verify.add_argument(
        "--data",
        help="a folder to look for the inputs in, by file name, when they are not where the "
        "run read them",
    )
    verify.add_argument(
        "--n-jobs", type=int, default=None, help="threads of a rerun (default: as recorded)"
    )


class _StderrHandler(logging.Handler):
    """rgg's warnings as ``rgg: warning: ...`` lines on the current ``sys.stderr``."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"rgg: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)


def _show_warnings() -> None:
    logger = logging.getLogger("rgg")
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        logger.addHandler(_StderrHandler(logging.WARNING))


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Python warnings (anndata's, PyDESeq2's) as one ``rgg: warning:`` line each, not two
    lines with the library's source file."""
    previous = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *_, **__: (
        f"rgg: warning: {category.__name__}: {message}\n"
    )
    try:
        yield
    finally:
        warnings.formatwarning = previous


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rgg`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    from . import _commands

    args, unknown = _parser().parse_known_args(argv)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    _show_warnings()
    args.argv = list(sys.argv[1:] if argv is None else argv)
    run = {
        "demo": _commands.demo,
        "rank": _commands.rank,
        "pseudobulk": _commands.pseudobulk,
        "collect": _commands.collect,
        "annotate": _commands.annotate,
        "report": _commands.report,
        "crate": _commands.crate,
        "verify": _commands.verify,
    }[args.command]
    try:
        with _one_line_warnings():
            return run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        # outputs are written atomically: one being written when interrupted is not left
        print("rgg: interrupted; no partial output file is left.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    except (ValueError, KeyError, FileNotFoundError, NotImplementedError, OSError) as error:
        if args.debug:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"rgg: error: {message}", file=sys.stderr)
        return EXIT_USAGE


def console_main() -> None:
    """Entry point of the ``rgg`` script."""
    try:
        code = main()
    except KeyboardInterrupt:  # before a command runs (parsing, importing it)
        print("rgg: interrupted.", file=sys.stderr)
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        # end as killed by SIGINT, not with a plain status: that is how a shell loop or
        # `make` learns that the user pressed Ctrl-C and stops too (the shell shows 130)
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
