"""Sum the raw counts of the cells of each (sample, group) pair into pseudobulks."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anndata as ad
import numpy as np
import pandas as pd
from anndata.utils import make_index_unique
from scipy import sparse

from .._errors import UnsupportedDtypeError, adata_layer, obs_column

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("rgg")


def aggregate_counts(
    adata: AnnData,
    groupby: str,
    sample: str,
    *,
    layer: str | None = "counts",
    min_cells: int = 10,
) -> AnnData:
    """Sum the raw counts of the cells of each (sample, group) pair.

    Parameters
    ----------
    adata
        Cells x genes; the counts may be CSR, CSC or dense, of integer or float dtype.
    groupby
        ``adata.obs`` column of cell groups (cell types, clusters, conditions).
    sample
        ``adata.obs`` column of biological replicates (donors, animals).
    layer
        Layer holding raw counts; ``None`` uses ``adata.X``.
    min_cells
        Pairs with fewer cells are dropped (and logged at info level on the ``rgg`` logger).

    Returns
    -------
    AnnData
        One row per (sample, group) pair that has at least ``min_cells`` cells, sorted by
        sample then group in category order. ``X`` is a dense ``int64`` array: a pseudobulk
        matrix has few rows and is mostly non-zero, so CSR would save nothing, and DESeq2
        needs dense counts anyway. ``obs`` has ``sample`` and ``group`` (categoricals with
        the original labels and categories) and ``n_cells``; ``var`` is indexed by
        ``adata.var_names``. Cells whose group or sample is missing (NaN) are left out.

    Raises
    ------
    ColumnNotFoundError
        ``groupby``, ``sample`` or ``layer`` does not exist (a ``KeyError``).
    ValueError
        The counts hold NaN, infinite, negative or fractional values.
    """
    check_min_cells(min_cells)
    groups = _obs_labels(adata, groupby, "groupby")
    samples = _obs_labels(adata, sample, "sample")
    matrix = _count_matrix(adata, layer)
    _check_counts(matrix, layer)
    pair_of_cell, pairs = _pairs(samples.codes, groups.codes, len(groups.categories))
    counts = sum_rows(matrix, pair_of_cell, len(pairs))
    obs = _pair_obs(pairs, pair_of_cell, samples.categories, groups.categories)
    keep = _enough_cells(obs, min_cells)
    var = pd.DataFrame(index=adata.var_names.copy())
    return ad.AnnData(X=counts[keep], obs=obs[keep], var=var)


def check_min_cells(min_cells: int) -> None:
    """Refuse a negative ``min_cells``."""
    if min_cells < 0:
        msg = f"min_cells={min_cells} must be 0 or more."
        raise ValueError(msg)


def _obs_labels(adata: AnnData, key: str, argument: str) -> pd.Categorical:
    """``adata.obs[key]`` as a Categorical (codes -1 where missing)."""
    column = obs_column(adata, key, argument)
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.array
    return pd.Categorical(column)


def _count_matrix(adata: AnnData, layer: str | None) -> Any:
    """The matrix of raw counts: ``adata.layers[layer]``, or ``adata.X`` for ``None``."""
    if layer is None:
        if adata.X is None:
            msg = "adata.X is None; pass layer= naming the layer that holds raw counts."
            raise ValueError(msg)
        return adata.X
    return adata_layer(
        adata, layer, "Pass the layer that holds raw counts, or layer=None if adata.X holds them."
    )


#: Counts at or above this cannot be summed exactly (float64's integers end at 2**53).
_MAX_COUNT = 2**53


def _check_counts(matrix: Any, layer: str | None) -> None:
    """Refuse values that are not non-negative integers: pseudobulks need raw counts."""
    values = matrix.data if sparse.issparse(matrix) else np.asarray(matrix)
    where = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
    if values.dtype.kind not in "biuf":
        msg = (
            f"{where} has dtype {values.dtype}, but pseudobulks are sums of raw counts: "
            f"integers (or whole floats). Pass the layer that holds raw counts, or convert "
            f"them, e.g. {where} = {where}.astype(np.int64)."
        )
        raise UnsupportedDtypeError(msg)
    tests = {"negative": lambda v: v < 0}
    if values.dtype.kind == "f":
        tests["NaN or infinite"] = lambda v: ~np.isfinite(v)
        tests["fractional"] = lambda v: v != np.round(v)
    tests["implausibly large (2**53 or more)"] = _too_large
    for problem, test in tests.items():
        bad = test(values)
        if bad.any():
            msg = (
                f"{where} holds {problem} values (e.g. {values[bad].flat[0].item()!r}), but "
                "pseudobulks are sums of raw counts: non-negative integers, not normalised or "
                f"log-transformed values. {_counts_fix(layer)}"
            )
            raise ValueError(msg)


def _too_large(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "b" or (values.dtype.kind in "iu" and values.dtype.itemsize < 8):
        return np.zeros(values.shape, dtype=bool)
    return values >= _MAX_COUNT


def _counts_fix(layer: str | None) -> str:
    if layer is None:
        return "Pass layer='counts' (or whichever layer holds the raw counts)."
    return (
        f"Pass the layer holding raw counts instead of layer={layer!r} (e.g. layer='counts'), "
        "or layer=None if adata.X holds them."
    )


def _pairs(
    sample_codes: np.ndarray, group_codes: np.ndarray, n_groups: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's pair number (-1 if its sample or group is missing), and each pair's code.

    A pair's code is ``sample * n_groups + group``, so pairs sort by sample, then group.
    """
    labelled = (sample_codes >= 0) & (group_codes >= 0)
    codes = sample_codes.astype(np.int64) * n_groups + group_codes
    pairs, inverse = np.unique(codes[labelled], return_inverse=True)
    pair_of_cell = np.full(len(codes), -1, dtype=np.int64)
    pair_of_cell[labelled] = inverse
    return pair_of_cell, pairs


