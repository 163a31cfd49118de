"""Small real datasets bundled with rgg."""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path

import anndata as ad

from ._screen import make_screen
from ._synthetic import make_synthetic

__all__ = [
    "make_screen",
    "make_synthetic",
    "pbmc68k_reduced",
    "pbmc68k_reduced_path",
    "screen",
    "screen_path",
    "synthetic",
    "synthetic_path",
]


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


def synthetic_path() -> Path:
    """Path of the bundled ``synthetic.h5ad``, written by :func:`make_synthetic` with defaults."""
    with as_file(files(__name__) / "synthetic.h5ad") as path:
        return Path(path)


def synthetic() -> ad.AnnData:
    """600 generated cells x 300 genes; labels with '/', '+' and spaces; a counts layer.

    See :func:`make_synthetic`; the workflow's examples use the bundled file.
    """
    return ad.read_h5ad(synthetic_path())


def screen_path() -> Path:
    """Path of the bundled ``screen.h5ad``, written by :func:`make_screen` with defaults."""
    with as_file(files(__name__) / "screen.h5ad") as path:
        return Path(path)


def screen() -> ad.AnnData:
    """A small generated CRISPR screen: 1,300 cells x 300 genes, 40 perturbations named after
    their target genes and 300 non-targeting controls. See :func:`make_screen`."""
    return ad.read_h5ad(screen_path())
