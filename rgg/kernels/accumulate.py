"""Per-group sufficient statistics of each gene: non-zeros, sums and centred sums of squares."""

from __future__ import annotations

import numpy as np

from ._jit import kernel, njit, prange


@kernel(parallel=True)
def accumulate_csc(
    indptr: np.ndarray,
    rows: np.ndarray,
    data: np.ndarray,
    cols: np.ndarray,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    with_m2: bool,
    out_nnz: np.ndarray,
    out_sum: np.ndarray,
    out_m2: np.ndarray,
) -> None:
    """Accumulate, for each gene of the block and each group code, nnz, sum and M2.

    Parameters
    ----------
    indptr, rows, data, cols
        The gene block in CSC form; column ``cols[j]`` of ``indptr`` is output row ``j``.
    codes
        Group code of every cell (row); cells with a negative code are ignored.
    n_per_code
        Number of cells with each code, zeros included.
    with_m2
        Also compute ``M2 = sum((x - mean)**2)`` over all cells of the group (two-pass,
        implicit zeros included), as needed for variances.
    out_nnz, out_sum, out_m2
        Float64 arrays of shape ``(len(cols), n_codes)``, zero on entry.
    """
    n_codes = n_per_code.shape[0]
    for j in prange(cols.shape[0]):
        c = cols[j]
        start = indptr[c]
        stop = indptr[c + 1]
        for p in range(start, stop):
            v = data[p]
            k = codes[rows[p]]
            if v != 0 and k >= 0:
                out_nnz[j, k] += 1.0
                out_sum[j, k] += np.float64(v)
        if with_m2:
            means = np.zeros(n_codes, dtype=np.float64)
            for k in range(n_codes):
                if n_per_code[k] > 0:
                    means[k] = out_sum[j, k] / n_per_code[k]
            # Corrected two-pass (Chan, Golub & LeVeque): sum(x - mean) is ~0 in exact
            # arithmetic; what is left is the rounding error of the first pass, which at
            # millions of cells with a large mean would otherwise reach the means and t.
            residual = np.zeros(n_codes, dtype=np.float64)
            for p in range(start, stop):
                v = data[p]
                k = codes[rows[p]]
                if v != 0 and k >= 0:
                    d = np.float64(v) - means[k]
                    out_m2[j, k] += d * d
                    residual[k] += d
            for k in range(n_codes):
                n_zero = n_per_code[k] - out_nnz[j, k]
                out_m2[j, k] += n_zero * means[k] * means[k]
                if n_per_code[k] > 0:
                    residual[k] -= n_zero * means[k]
                    out_sum[j, k] += residual[k]
                    out_m2[j, k] -= residual[k] * residual[k] / n_per_code[k]


@kernel(parallel=True)
def leave_one_out_m2(
    n_per_code: np.ndarray,
    sums: np.ndarray,
    m2: np.ndarray,
    n_out: int,
    out_m2: np.ndarray,
) -> None:
    """M2 of "all cells but code g" for each gene and each code ``g < n_out``.

    Chan's pairwise combination of the per-code (n, mean, M2) triples, with a prefix over
    codes ``< g`` and a suffix over codes ``> g``, so no subtraction of large sums can
    cancel (the same scheme as scanpy >= 1.12.3). O(codes) per gene.

    Parameters
    ----------
    sums, m2
        ``(n_genes, n_codes)`` per-code sums and centred sums of squares.
    out_m2
        ``(n_genes, n_out)`` output.
    """
    n_codes = n_per_code.shape[0]
    for j in prange(sums.shape[0]):
        pre_n = np.zeros(n_codes + 1)
        pre_mean = np.zeros(n_codes + 1)
        pre_m2 = np.zeros(n_codes + 1)
        suf_n = np.zeros(n_codes + 1)
        suf_mean = np.zeros(n_codes + 1)
        suf_m2 = np.zeros(n_codes + 1)
        for k in range(n_codes):
            n_k = np.float64(n_per_code[k])
            mean_k = sums[j, k] / n_k if n_k > 0 else 0.0
            pre_n[k + 1], pre_mean[k + 1], pre_m2[k + 1] = _chan(
                pre_n[k], pre_mean[k], pre_m2[k], n_k, mean_k, m2[j, k]
            )
        for k in range(n_codes - 1, -1, -1):
            n_k = np.float64(n_per_code[k])
            mean_k = sums[j, k] / n_k if n_k > 0 else 0.0
            suf_n[k], suf_mean[k], suf_m2[k] = _chan(
                suf_n[k + 1], suf_mean[k + 1], suf_m2[k + 1], n_k, mean_k, m2[j, k]
            )
        for g in range(n_out):
            out_m2[j, g] = _chan(
                pre_n[g], pre_mean[g], pre_m2[g], suf_n[g + 1], suf_mean[g + 1], suf_m2[g + 1]
            )[2]


@njit
def _chan(
    n_a: float, mean_a: float, m2_a: float, n_b: float, mean_b: float, m2_b: float
) -> tuple[float, float, float]:
    """Merge two (n, mean, M2) summaries of disjoint cell sets."""
    if n_a == 0:
        return n_b, mean_b, m2_b
    if n_b == 0:
        return n_a, mean_a, m2_a
    n = n_a + n_b
    delta = mean_b - mean_a
    return n, (n_a * mean_a + n_b * mean_b) / n, m2_a + m2_b + delta * delta * n_a * n_b / n


@kernel(parallel=True)
def accumulate_expm1_csc(
    indptr: np.ndarray,
    rows: np.ndarray,
    data: np.ndarray,
    cols: np.ndarray,
    codes: np.ndarray,
    log_base: float,
    out_sum: np.ndarray,
) -> None:
    """Per gene of the block and group code: the sum of ``expm1(x * log_base)``.

    Undoes ``log1p`` (in base ``e ** log_base``) cell by cell, for fold changes from mean
    normalised counts (Seurat's definition). Zeros map to zero and are skipped.

    Parameters
    ----------
    out_sum
        Float64 ``(len(cols), n_codes)``, zero on entry.
    """
    for j in prange(cols.shape[0]):
        c = cols[j]
        for p in range(indptr[c], indptr[c + 1]):
            v = data[p]
            k = codes[rows[p]]
            if v != 0 and k >= 0:
                out_sum[j, k] += np.expm1(np.float64(v) * log_base)
