"""Per-group sufficient statistics of each gene: non-zeros, sums and centred sums of squares."""

from __future__ import annotations

import numpy as np

from ._jit import kernel, njit, prange
from .rowsearch import range_span


def accumulate_csc(
    indptr: np.ndarray,
    rows: np.ndarray,
    data: np.ndarray,
    cols: np.ndarray,
    *,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    nnz: np.ndarray | None = None,
    sums: np.ndarray,
    m2: np.ndarray | None = None,
) -> None:
    """Add, for each gene of the block and each group code, its non-zeros, sum and M2.

    Parameters
    ----------
    indptr, rows, data, cols
        The gene block in CSC form; column ``cols[j]`` of ``indptr`` is output row ``j``.
    codes
        Group code of every cell (row); cells with a negative code are ignored.
    n_per_code
        Number of cells with each code, zeros included.
    nnz, sums
        Float64 ``(len(cols), n_codes)``, zero on entry: non-zero counts and sums. ``nnz``
        may be left out when only the sums (and M2) are wanted.
    m2
        If given, float64 ``(len(cols), n_codes)``, zero on entry: ``sum((x - mean)**2)``
        over all cells of the group (two-pass, implicit zeros included), as needed for
        variances.
    """
    n_codes = n_per_code.shape[0]
    if nnz is None:  # M2 counts the implicit zeros from the non-zeros
        nnz = np.zeros((cols.shape[0], n_codes))
    _accumulate_csc(
        indptr, rows, data, cols, codes, n_per_code, m2 is not None, nnz, sums,
        _or_empty(m2, n_codes),
    )  # fmt: skip


def _or_empty(out: np.ndarray | None, n_codes: int) -> np.ndarray:
    """``out``, or an empty stand-in for an output the kernel is told to leave alone."""
    return np.zeros((0, n_codes)) if out is None else out


