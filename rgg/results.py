"""Shape ranked genes the way scanpy stores them in ``adata.uns``.

Results are filled in blocks of groups into one ``(genes, groups)`` array per field, which
becomes scanpy's record array (one field per group) without a copy for numeric fields. The
cost of more groups is then the output's size only, not a Python step per group.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import kernels

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
#: Fields besides ``names`` and ``scores``, in the order they are stored.
VALUE_FIELDS = ("logfoldchanges", "pvals", "pvals_adj", "auroc", "filtered")


@dataclass(frozen=True)
class GroupResult:
    """Full-length (all tested genes, gene order) results of one or more reported groups.

    ``label`` names one group and the arrays hold one row of genes, or ``label`` is a list
    of labels and every array is ``(len(label), n_genes)``.
    """

    label: str | list[str]
    scores: np.ndarray
    pvals: np.ndarray | None = None
    pvals_adj: np.ndarray | None = None
    logfoldchanges: np.ndarray | None = None
    auroc: np.ndarray | None = None
    filtered: np.ndarray | None = None

    @property
    def labels(self) -> list[str]:
        """The labels of the rows."""
        return [self.label] if isinstance(self.label, str) else list(self.label)

    def rows(self, field: str) -> np.ndarray | None:
        """``field`` as a 2D ``(groups, genes)`` array, or ``None`` when not computed."""
        values = getattr(self, field)
        return None if values is None else np.atleast_2d(values)


def select_top_n(key: np.ndarray, n_top: int) -> np.ndarray:
    """Indices of the ``n_top`` largest keys along the last axis, descending, as scanpy does.

    The same numpy partition and sort as scanpy are used (row by row for a 2D ``key``, which
    numpy does with the same routine as for one row) so that the order of exactly tied
    keys, which neither tool defines, agrees as often as possible. ``n_top = 0`` keeps all
    genes and a negative value drops that many of the smallest, as in scanpy.
    """
    partition = np.argpartition(key, -n_top, axis=-1)[..., -n_top:]
    by_key = np.argsort(np.take_along_axis(key, partition, axis=-1), axis=-1)[..., ::-1]
    return np.take_along_axis(partition, by_key, axis=-1)


def select_top_n_tested(key: np.ndarray, n_top: int, filtered: np.ndarray) -> np.ndarray:
    """:func:`select_top_n` of one group with the genes a pre-filter kept out ranked last.

    The tested genes come first, by ``key``; the filtered ones follow in gene order. ``n_top``
    then cuts this order as in scanpy (0 keeps all, a negative value drops the last genes).
    """
    tested = np.flatnonzero(~filtered)
    order = np.concatenate([
        tested[select_top_n(key[tested], len(tested))] if len(tested) else tested,
        np.flatnonzero(filtered),
    ])  # fmt: skip
    return order if n_top == 0 else order[:n_top]


def rank_order(key: np.ndarray, n_top: int, filtered: np.ndarray | None) -> np.ndarray:
    """``(groups, n_out)`` gene indices in rank order for each row of ``key``."""
    if filtered is None:
        return select_top_n(key, n_top)
    return np.stack([
        select_top_n_tested(row, n_top, out) for row, out in zip(key, filtered, strict=True)
    ])  # fmt: skip


def record_dtype(labels: Sequence[str], dtype: np.dtype) -> np.dtype:
    """Record dtype with one ``dtype`` field per label.

    Given as names and formats: numpy's list-of-pairs form renames an empty label to
    ``'f0'``, this form keeps it, as pandas' ``to_records`` (and so scanpy) does.
    """
    return np.dtype((np.record, {"names": list(labels), "formats": [dtype] * len(labels)}))


def records(columns: np.ndarray, labels: Sequence[str]) -> np.recarray:
    """Record array with one field per label from ``(rows, len(labels))`` values.

    Numeric ``columns`` (C order) are viewed, not copied; object ones are filled field by
    field (numpy cannot view references). The result equals scanpy's
    ``DataFrame.to_records(index=False, column_dtypes=dtype)``.
    """
    if columns.dtype.hasobject:
        return object_records(columns.shape[0], labels, lambda j: columns[:, j])
    dtype = record_dtype(labels, columns.dtype)
    flat = np.ascontiguousarray(columns).view(dtype).reshape(columns.shape[0])
    return flat.view(np.recarray)


def object_records(
    n_rows: int, labels: Sequence[str], column: Callable[[int], np.ndarray]
) -> np.recarray:
    """Object record array with one field per label; ``column(j)`` gives field ``j``'s values.

    numpy sets up a new object record array field by field and element by element; one
    record repeated is set up as a whole, about 6x faster at 1,000 fields.
    """
    dtype = record_dtype(labels, np.dtype(object))
    out = np.repeat(np.empty(1, dtype=dtype), n_rows)
    for j, label in enumerate(labels):
        out[label] = column(j)
    return out.view(np.recarray)


class RankedTable:
    """The record arrays of one result, filled a block of groups at a time.

    Parameters
    ----------
    labels
        The reported groups, in field order.
    var_names
        Names of the tested genes, in gene order.
    n_out
        Genes per group in the output.
    fields
        The fields to hold besides ``names`` and ``scores``.
    """

    def __init__(
        self, labels: Sequence[str], var_names: pd.Index, n_out: int, fields: Sequence[str]
    ) -> None:
        self.labels = list(labels)
        self.names = np.asarray(var_names, dtype=object)
        shape = (n_out, len(self.labels))
        self.order = np.empty(shape, dtype=np.int32 if len(self.names) < 2**31 else np.int64)
        self.values = {
            field: np.empty(shape, dtype=FIELD_DTYPES[field]) for field in ("scores", *fields)
        }

    def add(self, columns: slice, result: GroupResult, *, rankby_abs: bool) -> None:
        """Rank the genes of ``result``'s rows and store them in the fields' ``columns``."""
        scores = result.rows("scores")
        key = np.abs(scores) if rankby_abs else scores
        order = np.ascontiguousarray(rank_order(key, self.order.shape[0], result.rows("filtered")))
        kernels.transpose_into(order, self.order, columns.start)
        for field, out in self.values.items():
            values = np.ascontiguousarray(result.rows(field))
            kernels.gather_ranked(order, values, out, columns.start)

    def uns_fields(self) -> dict[str, np.recarray]:
        """``names``, ``scores``, then the other fields, as scanpy's record arrays.

        Hands the table's arrays over: the table is empty afterwards.
        """
        order = self.order
        uns = {"names": object_records(len(order), self.labels, lambda j: self.names[order[:, j]])}
        self.order = None  # type: ignore[assignment]
        for field in ("scores", *VALUE_FIELDS):
            if field in self.values:
                uns[field] = records(self.values.pop(field), self.labels)
        return uns


def n_output_genes(n_tested: int, n_top: int) -> int:
    """Genes per group in the output for ``n_genes = n_top`` (0: all; negative: drop some)."""
    return len(range(n_tested)[-n_top:]) if n_top else n_tested


def build_uns(
    params: dict,
    results: Sequence[GroupResult],
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
    labels = [label for result in results for label in result.labels]
    fields = [f for f in VALUE_FIELDS if results and getattr(results[0], f) is not None]
    table = RankedTable(labels, var_names, n_output_genes(len(var_names), n_top), fields)
    start = 0
    for result in results:
        stop = start + len(result.labels)
        table.add(slice(start, stop), result, rankby_abs=rankby_abs)
        start = stop
    return uns_dict(params, table, pts, pts_rest)


def uns_dict(
    params: dict,
    table: RankedTable,
    pts: pd.DataFrame | None = None,
    pts_rest: pd.DataFrame | None = None,
) -> dict:
    """``params``, ``pts``/``pts_rest`` when given, then the table's record arrays."""
    uns: dict = {"params": params}
    if pts is not None:
        uns["pts"] = pts
    if pts_rest is not None:
        uns["pts_rest"] = pts_rest
    return uns | table.uns_fields()


def fraction_frame(fractions: np.ndarray, var_names: pd.Index, labels: list[str]) -> pd.DataFrame:
    """``pts``/``pts_rest``: genes (in gene order) by groups, from ``(groups, genes)`` values."""
    return pd.DataFrame(fractions.T, index=var_names, columns=labels)
