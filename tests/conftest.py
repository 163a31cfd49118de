"""Shared fixtures, and a serial warm-up of the Numba caches before pytest-xdist workers start."""

from __future__ import annotations

import logging
import warnings

import anndata as ad
import numpy as np
import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Compile scanpy's and rgg's kernels in one process before the workers start.

    Numba's on-disk cache is not safe when two processes compile the same function at once
    (numba#4807, numba#10128). On a clean clone, two xdist workers would compile scanpy's
    ``rankdata``/``_tiecorrect`` together and could corrupt scanpy's cache, which then gives
    wrong reference numbers (seen: wrong tie-corrected p-values and segfaults). rgg guards
    its own kernels with a lock; scanpy's we can only warm up here, serially.
    """
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has warmed up
        return
    _warm_numba_caches()


#: Test files that mostly wait (for SLURM to start jobs and report their states) go first: under
#: pytest-xdist the other worker runs the rest meanwhile, instead of one worker waiting alone
#: at the end.
FIRST = ("test_workflow_slurm.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the tests of :data:`FIRST` to the front, keeping every other order."""
    items.sort(key=lambda item: item.path.name not in FIRST)


def _warm_numba_caches() -> None:
    import scanpy as sc
    from scipy import sparse

    import rgg

    from ._data import awkward_adata, count_adata

    inputs = [
        awkward_adata(make, dtype)
        for make in (np.asarray, sparse.csr_matrix, sparse.csc_matrix)
        for dtype in (np.float32, np.float64)
    ]
    inputs += [count_adata(make) for make in (np.asarray, sparse.csr_matrix, sparse.csc_matrix)]
    # the count-data warning of both tools is expected here; scanpy logs through its own root
    # logger, which logging.disable does not reach
    verbosity = sc.settings.verbosity
    sc.settings.verbosity = 0
    logging.disable(logging.WARNING)
    try:
        _rank_all(inputs, sc, rgg)
    finally:
        logging.disable(logging.NOTSET)
        sc.settings.verbosity = verbosity


def _rank_all(inputs: list[ad.AnnData], sc, rgg) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for adata in inputs:
            for method in ("t-test", "wilcoxon"):
                for reference in ("rest", adata.obs["group"].cat.categories[1]):
                    kwargs = {
                        "method": method,
                        "reference": reference,
                        "tie_correct": True,
                        "pts": True,
                        "copy": True,
                    }
                    sc.tl.rank_genes_groups(adata, "group", **kwargs)
                    rgg.rank_genes_groups(adata, "group", **kwargs)


@pytest.fixture(scope="session")
def _pbmc_pristine() -> ad.AnnData:
    import scanpy as sc

    return sc.datasets.pbmc68k_reduced()


@pytest.fixture
def pbmc(_pbmc_pristine: ad.AnnData) -> ad.AnnData:
    """A fresh copy of pbmc68k_reduced (700 cells x 765 genes; raw is CSR log-normalised)."""
    return _pbmc_pristine.copy()
