"""The workflow's config model (rgg.workflow.model): expansion, selectors and parameters."""

from __future__ import annotations

from rgg.workflow.model import (
    Comparison,
    groupby_column,
    pseudobulk_parameters,
    rank_parameters,
)
from rgg.workflow.resolve import resolve_comparisons

from ._workflow_config import workflow_config


def test_datasets_x_groupings_x_tests_limited_by_grouping_datasets() -> None:
    config = workflow_config()
    assert resolve_comparisons(config) == [
        Comparison("pbmc", "bulk_labels", "wilcoxon"),
        Comparison("synth", "types", "vs-b"),
        Comparison("synth", "types", "wilcoxon"),
    ]


def test_include_selects_and_exclude_removes() -> None:
    config = workflow_config(
        comparisons={
            "include": [{"dataset": "synth"}, {"test": ["wilcoxon"], "grouping": "bulk_labels"}],
            "exclude": [{"dataset": "synth", "test": "vs-b"}],
        }
    )
    assert resolve_comparisons(config) == [
        Comparison("pbmc", "bulk_labels", "wilcoxon"),
        Comparison("synth", "types", "wilcoxon"),
    ]


def test_a_grouping_without_datasets_applies_to_every_dataset_that_has_the_column() -> None:
    config = workflow_config()
    config["groupings"] = {"louvain": {"column": None, "datasets": None}}
    config["comparisons"] = {}
    config["datasets"]["synth"]["path"] = "does/not/exist/yet.h5ad"  # checked by the job
    del config["tests"]["vs-b"]
    assert [c.dataset for c in resolve_comparisons(config)] == ["pbmc", "synth"]


def test_rank_parameters_carry_dataset_matrix_and_logreg_options() -> None:
    config = workflow_config()
    config["tests"]["lr"] = {**config["tests"]["wilcoxon"], "method": "logreg", "pts": False}
    config["tests"]["lr"]["logreg"] = {"max_iter": 500}
    params = rank_parameters(config, Comparison("synth", "types", "lr"))
    assert params == {
        "method": "logreg", "corr_method": "benjamini-hochberg", "tie_correct": False,
        "reference": "rest", "rankby_abs": False, "pts": False, "layer": "counts",
        "logreg": {"max_iter": 500},
    }  # fmt: skip
    assert groupby_column(config, "types") == "cell_type"
    assert groupby_column(config, "bulk_labels") == "bulk_labels"
    assert Comparison("synth", "types", "lr").uns_key == "rank_genes_groups_types_lr"


def test_a_null_grouping_uses_the_column_of_its_name() -> None:
    config = workflow_config(comparisons={"include": [{"grouping": "cell_type"}]})
    config["groupings"] = {"cell_type": None}  # `cell_type:` with nothing after it
    config["datasets"] = {"synth": config["datasets"]["synth"]}
    assert groupby_column(config, "cell_type") == "cell_type"
    assert resolve_comparisons(config) == [
        Comparison("synth", "cell_type", "vs-b"),
        Comparison("synth", "cell_type", "wilcoxon"),
    ]


def test_pseudobulk_tests_get_their_defaults_and_are_told_apart() -> None:
    config = workflow_config(tests__pb={"method": "pseudobulk", "sample": "donor", "min_cells": 5})
    config["comparisons"]["exclude"].append({"grouping": "bulk_labels", "test": "pb"})
    comparisons = resolve_comparisons(config)
    pseudobulk = [c for c in comparisons if c.is_pseudobulk(config)]
    assert pseudobulk == [Comparison("synth", "types", "pb")]
    assert pseudobulk_parameters(config, pseudobulk[0]) == {
        "sample": "donor", "counts_layer": "counts", "min_cells": 5, "design": "auto",
        "reference": "rest", "groups": None,
    }  # fmt: skip