@kernel(parallel=True)
def _accumulate_csc(
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
    """:func:`accumulate_csc`'s loop; ``out_m2`` is read only ``with_m2``."""
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
            _means(n_per_code, out_sum[j], means)
            residual = np.zeros(n_codes, dtype=np.float64)
            for p in range(start, stop):
                v = data[p]
                k = codes[rows[p]]
                if v != 0 and k >= 0:
                    d = np.float64(v) - means[k]
                    out_m2[j, k] += d * d
                    residual[k] += d
            _finish_m2(n_per_code, out_nnz[j], means, residual, out_sum[j], out_m2[j])


@njit
def _means(n_per_code: np.ndarray, sums: np.ndarray, out_means: np.ndarray) -> None:
    """One gene's mean per code (left at zero for an empty code)."""
    for k in range(n_per_code.shape[0]):
        if n_per_code[k] > 0:
            out_means[k] = sums[k] / n_per_code[k]


@njit
def _finish_m2(
    n_per_code: np.ndarray,
    nnz: np.ndarray,
    means: np.ndarray,
    residual: np.ndarray,
    out_sum: np.ndarray,
    out_m2: np.ndarray,
) -> None:
    """Complete one gene's M2 after the pass over its non-zeros: add the implicit zeros, then
    the two-pass correction to the sums and M2.

    Corrected two-pass (Chan, Golub & LeVeque): ``residual``, the sum of ``x - mean``, is ~0
    in exact arithmetic; what is left is the rounding error of the first pass, which at
    millions of cells with a large mean would otherwise reach the means and t.
    """
    for k in range(n_per_code.shape[0]):
        n_zero = n_per_code[k] - nnz[k]
        out_m2[k] += n_zero * means[k] * means[k]
        if n_per_code[k] > 0:
            residual[k] -= n_zero * means[k]
            out_sum[k] += residual[k]
            out_m2[k] -= residual[k] * residual[k] / n_per_code[k]


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


def accumulate_csr(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    *,
    col_pos: np.ndarray,
    col_bounds: np.ndarray,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    nnz: np.ndarray,
    sums: np.ndarray,
    m2: np.ndarray | None = None,
    expm1_sums: np.ndarray | None = None,
    log_base: float = 1.0,
) -> tuple[int, int, int]:
    """:func:`accumulate_csc`, :func:`accumulate_expm1_csc` and :func:`scan_values` on CSR.

    The same statistics, added in the same order (ascending rows for every gene and code),
    so the results are bit-for-bit those of the gene-block path, without transposing the
    matrix. The columns are split into the ranges ``col_bounds[t]:col_bounds[t + 1]``,
    processed in parallel: each range walks every row (finding its span of columns by
    bisection), then, for M2, walks them again with its genes' means.

    Parameters
    ----------
    indptr, indices, data
        CSR matrix with sorted column indices in every row.
    col_pos
        Output row of each column, or -1 for columns that are not tested.
    col_bounds
        Ascending column positions from 0 to the number of columns: the ranges.
    codes, n_per_code
        As for :func:`accumulate_csc`.
    nnz, sums, m2
        Float64 ``(n_tested, n_codes)``, zero on entry, as for :func:`accumulate_csc`
        (``m2`` only if given).
    expm1_sums, log_base
        If given, ``expm1_sums`` gets what :func:`accumulate_expm1_csc` adds with
        ``log_base``.

    Returns
    -------
    Counts of non-finite, negative and non-integral stored values of the tested columns
    (as :func:`scan_values`; stored zeros are skipped, as the transposition does). With
    non-finite values, the statistics are incomplete: the caller refuses the data.
    """
    n_codes = n_per_code.shape[0]
    # the means and residuals of M2's second pass
    scratch = np.zeros((2, nnz.shape[0] if m2 is not None else 0, n_codes))
    return _accumulate_csr(
        indptr, indices, data, col_pos, col_bounds, codes, n_per_code,
        m2 is not None, expm1_sums is not None, log_base,
        nnz, sums, _or_empty(m2, n_codes), _or_empty(expm1_sums, n_codes), scratch,
    )  # fmt: skip


@kernel(parallel=True)
def _accumulate_csr(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    col_pos: np.ndarray,
    col_bounds: np.ndarray,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    with_m2: bool,
    with_expm1: bool,
    log_base: float,
    out_nnz: np.ndarray,
    out_sum: np.ndarray,
    out_m2: np.ndarray,
    out_expm1: np.ndarray,
    scratch: np.ndarray,
) -> tuple[int, int, int]:
    """:func:`accumulate_csr`'s loop over the column ranges, in parallel."""
    n_nonfinite = 0
    n_negative = 0
    n_fractional = 0
    for t in prange(col_bounds.shape[0] - 1):
        lo = col_bounds[t]
        hi = col_bounds[t + 1]
        if lo == hi:
            continue
        nonfinite, negative, fractional = _sum_column_range(
            indptr, indices, data, col_pos, lo, hi, codes, with_expm1, log_base,
            out_nnz, out_sum, out_expm1,
        )  # fmt: skip
        n_nonfinite += nonfinite
        n_negative += negative
        n_fractional += fractional
        if with_m2 and not nonfinite:
            _m2_column_range(
                indptr, indices, data, col_pos, lo, hi, codes, n_per_code,
                out_nnz, out_sum, out_m2, scratch[0], scratch[1],
            )  # fmt: skip
    return n_nonfinite, n_negative, n_fractional


@njit
def _sum_column_range(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    col_pos: np.ndarray,
    lo: int,
    hi: int,
    codes: np.ndarray,
    with_expm1: bool,
    log_base: float,
    out_nnz: np.ndarray,
    out_sum: np.ndarray,
    out_expm1: np.ndarray,
) -> tuple[int, int, int]:
    """First pass over the rows for the columns ``lo:hi``: non-zeros, sums (and expm1 sums);
    returns the counts of non-finite, negative and fractional values met."""
    n_nonfinite = 0
    n_negative = 0
    n_fractional = 0
    for i in range(indptr.shape[0] - 1):
        k = codes[i]
        first, end = range_span(indices, indptr[i], indptr[i + 1], lo, hi)
        for p in range(first, end):
            v = data[p]
            j = col_pos[indices[p]]
            if j < 0 or v == 0:
                continue
            x = np.float64(v)
            if not np.isfinite(x):
                n_nonfinite += 1
                continue
            if np.signbit(x):
                n_negative += 1
            if x != np.floor(x):
                n_fractional += 1
            if k >= 0:
                out_nnz[j, k] += 1.0
                out_sum[j, k] += x
                if with_expm1:
                    out_expm1[j, k] += np.expm1(x * log_base)
    return n_nonfinite, n_negative, n_fractional


@njit
def _m2_column_range(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    col_pos: np.ndarray,
    lo: int,
    hi: int,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    out_nnz: np.ndarray,
    out_sum: np.ndarray,
    out_m2: np.ndarray,
    means: np.ndarray,
    residual: np.ndarray,
) -> None:
    """Second pass over the rows for the columns ``lo:hi``, once their sums are complete: M2
    with :func:`accumulate_csc`'s arithmetic (``means`` and ``residual``: scratch rows)."""
    for c in range(lo, hi):
        j = col_pos[c]
        if j >= 0:
            _means(n_per_code, out_sum[j], means[j])
    for i in range(indptr.shape[0] - 1):
        k = codes[i]
        if k < 0:
            continue
        first, end = range_span(indices, indptr[i], indptr[i + 1], lo, hi)
        for p in range(first, end):
            v = data[p]
            j = col_pos[indices[p]]
            if j >= 0 and v != 0:
                d = np.float64(v) - means[j, k]
                out_m2[j, k] += d * d
                residual[j, k] += d
    for c in range(lo, hi):
        j = col_pos[c]
        if j >= 0:
            _finish_m2(n_per_code, out_nnz[j], means[j], residual[j], out_sum[j], out_m2[j])
