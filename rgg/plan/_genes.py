"""The tested matrix and genes of a call: X, raw.X or a layer, under the gene mask."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype

from .._errors import UnsupportedDtypeError, adata_layer
from ..matrix import is_lazy, is_supported

if TYPE_CHECKING:
    from anndata import AnnData

    from .._types import Matrix, Method

logger = logging.getLogger("rgg")


@dataclass(frozen=True)
class TestedGenes:
    """The matrix a call tests and its genes.

    Attributes
    ----------
    matrix
        The matrix that is tested (X, raw.X or a layer), before the gene mask.
    genes
        Sorted column indices of the tested genes in ``matrix``.
    var_names
        Names of the tested genes.
    log1p_base
        The base of the data's ``log1p`` (``uns['log1p']['base']``), ``None`` for ``e``.
    """

    matrix: Matrix
    genes: np.ndarray
    var_names: pd.Index
    log1p_base: float | None


def resolve_genes(
    adata: AnnData, *, use_raw: bool, layer: str | None, method: Method, mask: np.ndarray | None
) -> TestedGenes:
    """Select the matrix and the genes under ``mask`` (checked by :func:`check_mask_var`),
    and check that the method can test them."""
    matrix, matrix_var_names = _select_matrix(adata, use_raw, layer)
    _check_dtype(matrix, use_raw, layer)
    if matrix_var_names.name == "_index":
        # anndata's on-disk name for an unnamed index; read_h5ad drops it, read_lazy keeps it
        matrix_var_names = matrix_var_names.rename(None)
    if not (is_supported(matrix) or is_lazy(matrix)):
        msg = (
            f"rank_genes_groups is not implemented for matrices of type {type(matrix)}. "
            "Pass a NumPy array, a scipy CSR or CSC matrix, a Dask array (anndata's "
            "read_lazy; for a zarr array, dask.array.from_zarr) or a backed h5ad."
        )
        raise NotImplementedError(msg)
    if method == "logreg" and is_lazy(matrix):
        msg = (
            "method='logreg' fits all genes at once and needs the matrix in memory, but "
            f"it is lazy ({type(matrix).__name__}). Load it first (adata.to_memory(), or "
            "read_h5ad without backed=), or use method='wilcoxon' or a t-test."
        )
        raise NotImplementedError(msg)

    n_vars = matrix.shape[1]
    if mask is not None:
        if len(mask) != n_vars:
            msg = (
                f"mask_var has {len(mask)} entries (one per gene of adata.var) but adata.raw.X, "
                f"the tested matrix, has {n_vars} genes. Pass use_raw=False to test adata.X, "
                "or give a mask as long as adata.raw.var_names."
            )
            raise ValueError(msg)
        genes = np.flatnonzero(mask).astype(np.int64)
    else:
        genes = np.arange(n_vars, dtype=np.int64)
    if n_vars == 0:
        msg = "the tested matrix has no genes (n_vars=0); check the file or the gene subset."
        raise ValueError(msg)
    if len(genes) == 0:
        msg = "mask_var selects no gene; at least one gene must be tested."
        raise ValueError(msg)
    _warn_duplicate_names(matrix_var_names[genes])

    log1p = adata.uns.get("log1p")
    base = log1p.get("base") if isinstance(log1p, Mapping) else None
    return TestedGenes(
        matrix=matrix,
        genes=genes,
        var_names=matrix_var_names[genes],
        log1p_base=None if base is None else float(base),
    )


def names_of_tested_genes(
    adata: AnnData, *, use_raw: bool | None = None, layer: str | None = None, mask_var: Any = None
) -> pd.Index:
    """Names of the genes a call with these arguments tests, by the rules of
    :func:`rgg.plan.build_plan` (which checks the arguments themselves)."""
    if use_raw is None:
        use_raw = adata.raw is not None and layer is None
    _, names = _select_matrix(adata, bool(use_raw), layer)
    mask = check_mask_var(adata, mask_var)
    return names if mask is None or len(mask) != len(names) else names[mask]


def check_mask_var(adata: AnnData, mask_var: Any) -> np.ndarray | None:
    """Scanpy's mask checks and wording (spec section 2, step 1)."""
    if mask_var is None:
        return None
    if isinstance(mask_var, str):
        if mask_var not in adata.var.columns:
            msg = (
                f"Did not find `adata.var[{mask_var!r}]`. "
                "Either add the mask first to `adata.var`"
                "or consider using the mask argument with an array."
            )
            raise ValueError(msg)
        mask = adata.var[mask_var].to_numpy()
    else:
        mask = np.asarray(mask_var)
        if len(mask) != adata.n_vars:
            msg = "The shape of the mask do not match the data."
            raise ValueError(msg)
    if not is_bool_dtype(mask.dtype):
        where = f"adata.var[{mask_var!r}]" if isinstance(mask_var, str) else "the mask"
        msg = f"Mask array must be boolean ({where} has dtype {mask.dtype})."
        raise ValueError(msg)
    return mask.astype(bool)


