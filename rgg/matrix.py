"""Adapters from the matrices users hold to the gene blocks the kernels take.

A *gene block* is a run of tested genes in compressed-sparse-column form. CSC input is used
in place (no copy); CSR and dense input are transposed one block at a time, so the extra
memory is bounded by the block budget rather than by the size of the matrix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np
from scipy import sparse

from . import kernels

#: Upper bound on the non-zeros held by one transposed gene block (CSR and dense input).
DEFAULT_BLOCK_NNZ = 16_000_000

#: A transposed block holds at most this fraction of the matrix's entries (but at least
#: MIN_BLOCK_NNZ), so the extra memory stays a small fraction of X at any size.
BLOCK_FRACTION = 16
MIN_BLOCK_NNZ = 1_000_000


def _block_budget(block_nnz: int, n_entries: int) -> int:
    return min(block_nnz, max(MIN_BLOCK_NNZ, n_entries // BLOCK_FRACTION))


@dataclass(frozen=True)
class GeneBlock:
    """One block of tested genes in CSC form.

    Attributes
    ----------
    start, stop
        Positions of the block in the list of tested genes.
    indptr, rows, data
        CSC arrays; stored zeros may be present and are skipped by the kernels.
    cols
        Which column of ``indptr`` holds each gene of the block.
    """

    start: int
    stop: int
    indptr: np.ndarray
    rows: np.ndarray
    data: np.ndarray
    cols: np.ndarray


def is_supported(x: object) -> bool:
    """Whether ``x`` is an in-memory matrix rgg can test."""
    return isinstance(x, np.ndarray) or (sparse.issparse(x) and x.format in {"csr", "csc"})


def is_dask_array(x: object) -> bool:
    """Whether ``x`` is a Dask array (checked without importing Dask)."""
    return type(x).__module__.startswith("dask.array") and hasattr(x, "to_delayed")


def is_backed_sparse(x: object) -> bool:
    """Whether ``x`` is anndata's on-disk sparse matrix of a backed AnnData."""
    try:
        from anndata.abc import CSCDataset, CSRDataset
    except ImportError:  # anndata < 0.11
        from anndata.experimental import CSCDataset, CSRDataset
    return isinstance(x, CSRDataset | CSCDataset)


def is_lazy(x: object) -> bool:
    """Whether ``x`` is a matrix rgg ranks out of core (:mod:`rgg.lazy`): a Dask array, or
    the sparse or dense matrix of a backed h5ad."""
    backed_dense = type(x).__module__.startswith("h5py") and getattr(x, "ndim", 0) == 2
    return is_dask_array(x) or is_backed_sparse(x) or backed_dense


def kernel_dtype(data: np.ndarray) -> np.ndarray:
    """Keep float32/float64 as given (ties are decided in the input dtype); cast others."""
    if data.dtype in (np.float32, np.float64):
        return data
    return data.astype(np.float64)


def iter_gene_blocks(
    x: np.ndarray | sparse.spmatrix,
    genes: np.ndarray,
    *,
    block_nnz: int = DEFAULT_BLOCK_NNZ,
) -> Iterator[GeneBlock]:
    """Yield the tested genes of ``x`` (column indices ``genes``, increasing) as CSC blocks.

    A CSR matrix's blocks share their buffers: finish with a block before taking the next.

    Parameters
    ----------
    x
        Dense array, or scipy CSR/CSC matrix or array.
    genes
        Sorted column indices of the genes to test.
    block_nnz
        Target for the non-zeros of one transposed block.
    """
    genes = np.asarray(genes, dtype=np.int64)
    if sparse.issparse(x) and x.format == "csc":
        yield from _csc_blocks(x, genes)
    elif sparse.issparse(x) and x.format == "csr":
        yield from _csr_blocks(x, genes, block_nnz)
    elif isinstance(x, np.ndarray):
        yield from _dense_blocks(x, genes, block_nnz)
    else:
        msg = f"rank_genes_groups is not implemented for matrices of type {type(x)}"
        raise NotImplementedError(msg)


def _csc_blocks(x: sparse.spmatrix, genes: np.ndarray) -> Iterator[GeneBlock]:
    x = canonical(x)
    # Columns are independent in CSC, so one block covers every gene.
    yield GeneBlock(0, len(genes), x.indptr, x.indices, kernel_dtype(x.data), genes)


def is_canonical(x: sparse.spmatrix) -> bool:
    """Whether a CSR/CSC matrix has sorted indices without duplicates: scipy's cached answer
    if it has one, else a scan.

    A scan that finds the matrix canonical is cached in scipy's own flag, as scipy's
    ``has_canonical_format`` caches its answer, so repeated calls on one matrix (a method
    sweep) do not scan it again. The values and indices are never touched.
    """
    known = x.__dict__.get("_has_canonical_format")
    if known is not None:
        return bool(known)
    if kernels.is_canonical(x.indptr, x.indices):
        x.has_canonical_format = True
        return True
    return False


