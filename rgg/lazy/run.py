"""Plan the Dask tasks of a lazy call, run them on the chosen scheduler and gather the sums."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .._settings import numba_threads
from ..matrix import GeneBlock, split_by_nnz
from ..plan import Plan
from ..sweep import GeneSums, empty_sums, passing, sweep_block
from .inputs import as_dask_array, chunk_to_csc
from .options import LazyOptions
from .rowsums import RowBlockSums, merge_row_sums, row_block_sums
from .scheduler import Runner, runner_for
from .store import read_columns, write_row_block

logger = logging.getLogger("rgg")


def sweep_lazy(plan: Plan, options: LazyOptions) -> GeneSums:
    """The :class:`~rgg.sweep.GeneSums` of ``plan`` for a lazy matrix, computed with Dask.

    Three routes, chosen from the chunks: column chunks that hold every cell are gene
    blocks already; otherwise rank tests first write a gene-ordered copy (see
    :mod:`rgg.lazy.store`), and the other methods merge sums over row blocks.
    """
    x = as_dask_array(plan.matrix, options.block_nnz)
    task_plan = dataclasses.replace(plan, matrix=None)
    rank = plan.method == "wilcoxon" or plan.auroc
    with runner_for(options.scheduler, options.n_jobs) as runner:
        if len(x.chunks[0]) == 1:
            return _by_column_chunks(x, task_plan, runner)
        if rank:
            return _by_gene_blocks(x, task_plan, runner, options)
        return _by_row_blocks(x, task_plan, runner)


def _bounds(chunks: tuple[int, ...]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(chunks)]).astype(np.int64)


def _by_column_chunks(x: Any, plan: Plan, runner: Runner) -> GeneSums:
    from dask import delayed

    blocks = x.to_delayed()
    col_starts = _bounds(x.chunks[1])
    shared = runner.share(plan)
    tasks, parts = [], []
    for j in range(blocks.shape[1]):
        start, stop = np.searchsorted(plan.genes, col_starts[j : j + 2])
        if stop > start:
            tasks.append(
                delayed(_column_chunk_sums)(
                    blocks[0, j],
                    shared,
                    int(start),
                    int(stop),
                    int(col_starts[j]),
                    runner.task_threads,
                )
            )
            parts.append(slice(int(start), int(stop)))
    logger.info("rgg: %d gene-block tasks over column chunks", len(tasks))
    return _gather(plan, runner.compute(tasks), parts)


def _column_chunk_sums(
    chunk: Any, plan: Plan, start: int, stop: int, first_col: int, threads: int
) -> GeneSums:
    with numba_threads(threads):
        csc = chunk_to_csc(chunk)
        del chunk
        return _block_sums(plan, start, stop, csc.indptr, csc.indices, csc.data, first_col)


def _block_sums(
    plan: Plan,
    start: int,
    stop: int,
    indptr: np.ndarray,
    rows: np.ndarray,
    data: np.ndarray,
    first_col: int,
) -> GeneSums:
    """Every statistic of the genes ``start:stop``, from a CSC block whose column 0 is ``first_col``."""
    out = empty_sums(plan, stop - start)
    cols = plan.genes[start:stop] - first_col
    sweep_block(plan, GeneBlock(0, stop - start, indptr, rows, data, cols), out)
    return out


def _by_gene_blocks(x: Any, plan: Plan, runner: Runner, options: LazyOptions) -> GeneSums:
    from dask import delayed

    parent = options.temp_dir
    if parent is not None:
        Path(parent).mkdir(parents=True, exist_ok=True)
    directory = tempfile.mkdtemp(prefix="rgg-gene-blocks-", dir=parent)
    try:
        blocks = x.to_delayed()
        writes = [
            delayed(write_row_block)(list(blocks[i]), directory, i, runner.task_threads)
            for i in range(blocks.shape[0])
        ]
        logger.info("rgg: writing %d row blocks in gene order to %s", len(writes), directory)
        nnz_per_col = np.sum(runner.compute(writes), axis=0)
        row_starts = _bounds(x.chunks[0])
        shared = runner.share(plan)
        tasks, parts = [], []
        for start, stop in split_by_nnz(nnz_per_col[plan.genes], options.block_nnz):
            first, last = int(plan.genes[start]), int(plan.genes[stop - 1])
            tasks.append(
                delayed(_stored_block_sums)(
                    directory,
                    row_starts,
                    shared,
                    start,
                    stop,
                    first,
                    last + 1,
                    runner.task_threads,
                )
            )
            parts.append(slice(start, stop))
        logger.info("rgg: %d gene-block tasks", len(tasks))
        return _gather(plan, runner.compute(tasks), parts)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _stored_block_sums(
    directory: str,
    row_starts: np.ndarray,
    plan: Plan,
    start: int,
    stop: int,
    first_col: int,
    stop_col: int,
    threads: int,
) -> GeneSums:
    with numba_threads(threads):
        indptr, rows, data = read_columns(directory, row_starts, first_col, stop_col)
        return _block_sums(plan, start, stop, indptr, rows, data, first_col)


def _by_row_blocks(x: Any, plan: Plan, runner: Runner) -> GeneSums:
    from dask import delayed

    blocks = x.to_delayed()
    row_starts = _bounds(x.chunks[0])
    shared = runner.share(dataclasses.replace(plan, cell_codes=np.empty(0, np.int32)))
    level = [
        delayed(row_block_sums)(
            list(blocks[i]),
            plan.cell_codes[row_starts[i] : row_starts[i + 1]],
            shared,
            runner.task_threads,
        )
        for i in range(blocks.shape[0])
    ]
    logger.info("rgg: %d row-block tasks", len(level))
    while len(level) > 1:  # a binary tree of merges: no task holds more than two partials
        pairs = [level[i : i + 2] for i in range(0, len(level), 2)]
        level = [delayed(merge_row_sums)(*p) if len(p) == 2 else p[0] for p in pairs]
    (total,) = runner.compute(level)
    out: GeneSums = total.sums if isinstance(total, RowBlockSums) else total
    if plan.prefilters:
        out.tested = passing(plan, out, slice(None))
    return out


def _gather(plan: Plan, partials: list[GeneSums], parts: list[slice]) -> GeneSums:
    """Place the per-block results at their genes' positions."""
    out = empty_sums(plan, len(plan.genes))
    for part, partial in zip(parts, partials, strict=True):
        for field in ("nnz", "sums", "m2", "ranksums", "ustats", "tiesums", "expm1_sums", "tested"):
            target = getattr(out, field)
            if target is not None:
                target[part] = getattr(partial, field)
        out.n_nonfinite += partial.n_nonfinite
        out.n_negative += partial.n_negative
        out.n_fractional += partial.n_fractional
    return out
