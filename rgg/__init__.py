"""rgg: scanpy-exact ``rank_genes_groups`` on fast Numba kernels."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import datasets, get
from ._settings import settings
from .api import rank_genes_groups
from .io.h5ad import read_h5ad, write_h5ad

try:
    __version__ = version("rgg")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "__version__",
    "datasets",
    "get",
    "rank_genes_groups",
    "read_h5ad",
    "settings",
    "write_h5ad",
]
