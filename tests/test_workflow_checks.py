"""The workflow config's checks (rgg.workflow.checks, rgg.workflow.data_checks): each mistake
is named with its fix, before any job runs."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from rgg.workflow.model import ConfigError
from rgg.workflow.resolve import resolve_comparisons

from ._workflow_config import PBMC, workflow_config


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
    config = workflow_config(**copy.deepcopy(changes))
    with pytest.raises(ConfigError) as info:
        resolve_comparisons(config)
    assert message in str(info.value)


def test_colliding_uns_keys_are_refused() -> None:
    config = workflow_config()
    config["groupings"] = {"cell": {"column": "cell_type"}, "cell_type": None}
    config["tests"] = {"c": config["tests"]["wilcoxon"], "type_c": config["tests"]["wilcoxon"]}
    config["datasets"] = {"synth": config["datasets"]["synth"]}
    config["comparisons"] = {}
    with pytest.raises(
        ConfigError, match="would share the uns key 'rank_genes_groups_cell_type_c'"
    ):
        resolve_comparisons(config)


def test_a_reference_missing_from_a_grouping_suggests_an_exclude() -> None:
    with pytest.raises(ConfigError) as info:
        # vs-b ('B cell') also meets bulk_labels
        resolve_comparisons(workflow_config(comparisons={}))
    message = str(info.value)
    assert "names reference 'B cell', which is not a group of obs['bulk_labels']" in message
    assert "comparisons.exclude: [{dataset: pbmc, grouping: bulk_labels, test: vs-b}]" in message


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
    config = workflow_config(groupings__types={"column": "cell_type", "datasets": ["synth"]})
    config["groupings"]["types"]["screen"] = screen
    with pytest.raises(ConfigError, match=re.escape(message)):
        resolve_comparisons(config)


def test_screen_entry_that_fits_the_data() -> None:
    config = workflow_config()
    config["groupings"]["types"]["screen"] = {"control": "B cell", "target_obs": "donor"}
    assert resolve_comparisons(config)
