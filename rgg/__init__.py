"""rgg: scanpy-exact ``rank_genes_groups`` on fast Numba kernels.

The public names are imported when first used (PEP 562), so that ``import rgg`` and the
``rgg`` command's start stay fast: a Snakemake job that only reads the workflow's config, or
``rgg --version``, does not load numba and anndata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._exports import lazy_exports
from ._version import __version__

if TYPE_CHECKING:
    from . import datasets, get
    from ._settings import settings
    from .api import rank_genes_groups
    from .io.h5ad import read_h5ad, write_h5ad

#: Public name -> (module relative to rgg, attribute of it; None for the module itself).
_PUBLIC: dict[str, tuple[str, str | None]] = {
    "datasets": (".datasets", None),
    "get": (".get", None),
    "rank_genes_groups": (".api", "rank_genes_groups"),
    "read_h5ad": (".io.h5ad", "read_h5ad"),
    "settings": ("._settings", "settings"),
    "write_h5ad": (".io.h5ad", "write_h5ad"),
}

__all__ = [
    "__version__",
    "datasets",
    "get",
    "rank_genes_groups",
    "read_h5ad",
    "settings",
    "write_h5ad",
]


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
