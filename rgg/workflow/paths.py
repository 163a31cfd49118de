"""Where the workflow's rules write, as functions of the config and its comparisons.

``comparisons`` is the list :func:`rgg.workflow.resolve.resolve_comparisons` returns (rank and
pseudobulk comparisons alike); each function takes the kind it needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .model import INTERNAL_FOLDER, Comparison, pseudobulk_comparisons, rank_comparisons


def comparison_path(config: Mapping[str, Any], comparison: Comparison, suffix: str) -> str:
    """Where a comparison's outputs go: ``results/dataset/grouping/test<suffix>``."""
    return (
        f"{config['results']}/{comparison.dataset}/{comparison.grouping}/{comparison.test}{suffix}"
    )


def pseudobulk_path(config: Mapping[str, Any], comparison: Comparison) -> str:
    """A pseudobulk comparison's table: ``results/pseudobulk/dataset/grouping/test.parquet``."""
    return (
        f"{config['results']}/pseudobulk/{comparison.dataset}/{comparison.grouping}/"
        f"{comparison.test}.parquet"
    )


def uns_path(config: Mapping[str, Any], comparison: Comparison) -> str:
    """A rank comparison's uns file, an intermediate of its dataset's annotated h5ad."""
    return (
        f"{config['results']}/{INTERNAL_FOLDER}/uns/{comparison.dataset}/"
        f"{comparison.grouping}/{comparison.test}.uns.h5ad"
    )


def combined_table_path(config: Mapping[str, Any]) -> str:
    """The table of all rank comparisons, ``results/markers.parquet``."""
    return f"{config['results']}/markers.parquet"


def combined_pseudobulk_paths(
    config: Mapping[str, Any], comparisons: Iterable[Comparison]
) -> list[str]:
    """The combined pseudobulk table, when the config has pseudobulk comparisons."""
    if not pseudobulk_comparisons(config, comparisons):
        return []
    return [f"{config['results']}/pseudobulk.parquet"]


def annotated_paths(config: Mapping[str, Any], comparisons: Iterable[Comparison]) -> list[str]:
    """The annotated h5ad of each dataset with rank comparisons, sorted by dataset."""
    datasets = sorted({c.dataset for c in rank_comparisons(config, comparisons)})
    return [f"{config['results']}/{dataset}/annotated.h5ad" for dataset in datasets]


def rank_tables(config: Mapping[str, Any], comparisons: Iterable[Comparison]) -> list[str]:
    """The table of each rank comparison, which rule collect combines."""
    return [comparison_path(config, c, ".parquet") for c in rank_comparisons(config, comparisons)]


def pseudobulk_tables(config: Mapping[str, Any], comparisons: Iterable[Comparison]) -> list[str]:
    """The table of each pseudobulk comparison, which rule collect_pseudobulk combines."""
    return [pseudobulk_path(config, c) for c in pseudobulk_comparisons(config, comparisons)]


def comparison_tables(config: Mapping[str, Any], comparisons: Iterable[Comparison]) -> list[str]:
    """Each comparison's own table: the rank comparisons', then the pseudobulk ones'."""
    comparisons = list(comparisons)
    return rank_tables(config, comparisons) + pseudobulk_tables(config, comparisons)


def crate_outputs(config: Mapping[str, Any], comparisons: Iterable[Comparison]) -> list[str]:
    """The run's outputs besides the comparisons' tables."""
    comparisons = list(comparisons)
    return [
        combined_table_path(config),
        *combined_pseudobulk_paths(config, comparisons),
        *annotated_paths(config, comparisons),
        config["report"]["file"],
    ]


def dataset_uns_results(
    config: Mapping[str, Any], comparisons: Iterable[Comparison], dataset: str
) -> list[str]:
    """The uns files of one dataset's rank comparisons, for its annotated h5ad."""
    return [
        uns_path(config, c) for c in rank_comparisons(config, comparisons) if c.dataset == dataset
    ]


def report_datasets(comparisons: Iterable[Comparison]) -> list[str]:
    """The names of the datasets of ``comparisons``, sorted (the report's order)."""
    return sorted({c.dataset for c in comparisons})


def report_dataset_paths(config: Mapping[str, Any], comparisons: Iterable[Comparison]) -> list[str]:
    """The h5ad file of each dataset the report describes, in :func:`report_datasets` order."""
    return [config["datasets"][name]["path"] for name in report_datasets(comparisons)]


def dataset_path(config: Mapping[str, Any], dataset: str) -> str:
    """A dataset's h5ad file."""
    return config["datasets"][dataset]["path"]
