"""The gene-ordered copy of a row-stored matrix that rank tests read by gene block.

Pass one writes each row block as CSC (``indptr``, ``rows``, ``data`` as ``.npy`` files,
each written to a temporary name and renamed, so a crash never leaves a file that looks
complete). Pass two reads any run of columns from every row block through memory maps: a
column run is one contiguous slice per row block, and the slices are stitched in row order.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._settings import numba_threads
from .inputs import chunk_to_csc, hstack_chunks

ARRAYS = ("indptr", "rows", "data")


def _path(directory: Path, index: int, name: str) -> Path:
    return directory / f"rows{index:06d}.{name}.npy"


def write_row_block(chunks: list[Any], directory: str, index: int, threads: int) -> np.ndarray:
    """Write one row block (its column chunks) as CSC; return its non-zeros per column."""
    with numba_threads(threads):
        csc = chunk_to_csc(hstack_chunks(chunks))
    del chunks
    arrays = {"indptr": csc.indptr.astype(np.int64), "rows": csc.indices, "data": csc.data}
    for name, values in arrays.items():
        final = _path(Path(directory), index, name)
        partial = final.with_name(f".{final.name}.{os.getpid()}.part")
        with partial.open("wb") as handle:
            np.save(handle, values)
        os.replace(partial, final)
    return np.diff(arrays["indptr"])


def read_columns(
    directory: str, row_starts: np.ndarray, first: int, stop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns ``first:stop`` over all row blocks as one CSC block (``indptr, rows, data``).

    ``row_starts`` holds the first row of each row block, then the number of rows.
    """
    folder = Path(directory)
    n_blocks = len(row_starts) - 1
    pieces = []
    counts = np.zeros(stop - first, dtype=np.int64)
    for b in range(n_blocks):
        indptr = np.load(_path(folder, b, "indptr"), mmap_mode="r")[first : stop + 1]
        indptr = np.asarray(indptr, dtype=np.int64)
        lo, hi = int(indptr[0]), int(indptr[-1])
        rows = np.load(_path(folder, b, "rows"), mmap_mode="r")[lo:hi]
        data = np.load(_path(folder, b, "data"), mmap_mode="r")[lo:hi]
        pieces.append((indptr - lo, rows, data, int(row_starts[b])))
        counts += np.diff(indptr)
    out_indptr = np.zeros(stop - first + 1, dtype=np.int64)
    np.cumsum(counts, out=out_indptr[1:])
    total = int(out_indptr[-1])
    row_dtype = np.int32 if row_starts[-1] < 2**31 else np.int64
    dtype = pieces[0][2].dtype if pieces else np.float64
    out_rows = np.empty(total, dtype=row_dtype)
    out_data = np.empty(total, dtype=dtype)
    filled = out_indptr[:-1].copy()  # next free slot of each column
    for indptr, rows, data, row_start in pieces:
        per_col = np.diff(indptr)
        # slot of entry p of column c: filled[c] + (p - indptr[c])
        dest = np.repeat(filled - indptr[:-1], per_col) + np.arange(indptr[-1])
        out_rows[dest] = np.asarray(rows, dtype=row_dtype) + row_dtype(row_start)
        out_data[dest] = data
        filled += per_col
    return out_indptr, out_rows, out_data
