"""What each ``rgg`` subcommand does, given the parsed options (see :mod:`rgg.cli`)."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__
from ._errors import check_unique_genes, did_you_mean
from ._settings import settings
from ._types import RANK_GENES_GROUPS_ARGUMENTS
from .cli import PARAMETER_KEYS, PSEUDOBULK_KEYS, TEST_KEYS
from .io.h5ad import read_h5ad
from .io.paths import check_output_paths
from .plan import names_of_tested_genes


def _say(message: str) -> None:
    """A progress line on stderr (the log of a workflow job)."""
    print(f"rgg: {message}", file=sys.stderr, flush=True)


#: Expected Python types of the test parameters (None is always allowed).
_PARAMETER_TYPES: dict[str, tuple[type, ...]] = {
    "method": (str,), "corr_method": (str,), "reference": (str, list), "groups": (list,),
    "n_genes": (int,), "rankby_abs": (bool,), "pts": (bool,), "tie_correct": (bool,),
    "mask_var": (str,), "layer": (str,), "use_raw": (bool,), "auroc": (bool,),
    "corr_scope": (str,), "rest_scope": (str,), "fold_change": (str,),
    "min_pct": (float, int), "min_diff_pct": (float, int), "min_logfc": (float, int),
    "mean_in_log_space": (bool,),
}  # fmt: skip

_TYPE_WORDS = {
    (str,): "a string", (list,): "a list", (int,): "an integer", (bool,): "true or false",
    (str, list): "a string or a list of strings", (float, int): "a number",
}  # fmt: skip


#: Expected Python types of the pseudobulk parameters (None is always allowed).
_PSEUDOBULK_TYPES: dict[str, tuple[type, ...]] = {
    "sample": (str,), "counts_layer": (str,), "min_cells": (int,), "design": (str,),
    "reference": (str,), "groups": (str, list),
}  # fmt: skip


def _check_types(
    config: dict[str, Any], where: str, types_of: dict[str, tuple[type, ...]] = _PARAMETER_TYPES
) -> None:
    for key, types in types_of.items():
        value = config.get(key)
        wrong = value is not None and (
            not isinstance(value, types) or (bool not in types and isinstance(value, bool))
        )
        if wrong:
            hint = " (quote labels such as '0')" if str in types else ""
            msg = f"{where}: {key} must be {_TYPE_WORDS[types]}, got {value!r}{hint}."
            raise ValueError(msg)


def test_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """rank_genes_groups keyword arguments: --test-config, then --test-params, then options."""
    params: dict[str, Any] = {}
    logreg: dict[str, Any] = {}
    sources = []
    if args.test_config:
        sources.append((args.test_config, _read_text(args.test_config, "--test-config")))
    if args.test_params:
        sources.append(("--test-params", args.test_params))
    for where, text in sources:
        # JSON first: YAML 1.1 reads JSON's 1e-05 as a string
        config = _parameter_mapping(text, TEST_KEYS, where)
        if not isinstance(config.get("logreg") or {}, dict):
            msg = f"{where}: 'logreg' holds LogisticRegression options as a mapping, e.g. {{max_iter: 500}}."
            raise ValueError(msg)
        clashes = sorted(set(config.get("logreg") or {}) & RANK_GENES_GROUPS_ARGUMENTS)
        if clashes:
            msg = (
                f"{where}: logreg options {clashes} are rank_genes_groups parameters, not "
                "LogisticRegression's; set them outside 'logreg'."
            )
            raise ValueError(msg)
        _check_types(config, where)
        params.update({key: value for key, value in config.items() if key != "logreg"})
        logreg.update(config.get("logreg") or {})
    for key in PARAMETER_KEYS:
        value = getattr(args, key)
        if value is not None:
            params[key] = value
    if isinstance(params.get("reference"), list) and len(params["reference"]) == 1:
        params["reference"] = params["reference"][0]  # one group: scanpy's single reference
    if params.get("layer") is not None and params.get("use_raw") is None:
        params["use_raw"] = False
    return {**params, **logreg}


def _read_text(path: str, option: str) -> str:
    """The text of a YAML/JSON file given as ``option``, or one line on why it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"{option} {path}: no such file; check the path."
    except IsADirectoryError:
        msg = f"{option} {path} is a directory; give the YAML file."
    except UnicodeDecodeError:
        msg = f"{option} {path} is not a text file; give a YAML or JSON file of test parameters."
    except PermissionError:
        msg = f"{option} {path}: permission denied; make the file readable for this user."
    raise ValueError(msg)


