"""Memory estimates of the workflow's jobs (``resources: mem_mb``), for SLURM and ``--resources``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..io.h5ad_header import matrix_nbytes


def loaded_mem_mb(paths: str | os.PathLike[str] | Iterable[str], factor: float) -> int:
    """Memory for a job that loads h5ad files: ``factor`` x their matrices, plus 1 GB.

    The matrices' size is read from the h5ad headers; an h5ad is often compressed, so its
    file size would undercount (a file that cannot be read counts 4 x its size). rgg's own
    working memory is about a third of X.
    """
    loaded = 0
    for path in [paths] if isinstance(paths, str | os.PathLike) else paths:
        try:
            loaded += matrix_nbytes(path)
        except (OSError, KeyError):
            loaded += Path(path).stat().st_size * 4
    return int(factor * loaded / 2**20) + 1024


def rank_mem_mb(config: Mapping[str, Any], dataset: str, h5ad: str, threads: int) -> int:
    """Out of core: the workers' blocks and the client's sums (a few GB); else the loaded data."""
    if config["datasets"][dataset].get("out_of_core"):
        return 2048 + 1024 * threads
    return loaded_mem_mb(h5ad, factor=1.5)
