"""Shared fixtures: scanpy's bundled pbmc68k_reduced, loaded once per session."""

from __future__ import annotations

import anndata as ad
import pytest


@pytest.fixture(scope="session")
def _pbmc_pristine() -> ad.AnnData:
    import scanpy as sc

    return sc.datasets.pbmc68k_reduced()


@pytest.fixture
def pbmc(_pbmc_pristine: ad.AnnData) -> ad.AnnData:
    """A fresh copy of pbmc68k_reduced (700 cells x 765 genes; raw is CSR log-normalised)."""
    return _pbmc_pristine.copy()
