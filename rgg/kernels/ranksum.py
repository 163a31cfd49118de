"""Wilcoxon rank sums with the zeros of each gene placed analytically.

Only the stored non-zeros of a gene are sorted, once for all groups. All zeros of the gene
form a single tie block whose position (after the negative values) and average rank are
known in closed form. Rank sums are sums of half-integers and therefore exact in float64.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel, njit, prange
from .sort import add_to_digit_counts, native_bits, order_key, radix_sort_counted


@njit
def _gather_sorted(
    rows: np.ndarray,
    data: np.ndarray,
    start: int,
    stop: int,
    codes: np.ndarray,
    out_nnz: np.ndarray,
    out_sum: np.ndarray,
    out_kinds: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Sorted order keys of one column's non-zeros (cells with a code >= 0), with their codes.

    Returns the keys (equal keys are equal values; see :mod:`rgg.kernels.sort`), the codes
    in the same order, and the number of negative values, which is where the zeros go.
    One pass over the column builds the keys and counts their radix digits; it also adds
    each code's non-zeros and sum to ``out_nnz``/``out_sum`` (in the order and arithmetic of
    :func:`rgg.kernels.accumulate_csc`), and counts every stored value's kind into
    ``out_kinds`` (non-finite, negative, fractional; as :func:`rgg.kernels.scan_values`).
    """
    bits = native_bits(data)  # float32 data sort on 4-byte keys
    keys = np.empty(stop - start, dtype=bits.dtype)
    value_codes = np.empty(stop - start, dtype=codes.dtype)
    digit_counts = np.zeros((bits.itemsize, 256), dtype=np.int64)
    n_negative = 0
    n = 0
    for p in range(start, stop):
        value = np.float64(data[p])
        if not np.isfinite(value):
            out_kinds[0] += 1
        else:
            if np.signbit(value):
                out_kinds[1] += 1
            if value != np.floor(value):
                out_kinds[2] += 1
        k = codes[rows[p]]
        if data[p] != 0 and k >= 0:
            key = order_key(bits[p])
            keys[n] = key
            value_codes[n] = k
            add_to_digit_counts(digit_counts, key)
            out_nnz[k] += 1
            out_sum[k] += value
            if data[p] < 0:
                n_negative += 1
            n += 1
    keys, sorted_codes = radix_sort_counted(keys[:n], value_codes[:n], digit_counts)
    return keys, sorted_codes, n_negative


@njit
def _sorted_gene(
    rows: np.ndarray,
    data: np.ndarray,
    start: int,
    stop: int,
    codes: np.ndarray,
    n_codes: int,
    out_nnz: np.ndarray,
    out_sum: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int, np.ndarray, np.ndarray]:
    """:func:`_gather_sorted` for one gene, adding its per-code non-zeros and sums to its rows
    ``out_nnz``/``out_sum``.

    Returns the sorted keys, their codes, the number of negative values, the non-zeros per
    code (int64) and the counts of non-finite, negative and fractional stored values.
    """
    nnz = np.zeros(n_codes, dtype=np.int64)
    code_sums = np.zeros(n_codes, dtype=np.float64)
    kinds = np.zeros(3, dtype=np.int64)
    keys, value_codes, n_negative = _gather_sorted(
        rows, data, start, stop, codes, nnz, code_sums, kinds
    )
    for k in range(n_codes):
        out_nnz[k] += np.float64(nnz[k])
        out_sum[k] += code_sums[k]
    return keys, value_codes, n_negative, nnz, kinds


@njit
def _add_tie_runs(
    keys: np.ndarray,
    value_codes: np.ndarray,
    start: int,
    stop: int,
    out_twice_shift: np.ndarray,
    tiesum: float,
) -> float:
    """Walk the runs of equal keys in ``keys[start:stop]``; add their ``t**3 - t`` to ``tiesum``
    one by one and return it.

    A run's cells share the average of the run's positions; ``out_twice_shift[k]`` gets, for
    each cell of code ``k`` in a run, twice the gap between that average and its position.
    """
    i = start
    while i < stop - 1:
        if keys[i + 1] != keys[i]:
            i += 1
            continue
        end = i + 2
        while end < stop and keys[end] == keys[i]:
            end += 1
        first_plus_last = i + end - 1
        for q in range(i, end):
            out_twice_shift[value_codes[q]] += first_plus_last - 2 * q
        t = np.float64(end - i)
        tiesum += t * t * t - t
        i = end
    return tiesum


