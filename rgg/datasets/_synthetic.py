"""A small generated dataset with the labels real data have: '/', '+', spaces, a tiny group."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

#: Cell types and their sizes: unequal, one tiny, labels with '/', '+' and spaces.
CELL_TYPES = {
    "B cell": 150,
    "CD4+/CD8+ T": 200,
    "NK": 100,
    "Mono/Macro": 120,
    "DC": 30,
}


def make_synthetic(n_genes: int = 300, seed: int = 0) -> ad.AnnData:
    """Negative-binomial counts of 600 cells in five cell types, two conditions, four donors.

    Each cell type has 15 marker genes with four times the base mean. ``X`` holds
    log1p(counts per 10,000) as float32 CSR, ``layers['counts']`` the counts (int32 CSR);
    obs has ``cell_type``, ``condition`` (ctrl/stim) and ``donor``.
    """
    rng = np.random.default_rng(seed)
    labels = np.repeat(list(CELL_TYPES), list(CELL_TYPES.values()))
    n_cells = len(labels)
    base = rng.lognormal(mean=-1.0, sigma=1.5, size=n_genes)
    means = np.tile(base, (len(CELL_TYPES), 1))
    for position in range(len(CELL_TYPES)):
        markers = rng.choice(n_genes, size=15, replace=False)
        means[position, markers] *= 4.0
    type_index = pd.Categorical(labels, categories=list(CELL_TYPES)).codes
    depth = rng.lognormal(mean=0.0, sigma=0.3, size=(n_cells, 1))
    mu = means[type_index] * depth
    dispersion = 2.0
    counts = rng.negative_binomial(dispersion, dispersion / (dispersion + mu)).astype(np.int32)
    totals = counts.sum(axis=1, keepdims=True).clip(min=1)
    lognorm = np.log1p(counts / totals * 1e4).astype(np.float32)
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(labels, categories=list(CELL_TYPES)),
            "condition": pd.Categorical(rng.choice(["ctrl", "stim"], size=n_cells)),
            "donor": pd.Categorical(rng.choice([f"donor{i}" for i in range(1, 5)], size=n_cells)),
        },
        index=[f"cell{i:04d}" for i in range(n_cells)],
    )
    var = pd.DataFrame(index=[f"gene{i:04d}" for i in range(n_genes)])
    return ad.AnnData(
        X=sparse.csr_matrix(lognorm),
        obs=obs,
        var=var,
        layers={"counts": sparse.csr_matrix(counts)},
    )
