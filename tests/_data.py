"""Seeded test data: small AnnData objects with the awkward cases single-cell data has."""

from __future__ import annotations

from collections.abc import Callable

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

MatrixMaker = Callable[[np.ndarray], object]


def to_dense(matrix: object) -> np.ndarray:
    """Any matrix kind of :data:`MATRIX_KINDS` as a numpy array."""
    return matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)


#: (id, maker) for every in-memory matrix kind rgg must accept.
MATRIX_KINDS: list[tuple[str, MatrixMaker]] = [
    ("dense", np.asarray),
    ("csr", sparse.csr_matrix),
    ("csc", sparse.csc_matrix),
    ("csr_array", sparse.csr_array),
    ("csc_array", sparse.csc_array),
]


def awkward_adata(
    make_matrix: MatrixMaker = sparse.csr_matrix,
    dtype: type = np.float32,
    *,
    n_cells: int = 240,
    n_genes: int = 40,
    seed: int = 0,
    negative: bool = False,
) -> ad.AnnData:
    """log1p counts with ties, an all-zero gene, a constant gene, a two-cell group and NaN labels.

    Groups: 'a' (90 cells), 'b' (60), 'c/d +' (40, a label with '/', space and '+'),
    'tiny' (2) and 'e' (the others but 8), plus 8 cells with a NaN label. Genes 0-4 are
    up in 'a', gene 5 is all zero, gene 6 is constant 1.0, gene 7 is expressed in 'tiny'
    only. ``negative=True`` centres the data per gene, as scaled data are.
    """
    rng = np.random.default_rng(seed)
    sizes = {"a": 90, "b": 60, "c/d +": 40, "tiny": 2}
    sizes["e"] = n_cells - sum(sizes.values()) - 8
    labels = np.concatenate([[g] * n for g, n in sizes.items()] + [[None] * 8])
    rng.shuffle(labels)
    counts = rng.negative_binomial(2, 0.6, size=(n_cells, n_genes)) * rng.binomial(
        1, 0.35, size=(n_cells, n_genes)
    )
    counts[labels == "a", :5] += rng.poisson(3, size=((labels == "a").sum(), 5))
    counts[:, 5] = 0
    counts[:, 7] = 0
    counts[labels == "tiny", 7] = [4, 9]
    x = np.log1p(counts.astype(np.float64))
    x[:, 6] = 1.0
    if negative:
        x = x - x.mean(axis=0)
    x = x.astype(dtype)
    obs = pd.DataFrame(
        {"group": pd.Categorical(labels, categories=["a", "b", "c/d +", "tiny", "e"])},
        index=[f"cell{i}" for i in range(n_cells)],
    )
    var = pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)])
    return ad.AnnData(make_matrix(x), obs=obs, var=var)


def count_adata(make_matrix: MatrixMaker = sparse.csr_matrix, *, seed: int = 1) -> ad.AnnData:
    """Integer counts (int64), the case scanpy warns about but still tests."""
    rng = np.random.default_rng(seed)
    counts = rng.negative_binomial(2, 0.5, size=(120, 25)).astype(np.int64)
    labels = np.repeat(["x", "y", "z"], 40)
    counts[labels == "x", :3] += 5
    obs = pd.DataFrame({"group": pd.Categorical(labels)}, index=[f"c{i}" for i in range(120)])
    return ad.AnnData(
        make_matrix(counts), obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(25)])
    )
