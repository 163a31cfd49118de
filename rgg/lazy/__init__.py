"""Out-of-core and distributed ranking: matrices that do not fit in memory, through Dask.

A lazy matrix (a Dask array, as from :func:`anndata.experimental.read_lazy`, or the matrix
of a backed h5ad) is never loaded whole. The sums the t-tests, fold changes and ``pts``
need are merged over row blocks; rank tests run per gene block, on a gene-ordered copy of
the data written once per call when the input is stored by rows. Every task returns
kilobytes of per-group sums; z, p, corrections and rankings are computed in the caller's
process exactly as for in-memory data.
"""

from __future__ import annotations

from ..matrix import is_lazy
from .inputs import as_dask_array
from .options import LazyOptions
from .run import sweep_lazy

__all__ = ["LazyOptions", "as_dask_array", "is_lazy", "sweep_lazy"]
