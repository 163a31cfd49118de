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
