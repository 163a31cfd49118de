"""How an out-of-core call runs: scheduler, block size and where the gene-ordered copy goes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Default bound on the non-zeros one Dask task holds (a row block or a gene block).
DEFAULT_LAZY_BLOCK_NNZ = 20_000_000


@dataclass(frozen=True)
class LazyOptions:
    """Execution choices for a lazy matrix; none of them changes the results.

    Attributes
    ----------
    scheduler
        ``None`` (the current ``dask.distributed`` client if there is one, else a local
        cluster started for the call), a scheduler address (``'tcp://host:8786'``), a
        :class:`distributed.Client`, or one of Dask's local schedulers (``'threads'``,
        ``'processes'``, ``'synchronous'``).
    block_nnz
        Non-zeros (entries, for dense data) one task holds at a time: the memory of a
        task is about 12 bytes per non-zero of this budget.
    temp_dir
        Directory for the gene-ordered copy that rank tests need when the matrix is stored
        by rows (created if missing and emptied of rgg's files after the call); a
        temporary directory by default. On a multi-machine cluster it must be on a file
        system every worker sees.
    n_jobs
        Workers of the local cluster rgg starts, and threads of the ``'synchronous'``
        scheduler's kernels.
    """

    scheduler: Any = None
    block_nnz: int = DEFAULT_LAZY_BLOCK_NNZ
    temp_dir: Path | None = None
    n_jobs: int | None = None
