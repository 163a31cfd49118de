"""One pass over the stored values of a gene block to classify them."""

from __future__ import annotations

import numpy as np

from ._jit import kernel, prange


@kernel(parallel=True)
def scan_values(indptr: np.ndarray, data: np.ndarray, cols: np.ndarray) -> tuple[int, int, int]:
    """Count non-finite, negative and non-integral stored values of the block's columns.

    ``-0.0`` counts as negative, as in scanpy's count-data check. Non-finite values are
    counted only as non-finite.
    """
    n_nonfinite = 0
    n_negative = 0
    n_fractional = 0
    for j in prange(cols.shape[0]):
        c = cols[j]
        for p in range(indptr[c], indptr[c + 1]):
            v = np.float64(data[p])
            if not np.isfinite(v):
                n_nonfinite += 1
            else:
                if np.signbit(v):
                    n_negative += 1
                if v != np.floor(v):
                    n_fractional += 1
    return n_nonfinite, n_negative, n_fractional


@kernel(parallel=True)
def is_canonical(indptr: np.ndarray, indices: np.ndarray) -> bool:
    """Whether every row (CSR) or column (CSC) has strictly increasing indices.

    scipy's ``has_canonical_format`` answers the same, but when ``indptr`` and ``indices``
    differ in dtype (int64 and int32, as h5ad files of large data often hold) it first
    copies ``indices`` to int64: a transient copy the size of the matrix.
    """
    n_unsorted = 0
    for i in prange(indptr.shape[0] - 1):
        for p in range(indptr[i] + 1, indptr[i + 1]):
            if indices[p] <= indices[p - 1]:
                n_unsorted += 1
                break
    return n_unsorted == 0