def _pair_obs(
    pairs: np.ndarray, pair_of_cell: np.ndarray, samples: pd.Index, groups: pd.Index
) -> pd.DataFrame:
    """obs of the pseudobulks: original sample and group labels, and the number of cells."""
    obs = pd.DataFrame(
        {
            "sample": pd.Categorical.from_codes(pairs // len(groups), samples),
            "group": pd.Categorical.from_codes(pairs % len(groups), groups),
            "n_cells": np.bincount(pair_of_cell[pair_of_cell >= 0], minlength=len(pairs)),
        }
    )
    names = obs["sample"].astype(str) + "_" + obs["group"].astype(str)
    obs.index = make_index_unique(pd.Index(names))
    return obs


def sum_rows(matrix: Any, row_of_each: np.ndarray, n_rows: int) -> np.ndarray:
    """Sum the rows of ``matrix`` into ``n_rows`` rows (``-1``: left out) as dense int64.

    A sparse indicator matrix product: exact for integers, in int64 for integer input and in
    float64 (exact below 2**53) for float input.
    """
    dtype = np.float64 if matrix.dtype.kind == "f" else np.int64
    kept = np.flatnonzero(row_of_each >= 0)
    indicator = sparse.csr_matrix(
        (np.ones(len(kept), dtype=dtype), (row_of_each[kept], kept)),
        shape=(n_rows, len(row_of_each)),
    )
    summed = indicator @ matrix
    summed = summed.toarray() if sparse.issparse(summed) else np.asarray(summed)
    return np.rint(summed).astype(np.int64) if dtype is np.float64 else summed.astype(np.int64)


def _enough_cells(obs: pd.DataFrame, min_cells: int) -> np.ndarray:
    """Mask of pairs with at least ``min_cells`` cells; logs the pairs dropped."""
    keep = (obs["n_cells"] >= min_cells).to_numpy()
    if not keep.all():
        dropped = obs.loc[~keep]
        logger.info(
            "aggregate_counts: dropped %d (sample, group) pair(s) with fewer than min_cells=%d "
            "cells: %s",
            len(dropped),
            min_cells,
            ", ".join(
                f"{s}/{g} ({n})"
                for s, g, n in dropped[["sample", "group", "n_cells"]].itertuples(index=False)
            ),
        )
    return keep
