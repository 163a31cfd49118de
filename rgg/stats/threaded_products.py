"""A CSR matrix whose products with dense arrays run on rgg's threads, with scipy's numbers.

scikit-learn's lbfgs solver multiplies the data by the coefficients and the transposed data
by the loss gradient at every step (``X @ W`` and ``G.T @ X``). :class:`ThreadedCSR` is a
scipy CSR matrix (so scikit-learn validates and uses it like any other) whose products with
float arrays of its own dtype (two columns or more) go to :mod:`rgg.kernels.products`; their
results are bit-for-bit scipy's, so the optimiser follows the same path to the same
coefficients. Everything else, including vectors and other dtypes, is scipy's own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numba
import numpy as np
from scipy import sparse

from .. import kernels, matrix

_CACHE_LINE = 64

_NNZ_PER_THREAD = 100_000
"""Non-zeros per thread below which a product uses fewer threads: starting the threads costs
more than it saves on tiny matrices (logreg at 2000 x 500, 70k non-zeros: 0.12 s on one thread,
0.14 s on two), while from 350k non-zeros two threads are faster (0.22 s against 0.24 s; 10k
x 5k: 0.61 s against 0.81 s)."""


class _ThreadedProducts:
    """``_matmul_multivector`` (scipy's hook for sparse @ 2-D dense) through ``_run_product``."""

    def _matmul_multivector(self, other: np.ndarray) -> np.ndarray:
        if not self._threadable(other):
            return super()._matmul_multivector(other)
        return _product(self, other, self._run_product)

    def _threadable(self, other: np.ndarray) -> bool:
        return _handled(self, other)

    def _run_product(self, dense: np.ndarray, out: np.ndarray) -> None:
        raise NotImplementedError


class ThreadedCSR(_ThreadedProducts, sparse.csr_matrix):
    """CSR matrix (sorted indices) with threaded, scipy-identical ``@`` against dense arrays."""

    def _run_product(self, w: np.ndarray, out: np.ndarray) -> None:
        kernels.csr_times_dense(self.indptr, self.indices, self.data, w, out)

    def transpose(self, axes: None = None, copy: bool = False) -> sparse.csc_matrix:
        if axes is not None:
            return super().transpose(axes=axes, copy=copy)
        transposed = _ThreadedTransposedCSR(
            (self.data, self.indices, self.indptr), shape=self.shape[::-1], copy=copy
        )
        transposed._spans = self._spans()
        # same arrays: pass on the (cached) check rather than redo it for every gradient
        transposed.has_sorted_indices = self.has_sorted_indices
        return transposed

    def _spans(self) -> np.ndarray:
        """Each row's entries in column ranges of about equal non-zeros, one per thread (each
        range walks every row: two per thread made ``G.T @ X`` 1.25x slower at 50k x 20k),
        computed once per matrix and thread count."""
        n_ranges = _n_threads_for(self.nnz)
        spans = self.__dict__.get("_rgg_spans")
        if spans is None or spans.shape[0] != n_ranges + 1:
            bounds = matrix.csr_column_ranges(self, n_ranges)
            spans = kernels.row_spans(self.indptr, self.indices, bounds)
            self.__dict__["_rgg_spans"] = spans
        return spans


class _ThreadedTransposedCSR(_ThreadedProducts, sparse.csc_matrix):
    """``ThreadedCSR.T``: the same arrays read as CSC; its dense products are ``X.T @ g``."""

    _spans: np.ndarray

    def _threadable(self, other: np.ndarray) -> bool:
        # the column ranges are found by bisection within rows: a slice of a ThreadedCSR
        # taken with unsorted column indices would break them (scipy caches the check)
        return _handled(self, other) and self.has_sorted_indices

    def _run_product(self, g: np.ndarray, out: np.ndarray) -> None:
        kernels.csr_transpose_times_dense(self.indices, self.data, g, self._spans, out)


def _n_threads_for(nnz: int) -> int:
    """One thread per :data:`_NNZ_PER_THREAD` non-zeros: at least one, at most Numba's limit."""
    return max(1, min(numba.get_num_threads(), nnz // _NNZ_PER_THREAD))


@contextlib.contextmanager
def _threads_for(nnz: int) -> Iterator[None]:
    """Limit Numba to :func:`_n_threads_for` ``nnz`` threads for the body."""
    previous = numba.get_num_threads()
    numba.set_num_threads(_n_threads_for(nnz))
    try:
        yield
    finally:
        numba.set_num_threads(previous)


def _product(
    x: sparse.spmatrix, dense: np.ndarray, run: Callable[[np.ndarray, np.ndarray], None]
) -> np.ndarray:
    """``x @ dense`` through ``run(padded dense, padded zero output)``, on as many threads as
    ``x``'s size warrants, unpadded."""
    padded = _padded(dense)
    out = _aligned_zeros((x.shape[0], padded.shape[1]), x.dtype)
    with _threads_for(x.nnz):
        run(padded, out)
    return _unpadded(out, dense.shape[1])


def _handled(x: sparse.spmatrix, other: np.ndarray) -> bool:
    """Products with a float array of ``x``'s dtype and at least two columns are threaded;
    vectors (binary logistic regression) keep scipy's matvec, as fast on one column."""
    return x.dtype in (np.float32, np.float64) and other.dtype == x.dtype and other.shape[1] > 1


def _padded(dense: np.ndarray) -> np.ndarray:
    """``dense`` with zero columns appended up to a multiple of :data:`kernels.LANES`, in a
    fresh C-contiguous array whose rows start on cache lines."""
    padded = _aligned_zeros(
        (dense.shape[0], -(-dense.shape[1] // kernels.LANES) * kernels.LANES), dense.dtype
    )
    padded[:, : dense.shape[1]] = dense
    return padded


def _aligned_zeros(shape: tuple[int, int], dtype: np.dtype) -> np.ndarray:
    """Zeros whose first element sits on a 64-byte boundary (numpy promises only 16): a tile
    of 16 float32 lanes is then one cache line, not two, which makes the products ~1.2-1.5x
    faster."""
    size = shape[0] * shape[1] * np.dtype(dtype).itemsize
    raw = np.zeros(size + _CACHE_LINE, dtype=np.uint8)
    start = -raw.ctypes.data % _CACHE_LINE
    return raw[start : start + size].view(dtype).reshape(shape)


def _unpadded(out: np.ndarray, n_vecs: int) -> np.ndarray:
    """The first ``n_vecs`` columns, C-contiguous like scipy's result."""
    return out if out.shape[1] == n_vecs else np.ascontiguousarray(out[:, :n_vecs])


def threaded_csr(x: sparse.spmatrix | sparse.sparray) -> sparse.spmatrix | sparse.sparray:
    """View a CSR matrix or array as :class:`ThreadedCSR`, without copying.

    Only for canonical CSR (sorted indices, no duplicates), which the column-range kernel
    needs; anything else is returned unchanged and keeps scipy's products.
    """
    if not (sparse.issparse(x) and x.format == "csr"):
        return x
    if not matrix.is_canonical(x):
        return x
    wrapped = ThreadedCSR((x.data, x.indices, x.indptr), shape=x.shape, copy=False)
    wrapped.has_canonical_format = True  # just established
    return wrapped