def _select_matrix(adata: AnnData, use_raw: bool, layer: str | None) -> tuple[Matrix, pd.Index]:
    if layer is not None:
        if use_raw:
            msg = "Cannot specify `layer` and have `use_raw=True`."
            if adata.raw is not None:
                msg += " adata.raw exists, so pass use_raw=False together with layer=."
            raise ValueError(msg)
        return adata_layer(adata, layer), adata.var_names
    if use_raw and adata.raw is not None:
        return adata.raw.X, adata.raw.var_names
    return adata.X, adata.var_names


#: dtype kinds rgg can rank: booleans, integers, floats.
_RANKABLE_KINDS = frozenset("biuf")


def _check_dtype(matrix: Any, use_raw: bool, layer: str | None) -> None:
    """Refuse a matrix whose values are not real numbers (complex, object, strings)."""
    dtype = getattr(matrix, "dtype", None)
    if dtype is None or np.dtype(dtype).kind in _RANKABLE_KINDS:
        return
    where = "adata.raw.X" if use_raw else "adata.X"
    if layer is not None:
        where = f"adata.layers[{layer!r}]"
    dtype = np.dtype(dtype)
    values = f"{where}.real" if dtype.kind == "c" else f"{where}.astype(np.float32)"
    fix = f"{where} = {values}"
    if use_raw and layer is None:  # anndata's Raw has no X setter
        fix = f"adata.raw = ad.AnnData({values}, var=adata.raw.var)"
    if dtype.kind == "c":
        fix += " (if the imaginary part is zero)"
    msg = (
        f"{where} has dtype {dtype}, which rank_genes_groups cannot rank: it needs real numbers "
        f"(boolean, integer or float). Convert it first, e.g. {fix}."
    )
    raise UnsupportedDtypeError(msg)


def _warn_duplicate_names(names: pd.Index) -> None:
    if names.is_unique:
        return
    duplicated = names[names.duplicated()].unique()
    logger.warning(
        "%d gene names occur more than once among the tested genes (e.g. %s): results name genes "
        "ambiguously. Call adata.var_names_make_unique() (or adata.raw.var_names_make_unique() "
        "for raw data) first.",
        len(duplicated),
        ", ".join(repr(name) for name in duplicated[:3]),
    )


def resolve_n_genes(n_genes: Any, n_tested: int) -> int:
    """``n_genes`` as scanpy reads it: None or 0 keep every tested gene, ``-k`` drops the
    ``k`` lowest; dropping every gene (``-k <= -n_tested``) would leave empty tables.

    Returns ``n_genes`` capped at ``n_tested`` (``n_tested`` for ``None``).
    """
    if n_genes is None:
        return n_tested
    if isinstance(n_genes, bool) or not isinstance(n_genes, int | np.integer):
        msg = (
            f"n_genes must be an integer number of genes per group (or None for every tested "
            f"gene), got {n_genes!r}."
        )
        raise ValueError(msg)
    if n_genes <= -n_tested:
        msg = (
            f"n_genes={n_genes} would drop all {n_tested} tested genes: a negative n_genes "
            "drops that many of the lowest-ranked genes (as in scanpy). Pass a positive number "
            "of genes per group, or None for all."
        )
        raise ValueError(msg)
    return n_tested if n_genes > n_tested else int(n_genes)
