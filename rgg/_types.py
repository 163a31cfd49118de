"""Type aliases shared across rgg."""

from __future__ import annotations

from typing import Any, Literal, get_args

Method = Literal["logreg", "t-test", "wilcoxon", "t-test_overestim_var", "wilcoxon_illico"]
CorrMethod = Literal["benjamini-hochberg", "bonferroni"]
#: Over which p-values a correction runs: each group's own (scanpy), or all groups' together.
CorrScope = Literal["group", "all"]
#: What "rest" holds in one-vs-rest mode: every other cell (scanpy), or the other selected groups.
RestScope = Literal["all", "groups"]
#: How log fold changes are formed: from mean log values (scanpy) or mean expm1 values (Seurat).
FoldChange = Literal["log_mean", "expm1_mean"]

#: The named parameters of :func:`rgg.rank_genes_groups` (a test keeps this in step with the
#: signature). LogisticRegression options (``**kwds``) must not use these names.
RANK_GENES_GROUPS_ARGUMENTS = frozenset({
    "adata", "groupby", "mask_var", "use_raw", "groups", "reference", "n_genes", "rankby_abs",
    "pts", "key_added", "copy", "method", "corr_method", "tie_correct", "layer", "n_jobs",
    "auroc", "corr_scope", "rest_scope", "fold_change", "min_pct", "min_diff_pct", "min_logfc",
    "scheduler", "block_nnz", "temp_dir", "mean_in_log_space",
})  # fmt: skip

METHODS: tuple[str, ...] = get_args(Method)
CORR_METHODS: tuple[str, ...] = get_args(CorrMethod)
CORR_SCOPES: tuple[str, ...] = get_args(CorrScope)
REST_SCOPES: tuple[str, ...] = get_args(RestScope)
FOLD_CHANGES: tuple[str, ...] = get_args(FoldChange)


def __getattr__(name: str) -> Any:
    # ``Matrix`` needs numpy and scipy, which the command line's and the workflow's imports of
    # this module (for the Literal types) should not load
    if name == "Matrix":
        import numpy as np
        from scipy import sparse

        return (
            np.ndarray | sparse.csr_matrix | sparse.csc_matrix | sparse.csr_array | sparse.csc_array
        )
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
