"""Seeded synthetic data larger than memory, written to an h5ad file one block of cells at a time.

:mod:`benchmarks.datagen` draws every entry of the count matrix, which is exact but needs the
whole matrix in memory. Here only the non-zero entries are drawn (geometric gaps between the
cells that express a gene), so generating 2 million cells x 20,000 genes takes minutes and a
few hundred MB. Gene means, group sizes and fold changes follow :mod:`benchmarks.datagen`;
the counts of expressing cells are ``1 + Poisson(mean / p - 1)``, which keeps the mean of a
negative binomial whose non-zero probability is ``p``. ``X`` is ``log1p`` of the counts
normalised to 1e4 per cell, CSR float32 (no counts layer); ``obs['group']`` holds 12 groups.

The file goes to ``$RGG_BENCH_DATA``, else ``~/.cache/rgg-bench`` (``datagen.DEFAULT_DATA_DIR``,
outside the repository), as ``ooc_<cells>x<genes>_g<groups>_s<seed>.h5ad``, unless ``--out``
names another path.

    python benchmarks/datagen_disk.py --cells 2000000 --genes 20000   # ~22 GB, a few minutes
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import anndata as ad
import h5py
import numba
import numpy as np
import pandas as pd
from scipy import sparse

try:
    from benchmarks import datagen
except ImportError:  # run as a script
    import datagen  # type: ignore[no-redef]

#: Cells generated and written at a time (the memory of the generator follows it).
BLOCK_CELLS = 16_384
#: HDF5 chunk of the data and indices datasets, in entries.
H5_CHUNK = 1 << 20


@numba.njit(cache=True)
def _draw_block(group_starts, p_nonzero, positive_mean, seed, rows, cols, counts):
    """Non-zero counts of one block whose cells are sorted by group; CSC order; -1 if full."""
    np.random.seed(seed)  # noqa: NPY002 (Numba has no Generator in nopython mode)
    n_groups, n_genes = p_nonzero.shape
    n = 0
    for j in range(n_genes):
        for g in range(n_groups):
            q = p_nonzero[g, j]
            lo, hi = group_starts[g], group_starts[g + 1]
            if q <= 0.0 or hi <= lo:
                continue
            log_miss = np.log1p(-q) if q < 1.0 else -np.inf
            i = lo - 1
            while True:
                skip = 0
                if q < 1.0:
                    skip = int(np.log(1.0 - np.random.random()) / log_miss)  # noqa: NPY002
                i += 1 + skip
                if i >= hi:
                    break
                if n >= rows.shape[0]:
                    return -1
                rows[n] = i
                cols[n] = j
                counts[n] = 1 + np.random.poisson(positive_mean[g, j])  # noqa: NPY002
                n += 1
    return n


def _block(
    labels: np.ndarray, p_nonzero: np.ndarray, positive_mean: np.ndarray, seed: int
) -> sparse.csr_matrix:
    """log1p-normalised CSR float32 of the cells with these group ``labels``, in their order."""
    order = np.argsort(labels, kind="stable")
    group_starts = np.searchsorted(labels[order], np.arange(p_nonzero.shape[0] + 1))
    n_cells, n_genes = len(labels), p_nonzero.shape[1]
    expected = float(np.bincount(labels, minlength=p_nonzero.shape[0]) @ p_nonzero.sum(axis=1))
    capacity = int(expected * 1.1) + 10_000
    while True:
        rows = np.empty(capacity, np.int32)
        cols = np.empty(capacity, np.int32)
        counts = np.empty(capacity, np.float64)
        n = _draw_block(
            group_starts.astype(np.int64), p_nonzero, positive_mean, seed, rows, cols, counts
        )
        if n >= 0:
            break
        capacity *= 2
    indptr = np.zeros(n_genes + 1, np.int64)
    np.cumsum(np.bincount(cols[:n], minlength=n_genes), out=indptr[1:])
    by_gene = sparse.csc_matrix((counts[:n], rows[:n], indptr), shape=(n_cells, n_genes))
    csr = by_gene.tocsr()[np.argsort(order)]  # back to the cells' own order
    totals = np.asarray(csr.sum(axis=1)).ravel()
    scale = datagen.TARGET_SUM / np.maximum(totals, 1.0)
    csr.data = np.log1p(csr.data * np.repeat(scale, np.diff(csr.indptr))).astype(np.float32)
    csr.indices = csr.indices.astype(np.int32)
    return csr


def write_csr_x(
    path: Path,
    shape: tuple[int, int],
    blocks: Iterator[tuple[int, int, sparse.csr_matrix]],
    progress: Callable[[int, int, int], None] | None = None,
) -> int:
    """Append ``X`` (CSR float32, int32 indices, int64 indptr) to the h5ad at ``path``, one
    block of rows at a time; returns the non-zeros written.

    ``blocks`` yields ``(start, stop, rows)`` in row order; ``progress(b, stop, nnz)`` is
    called after each block.
    """
    with h5py.File(path, "a") as file:
        group = file.create_group("X")
        group.attrs["encoding-type"] = "csr_matrix"
        group.attrs["encoding-version"] = "0.1.0"
        group.attrs["shape"] = shape
        data = group.create_dataset("data", (0,), np.float32, maxshape=(None,), chunks=(H5_CHUNK,))
        indices = group.create_dataset(
            "indices", (0,), np.int32, maxshape=(None,), chunks=(H5_CHUNK,)
        )
        indptr = group.create_dataset("indptr", (shape[0] + 1,), np.int64)
        nnz = 0
        indptr[0] = 0
        for b, (start, stop, block) in enumerate(blocks):
            data.resize((nnz + block.nnz,))
            indices.resize((nnz + block.nnz,))
            data[nnz:] = block.data
            indices[nnz:] = block.indices
            indptr[start + 1 : stop + 1] = block.indptr[1:].astype(np.int64) + nnz
            nnz += block.nnz
            if progress is not None:
                progress(b, stop, nnz)
    return nnz


def write_dataset(
    path: Path, n_cells: int, n_genes: int, n_groups: int = 12, seed: int = 0
) -> None:
    """Write the dataset to ``path`` (via a temporary name; renamed when complete)."""
    rng = np.random.default_rng(seed)
    fractions = datagen.group_fractions(n_groups)
    labels = rng.permutation(
        np.repeat(np.arange(n_groups), datagen.group_sizes(n_cells, fractions))
    ).astype(np.int64)
    z = rng.standard_normal(n_genes)
    folds = datagen.fold_changes(n_groups, n_genes, rng)
    location = datagen.calibrate_log_location(z, np.ones(1), folds, fractions)
    means = folds * np.exp(location + datagen.LOG_MEAN_SD * z)
    p_nonzero = datagen.nonzero_fraction(means)
    positive_mean = np.maximum(means / np.maximum(p_nonzero, 1e-300) - 1.0, 0.0)

    names = [f"g{i:02d}" for i in range(n_groups)]
    obs = pd.DataFrame(
        {"group": pd.Categorical.from_codes(labels, categories=names)},
        index=pd.RangeIndex(n_cells).astype(str).map(lambda i: f"cell{i}"),
    )
    var = pd.DataFrame(index=[f"gene{j}" for j in range(n_genes)])
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    ad.AnnData(
        obs=obs, var=var, uns={"synthetic": {"n_cells": n_cells, "n_genes": n_genes, "seed": seed}}
    ).write_h5ad(partial)
    started = time.perf_counter()

    def blocks() -> Iterator[tuple[int, int, sparse.csr_matrix]]:
        for b, start in enumerate(range(0, n_cells, BLOCK_CELLS)):
            stop = min(start + BLOCK_CELLS, n_cells)
            yield (
                start,
                stop,
                _block(labels[start:stop], p_nonzero, positive_mean, seed * 1_000_003 + b),
            )

    def progress(b: int, stop: int, nnz: int) -> None:
        if b % 10 == 0:
            done = stop / n_cells
            elapsed = time.perf_counter() - started
            print(
                f"{stop:>10,} cells  {nnz:>14,} non-zeros  {elapsed:6.0f} s  "
                f"(~{elapsed / done - elapsed:5.0f} s left)",
                flush=True,
            )

    nnz = write_csr_x(partial, (n_cells, n_genes), blocks(), progress)
    os.replace(partial, path)
    print(
        f"wrote {path} ({path.stat().st_size / 1e9:.1f} GB, density {nnz / n_cells / n_genes:.3f})"
    )


def ooc_filename(n_cells: int, n_genes: int, n_groups: int = 12, seed: int = 0) -> str:
    """Default file name of a dataset: every parameter, so files never collide."""
    return f"ooc_{n_cells}x{n_genes}_g{n_groups}_s{seed}.h5ad"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", type=int, default=2_000_000)
    parser.add_argument("--genes", type=int, default=20_000)
    parser.add_argument("--groups", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="default: ooc_<cells>x<genes>_g<groups>_s<seed>.h5ad in $RGG_BENCH_DATA, else "
        "~/.cache/rgg-bench",
    )
    args = parser.parse_args()
    out = args.out or datagen.DEFAULT_DATA_DIR / ooc_filename(
        args.cells, args.genes, args.groups, args.seed
    )
    if out.exists():
        print(f"{out} exists")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    write_dataset(out, args.cells, args.genes, args.groups, args.seed)


if __name__ == "__main__":
    main()