def _json_option(text: str | None, option: str) -> dict[str, Any]:
    import json

    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        msg = f"{option}: not valid JSON ({error})."
        raise ValueError(msg) from error
    if not isinstance(value, dict):
        msg = f"{option}: a JSON object is expected, got {type(value).__name__}."
        raise ValueError(msg)
    return value


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


def rank(args: argparse.Namespace) -> int:
    """``rgg rank``: rank one h5ad file, write the long table (and the uns entry)."""

    from . import rank_genes_groups
    from .io import write_results, write_uns_h5ad
    from .io.parquet import results_lazy, results_rows
    from .io.provenance import now, provenance_record, to_json

    started = now()
    check_output_paths(
        {"the input file": args.input, "the --test-config file": args.test_config},
        {"--out": args.out, "--uns-out": args.uns_out},
    )
    if args.uns_out and "/" in args.key_added:
        msg = f"--key-added {args.key_added!r}: an h5ad key (--uns-out) cannot hold '/'; choose another."
        raise ValueError(msg)
    params = test_parameters(args)
    config = _json_option(args.record_config, "--record-config")
    settings.progress = sys.stderr.isatty() if args.progress is None else args.progress
    start = time.perf_counter()
    _say(f"rgg {__version__}: reading {args.input}")
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
    _say(
        f"ranking {adata.n_obs} cells x {adata.n_vars} genes by obs[{args.groupby!r}] "
        f"with {params or 'the default parameters'}" + (" out of core" if args.out_of_core else "")
    )
    rank_genes_groups(
        adata,
        args.groupby,
        key_added=args.key_added,
        n_jobs=args.n_jobs,
        scheduler=args.scheduler,
        block_nnz=args.block_nnz,
        temp_dir=args.temp_dir,
        **params,
    )
    uns = adata.uns[args.key_added]
    comparison = {
        "dataset": args.dataset or Path(args.input).stem,
        "grouping": args.grouping or args.groupby,
        "test": args.test or uns["params"]["method"],
    }
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
    _say(
        f"{results_rows(uns)} rows ({len(uns['names'].dtype.names)} groups) written to {args.out} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


def _parameter_mapping(text: str | None, keys: Sequence[str], where: str) -> dict[str, Any]:
    """A mapping of parameters from JSON (tried first) or YAML text, with known keys only."""
    import json

    import yaml

    if not text:
        return {}
    try:
        config = json.loads(text)
    except json.JSONDecodeError:
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as error:
            msg = f"{where}: not valid YAML ({' '.join(str(error).split())})."
            raise ValueError(msg) from error
    config = {} if config is None else config
    if not isinstance(config, dict):
        msg = f"{where}: test parameters are a mapping, got {type(config).__name__}."
        raise ValueError(msg)
    for key in config:
        if key not in keys:
            msg = f"{where}: unknown key {key!r}.{did_you_mean(key, keys)} Valid keys: {', '.join(keys)}."
            raise ValueError(msg)
    return config


def pseudobulk(args: argparse.Namespace) -> int:
    """``rgg pseudobulk``: pseudobulk DESeq2 of one h5ad file, written as a long table."""
    from .io import pseudobulk_table, write_results
    from .io.provenance import now, provenance_record
    from .pseudobulk import pseudobulk_deseq2

    started = now()
    check_output_paths({"the input file": args.input}, {"--out": args.out})
    from .comparisons import PSEUDOBULK_DEFAULTS

    params = dict(PSEUDOBULK_DEFAULTS)
    given = _parameter_mapping(args.test_params, PSEUDOBULK_KEYS, "--test-params")
    _check_types(given, "--test-params", _PSEUDOBULK_TYPES)
    params |= given
    for key in PSEUDOBULK_KEYS:
        if getattr(args, key) is not None:
            params[key] = getattr(args, key)
    if params["counts_layer"] == "":
        params["counts_layer"] = None
    if params["sample"] is None:
        msg = "pseudobulk needs --sample: the obs column of the biological replicates (e.g. donor)."
        raise ValueError(msg)
    config = _json_option(args.record_config, "--record-config")
    start = time.perf_counter()
    _say(f"rgg {__version__}: reading {args.input}")
    adata = read_h5ad(args.input)
    _say(f"pseudobulk of {adata.n_obs} cells by obs[{args.groupby!r}] with {params}")
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
    comparison = {
        "dataset": args.dataset or Path(args.input).stem,
        "grouping": args.grouping or args.groupby,
        "test": args.test or "pseudobulk",
    }
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
    _say(
        f"{len(table)} rows ({table['group'].n_unique()} groups) written to {args.out} "
        f"in {time.perf_counter() - start:.1f} s"
    )
    return 0


def collect(args: argparse.Namespace) -> int:
    """``rgg collect``: concatenate result tables into one file."""
    from .io import write_combined_results
    from .io.provenance import now, provenance_record

    started = now()
    given = Counter(Path(path).resolve() for path in args.tables)
    repeated = sorted({str(path) for path in args.tables if given[Path(path).resolve()] > 1})
    if repeated:
        msg = f"{repeated[0]} is given more than once; its rows would be in the table twice."
        raise ValueError(msg)
    check_output_paths({f"the input table {p}": p for p in args.tables}, {"--out": args.out})
    config = _json_option(args.record_config, "--record-config")
    n_rows = write_combined_results(
        args.tables,
        args.out,
        rgg_version=__version__,
        provenance=lambda: provenance_record(
            command=["rgg", *args.argv], inputs=args.tables, started=started, config=config
        ),
    )
    _say(f"{n_rows} rows from {len(args.tables)} tables written to {args.out}")
    return 0


def annotate(args: argparse.Namespace) -> int:
    """``rgg annotate``: the input h5ad with every result's uns entry added."""

    from .io import read_uns_h5ad
    from .io.h5ad import copy_with_uns
    from .io.provenance import now, provenance_record, to_json

    started = now()
    check_output_paths(
        {"the input file": args.input, **{f"the results file {p}": p for p in args.results}},
        {"--out": args.out},
    )
    adata = read_h5ad(args.input, backed=True)  # names only: the matrices are copied as bytes
    genes = set(adata.var_names)
    if adata.raw is not None:
        genes |= set(adata.raw.var_names)
    added: dict[str, str] = {}
    records: dict[str, str] = {}
    uns: dict[str, Any] = {}
    for path in args.results:
        entries = read_uns_h5ad(path)
        records.update(entries.pop("rgg_provenance", {}))
        if not entries:
            msg = (
                f"{path} holds no rank_genes_groups result; give the files of `rgg rank --uns-out`."
            )
            raise ValueError(msg)
        for key, result in entries.items():
            if key in added:
                msg = f"{path} and {added[key]} both hold uns[{key!r}]; rank them with different --key-added."
                raise ValueError(msg)
            _check_result_fits(result, adata, genes, key, path)
            uns[key] = result
            added[key] = path
    records["annotate"] = to_json(
        provenance_record(
            command=["rgg", *args.argv], inputs=[args.input, *args.results], started=started
        )
    )
    uns["rgg_provenance"] = records
    adata.file.close()
    copy_with_uns(args.input, uns, args.out)
    _say(f"{args.input} with {len(added)} results ({', '.join(added)}) written to {args.out}")
    return 0


def report(args: argparse.Namespace) -> int:
    """``rgg report``: the HTML report of a workflow run."""
    from .report import build_report

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
    _say(f"report written to {args.out}")
    return 0


def crate(args: argparse.Namespace) -> int:
    """``rgg crate``: the run's Workflow Run RO-Crate and environment files."""
    import os

    from .io.crate import write_run_crate
    from .io.provenance import WORKFLOW_COMMAND_VARIABLE

    if not Path(args.results).is_dir():
        msg = f"{args.results}: not a folder; give the results folder of the workflow run."
        raise ValueError(msg)
    config = _json_option(args.config, "--config")
    path = write_run_crate(
        args.results,
        tables=args.table,
        outputs=args.output,
        config=config,
        workflow_dir=args.workflow,
        command=os.environ.get(WORKFLOW_COMMAND_VARIABLE),
        license=args.license,
    )
    _say(f"the run's RO-Crate ({len(args.table)} comparisons) written to {path}")
    return 0


def verify(args: argparse.Namespace) -> int:
    """``rgg verify``: one line per problem; 0 only when everything holds."""
    from .verify import verify_results

    if args.recompute == "all":
        recompute = None
    elif args.recompute.isdigit():
        recompute = int(args.recompute)
    else:
        msg = f"--recompute {args.recompute!r}: give a number of comparisons, or 'all'."
        raise ValueError(msg)
    if args.data is not None and not Path(args.data).is_dir():
        msg = f"--data {args.data}: not a folder; give the folder that holds the input files."
        raise ValueError(msg)
    outcome = verify_results(
        args.results, recompute=recompute, data=args.data, n_jobs=args.n_jobs, progress=_say
    )
    run = outcome.run
    if run is not None:
        commit = f", git commit {run.rgg_commit}" if run.rgg_commit else ""
        print(
            f"rgg verify: the run: rgg {run.rgg_version}{commit}, Python {run.python}, "
            f"{len(run.packages)} other packages; from {run.started} to {run.ended}; "
            f"command: {run.command or 'not recorded'}",
            flush=True,
        )
    for note in outcome.notes:
        print(f"rgg verify: note: {note}", flush=True)
    for problem in outcome.problems:
        print(f"rgg verify: problem: {problem}", flush=True)
    checked = (
        f"{outcome.files} files, {outcome.comparisons} comparisons' provenance and the "
        f"environment checked, {outcome.recomputed} comparisons recomputed"
    )
    if outcome.passed:
        print(f"rgg verify: {args.results} holds: {checked}.")
        return 0
    print(f"rgg verify: {len(outcome.problems)} problems in {args.results} ({checked}).")
    return 1


def _check_result_fits(result: Any, adata: Any, genes: set[str], key: str, path: str) -> None:
    """Refuse results that were not computed on this data (another groupby or other genes)."""
    if not isinstance(result, dict) or "names" not in result or "params" not in result:
        msg = f"{path}: uns[{key!r}] is not a rank_genes_groups result; make it with `rgg rank --uns-out`."
        raise ValueError(msg)
    groupby = result["params"]["groupby"]
    if groupby not in adata.obs:
        msg = f"{path}: uns[{key!r}] groups cells by obs[{groupby!r}], which this dataset does not have."
        raise ValueError(msg)
    names = result["names"]
    categories = adata.obs[groupby]
    categories = categories.cat.categories if hasattr(categories, "cat") else categories.unique()
    strange = sorted(set(names.dtype.names) - {str(c) for c in categories})
    if strange:
        msg = (
            f"{path}: uns[{key!r}] has results for groups {strange[:3]} that obs[{groupby!r}] of "
            "this dataset does not have; were the results computed on another file (or the "
            "categories renamed since)?"
        )
        raise ValueError(msg)
    unknown = {str(gene) for field in names.dtype.names for gene in names[field]} - genes
    if unknown:
        example = ", ".join(sorted(unknown)[:3])
        msg = (
            f"{path}: uns[{key!r}] ranks {len(unknown)} genes that this dataset does not have "
            f"(e.g. {example}); were the results computed on another file?"
        )
        raise ValueError(msg)


def demo(args: argparse.Namespace) -> int:
    """``rgg demo``: rank a small dataset and print the top genes of each group."""

    from . import datasets, get, rank_genes_groups

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
