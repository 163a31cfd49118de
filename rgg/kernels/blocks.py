"""Bring a block of genes into compressed-sparse-column form without touching other genes."""

from __future__ import annotations

import numpy as np

from ._jit import kernel, prange


@kernel(parallel=False)
def csr_block_to_csc(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    cursor: np.ndarray,
    col_pos: np.ndarray,
    col_stop: int,
    out_indptr: np.ndarray,
    out_rows: np.ndarray,
    out_data: np.ndarray,
) -> int:
    """Transpose the CSR entries of columns ``< col_stop`` that are in the block.

    The CSR column indices must be sorted within each row. ``cursor[i]`` points at the first
    entry of row ``i`` not yet consumed by an earlier block and is advanced past
    ``col_stop``, so a sweep over increasing blocks reads every entry exactly once.
    ``col_pos`` maps an original column to its position in the block, or -1 for columns
    that are not tested (``mask_var``). Stored zeros are dropped.

    ``out_indptr`` (length block size + 1) must be zero on entry; ``out_rows`` and
    ``out_data`` must have room for the block's non-zeros. Returns the number written.
    """
    n_rows = indptr.shape[0] - 1
    # pass 1: count the non-zeros of each block column
    for i in range(n_rows):
        for p in range(cursor[i], indptr[i + 1]):
            col = indices[p]
            if col >= col_stop:
                break
            pos = col_pos[col]
            if pos >= 0 and data[p] != 0:
                out_indptr[pos + 1] += 1
    for j in range(out_indptr.shape[0] - 1):
        out_indptr[j + 1] += out_indptr[j]
    # pass 2: scatter rows in increasing order, so each column's rows come out sorted
    fill = out_indptr[:-1].copy()
    for i in range(n_rows):
        p = cursor[i]
        stop = indptr[i + 1]
        while p < stop:
            col = indices[p]
            if col >= col_stop:
                break
            pos = col_pos[col]
            if pos >= 0 and data[p] != 0:
                q = fill[pos]
                out_rows[q] = i
                out_data[q] = data[p]
                fill[pos] = q + 1
            p += 1
        cursor[i] = p
    return out_indptr[-1]


@kernel(parallel=True)
def dense_block_to_csc(
    x: np.ndarray,
    cols: np.ndarray,
    out_indptr: np.ndarray,
    out_rows: np.ndarray,
    out_data: np.ndarray,
) -> int:
    """Gather the non-zeros of the dense columns ``cols`` into CSC arrays.

    ``out_indptr`` must have length ``len(cols) + 1``; ``out_rows``/``out_data`` room for
    every non-zero of those columns (at most ``len(cols) * n_rows``).
    """
    n_rows = x.shape[0]
    n_cols = cols.shape[0]
    counts = np.zeros(n_cols, dtype=np.int64)
    for j in prange(n_cols):
        c = cols[j]
        n = 0
        for i in range(n_rows):
            if x[i, c] != 0:
                n += 1
        counts[j] = n
    out_indptr[0] = 0
    for j in range(n_cols):
        out_indptr[j + 1] = out_indptr[j] + counts[j]
    for j in prange(n_cols):
        c = cols[j]
        q = out_indptr[j]
        for i in range(n_rows):
            v = x[i, c]
            if v != 0:
                out_rows[q] = i
                out_data[q] = v
                q += 1
    return out_indptr[n_cols]


@kernel(parallel=False)
def count_columns(indices: np.ndarray, n_cols: int) -> np.ndarray:
    """Stored entries per column of a CSR matrix, without the int64 copy ``np.bincount`` makes."""
    counts = np.zeros(n_cols, dtype=np.int64)
    for p in range(indices.shape[0]):
        counts[indices[p]] += 1
    return counts
