"""The keys and defaults of a config's test entries.

Kept together so that they can later be derived from one table of rank_genes_groups'
parameters; the schema (``workflow/schemas/config.schema.yaml``) fills in the rank-test
defaults, these say which key is which.
"""

from __future__ import annotations

from typing import Any

#: Keys of a test entry that are rank_genes_groups keyword arguments (``logreg`` holds the rest).
TEST_PARAMETER_KEYS = (
    "method", "corr_method", "tie_correct", "reference", "groups", "n_genes", "rankby_abs",
    "pts", "mask_var", "auroc", "corr_scope", "rest_scope", "fold_change", "min_pct",
    "min_diff_pct", "min_logfc", "mean_in_log_space",
)  # fmt: skip
#: Keys of a pseudobulk test (method: pseudobulk), with the defaults rgg applies. The schema
#: sets none, so that rank tests' recorded entries do not carry them.
PSEUDOBULK_DEFAULTS: dict[str, Any] = {
    "sample": None, "counts_layer": "counts", "min_cells": 10, "design": "auto",
    "reference": "rest", "groups": None,
}  # fmt: skip
#: Rank-test keys and their schema defaults: a pseudobulk test may not change them.
_RANK_ONLY_DEFAULTS: dict[str, Any] = {
    "corr_method": "benjamini-hochberg", "corr_scope": "group", "tie_correct": False,
    "fold_change": "log_mean", "rest_scope": "all", "n_genes": None, "rankby_abs": False,
    "pts": False, "auroc": False, "min_pct": None, "min_diff_pct": None, "min_logfc": None,
    "mask_var": None, "logreg": {}, "mean_in_log_space": True,
}  # fmt: skip
#: The default of every test key (a rank test's, then a pseudobulk test's own), for showing
#: which parameters a test sets.
TEST_DEFAULTS: dict[str, Any] = {
    "method": "t-test", "reference": "rest", "groups": None, **_RANK_ONLY_DEFAULTS,
    **PSEUDOBULK_DEFAULTS,
}  # fmt: skip
