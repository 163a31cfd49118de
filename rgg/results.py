"""Rank genes and shape the results the way scanpy stores them in ``adata.uns``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: dtype of each record array, as scanpy stores it.
FIELD_DTYPES: dict[str, str] = {
    "names": "O",
    "scores": "float32",
    "logfoldchanges": "float32",
    "pvals": "float64",
    "pvals_adj": "float64",
    "auroc": "float64",  # rgg's opt-in addition (auroc=True); scanpy has no such field
    "filtered": "bool",  # rgg's opt-in addition (Seurat's pre-filters): True = not tested
}


@dataclass(frozen=True)
class GroupResult:
    """Full-length (all tested genes, gene order) results of one reported group."""

    label: str
    scores: np.ndarray
    pvals: np.ndarray | None = None
    pvals_adj: np.ndarray | None = None
    logfoldchanges: np.ndarray | None = None
    auroc: np.ndarray | None = None
    filtered: np.ndarray | None = None


def select_top_n(key: np.ndarray, n_top: int) -> np.ndarray:
    """Indices of the ``n_top`` largest keys, descending, selected the way scanpy does.

    The same numpy partition and sort as scanpy are used so that the order of exactly tied
    keys, which neither tool defines, agrees as often as possible. ``n_top = 0`` keeps all
    genes and a negative value drops that many of the smallest, as in scanpy.
    """
    partition = np.argpartition(key, -n_top)[-n_top:]
    return partition[np.argsort(key[partition])[::-1]]


def select_top_n_tested(key: np.ndarray, n_top: int, filtered: np.ndarray) -> np.ndarray:
    """:func:`select_top_n` with the genes a pre-filter kept out of the test ranked last.

    The tested genes come first, by ``key``; the filtered ones follow in gene order. ``n_top``
    then cuts this order as in scanpy (0 keeps all, a negative value drops the last genes).
    """
    tested = np.flatnonzero(~filtered)
    order = np.concatenate([
        tested[select_top_n(key[tested], len(tested))] if len(tested) else tested,
        np.flatnonzero(filtered),
    ])  # fmt: skip
    return order if n_top == 0 else order[:n_top]


def to_records(columns: dict[str, np.ndarray], dtype: str) -> np.recarray:
    """One record array with a field per group, as ``DataFrame.to_records`` makes it."""
    return pd.DataFrame(columns).to_records(index=False, column_dtypes=dtype)


def build_uns(
    params: dict,
    results: list[GroupResult],
    var_names: pd.Index,
    n_top: int,
    *,
    rankby_abs: bool,
    pts: pd.DataFrame | None = None,
    pts_rest: pd.DataFrame | None = None,
) -> dict:
    """The dict scanpy stores under ``adata.uns[key_added]``.

    Keys: ``params``, then ``pts``/``pts_rest`` when given, then ``names``, ``scores`` and,
    for tests with p-values, ``pvals``, ``pvals_adj`` and ``logfoldchanges``; ``auroc`` and
    ``filtered`` last when computed.
    """
    uns: dict = {"params": params}
    if pts is not None:
        uns["pts"] = pts
    if pts_rest is not None:
        uns["pts_rest"] = pts_rest
    fields: dict[str, dict[str, np.ndarray]] = {name: {} for name in FIELD_DTYPES}
    names = np.asarray(var_names, dtype=object)
    for result in results:
        key = np.abs(result.scores) if rankby_abs else result.scores
        if result.filtered is None:
            order = select_top_n(key, n_top)
        else:
            order = select_top_n_tested(key, n_top, result.filtered)
        fields["names"][result.label] = names[order]
        fields["scores"][result.label] = result.scores[order]
        for field in ("pvals", "pvals_adj", "logfoldchanges", "auroc", "filtered"):
            values = getattr(result, field)
            if values is not None:
                fields[field][result.label] = values[order]
    for field in FIELD_DTYPES:
        if fields[field]:
            uns[field] = to_records(fields[field], FIELD_DTYPES[field])
    return uns


def fraction_frame(fractions: np.ndarray, var_names: pd.Index, labels: list[str]) -> pd.DataFrame:
    """``pts``/``pts_rest``: genes (in gene order) by groups."""
    return pd.DataFrame(fractions.T, index=var_names, columns=labels)