def canonical(x: sparse.spmatrix) -> sparse.spmatrix:
    """Sorted indices without duplicates (a copy only when the input is not canonical)."""
    if is_canonical(x):
        return x
    x = x.copy()
    x.sum_duplicates()
    return x


def balanced_column_ranges(nnz_per_col: np.ndarray, n_ranges: int) -> np.ndarray:
    """``n_ranges + 1`` increasing column bounds cutting the columns into runs of about equal
    non-zeros (some runs may be empty)."""
    cumulative = np.concatenate([[0], np.cumsum(nnz_per_col)])
    targets = np.linspace(0, cumulative[-1], n_ranges + 1)
    bounds = np.searchsorted(cumulative, targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, len(nnz_per_col)
    return np.maximum.accumulate(bounds)


def csr_column_ranges(x: sparse.spmatrix, n_ranges: int) -> np.ndarray:
    """:func:`balanced_column_ranges` of a CSR matrix's stored non-zeros, counted in parallel
    (``np.bincount`` would first copy the indices to int64)."""
    n_threads = numba.get_num_threads()
    nnz_per_col = kernels.count_by_run(x.indptr, x.indices, x.data, n_threads, x.shape[1])
    return balanced_column_ranges(nnz_per_col.sum(axis=0), n_ranges)


def split_by_nnz(nnz_per_gene: np.ndarray, block_nnz: int) -> list[tuple[int, int]]:
    """Cut consecutive genes into runs whose non-zeros stay near ``block_nnz``."""
    bounds = []
    start = 0
    total = 0
    for j, n in enumerate(nnz_per_gene):
        if total + n > block_nnz and j > start:
            bounds.append((start, j))
            start = j
            total = 0
        total += int(n)
    bounds.append((start, len(nnz_per_gene)))
    return bounds


def _csr_blocks(x: sparse.spmatrix, genes: np.ndarray, block_nnz: int) -> Iterator[GeneBlock]:
    x = canonical(x)
    n_cols = x.shape[1]
    block_nnz = _block_budget(block_nnz, x.nnz)
    cursor = x.indptr[:-1].astype(np.int64)
    # a few runs of rows per thread, so that a slow thread does not hold up the others
    n_runs = max(1, min(4 * numba.get_num_threads(), x.shape[0]))
    data = x.data if x.dtype.kind != "f" else kernel_dtype(x.data)  # no float16/128 in Numba
    run_counts = kernels.count_by_run(x.indptr, x.indices, data, n_runs, n_cols)
    nnz_per_col = run_counts.sum(axis=0)
    bounds = split_by_nnz(nnz_per_col[genes], block_nnz)
    # One pair of buffers serves every block: fresh ones would be page-faulted in again for
    # each block, which costs about as much as the transposition itself.
    capacity = max(int(nnz_per_col[genes[start:stop]].sum()) for start, stop in bounds)
    rows = np.empty(capacity, dtype=np.int32 if x.shape[0] < 2**31 else np.int64)
    values = np.empty(capacity, dtype=kernel_dtype(data[:0]).dtype)
    col_start = 0  # blocks tile the columns: untested ones before a block belong to it
    for start, stop in bounds:
        block_genes = genes[start:stop]
        col_pos = np.full(int(block_genes[-1]) + 1 - col_start, -1, dtype=np.int64)
        col_pos[block_genes - col_start] = np.arange(len(block_genes))
        counts = run_counts[:, block_genes]  # a copy: the kernel turns it into offsets
        indptr = np.zeros(len(block_genes) + 1, dtype=np.int64)
        n = kernels.csr_block_to_csc(
            x.indptr, x.indices, data, cursor, col_start, col_pos, counts, indptr, rows, values
        )
        col_start = int(block_genes[-1]) + 1
        yield GeneBlock(start, stop, indptr, rows[:n], values[:n], np.arange(len(block_genes)))


def _dense_blocks(x: np.ndarray, genes: np.ndarray, block_nnz: int) -> Iterator[GeneBlock]:
    n_rows = x.shape[0]
    block_nnz = _block_budget(block_nnz, x.size)
    genes_per_block = max(1, block_nnz // max(n_rows, 1))
    for start in range(0, len(genes), genes_per_block):
        stop = min(start + genes_per_block, len(genes))
        block_genes = genes[start:stop]
        source = x
        cols = block_genes
        if x.dtype not in (np.float32, np.float64):
            # integer or boolean input: cast one block at a time, never the whole matrix
            source = x[:, block_genes].astype(np.float64)
            cols = np.arange(len(block_genes))
        capacity = n_rows * len(block_genes)
        indptr = np.zeros(len(block_genes) + 1, dtype=np.int64)
        rows = np.empty(capacity, dtype=np.int32 if n_rows < 2**31 else np.int64)
        values = np.empty(capacity, dtype=source.dtype)
        n = kernels.dense_block_to_csc(source, cols, indptr, rows, values)
        yield GeneBlock(start, stop, indptr, rows[:n], values[:n], np.arange(len(block_genes)))
        del indptr, rows, values, source  # free this block before the next is allocated
