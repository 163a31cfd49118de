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
