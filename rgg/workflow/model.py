"""The workflow's config model: comparisons are datasets x groupings x tests.

A config names its datasets, groupings and tests; every grouping meets every dataset it
lists (all of them by default) and every test, and ``comparisons: include/exclude`` selects
among these combinations. This module holds the names the workflow reserves and what one
comparison runs with; the checks are in :mod:`rgg.workflow.checks` and
:mod:`rgg.workflow.data_checks`, and :func:`rgg.workflow.resolve.resolve_comparisons` runs
them in order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._parameters import WORKFLOW_TEST_KEYS
from .tests_config import PSEUDOBULK_DEFAULTS

#: Names of datasets, groupings and tests: they become file names and Snakemake wildcards.
#: The schema's ``$defs/name`` and the rules' wildcard constraints use this same pattern.
NAME_REGEX = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
#: :data:`NAME_REGEX` compiled, for ``fullmatch`` (JSON Schema's ``$`` lets a trailing
#: newline through).
NAME_PATTERN = re.compile(NAME_REGEX)
#: The folder under ``results`` for intermediates that are no use on their own (the
#: per-comparison uns files the annotated h5ad is made from).
INTERNAL_FOLDER = "internal"
#: Names the workflow uses itself inside the results folder (datasets) and a dataset's folder.
RESERVED_NAMES = frozenset(
    {"markers.parquet", "pseudobulk.parquet", "pseudobulk", "logs", "benchmarks", INTERNAL_FOLDER}
)
RESERVED_GROUPING_NAMES = frozenset({"annotated.h5ad"})
#: Dataset keys that only the out-of-core path reads.
OUT_OF_CORE_KEYS = ("scheduler", "temp_dir", "block_nnz")
#: The keys of a ``comparisons: include/exclude`` selector, and the config section each names.
SELECTOR_KEYS = {"dataset": "datasets", "grouping": "groupings", "test": "tests"}


class ConfigError(ValueError):
    """The workflow config is inconsistent (the schema alone cannot tell)."""


@dataclass(frozen=True, order=True)
class Comparison:
    """One ranking job: a dataset, a grouping of its cells and a named test."""

    dataset: str
    grouping: str
    test: str

    def is_pseudobulk(self, config: Mapping[str, Any]) -> bool:
        """Whether this comparison's test is a pseudobulk test (its own rule and table)."""
        return config["tests"][self.test].get("method") == "pseudobulk"

    @property
    def uns_key(self) -> str:
        """Where the annotated h5ad keeps this comparison's result."""
        return f"rank_genes_groups_{self.grouping}_{self.test}"


def select_comparisons(config: Mapping[str, Any]) -> list[Comparison]:
    """The config's comparisons, in config order, before any check of the data.

    Each grouping with each dataset it lists (every dataset when it lists none) and each
    test, kept when an ``include`` selector matches it (all when there is no ``include``)
    and no ``exclude`` selector does.

    Raises
    ------
    ConfigError
        When no comparison is left.
    """
    candidates = [
        Comparison(dataset, grouping, test)
        for grouping, entry in config["groupings"].items()
        for dataset in ((entry or {}).get("datasets") or config["datasets"])
        for test in config["tests"]
    ]
    selection = config.get("comparisons") or {}
    include = selection.get("include")
    exclude = selection.get("exclude") or []
    chosen = [
        comparison
        for comparison in candidates
        if (include is None or any(_matches(comparison, s) for s in include))
        and not any(_matches(comparison, s) for s in exclude)
    ]
    if not chosen:
        msg = (
            "the config selects no comparison: check 'comparisons: include/exclude' and the "
            "'datasets' lists of the groupings."
        )
        raise ConfigError(msg)
    return chosen


def rank_comparisons(
    config: Mapping[str, Any], comparisons: Iterable[Comparison]
) -> list[Comparison]:
    """The rank_genes_groups comparisons among ``comparisons`` (rule rank)."""
    return [c for c in comparisons if not c.is_pseudobulk(config)]


def pseudobulk_comparisons(
    config: Mapping[str, Any], comparisons: Iterable[Comparison]
) -> list[Comparison]:
    """The pseudobulk comparisons among ``comparisons`` (rule pseudobulk)."""
    return [c for c in comparisons if c.is_pseudobulk(config)]


def rank_parameters(config: Mapping[str, Any], comparison: Comparison) -> dict[str, Any]:
    """The ``rgg rank --test-params`` mapping of one comparison.

    The test's parameters with the dataset's ``layer``/``use_raw`` (unset values left out,
    so rgg applies scanpy's defaults) and ``logreg`` options; every key is present in a
    schema-validated config, so a changed default shows up as a changed parameter.
    """
    test = config["tests"][comparison.test]
    dataset = config["datasets"][comparison.dataset]
    params = {key: test[key] for key in WORKFLOW_TEST_KEYS if test.get(key) is not None}
    for key in ("layer", "use_raw"):
        if dataset.get(key) is not None:
            params[key] = dataset[key]
    if test.get("logreg"):
        params["logreg"] = dict(test["logreg"])
    return params


def pseudobulk_parameters(config: Mapping[str, Any], comparison: Comparison) -> dict[str, Any]:
    """The ``rgg pseudobulk --test-params`` mapping of one pseudobulk comparison (defaults
    filled in, so that a changed default shows up as a changed parameter)."""
    test = config["tests"][comparison.test]
    # the schema sets no default for these keys: absent means rgg's default, while an
    # explicit null is kept (counts_layer: null means X)
    return {key: test.get(key, default) for key, default in PSEUDOBULK_DEFAULTS.items()}


def groupby_column(config: Mapping[str, Any], grouping: str) -> str:
    """The obs column of a grouping (its ``column``, or its name)."""
    return (config["groupings"][grouping] or {}).get("column") or grouping


def as_list(names: str | Iterable[str]) -> list[str]:
    """One name or several, as a list."""
    return [names] if isinstance(names, str) else list(names)


def _matches(comparison: Comparison, selector: Mapping[str, Any]) -> bool:
    for key in SELECTOR_KEYS:
        if key in selector and getattr(comparison, key) not in as_list(selector[key]):
            return False
    return True
