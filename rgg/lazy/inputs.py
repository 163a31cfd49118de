"""Turn each kind of lazy matrix into a Dask array of CSR, CSC or dense chunks."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse

from .. import matrix
from ..matrix import is_backed_sparse, is_dask_array


def as_dask_array(x: Any, block_nnz: int) -> Any:
    """A Dask array over ``x``; backed matrices are chunked so a chunk holds ~``block_nnz`` entries.

    CSR and dense files are chunked by rows, CSC files by columns (each chunk then holds
    every cell of its genes, so rank tests need no transposition). A Dask array is
    returned as given: its chunks are the user's choice.
    """
    if is_dask_array(x):
        if any(np.isnan(size) for sizes in x.chunks for size in sizes):
            msg = (
                "the Dask array has chunks of unknown size (after boolean indexing, for "
                "example); call x.compute_chunk_sizes() on it first."
            )
            raise ValueError(msg)
        return x
    from anndata.experimental import read_elem_lazy

    n_rows, n_cols = x.shape
    if is_backed_sparse(x):
        nnz = max(int(x.group["data"].shape[0]), 1)
        if x.format == "csc":
            per_col = max(nnz / max(n_cols, 1), 1.0)
            cols = int(np.clip(block_nnz / per_col, 1, max(n_cols, 1)))
            return read_elem_lazy(x.group, chunks=(n_rows, cols))
        per_row = max(nnz / max(n_rows, 1), 1.0)
        rows = int(np.clip(block_nnz / per_row, 1, max(n_rows, 1)))
        return read_elem_lazy(x.group, chunks=(rows, n_cols))
    rows = int(np.clip(block_nnz // max(n_cols, 1), 1, max(n_rows, 1)))
    return read_elem_lazy(x, chunks=(rows, n_cols))


def chunk_to_csc(chunk: Any) -> sparse.csc_matrix:
    """One computed chunk (scipy sparse or dense) as canonical CSC with a kernel dtype."""
    if sparse.issparse(chunk):
        csc = sparse.csc_matrix(chunk)
    else:
        dense = np.asarray(chunk)
        if dense.dtype.kind == "f":  # scipy.sparse has no float16
            dense = matrix.kernel_dtype(dense)
        csc = sparse.csc_matrix(dense)
    if not csc.has_canonical_format:
        csc.sum_duplicates()
    data = matrix.kernel_dtype(csc.data)
    if data is not csc.data:
        csc = sparse.csc_matrix((data, csc.indices, csc.indptr), shape=csc.shape)
    return csc


def hstack_chunks(chunks: list[Any]) -> Any:
    """Join the column chunks of one row block (sparse or dense) into one matrix."""
    if len(chunks) == 1:
        return chunks[0]
    if any(sparse.issparse(c) for c in chunks):
        return sparse.hstack([sparse.csr_matrix(c) for c in chunks], format="csr")
    return np.hstack([np.asarray(c) for c in chunks])
