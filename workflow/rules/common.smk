# Config resolution, wildcard constraints, paths and input functions shared by the rules.
# The config logic itself lives in rgg.comparisons, where it is unit-tested.

import json
import mimetypes
import os
import shlex
import sys
from pathlib import Path

import rgg
from rgg.comparisons import (
    ConfigError,
    groupby_column,
    pseudobulk_parameters,
    rank_parameters,
    resolve_comparisons,
)
from rgg.io.h5ad import matrix_nbytes

RESULTS = config["results"]
# intermediates that are no use on their own, under RESULTS
INTERNAL = rgg.comparisons.INTERNAL_FOLDER

try:
    ALL_COMPARISONS = resolve_comparisons(config)
except ConfigError as error:
    raise WorkflowError(f"Invalid config: {error}") from None
# rank_genes_groups comparisons (rule rank) and pseudobulk ones (rule pseudobulk)
COMPARISONS = [c for c in ALL_COMPARISONS if not c.is_pseudobulk(config)]
PSEUDOBULK_COMPARISONS = [c for c in ALL_COMPARISONS if c.is_pseudobulk(config)]

# Rules run `rgg` from PATH. Put the environment that runs Snakemake first, so that an
# un-activated virtual environment (.venv/bin/snakemake) finds its own rgg; a rule's conda
# environment, when used, is activated after this and comes first.
# RGG_SOURCE: where workflow/envs/rgg.post-deploy.sh installs rgg from.
_environment = os.environ
_environment.update(
    PATH=os.pathsep.join([str(Path(sys.executable).parent), _environment.get("PATH", "")]),
    RGG_SOURCE=str(workflow.basedir),
)

RGG_ENV = "../envs/rgg.yaml"

# So that Snakemake's --report attaches the tables with the right type.
mimetypes.add_type("application/vnd.apache.parquet", ".parquet")


wildcard_constraints:
    dataset=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    grouping=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    test=r"[A-Za-z0-9][A-Za-z0-9_.-]*",


def comparison_path(comparison, suffix):
    """Where a comparison's outputs go: RESULTS/dataset/grouping/test<suffix>."""
    return (
        f"{RESULTS}/{comparison.dataset}/{comparison.grouping}/{comparison.test}{suffix}"
    )


def combined_table_path():
    return f"{RESULTS}/markers.parquet"


def pseudobulk_path(comparison):
    """A pseudobulk comparison's table: RESULTS/pseudobulk/dataset/grouping/test.parquet."""
    return f"{RESULTS}/pseudobulk/{comparison.dataset}/{comparison.grouping}/{comparison.test}.parquet"


def combined_pseudobulk_paths():
    """The combined pseudobulk table, when the config has pseudobulk comparisons."""
    return [f"{RESULTS}/pseudobulk.parquet"] if PSEUDOBULK_COMPARISONS else []


def annotated_paths():
    return [
        f"{RESULTS}/{dataset}/annotated.h5ad"
        for dataset in sorted({c.dataset for c in COMPARISONS})
    ]


def comparison_tables():
    return [comparison_path(c, ".parquet") for c in COMPARISONS] + [
        pseudobulk_path(c) for c in PSEUDOBULK_COMPARISONS
    ]


def crate_outputs():
    """The run's outputs besides the comparisons' tables."""
    return [
        combined_table_path(),
        *combined_pseudobulk_paths(),
        *annotated_paths(),
        config["report"]["file"],
    ]


def crate_options():
    """`--table PATH` and `--output PATH` for each file the crate describes, shell-quoted."""
    return " ".join(
        [f"--table {shlex.quote(path)}" for path in comparison_tables()]
        + [f"--output {shlex.quote(path)}" for path in crate_outputs()]
    )


def report_dataset_paths():
    datasets = sorted({c.dataset for c in ALL_COMPARISONS})
    return [config["datasets"][name]["path"] for name in datasets]


