"""The threaded sparse products give scipy's results bit for bit, so logreg's fit is unchanged."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import sparse

from rgg import kernels
from rgg.kernels import _jit, ranksum
from rgg.stats import ThreadedCSR, threaded_csr, threaded_products


def _awkward_csr(dtype, seed: int = 0, shape: tuple[int, int] = (301, 77)) -> sparse.csr_matrix:
    """Negative values, stored zeros, empty rows and columns, a dense row."""
    rng = np.random.default_rng(seed)
    x = sparse.random(*shape, density=0.15, format="csr", random_state=rng, dtype=np.float64)
    x.data = rng.normal(0, 3, x.nnz)
    x = x.tolil()
    x[5, :] = rng.normal(size=shape[1])  # a dense row
    x[7, :] = 0  # an empty row
    x[:, 11] = 0  # an empty column
    x = x.tocsr()
    x.data[::17] = 0.0  # stored zeros
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_vecs", [2, 3, 12, 16, 17, 40])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_products_equal_scipy_bit_for_bit(monkeypatch, dtype, n_vecs: int, n_threads: int) -> None:
    monkeypatch.setattr(threaded_products, "_NNZ_PER_THREAD", 1)  # small data, every thread
    x = _awkward_csr(dtype, seed=n_vecs)
    threaded = threaded_csr(x)
    assert isinstance(threaded, ThreadedCSR)
    rng = np.random.default_rng(1)
    w = rng.normal(size=(x.shape[1], n_vecs)).astype(dtype)
    g = rng.normal(size=(x.shape[0], n_vecs)).astype(dtype)
    previous = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        products = [
            (x @ w, threaded @ w),
            (x @ np.asfortranarray(w), threaded @ np.asfortranarray(w)),  # sklearn's W.T
            (g.T @ x, g.T @ threaded),  # the gradient, through __rmatmul__
            (x.T @ g, threaded.T @ g),
        ]
    finally:
        numba.set_num_threads(previous)
    for expected, got in products:
        assert got.dtype == expected.dtype
        assert got.shape == expected.shape
        assert got.tobytes() == expected.tobytes()


def test_other_operands_keep_scipys_products() -> None:
    """Vectors, other dtypes and sparse operands are scipy's own (and still correct)."""
    x = _awkward_csr(np.float32)
    threaded = threaded_csr(x)
    rng = np.random.default_rng(2)
    for other in (
        rng.normal(size=x.shape[1]).astype(np.float32),  # a vector
        rng.normal(size=(x.shape[1], 4)),  # float64 against float32 data
        sparse.random(x.shape[1], 3, density=0.5, format="csr", random_state=3),
    ):
        expected = x @ other
        got = threaded @ other
        expected = expected.toarray() if sparse.issparse(expected) else expected
        got = got.toarray() if sparse.issparse(got) else got
        np.testing.assert_array_equal(got, expected)


def test_only_canonical_csr_is_wrapped() -> None:
    x = _awkward_csr(np.float32)
    unsorted = x.copy()
    row = int(np.argmax(np.diff(x.indptr)))
    start = unsorted.indptr[row]
    unsorted.indices[start : start + 2] = unsorted.indices[start : start + 2][::-1].copy()
    unsorted.has_sorted_indices = False
    assert threaded_csr(unsorted) is unsorted
    csc = x.tocsc()
    assert threaded_csr(csc) is csc
    dense = x.toarray()
    assert threaded_csr(dense) is dense
    # a ThreadedCSR sliced with unsorted columns stays correct (scipy's product)
    g = np.random.default_rng(4).normal(size=(x.shape[0], 5)).astype(np.float32)
    shuffled = threaded_csr(x)[:, np.random.default_rng(5).permutation(x.shape[1])]
    assert isinstance(shuffled, ThreadedCSR)
    assert not shuffled.has_sorted_indices
    np.testing.assert_array_equal(shuffled.T @ g, sparse.csr_matrix(shuffled).T @ g)
    wrapped = threaded_csr(sparse.csr_array(x))  # sparse arrays are viewed too, not copied
    assert isinstance(wrapped, ThreadedCSR)
    assert np.shares_memory(wrapped.data, x.data)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("n_classes", [3, 12])
@pytest.mark.parametrize("container", [sparse.csr_matrix, sparse.csr_array])
def test_logistic_regression_coefficients_are_unchanged(
    monkeypatch, n_classes: int, container
) -> None:
    """scikit-learn fits ThreadedCSR to exactly the coefficients it fits on the plain matrix
    (or sparse array, which it is viewed from)."""
    from sklearn.linear_model import LogisticRegression

    monkeypatch.setattr(threaded_products, "_NNZ_PER_THREAD", 1)
    x = container(abs(_awkward_csr(np.float32, seed=5, shape=(900, 60))))
    labels = np.random.default_rng(6).integers(0, n_classes, x.shape[0])
    expected = LogisticRegression(max_iter=60).fit(x, labels)
    got = LogisticRegression(max_iter=60).fit(threaded_csr(x), labels)
    assert got.n_iter_.tolist() == expected.n_iter_.tolist()
    assert got.coef_.tobytes() == expected.coef_.tobytes()
    assert got.intercept_.tobytes() == expected.intercept_.tobytes()


def test_slp_vectorisation_is_scoped_to_the_compile() -> None:
    """The kernels that ask for SLP vectorisation leave Numba's global setting as it was."""
    before = numba.config.SLP_VECTORIZE
    with _jit._slp_vectorization():
        assert numba.config.SLP_VECTORIZE == 1
    assert before == numba.config.SLP_VECTORIZE
    assert kernels.csr_times_dense.slp_vectorize
    assert not ranksum._ranksum_rest_csc.slp_vectorize


@pytest.mark.parametrize(
    ("nnz", "limit", "expected"), [(10, 2, 1), (17, 2, 2), (17, 1, 1), (99, 4, 4)]
)
def test_threads_follow_the_size_of_the_product(monkeypatch, nnz, limit, expected) -> None:
    monkeypatch.setattr(threaded_products, "_NNZ_PER_THREAD", 8)
    previous = numba.get_num_threads()
    numba.set_num_threads(min(limit, numba.config.NUMBA_NUM_THREADS))
    try:
        with threaded_products._threads_for(nnz):
            assert numba.get_num_threads() == min(expected, numba.config.NUMBA_NUM_THREADS)
        assert numba.get_num_threads() == min(limit, numba.config.NUMBA_NUM_THREADS)
    finally:
        numba.set_num_threads(previous)


def test_prefetch_hint_reaches_the_machine_code() -> None:
    """The intrinsic compiles to a prefetch instruction (and the products that use it still
    equal scipy's, above); a wrong intrinsic name would fail to compile instead."""
    from rgg.kernels.prefetch import prefetch

    @numba.njit
    def read_after_hint(values: np.ndarray, i: int) -> float:
        prefetch(values, i + 16)
        return values[i]

    values = np.arange(64, dtype=np.float32)
    assert read_after_hint(values, 3) == 3.0
    assembly = read_after_hint.inspect_asm(read_after_hint.signatures[0])
    assert "prefetcht0" in assembly