def ranksum_rest_csc(
    indptr: np.ndarray,
    rows: np.ndarray,
    data: np.ndarray,
    cols: np.ndarray,
    *,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    ranksums: np.ndarray,
    tiesums: np.ndarray,
    nnz: np.ndarray | None = None,
    sums: np.ndarray | None = None,
) -> tuple[int, int, int]:
    """Rank sums of each group code over *all* cells, and the tie term of each gene.

    Every cell must have a code >= 0 (cells outside the selected groups share one remainder
    code), so ranks run over all ``sum(n_per_code)`` cells as in scanpy's one-vs-rest test.

    A cell's rank is its position in the sorted non-zeros plus one, plus the zeros when it is
    positive, moved to its run's average when it ties. Twice every rank is an integer, so
    the rank sums are built in int64 from per-code sums of positions, and are exact.

    Parameters
    ----------
    indptr, rows, data, cols, codes, n_per_code
        As for :func:`rgg.kernels.accumulate_csc`.
    ranksums
        ``(len(cols), n_codes)``: sum of the average ranks of the cells of each code.
    tiesums
        ``(len(cols),)``: ``sum(t**3 - t)`` over the tie blocks (zeros included), in float64
        so that it cannot overflow.
    nnz, sums
        If given, ``(len(cols), n_codes)``, zero on entry: each code's non-zeros and sum,
        exactly as :func:`rgg.kernels.accumulate_csc` adds them (no second pass over the
        block).

    Returns
    -------
    The counts of :func:`rgg.kernels.scan_values` over the columns' stored values. Non-finite
    values are sorted like any other (the caller refuses such data).
    """
    nnz, sums = _or_scratch(nnz, sums, cols.shape[0], n_per_code.shape[0])
    return _ranksum_rest_csc(
        indptr, rows, data, cols, codes, n_per_code, ranksums, tiesums, nnz, sums
    )


def _or_scratch(
    nnz: np.ndarray | None, sums: np.ndarray | None, n_genes: int, n_codes: int
) -> tuple[np.ndarray, np.ndarray]:
    """The non-zeros and sums outputs, or scratch arrays for those the caller does not want
    (the sort pass forms them anyway)."""
    if nnz is None:
        nnz = np.zeros((n_genes, n_codes))
    if sums is None:
        sums = np.zeros((n_genes, n_codes))
    return nnz, sums


@kernel(parallel=True)
def _ranksum_rest_csc(
    indptr: np.ndarray,
    rows: np.ndarray,
    data: np.ndarray,
    cols: np.ndarray,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    out_ranksum: np.ndarray,
    out_tiesum: np.ndarray,
    out_nnz: np.ndarray,
    out_sum: np.ndarray,
) -> tuple[int, int, int]:
    """:func:`ranksum_rest_csc`'s loop over the genes, in parallel."""
    n_codes = n_per_code.shape[0]
    n_cells = 0
    for k in range(n_codes):
        n_cells += n_per_code[k]
    n_nonfinite = 0
    n_negative_values = 0
    n_fractional = 0
    for j in prange(cols.shape[0]):
        c = cols[j]
        keys, value_codes, n_negative, nnz, kinds = _sorted_gene(
            rows, data, indptr[c], indptr[c + 1], codes, n_codes, out_nnz[j], out_sum[j]
        )
        n_nonfinite += kinds[0]
        n_negative_values += kinds[1]
        n_fractional += kinds[2]
        out_tiesum[j] = _rest_ranksums(
            keys, value_codes, n_negative, nnz, n_per_code, n_cells, out_ranksum[j]
        )
    return n_nonfinite, n_negative_values, n_fractional


