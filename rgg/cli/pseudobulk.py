"""``rgg pseudobulk``: pseudobulk DESeq2 of one h5ad file, written as a long table."""

from __future__ import annotations

import argparse
import time

from .._parameters import PSEUDOBULK_PARAMETERS
from .._version import __version__
from ..io.paths import check_output_paths
from ._options import (
    Subcommands,
    add_comparison_names,
    add_parameter_options,
    add_record_config,
    add_table_job,
    check_types,
    comparison_names,
    json_object,
    parameter_mapping,
    say,
)

#: Keys of a pseudobulk test config (``--test-params``).
PSEUDOBULK_KEYS = tuple(parameter.name for parameter in PSEUDOBULK_PARAMETERS)


def add_parser(commands: Subcommands) -> None:
    """Declare ``rgg pseudobulk`` and its options."""
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
    add_table_job(bulk, "the .h5ad file with raw counts")
    bulk.add_argument(
        "--test-params",
        metavar="YAML",
        help="parameters inline, as a YAML or JSON mapping (keys: "
        + ", ".join(PSEUDOBULK_KEYS)
        + ")",
    )
    add_parameter_options(bulk, PSEUDOBULK_PARAMETERS)
    add_comparison_names(bulk, "pseudobulk")
    bulk.add_argument("--n-jobs", type=int, default=None, help="PyDESeq2 processes (default: 1)")
    add_record_config(bulk, "the workflow config of this comparison")
    bulk.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Pseudobulk DESeq2 of one h5ad file, written as a long table."""
    from ..io import pseudobulk_table, write_results
    from ..io.h5ad import read_h5ad
    from ..io.provenance import now, provenance_record
    from ..pseudobulk import pseudobulk_deseq2

    started = now()
    check_output_paths({"the input file": args.input}, {"--out": args.out})
    params = {parameter.name: parameter.default for parameter in PSEUDOBULK_PARAMETERS}
    given = parameter_mapping(args.test_params, PSEUDOBULK_KEYS, "--test-params")
    check_types(given, "--test-params", PSEUDOBULK_PARAMETERS)
    params |= given
    for key in PSEUDOBULK_KEYS:
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    if params["counts_layer"] == "":
        params["counts_layer"] = None
    if params["sample"] is None:
        msg = "pseudobulk needs --sample: the obs column of the biological replicates (e.g. donor)."
        raise ValueError(msg)
    config = json_object(args.record_config, "--record-config")
    start = time.perf_counter()
    say(f"rgg {__version__}: reading {args.input}")
    adata = read_h5ad(args.input)
    say(f"pseudobulk of {adata.n_obs} cells by obs[{args.groupby!r}] with {params}")
    results = pseudobulk_deseq2(
        adata,
        args.groupby,
        params["sample"],
        layer=params["counts_layer"],
        groups=params["groups"] or "all",
        reference=params["reference"],
        min_cells=params["min_cells"],
        design=params["design"],
        n_jobs=args.n_jobs,
    )
    comparison = comparison_names(args, "pseudobulk")
    table = pseudobulk_table(results, **comparison)
    recorded = {"groupby": args.groupby, "method": "pseudobulk", **params}
    record = provenance_record(
        command=["rgg", *args.argv],
        inputs=[args.input],
        started=started,
        params=recorded,
        config={**comparison, **config},
        data={"n_obs": int(adata.n_obs), "n_vars": int(adata.n_vars), "groupby": args.groupby},
    )
    write_results(
        table,
        args.out,
        params=recorded,
        rgg_version=__version__,
        comparison=comparison,
        provenance=record,
        kind="pseudobulk",
    )
    say(
        f"{len(table)} rows ({table['group'].n_unique()} groups) written to {args.out} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0
