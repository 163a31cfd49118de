"""Numba kernels: plain arrays in, preallocated arrays out; no AnnData, pandas or I/O.

Every kernel works on a *gene block* in compressed sparse column form: ``indptr``,
``rows``, ``data`` and ``cols`` (which columns of ``indptr`` belong to the block). Stored
zeros are skipped wherever they appear, so callers never need to mutate a user's matrix
with ``eliminate_zeros``.

The accumulate and rank-sum kernels are small Python functions over their compiled loops:
they take the outputs by name, and an optional output left out is not computed (or, where
the loop forms it anyway, goes to scratch they allocate), so no caller builds dummy arrays.
"""

from __future__ import annotations

from .accumulate import accumulate_csc, accumulate_csr, accumulate_expm1_csc, leave_one_out_m2
from .blocks import count_by_run, csr_block_to_csc, dense_block_to_csc
from .checks import is_canonical, scan_values
from .products import LANES, csr_times_dense, csr_transpose_times_dense, row_spans
from .ranked import gather_ranked, transpose_into
from .ranksum import ranksum_reference_csc, ranksum_rest_csc

__all__ = [
    "LANES",
    "accumulate_csc",
    "accumulate_csr",
    "accumulate_expm1_csc",
    "count_by_run",
    "csr_block_to_csc",
    "csr_times_dense",
    "csr_transpose_times_dense",
    "dense_block_to_csc",
    "gather_ranked",
    "is_canonical",
    "leave_one_out_m2",
    "ranksum_reference_csc",
    "ranksum_rest_csc",
    "row_spans",
    "scan_values",
    "transpose_into",
]