@njit
def _rest_ranksums(
    keys: np.ndarray,
    value_codes: np.ndarray,
    n_negative: int,
    nnz: np.ndarray,
    n_per_code: np.ndarray,
    n_cells: int,
    out_ranksum: np.ndarray,
) -> float:
    """Add one gene's rank sum per code to ``out_ranksum``; return its tie term."""
    n_codes = n_per_code.shape[0]
    m = keys.shape[0]
    n_zero = n_cells - m
    # positions summed per code; four interleaved copies keep consecutive cells of one
    # code from waiting on each other's store
    position_sums = np.zeros((4, n_codes), dtype=np.int64)
    for q in range(m):
        position_sums[q & 3, value_codes[q]] += q
    n_below_zeros = np.zeros(n_codes, dtype=np.int64)
    for q in range(n_negative):
        n_below_zeros[value_codes[q]] += 1
    twice = np.zeros(n_codes, dtype=np.int64)
    # tie terms added one by one in value order (negatives, zeros, positives): above 2**53
    # the float sum rounds, and this keeps its order
    tiesum = _add_tie_runs(keys, value_codes, 0, n_negative, twice, 0.0)
    t = np.float64(n_zero)
    tiesum += t * t * t - t
    tiesum = _add_tie_runs(keys, value_codes, n_negative, m, twice, tiesum)
    for k in range(n_codes):
        positions = (
            position_sums[0, k] + position_sums[1, k] + position_sums[2, k] + position_sums[3, k]
        )
        n_zero_k = n_per_code[k] - nnz[k]
        twice[k] += 2 * (positions + nnz[k] + n_zero * (nnz[k] - n_below_zeros[k]))
        twice[k] += n_zero_k * (2 * n_negative + n_zero + 1)  # the zeros' average rank
        out_ranksum[k] += 0.5 * twice[k]
    return tiesum


