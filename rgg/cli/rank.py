"""``rgg rank``: rank one h5ad file and write the long Parquet table (and the uns entry)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .._errors import check_unique_genes
from .._parameters import TEST_CONFIG_KEYS, logreg_clash, parameters
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
    read_text,
    say,
)

#: Keys of a test config: the parameters, plus LogisticRegression options.
TEST_KEYS = (*TEST_CONFIG_KEYS, "logreg")


def add_parser(commands: Subcommands) -> None:
    """Declare ``rgg rank`` and its options."""
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
    add_table_job(rank, "the .h5ad file to test")
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
    add_parameter_options(rank, parameters("test", "dataset"))
    rank.add_argument(
        "--key-added",
        default="rank_genes_groups",
        help="uns key of the result in --uns-out (default: %(default)s)",
    )
    add_comparison_names(rank, "the method")
    add_parameter_options(rank, parameters("run"))
    rank.add_argument(
        "--out-of-core",
        action="store_true",
        help="read the matrix backed and rank it through Dask, block by block (for data larger "
        "than memory; the results are the same)",
    )
    add_record_config(rank, "the workflow config of this comparison")
    rank.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar over the genes on stderr (default: when stderr is a terminal)",
    )
    rank.set_defaults(run=run)


def test_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """rank_genes_groups keyword arguments: --test-config, then --test-params, then options."""
    params: dict[str, Any] = {}
    logreg: dict[str, Any] = {}
    sources = []
    if args.test_config:
        sources.append((args.test_config, read_text(args.test_config, "--test-config")))
    if args.test_params:
        sources.append(("--test-params", args.test_params))
    for where, text in sources:
        config = parameter_mapping(text, TEST_KEYS, where)
        if not isinstance(config.get("logreg") or {}, dict):
            msg = f"{where}: 'logreg' holds LogisticRegression options as a mapping, e.g. {{max_iter: 500}}."
            raise ValueError(msg)
        clash = logreg_clash(config.get("logreg"), f"{where}: 'logreg'")
        if clash:
            raise ValueError(clash)
        check_types(config, where, parameters("test", "dataset"))
        params.update({key: value for key, value in config.items() if key != "logreg"})
        logreg.update(config.get("logreg") or {})
    for key in TEST_CONFIG_KEYS:
        value = getattr(args, key)
        if value is not None:
            params[key] = value
    if isinstance(params.get("reference"), list) and len(params["reference"]) == 1:
        params["reference"] = params["reference"][0]  # one group: scanpy's single reference
    if params.get("layer") is not None and params.get("use_raw") is None:
        params["use_raw"] = False
    return {**params, **logreg}


def _data_facts(adata: Any, uns: dict[str, Any], mask: Any) -> dict[str, Any]:
    """What the provenance record says about the tested data."""
    params = uns["params"]
    if params.get("layer") is not None:
        tested, matrix = f"layers[{params['layer']!r}]", adata.layers[params["layer"]]
    elif params.get("use_raw"):
        tested, matrix = "raw.X", adata.raw.X
    else:
        tested, matrix = "X", adata.X
    sizes = adata.obs[params["groupby"]].value_counts(sort=False)
    tested_genes = int(matrix.shape[1])
    if isinstance(mask, str):
        tested_genes = int(adata.var[mask].to_numpy().sum())
    return {
        "n_obs": int(adata.n_obs),
        "n_vars": int(adata.n_vars),
        "tested_matrix": tested,
        "matrix_type": f"{type(matrix).__name__} {matrix.dtype}",
        "tested_genes": tested_genes,
        "layer": params.get("layer"),
        "groupby": params["groupby"],
        "group_sizes": {str(label): int(size) for label, size in sizes.items()},
    }


def run(args: argparse.Namespace) -> int:
    """Rank one h5ad file, write the long table (and the uns entry)."""
    from .._settings import settings
    from ..api import rank_genes_groups
    from ..io import write_results, write_uns_h5ad
    from ..io.h5ad import read_h5ad
    from ..io.parquet import results_lazy, results_rows
    from ..io.provenance import now, provenance_record, to_json
    from ..plan import names_of_tested_genes

    started = now()
    check_output_paths(
        {"the input file": args.input, "the --test-config file": args.test_config},
        {"--out": args.out, "--uns-out": args.uns_out},
    )
    if args.uns_out and "/" in args.key_added:
        msg = f"--key-added {args.key_added!r}: an h5ad key (--uns-out) cannot hold '/'; choose another."
        raise ValueError(msg)
    params = test_parameters(args)
    config = json_object(args.record_config, "--record-config")
    settings.progress = sys.stderr.isatty() if args.progress is None else args.progress
    start = time.perf_counter()
    say(f"rgg {__version__}: reading {args.input}")
    if args.scheduler is not None and not args.out_of_core:
        msg = "--scheduler runs out-of-core ranking; add --out-of-core (or drop --scheduler)."
        raise ValueError(msg)
    adata = read_h5ad(args.input, backed=args.out_of_core)
    if params.get("pts") and params.get("method") != "logreg":  # before ranking, not after
        names = names_of_tested_genes(
            adata,
            use_raw=params.get("use_raw"),
            layer=params.get("layer"),
            mask_var=params.get("mask_var"),
        )
        check_unique_genes(names, "the table cannot tell their pts apart")
    say(
        f"ranking {adata.n_obs} cells x {adata.n_vars} genes by obs[{args.groupby!r}] "
        f"with {params or 'the default parameters'}" + (" out of core" if args.out_of_core else "")
    )
    rank_genes_groups(
        adata,
        args.groupby,
        key_added=args.key_added,
        **{p.name: getattr(args, p.name) for p in parameters("run")},
        **params,
    )
    uns = adata.uns[args.key_added]
    comparison = comparison_names(args, uns["params"]["method"])
    table = results_lazy(uns, **comparison)  # streamed to the file a block of groups at a time
    record = provenance_record(
        command=["rgg", *args.argv],
        inputs=[args.input],
        started=started,
        params={"groupby": args.groupby, **params},
        config={**comparison, **config},
        data=_data_facts(adata, uns, params.get("mask_var")),
    )
    if args.uns_out:
        write_uns_h5ad(
            {args.key_added: uns, "rgg_provenance": {args.key_added: to_json(record)}},
            args.uns_out,
        )
    write_results(
        table,
        args.out,
        params={"groupby": args.groupby, **params},
        rgg_version=__version__,
        comparison=comparison,
        provenance=record,
    )
    say(
        f"{results_rows(uns)} rows ({len(uns['names'].dtype.names)} groups) written to {args.out} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0
