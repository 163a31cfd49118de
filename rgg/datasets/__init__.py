"""Small real datasets bundled with rgg."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

import anndata as ad

__all__ = ["pbmc68k_reduced", "pbmc68k_reduced_path"]


def pbmc68k_reduced_path() -> Path:
    """Path of the bundled ``pbmc68k_reduced.h5ad`` (see ``rgg/datasets/README.md``)."""
    with as_file(files(__name__) / "pbmc68k_reduced.h5ad") as path:
        return Path(path)


def pbmc68k_reduced() -> ad.AnnData:
    """700 PBMCs x 765 genes, the reduced 10x PBMC 68k data that scanpy also bundles.

    ``.raw.X`` holds log-normalised values (CSR), ``.X`` scaled values (dense); groupings
    ``obs['bulk_labels']`` (10 cell types) and ``obs['louvain']`` (11 clusters).
    """
    return ad.read_h5ad(pbmc68k_reduced_path())
