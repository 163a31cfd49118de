"""Mergeable statistics as a map-reduce over row blocks (t-tests, fold changes, ``pts``).

Each task sums one block of cells; partial results merge exactly for counts and sums and
by Chan's pairwise formula for the centred sums of squares, so no large sums of squares
are subtracted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._parameters import PREFILTERS
from .._settings import numba_threads
from ..matrix import GeneBlock
from ..plan import Plan
from ..sweep import GeneSums, empty_sums, sums_from_rows, sweep_block, sweep_csr_rows
from .inputs import chunk_to_csc, hstack_chunks


@dataclass
class RowBlockSums:
    """The sums of the tested genes over one set of cells.

    Attributes
    ----------
    n_per_code
        Cells of each group code in the set.
    sums
        Per gene and code sums over the set (no rank sums, no pre-filter decisions).
    """

    n_per_code: np.ndarray
    sums: GeneSums


def row_block_sums(chunks: list[Any], codes: np.ndarray, plan: Plan, threads: int) -> RowBlockSums:
    """Sum one row block (its column chunks in ``chunks``; ``codes`` of its cells).

    Only for plans without rank sums: ranks need every cell of a gene at once.
    """
    with numba_threads(threads):
        rows = hstack_chunks(chunks)
        del chunks
        n_per_code = np.bincount(codes[codes >= 0], minlength=len(plan.n_per_code))
        local = dataclasses.replace(
            plan,
            matrix=rows,
            cell_codes=codes,
            n_per_code=n_per_code.astype(np.int64),
            **dict.fromkeys(PREFILTERS),  # the pre-filters need the complete sums
        )
        out = empty_sums(local, len(plan.genes))
        if sums_from_rows(local, out):  # float CSR: no transposition needed
            sweep_csr_rows(local, out)
        else:
            csc = chunk_to_csc(rows)
            block = GeneBlock(0, len(plan.genes), csc.indptr, csc.indices, csc.data, plan.genes)
            sweep_block(local, block, out)
    return RowBlockSums(local.n_per_code, out)


def merge_row_sums(a: RowBlockSums, b: RowBlockSums) -> RowBlockSums:
    """The sums over the union of two disjoint sets of cells."""
    n = a.n_per_code + b.n_per_code
    merged = GeneSums(
        nnz=a.sums.nnz + b.sums.nnz,
        sums=a.sums.sums + b.sums.sums,
        n_nonfinite=a.sums.n_nonfinite + b.sums.n_nonfinite,
        n_negative=a.sums.n_negative + b.sums.n_negative,
        n_fractional=a.sums.n_fractional + b.sums.n_fractional,
    )
    if a.sums.expm1_sums is not None:
        merged.expm1_sums = a.sums.expm1_sums + b.sums.expm1_sums
    weight = np.divide(
        a.n_per_code * b.n_per_code, n, out=np.zeros(len(n)), where=n > 0, casting="unsafe"
    )
    if a.sums.m2 is not None:
        merged.m2 = _chan(a, b, a.sums.sums, b.sums.sums, a.sums.m2, b.sums.m2, weight)
    if a.sums.expm1_m2 is not None:
        merged.expm1_m2 = _chan(
            a, b, a.sums.expm1_sums, b.sums.expm1_sums, a.sums.expm1_m2, b.sums.expm1_m2, weight
        )
    return RowBlockSums(n, merged)


def _chan(
    a: RowBlockSums,
    b: RowBlockSums,
    sums_a: np.ndarray,
    sums_b: np.ndarray,
    m2_a: np.ndarray,
    m2_b: np.ndarray,
    weight: np.ndarray,
) -> np.ndarray:
    """Chan's merge of two centred sums of squares."""
    delta = _means(sums_b, b.n_per_code) - _means(sums_a, a.n_per_code)
    return m2_a + m2_b + delta * delta * weight


def _means(sums: np.ndarray, n_per_code: np.ndarray) -> np.ndarray:
    counts = np.broadcast_to(n_per_code, sums.shape)
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
