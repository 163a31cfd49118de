"""Wilcoxon rank sums with the zeros of each gene placed analytically.

Only the stored non-zeros of a gene are sorted, once for all groups. All zeros of the gene
form a single tie block whose position (after the negative values) and average rank are
known in closed form. Rank sums are sums of half-integers and therefore exact in float64.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel, njit, prange
from .sort import native_keys_inplace, radix_sort_pairs


@njit
def _gather_sorted(
    rows: np.ndarray,
    data: np.ndarray,
    start: int,
    stop: int,
    codes: np.ndarray,
    out_nnz: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Sorted order keys of one column's non-zeros (cells with a code >= 0), with their codes.

    Returns the keys (equal keys are equal values; see :mod:`rgg.kernels.sort`), the codes
    in the same order, and the number of negative values, which is where the zeros go.
    """
    n = 0
    for p in range(start, stop):
        if data[p] != 0 and codes[rows[p]] >= 0:
            n += 1
    values = np.empty(n, dtype=data.dtype)  # float32 data sort on 4-byte keys
    value_codes = np.empty(n, dtype=codes.dtype)
    n_negative = 0
    q = 0
    for p in range(start, stop):
        k = codes[rows[p]]
        if data[p] != 0 and k >= 0:
            values[q] = data[p]
            value_codes[q] = k
            out_nnz[k] += 1
            if data[p] < 0:
                n_negative += 1
            q += 1
    # values is already a fresh array: key it in place rather than copying again
    keys, sorted_codes = radix_sort_pairs(native_keys_inplace(values), value_codes)
    return keys, sorted_codes, n_negative


@kernel(parallel=True)
def ranksum_rest_csc(
    indptr: np.ndarray,
    rows: np.ndarray,
    data: np.ndarray,
    cols: np.ndarray,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    out_ranksum: np.ndarray,
    out_tiesum: np.ndarray,
) -> None:
    """Rank sums of each group code over *all* cells, and the tie term of each gene.

    Every cell must have a code >= 0 (cells outside the selected groups share one remainder
    code), so ranks run over all ``sum(n_per_code)`` cells as in scanpy's one-vs-rest test.

    Parameters
    ----------
    out_ranksum
        ``(len(cols), n_codes)``: sum of the average ranks of the cells of each code.
    out_tiesum
        ``(len(cols),)``: ``sum(t**3 - t)`` over the tie blocks (zeros included), in float64
        so that it cannot overflow.
    """
    n_codes = n_per_code.shape[0]
    n_cells = 0
    for k in range(n_codes):
        n_cells += n_per_code[k]
    for j in prange(cols.shape[0]):
        c = cols[j]
        nnz = np.zeros(n_codes, dtype=np.int64)
        keys, value_codes, n_negative = _gather_sorted(
            rows, data, indptr[c], indptr[c + 1], codes, nnz
        )
        m = keys.shape[0]
        n_zero = n_cells - m
        below = 0.0  # cells strictly below the current tie block
        tiesum = 0.0
        zeros_placed = n_zero == 0
        i = 0
        while i <= m:
            if not zeros_placed and i == n_negative:
                avg = below + (n_zero + 1) / 2.0
                for k in range(n_codes):
                    out_ranksum[j, k] += (n_per_code[k] - nnz[k]) * avg
                t = np.float64(n_zero)
                tiesum += t * t * t - t
                below += n_zero
                zeros_placed = True
            if i == m:
                break
            run_end = i + 1
            while run_end < m and keys[run_end] == keys[i]:
                run_end += 1
            length = run_end - i
            avg = below + (length + 1) / 2.0
            for q in range(i, run_end):
                out_ranksum[j, value_codes[q]] += avg
            t = np.float64(length)
            tiesum += t * t * t - t
            below += length
            i = run_end
        out_tiesum[j] = tiesum


@kernel(parallel=True)
def ranksum_reference_csc(
    indptr: np.ndarray,
    rows: np.ndarray,
    data: np.ndarray,
    cols: np.ndarray,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    ref_code: int,
    out_ustat: np.ndarray,
    out_tiesum: np.ndarray,
) -> None:
    """Mann-Whitney U of every group code against ``ref_code``, from one sort per gene.

    For a group g, ``U_g = sum over cells x of g of (#reference < x + #reference == x / 2)``;
    its rank sum within g+reference is ``U_g + n_g (n_g + 1) / 2``. So a single walk over the
    sorted values with a running count of reference cells serves every group, and no
    per-pair re-sort is needed. Cells with a negative code take no part.

    The tie term of the pair (g, reference) is ``sum over value blocks of (a + b)**3 - (a + b)``
    with a, b the cells of g and of the reference in the block; it is assembled as
    ``T_g + T_ref + sum 3ab(a + b)`` over the blocks where both occur.

    Parameters
    ----------
    out_ustat
        ``(len(cols), n_codes)``: U of each code against the reference (0 for the reference).
    out_tiesum
        ``(len(cols), n_codes)``: the pair's tie term (0 for the reference).
    """
    n_codes = n_per_code.shape[0]
    for j in prange(cols.shape[0]):
        c = cols[j]
        nnz = np.zeros(n_codes, dtype=np.int64)
        keys, value_codes, n_negative = _gather_sorted(
            rows, data, indptr[c], indptr[c + 1], codes, nnz
        )
        m = keys.shape[0]
        counts = np.zeros(n_codes, dtype=np.int64)
        touched = np.empty(n_codes, dtype=np.int64)
        own_ties = np.zeros(n_codes, dtype=np.float64)
        cross_ties = np.zeros(n_codes, dtype=np.float64)
        ref_below = 0.0
        zeros_placed = False
        i = 0
        while True:
            # one tie block per iteration: the zeros (after the negatives), or a run of equal keys
            n_touched = 0
            if not zeros_placed and i == n_negative:
                for k in range(n_codes):
                    counts[k] = n_per_code[k] - nnz[k]
                    if counts[k] > 0:
                        touched[n_touched] = k
                        n_touched += 1
                zeros_placed = True
                run_end = i
            elif i < m:
                run_end = i
                while run_end < m and keys[run_end] == keys[i]:
                    k = value_codes[run_end]
                    if counts[k] == 0:
                        touched[n_touched] = k
                        n_touched += 1
                    counts[k] += 1
                    run_end += 1
            else:
                break
            n_ref = np.float64(counts[ref_code])
            for t in range(n_touched):
                k = touched[t]
                a = np.float64(counts[k])
                if k != ref_code:
                    out_ustat[j, k] += a * (ref_below + 0.5 * n_ref)
                    cross_ties[k] += 3.0 * a * n_ref * (a + n_ref)
                own_ties[k] += a * a * a - a
                counts[k] = 0
            ref_below += n_ref
            i = run_end
        for k in range(n_codes):
            if k != ref_code:
                out_tiesum[j, k] = own_ties[k] + own_ties[ref_code] + cross_ties[k]