def report_dataset_options():
    """`--dataset NAME=PATH` for each dataset, shell-quoted."""
    datasets = sorted({c.dataset for c in ALL_COMPARISONS})
    options = []
    for name in datasets:
        pair = shlex.quote(f"{name}={config['datasets'][name]['path']}")
        options.append(f"--dataset {pair}")
    return " ".join(options)


def dataset_path(wildcards):
    return config["datasets"][wildcards.dataset]["path"]


def comparison_of(wildcards):
    comparison = rgg.comparisons.Comparison(
        wildcards.dataset, wildcards.grouping, wildcards.test
    )
    if comparison not in ALL_COMPARISONS:
        raise WorkflowError(
            f"{comparison} is not a comparison of this config; add it to the config "
            "instead of asking for its file."
        )
    return comparison


def rank_groupby(wildcards):
    return groupby_column(config, comparison_of(wildcards).grouping)


def rank_test_params(wildcards):
    """The test's parameters as JSON: a change reruns the comparison (params trigger)."""
    return json.dumps(rank_parameters(config, comparison_of(wildcards)), sort_keys=True)


def pseudobulk_test_params(wildcards):
    """A pseudobulk test's parameters as JSON (defaults filled in; a change reruns it)."""
    return json.dumps(pseudobulk_parameters(config, comparison_of(wildcards)), sort_keys=True)


def rank_config_record(wildcards):
    """The config entries this comparison ran (defaults filled in), for its provenance."""
    comparison = comparison_of(wildcards)
    return json.dumps(
        {
            "dataset_entry": config["datasets"][comparison.dataset],
            "grouping_column": groupby_column(config, comparison.grouping),
            "test_entry": config["tests"][comparison.test],
        },
        sort_keys=True,
    )


def recorded_config(pseudobulk=False):
    """The resolved config for a combined table's provenance, as JSON.

    Only the tests of the table's kind (rank tests for markers.parquet, pseudobulk tests for
    pseudobulk.parquet), and without `threads` and `report`, which change no result: editing
    those must not rerun the collect job (and, after it, the report).
    """
    kept = {key: value for key, value in config.items() if key not in ("threads", "report")}
    kept["tests"] = {
        name: test
        for name, test in config["tests"].items()
        if (test.get("method") == "pseudobulk") == pseudobulk
    }
    return json.dumps(kept, sort_keys=True)


def rank_out_of_core_options(wildcards):
    """`--out-of-core` and its options for a dataset that asks for it, shell-quoted."""
    entry = config["datasets"][wildcards.dataset]
    if not entry.get("out_of_core"):
        return ""
    options = ["--out-of-core"]
    for key in ("scheduler", "temp_dir", "block_nnz"):
        if entry.get(key) is not None:
            options.append(f"--{key.replace('_', '-')} {shlex.quote(str(entry[key]))}")
    return " ".join(options)


def rank_mem_mb(wildcards, input, threads):
    """Out of core: the workers' blocks and the client's sums (a few GB); else the loaded data."""
    if config["datasets"][wildcards.dataset].get("out_of_core"):
        return 2048 + 1024 * threads
    return loaded_mem_mb(wildcards, input.h5ad, factor=1.5)


def rank_uns_key(wildcards):
    return comparison_of(wildcards).uns_key


def dataset_uns_results(wildcards):
    return [
        f"{RESULTS}/{INTERNAL}/uns/{c.dataset}/{c.grouping}/{c.test}.uns.h5ad"
        for c in COMPARISONS
        if c.dataset == wildcards.dataset
    ]


def loaded_mem_mb(wildcards, paths, factor):
    """Memory for a job that loads h5ad files: `factor` x their matrices, plus 1 GB.

    The matrices' size is read from the h5ad headers; an h5ad is often compressed, so its
    file size would undercount. rgg's own working memory is about a third of X.
    """
    loaded = 0
    for path in [paths] if isinstance(paths, str) else paths:
        try:
            loaded += matrix_nbytes(path)
        except (OSError, KeyError):
            loaded += Path(path).stat().st_size * 4
    return int(factor * loaded / 2**20) + 1024
