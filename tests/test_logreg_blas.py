"""Sparse logreg fits run with BLAS on one thread: the same coefficients on any machine."""

from __future__ import annotations

import threading

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from threadpoolctl import threadpool_info, threadpool_limits

import rgg
from rgg.stats import logreg

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _blas_threads() -> list[int]:
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def _sparse_adata(n_cells: int = 1500, n_genes: int = 2600, n_groups: int = 5) -> ad.AnnData:
    """Large enough that OpenBLAS threads the optimiser's dot products (> 10,000 entries)."""
    rng = np.random.default_rng(11)
    x = sparse.random(
        n_cells, n_genes, density=0.1, format="csr", dtype=np.float32, random_state=rng
    )
    x.data = np.log1p(rng.poisson(3.0, x.nnz) + 1).astype(np.float32)
    groups = pd.Categorical(rng.choice([f"g{k}" for k in range(n_groups)], size=n_cells))
    obs = pd.DataFrame({"group": groups}, index=[f"c{i}" for i in range(n_cells)])
    return ad.AnnData(X=x, obs=obs)


def test_scope_limits_blas_and_restores_it() -> None:
    with threadpool_limits(2, user_api="blas"):
        before = _blas_threads()
        with logreg.blas_on_one_thread():
            assert set(_blas_threads()) == {1}
        assert _blas_threads() == before


def test_concurrent_fits_take_turns_and_restore_blas() -> None:
    """A second thread's scope waits for the first to leave; the last leaves BLAS as it was."""
    before = _blas_threads()
    first_inside, second_inside = threading.Event(), threading.Event()
    seen: list[list[int]] = []

    def second() -> None:
        first_inside.wait(10)
        with logreg.blas_on_one_thread():
            second_inside.set()
            seen.append(_blas_threads())

    worker = threading.Thread(target=second)
    worker.start()
    with logreg.blas_on_one_thread():
        first_inside.set()
        assert not second_inside.wait(0.3)  # still waiting for this scope
    worker.join(10)
    assert second_inside.is_set()
    assert seen == [[1] * len(before)]
    assert _blas_threads() == before


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_only_sparse_fits_limit_blas(monkeypatch, kind: str) -> None:
    """Dense fits keep threaded BLAS: it does their products."""
    from sklearn.linear_model import LogisticRegression

    original_fit = LogisticRegression.fit
    during: list[list[int]] = []

    def recording_fit(self, *args, **kwargs):
        during.append(_blas_threads())
        return original_fit(self, *args, **kwargs)

    monkeypatch.setattr(LogisticRegression, "fit", recording_fit)
    adata = _sparse_adata(300, 50, 3)
    if kind == "dense":
        adata.X = adata.X.toarray()
    with threadpool_limits(2, user_api="blas"):
        outside = _blas_threads()
        rgg.rank_genes_groups(adata, "group", method="logreg", max_iter=5)
    assert len(during) == 1
    assert set(during[0]) == ({1} if kind == "sparse" else set(outside))


def test_sparse_coefficients_are_sklearn_with_one_blas_thread_bit_for_bit() -> None:
    """Whatever the caller's BLAS threads, rgg's scores are scikit-learn's one-thread fit."""
    from sklearn.linear_model import LogisticRegression

    adata = _sparse_adata()
    labels = adata.obs["group"].cat.codes.to_numpy()
    with threadpool_limits(1, user_api="blas"):
        expected = LogisticRegression(max_iter=40).fit(adata.X, labels).coef_
    for outside in (1, 2):
        with threadpool_limits(outside, user_api="blas"):
            rgg.rank_genes_groups(adata, "group", method="logreg", max_iter=40)
        result = adata.uns["rank_genes_groups"]
        column = {name: j for j, name in enumerate(adata.var_names)}
        for code, group in enumerate(adata.obs["group"].cat.categories):
            genes = [column[name] for name in result["names"][group]]
            assert (
                result["scores"][group].tobytes()
                == expected[code][genes].astype(np.float32).tobytes()
            ), (outside, group)
