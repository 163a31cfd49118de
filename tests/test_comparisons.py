"""The workflow's config model (rgg.comparisons): expansion, selectors and cross-checks."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from rgg import datasets
from rgg.comparisons import (
    Comparison,
    ConfigError,
    groupby_column,
    pseudobulk_parameters,
    rank_parameters,
    resolve_comparisons,
)

PBMC = str(datasets.pbmc68k_reduced_path())
SYNTHETIC = str(datasets.synthetic_path())


def _config(**changes: Any) -> dict[str, Any]:
    """A config as the schema leaves it (defaults filled in)."""
    test_defaults = {
        "method": "t-test", "corr_method": "benjamini-hochberg", "tie_correct": False,
        "reference": "rest", "groups": None, "n_genes": None, "rankby_abs": False,
        "pts": False, "mask_var": None, "logreg": {},
    }  # fmt: skip
    config = {
        "results": "results",
        "datasets": {
            "pbmc": {"path": PBMC, "layer": None, "use_raw": None},
            "synth": {"path": SYNTHETIC, "layer": "counts", "use_raw": None},
        },
        "groupings": {
            "bulk_labels": {"column": None, "datasets": ["pbmc"]},
            "types": {"column": "cell_type", "datasets": ["synth"]},
        },
        "tests": {
            "wilcoxon": {**test_defaults, "method": "wilcoxon", "pts": True},
            "vs-b": {**test_defaults, "method": "wilcoxon", "reference": "B cell"},
        },
        "comparisons": {
            "include": None,
            "exclude": [{"grouping": "bulk_labels", "test": "vs-b"}],  # no 'B cell' in PBMC
        },
    }
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = config
        for key in parents:
            node = node[key]
        node[leaf] = value
    return config


def test_datasets_x_groupings_x_tests_limited_by_grouping_datasets() -> None:
    config = _config()
    assert resolve_comparisons(config) == [
        Comparison("pbmc", "bulk_labels", "wilcoxon"),
        Comparison("synth", "types", "vs-b"),
        Comparison("synth", "types", "wilcoxon"),
    ]


def test_include_selects_and_exclude_removes() -> None:
    config = _config(
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
    config = _config()
    config["groupings"] = {"louvain": {"column": None, "datasets": None}}
    config["comparisons"] = {}
    config["datasets"]["synth"]["path"] = "does/not/exist/yet.h5ad"  # checked by the job
    del config["tests"]["vs-b"]
    assert [c.dataset for c in resolve_comparisons(config)] == ["pbmc", "synth"]


def test_rank_parameters_carry_dataset_matrix_and_logreg_options() -> None:
    config = _config()
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


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"groupings__types__datasets": ["synt"]}, "names 'synt', which is not in 'datasets'"),
        ({"comparisons": {"exclude": [{"test": "wilcoxn"}]}}, "Did you mean 'wilcoxon'"),
        ({"comparisons": {"include": [{"dataset": "nope"}]}}, "comparisons.include[0].dataset"),
        ({"comparisons": {"exclude": [{"dataset": ["pbmc", "synth"]}]}}, "selects no comparison"),
        ({"groupings__types__column": "celltype"}, "Did you mean 'cell_type'"),
        ({"tests__wilcoxon__logreg": {"C": 1.0}}, "has 'logreg' options but method 'wilcoxon'"),
        ({"datasets__synth__layer": "count"}, "has no layer 'count'. Did you mean 'counts'?"),
        ({"datasets__synth__use_raw": True}, "set either 'layer' or 'use_raw: true'"),
        (
            {"datasets__synth__layer": None, "datasets__synth__use_raw": True},
            "has no adata.raw",
        ),
        ({"tests__wilcoxon__mask_var": "highly_variabel"}, "Did you mean 'highly_variable'"),
        ({"tests__vs-b__groups": ["NK", "Mono/Macr"]}, "names groups 'Mono/Macr'"),
        ({"datasets": {"markers.parquet": {"path": PBMC}}}, "used by the workflow's own outputs"),
        ({"groupings__annotated.h5ad": None}, "used by the workflow's own outputs"),
        ({"tests__t\n": {}}, "has characters a file name cannot safely hold"),
        ({"tests__vs-b__logreg": {"method": "t-test"}}, "rank_genes_groups parameters"),
        ({"datasets__synth__path": __file__}, "is not a readable h5ad file"),
        ({"tests__vs-b__reference": ["B cell", "NKK"]}, "names reference 'NKK'"),
        ({"tests__wilcoxon__sample": "donor"}, "which only a pseudobulk test has"),
        (
            {"tests__lr": {"method": "logreg", "min_pct": 0.1, "logreg": {}}},
            "sets min_pct, which logreg",
        ),
        ({"tests__pb": {"method": "pseudobulk"}}, "pseudobulk test without 'sample'"),
        (
            {"tests__pb": {"method": "pseudobulk", "sample": "donor", "tie_correct": True}},
            "sets tie_correct, which only rank_genes_groups tests have",
        ),
        (
            {"tests__pb": {"method": "pseudobulk", "sample": "donor", "reference": ["NK", "DC"]}},
            "not a list",
        ),
        (
            {"tests__pb": {"method": "pseudobulk", "sample": "donr"}},
            "sample column 'donr' is not in dataset",
        ),
        (
            {
                "tests__pb": {"method": "pseudobulk", "sample": "donor", "counts_layer": "count"},
                "comparisons__exclude": [{"grouping": "bulk_labels", "test": ["vs-b", "pb"]}],
            },
            "no counts layer 'count' for the pseudobulk test. Did you mean 'counts'?",
        ),
        ({"datasets": {"pseudobulk": {"path": PBMC}}}, "used by the workflow's own outputs"),
        ({"datasets": {"internal": {"path": PBMC}}}, "used by the workflow's own outputs"),
        ({"tests__vs-b__reference": ["rest", "NK"]}, "mixes 'rest' with groups"),
        ({"tests__vs-b__rest_scope": "groups"}, "rest_scope chooses what 'rest' holds"),
        ({"tests__vs-b__groups": ["B cell"]}, "are all in the reference, so nothing is compared"),
        (
            {"tests__vs-b__reference": ["B cell", "NK"], "tests__vs-b__groups": ["NK"]},
            "are all in the reference",
        ),
        ({"datasets__synth__path": str(Path(__file__).parent)}, "is a directory; give the h5ad"),
    ],
)
def test_config_mistakes_are_named_with_the_fix(changes: dict[str, Any], message: str) -> None:
    config = _config(**copy.deepcopy(changes))
    with pytest.raises(ConfigError) as info:
        resolve_comparisons(config)
    assert message in str(info.value)


def test_colliding_uns_keys_are_refused() -> None:
    config = _config()
    config["groupings"] = {"cell": {"column": "cell_type"}, "cell_type": None}
    config["tests"] = {"c": config["tests"]["wilcoxon"], "type_c": config["tests"]["wilcoxon"]}
    config["datasets"] = {"synth": config["datasets"]["synth"]}
    config["comparisons"] = {}
    with pytest.raises(
        ConfigError, match="would share the uns key 'rank_genes_groups_cell_type_c'"
    ):
        resolve_comparisons(config)


def test_a_null_grouping_uses_the_column_of_its_name() -> None:
    config = _config(comparisons={"include": [{"grouping": "cell_type"}]})
    config["groupings"] = {"cell_type": None}  # `cell_type:` with nothing after it
    config["datasets"] = {"synth": config["datasets"]["synth"]}
    assert groupby_column(config, "cell_type") == "cell_type"
    assert resolve_comparisons(config) == [
        Comparison("synth", "cell_type", "vs-b"),
        Comparison("synth", "cell_type", "wilcoxon"),
    ]


def test_a_reference_missing_from_a_grouping_suggests_an_exclude() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_comparisons(_config(comparisons={}))  # vs-b ('B cell') also meets bulk_labels
    message = str(info.value)
    assert "names reference 'B cell', which is not a group of obs['bulk_labels']" in message
    assert "comparisons.exclude: [{dataset: pbmc, grouping: bulk_labels, test: vs-b}]" in message


def test_duplicate_keys_are_refused_but_merge_keys_allowed(tmp_path) -> None:
    from rgg.comparisons import check_duplicate_keys

    merged = tmp_path / "merged.yaml"
    merged.write_text("tests:\n  w: &w {method: wilcoxon}\n  w_tie: {<<: *w, tie_correct: true}\n")
    check_duplicate_keys(merged)  # no error
    duplicated = tmp_path / "duplicated.yaml"
    duplicated.write_text("tests:\n  w: {}\n  t: {}\n  w: {method: logreg}\n")
    with pytest.raises(ConfigError, match="line 4: the key 'w' appears twice"):
        check_duplicate_keys(duplicated)
    broken = tmp_path / "broken.yaml"
    broken.write_text("tests: {w: [}\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        check_duplicate_keys(broken)


def test_pseudobulk_tests_get_their_defaults_and_are_told_apart() -> None:
    config = _config(tests__pb={"method": "pseudobulk", "sample": "donor", "min_cells": 5})
    config["comparisons"]["exclude"].append({"grouping": "bulk_labels", "test": "pb"})
    comparisons = resolve_comparisons(config)
    pseudobulk = [c for c in comparisons if c.is_pseudobulk(config)]
    assert pseudobulk == [Comparison("synth", "types", "pb")]
    assert pseudobulk_parameters(config, pseudobulk[0]) == {
        "sample": "donor", "counts_layer": "counts", "min_cells": 5, "design": "auto",
        "reference": "rest", "groups": None,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("screen", "message"),
    [
        ({"control": "non-targetting"}, "screen.control 'non-targetting' is not a group"),
        ({"control": "B cell", "target_obs": "target"}, "target_obs 'target' is not an obs"),
        ({"control": "B cell", "target_var": "symbol"}, "target_var 'symbol' is not a var"),
        ({"control": "B cell", "target_pattern": "(["}, "screen.target_pattern '(['"),
        ({"control": "B cell", "target_pattern": "(a)_(b)"}, "has 2 groups; use one"),
    ],
)
def test_screen_entry_mistakes(screen: dict[str, str], message: str) -> None:
    config = _config(groupings__types={"column": "cell_type", "datasets": ["synth"]})
    config["groupings"]["types"]["screen"] = screen
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_comparisons(config)


def test_screen_entry_that_fits_the_data() -> None:
    config = _config()
    config["groupings"]["types"]["screen"] = {"control": "B cell", "target_obs": "donor"}
    assert resolve_comparisons(config)