def ranksum_reference_csc(
    indptr: np.ndarray,
    rows: np.ndarray,
    data: np.ndarray,
    cols: np.ndarray,
    *,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    ref_code: int,
    ustats: np.ndarray,
    tiesums: np.ndarray | None = None,
    nnz: np.ndarray | None = None,
    sums: np.ndarray | None = None,
) -> tuple[int, int, int]:
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
    indptr, rows, data, cols, codes, n_per_code
        As for :func:`rgg.kernels.accumulate_csc`.
    ustats
        ``(len(cols), n_codes)``: U of each code against the reference (0 for the reference).
    tiesums
        If given, ``(len(cols), n_codes)``: the pair's tie term (0 for the reference). Only
        the tie correction needs it; without it, U comes from two branch-free passes
        (:func:`_add_twice_u`) instead of a walk over the blocks of equal values: at
        50k x 20k, where 71% of the non-zeros tie, the kernel takes 0.53 s instead of
        0.75-0.80 s on two threads.
    nnz, sums
        As for :func:`ranksum_rest_csc`; so are the counts returned.
    """
    n_codes = n_per_code.shape[0]
    nnz, sums = _or_scratch(nnz, sums, cols.shape[0], n_codes)
    tie_terms = tiesums is not None
    return _ranksum_reference_csc(
        indptr, rows, data, cols, codes, n_per_code, ref_code, tie_terms, ustats,
        tiesums if tie_terms else np.zeros((0, n_codes)), nnz, sums,
    )  # fmt: skip


@kernel(parallel=True)
def _ranksum_reference_csc(
    indptr: np.ndarray,
    rows: np.ndarray,
    data: np.ndarray,
    cols: np.ndarray,
    codes: np.ndarray,
    n_per_code: np.ndarray,
    ref_code: int,
    tie_terms: bool,
    out_ustat: np.ndarray,
    out_tiesum: np.ndarray,
    out_nnz: np.ndarray,
    out_sum: np.ndarray,
) -> tuple[int, int, int]:
    """:func:`ranksum_reference_csc`'s loop over the genes, in parallel; ``out_tiesum`` is
    read only with ``tie_terms``."""
    n_codes = n_per_code.shape[0]
    n_nonfinite = 0
    n_negative_values = 0
    n_fractional = 0
    for j in prange(cols.shape[0]):
        c = cols[j]
        keys, value_codes, n_negative, nnz, kinds = _sorted_gene(
            rows, data, indptr[c], indptr[c + 1], codes, n_codes, out_nnz[j], out_sum[j]
        )
        n_nonfinite += kinds[0]
        n_negative_values += kinds[1]
        n_fractional += kinds[2]
        zeros = n_per_code - nnz
        if tie_terms:
            _walk_tie_blocks(
                keys, value_codes, n_negative, zeros, ref_code, out_ustat[j], out_tiesum[j]
            )
        else:
            _reference_u(keys, value_codes, n_negative, zeros, ref_code, out_ustat[j])
    return n_nonfinite, n_negative_values, n_fractional


@njit
def _reference_u(
    keys: np.ndarray,
    value_codes: np.ndarray,
    n_negative: int,
    zeros: np.ndarray,
    ref_code: int,
    out_ustat: np.ndarray,
) -> None:
    """U of every code against ``ref_code`` for one gene, without the tie terms.

    Twice U, in int64 (exact): a cell x of a group gains #ref < x + #ref <= x, the reference
    cells before its block of equal values and those up to its end.
    """
    n_codes = zeros.shape[0]
    m = keys.shape[0]
    twice_u = np.zeros((4, n_codes), dtype=np.int64)
    block_start_refs = np.empty(m, dtype=np.int64)
    refs = _add_twice_u(keys, value_codes, 0, n_negative, ref_code, 0, block_start_refs, twice_u)
    for k in range(n_codes):  # the zeros: one block, all at the same value
        twice_u[0, k] += zeros[k] * (2 * refs + zeros[ref_code])
    refs += zeros[ref_code]
    _add_twice_u(keys, value_codes, n_negative, m, ref_code, refs, block_start_refs, twice_u)
    for k in range(n_codes):
        if k != ref_code:
            total = twice_u[0, k] + twice_u[1, k] + twice_u[2, k] + twice_u[3, k]
            out_ustat[k] += 0.5 * total


@njit
def _add_twice_u(
    keys: np.ndarray,
    value_codes: np.ndarray,
    start: int,
    stop: int,
    ref_code: int,
    refs_before: int,
    block_start_refs: np.ndarray,
    twice_u: np.ndarray,
) -> int:
    """Add, for each cell of ``start:stop``, the reference cells before its run of equal keys
    plus those up to the run's end to its code's entry of ``twice_u`` (four interleaved copies,
    so that consecutive cells of one code do not wait on each other's store; the reference's
    own entry collects junk, never read). ``refs_before`` counts the reference cells before
    ``start``; returns the count up to ``stop``.

    A forward pass notes each cell's count at the start of its run, a backward pass the count
    at its end; both are selects, not branches, so runs cost nothing extra.
    """
    if start == stop:
        return refs_before
    refs = refs_before
    run_start_refs = refs
    for q in range(start, stop):
        if q > start and keys[q] != keys[q - 1]:
            run_start_refs = refs
        block_start_refs[q] = run_start_refs
        refs += np.int64(value_codes[q] == ref_code)
    refs_at_stop = refs
    run_end_refs = refs
    for q in range(stop - 1, start - 1, -1):
        if q < stop - 1 and keys[q] != keys[q + 1]:
            run_end_refs = refs
        k = value_codes[q]
        twice_u[q & 3, k] += block_start_refs[q] + run_end_refs
        refs -= np.int64(k == ref_code)
    return refs_at_stop


@njit
def _walk_tie_blocks(
    keys: np.ndarray,
    value_codes: np.ndarray,
    n_negative: int,
    zeros: np.ndarray,
    ref_code: int,
    out_ustat: np.ndarray,
    out_tiesum: np.ndarray,
) -> None:
    """U and the tie terms of one gene from a walk over its blocks of equal values, in value
    order (negatives, the zeros, positives). Each block's codes are counted once; a lone
    value is a block of one (its tie terms are zero).

    When the tie terms are not needed, :func:`_add_twice_u` gets U faster; this walk pays
    for every block's bookkeeping, which the tie terms need anyway.
    """
    n_codes = zeros.shape[0]
    m = keys.shape[0]
    counts = np.zeros(n_codes, dtype=np.int64)
    touched = np.empty(n_codes, dtype=np.int64)
    own_ties = np.zeros(n_codes, dtype=np.float64)
    cross_ties = np.zeros(n_codes, dtype=np.float64)
    ref_below = 0.0
    zeros_placed = False
    i = 0
    while True:
        # one block per iteration: the zeros (after the negatives), or a run of equal keys
        n_touched = 0
        if not zeros_placed and i == n_negative:
            for k in range(n_codes):
                counts[k] = zeros[k]
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
                out_ustat[k] += a * (ref_below + 0.5 * n_ref)
                cross_ties[k] += 3.0 * a * n_ref * (a + n_ref)
            own_ties[k] += a * a * a - a
            counts[k] = 0
        ref_below += n_ref
        i = run_end
    for k in range(n_codes):
        if k != ref_code:
            out_tiesum[k] = own_ties[k] + own_ties[ref_code] + cross_ties[k]
