"""What the rules pass to the ``rgg`` command: option strings and JSON values.

Option strings are shell-quoted, ready for a rule's ``shell`` command. JSON values are sorted
by key, so that the same config gives the same text and Snakemake's params trigger reruns a
job only when its parameters change.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from typing import Any

from .model import (
    OUT_OF_CORE_KEYS,
    Comparison,
    ConfigError,
    groupby_column,
    pseudobulk_parameters,
    rank_parameters,
)
from .paths import (
    combined_pseudobulk_paths,
    comparison_tables,
    crate_outputs,
    report_dataset_paths,
    report_datasets,
)


def comparison_of(
    comparisons: Iterable[Comparison], dataset: str, grouping: str, test: str
) -> Comparison:
    """The comparison of a job's wildcards.

    Raises
    ------
    ConfigError
        When the config does not select this comparison (a file asked for by name).
    """
    comparison = Comparison(dataset, grouping, test)
    if comparison not in comparisons:
        msg = (
            f"{comparison} is not a comparison of this config; add it to the config "
            "instead of asking for its file."
        )
        raise ConfigError(msg)
    return comparison


def rank_test_params(config: Mapping[str, Any], comparison: Comparison) -> str:
    """The test's parameters as JSON: a change reruns the comparison (params trigger)."""
    return json.dumps(rank_parameters(config, comparison), sort_keys=True)


def pseudobulk_test_params(config: Mapping[str, Any], comparison: Comparison) -> str:
    """A pseudobulk test's parameters as JSON (defaults filled in; a change reruns it)."""
    return json.dumps(pseudobulk_parameters(config, comparison), sort_keys=True)


def comparison_config_record(config: Mapping[str, Any], comparison: Comparison) -> str:
    """The config entries this comparison ran (defaults filled in), for its provenance."""
    return json.dumps(
        {
            "dataset_entry": config["datasets"][comparison.dataset],
            "grouping_column": groupby_column(config, comparison.grouping),
            "test_entry": config["tests"][comparison.test],
        },
        sort_keys=True,
    )


def recorded_config(config: Mapping[str, Any], *, pseudobulk: bool = False) -> str:
    """The resolved config for a combined table's provenance, as JSON.

    Only the tests of the table's kind (rank tests for markers.parquet, pseudobulk tests for
    pseudobulk.parquet), and without ``threads`` and ``report``, which change no result:
    editing those must not rerun the collect job (and, after it, the report).
    """
    kept = {key: value for key, value in config.items() if key not in ("threads", "report")}
    kept["tests"] = {
        name: test
        for name, test in config["tests"].items()
        if (test.get("method") == "pseudobulk") == pseudobulk
    }
    return json.dumps(kept, sort_keys=True)


def crate_config(config: Mapping[str, Any]) -> str:
    """The whole resolved config as JSON, which the RO-Crate keeps with the run."""
    return json.dumps(config, sort_keys=True)


def out_of_core_options(config: Mapping[str, Any], dataset: str) -> str:
    """``--out-of-core`` and its options for a dataset that asks for it, or ``""``."""
    entry = config["datasets"][dataset]
    if not entry.get("out_of_core"):
        return ""
    options = ["--out-of-core"]
    for key in OUT_OF_CORE_KEYS:
        if entry.get(key) is not None:
            options.append(f"--{key.replace('_', '-')} {shlex.quote(str(entry[key]))}")
    return " ".join(options)


def crate_options(config: Mapping[str, Any], comparisons: Iterable[Comparison]) -> str:
    """``--table PATH`` and ``--output PATH`` for each file the crate describes."""
    comparisons = list(comparisons)
    return " ".join(
        [f"--table {shlex.quote(path)}" for path in comparison_tables(config, comparisons)]
        + [f"--output {shlex.quote(path)}" for path in crate_outputs(config, comparisons)]
    )


def report_dataset_options(config: Mapping[str, Any], comparisons: Iterable[Comparison]) -> str:
    """``--dataset NAME=PATH`` for each dataset of the report."""
    comparisons = list(comparisons)
    pairs = zip(
        report_datasets(comparisons), report_dataset_paths(config, comparisons), strict=True
    )
    return " ".join(f"--dataset {shlex.quote(f'{name}={path}')}" for name, path in pairs)


def report_pseudobulk_options(config: Mapping[str, Any], comparisons: Iterable[Comparison]) -> str:
    """``--pseudobulk PATH`` for the combined pseudobulk table, when there is one."""
    return " ".join(
        f"--pseudobulk {shlex.quote(path)}"
        for path in combined_pseudobulk_paths(config, comparisons)
    )
