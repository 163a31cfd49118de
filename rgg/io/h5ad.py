"""h5ad files that hold rank_genes_groups results, readable by plain ``anndata.read_h5ad``.

scanpy stores ``pts``/``pts_rest`` as DataFrames whose columns are the group labels, and
labels such as ``CD4+/CD8+`` are common. HDF5 names cannot contain ``/``: anndata 0.12 writes
such a column as a nested group (with a FutureWarning), anndata 0.13 refuses to write it. Its
reader, however, looks each column up by the path in ``column-order``, so a column ``a/b``
stored as dataset ``b`` inside group ``a`` reads back as column ``a/b`` on both versions.
:func:`write_h5ad` writes such columns under placeholder names with anndata and then moves
them to that nested path with h5py, inside the temporary file, before the atomic rename.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anndata as ad
import h5py
import numpy as np
import pandas as pd

from .atomic import atomic_path
from .h5ad_header import as_str
from .layout import is_packed, nesting_problem, pack_results, unpack_results


@dataclass(frozen=True)
class _SlashedColumn:
    frame_path: str  # HDF5 path of the DataFrame's group
    placeholder: str
    label: str


def write_h5ad(adata: ad.AnnData, path: str | os.PathLike[str]) -> None:
    """Write ``adata`` to ``path`` atomically; DataFrames in ``uns`` may have ``/`` in labels.

    rank_genes_groups results with too many groups for HDF5's type header are written in
    rgg's columns layout (:mod:`rgg.io.layout`); :func:`read_h5ad` restores them.

    rank_genes_groups results whose ``pts`` labels no HDF5 name can hold are stored in that
    layout too. Other DataFrames in ``uns`` with such column labels (an empty part as in
    ``a//b``, ``/a`` or ``a/``; ``.`` or ``..`` as a part; a label that is also a prefix of
    another, ``CD4`` and ``CD4/CD8``) raise ``ValueError`` before anything is written.

    ``adata.uns`` is swapped for the duration of the write and restored (a view is copied
    first); anndata's writer itself converts string obs/var columns to categoricals in
    place, as ``AnnData.write_h5ad`` always does, and a failed write undoes that.
    """
    if adata.is_view:  # swapping uns would turn the caller's view into a copy
        adata = adata.copy()
    slashed: list[_SlashedColumn] = []
    safe_uns = _replace_slashed(pack_results(adata.uns), "uns", slashed)
    obs, var = adata.obs.copy(), adata.var.copy()  # object columns: pointers, not strings
    try:
        with atomic_path(path) as temporary, _swapped_uns(adata, safe_uns):
            adata.write_h5ad(temporary)
            if slashed:
                _move_to_nested_paths(temporary, slashed)
    except BaseException:
        # anndata turns string columns into categoricals before it fails; a failed write
        # leaves the caller's frames as they were
        adata.obs, adata.var = obs, var
        raise


def read_h5ad(path: str | os.PathLike[str], *, backed: bool | Literal["r"] = False) -> ad.AnnData:
    """``anndata.read_h5ad``, with rank_genes_groups results in scanpy's structure.

    Results that :func:`write_h5ad` stored in rgg's columns layout (more groups than HDF5
    can hold as record arrays, see :mod:`rgg.io.layout`) are turned back into scanpy's
    record arrays and DataFrames, so that ``sc.get.rank_genes_groups_df`` and scanpy's
    plots work on them. ``backed=True`` leaves ``X`` on disk (read-only), for data larger
    than memory.

    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a file that is not
    a readable h5ad (not HDF5, truncated, corrupt), naming the file and HDF5's reason.
    """
    if backed not in (True, False, "r"):
        msg = (
            f"backed={backed!r}: rgg.read_h5ad opens files read-only; pass backed=True (or "
            "'r') to leave X on disk, or False to load it."
        )
        raise ValueError(msg)
    target = Path(path)
    if target.is_dir():
        msg = f"{os.fspath(path)} is a directory, not an h5ad file; give the file inside it."
        raise FileNotFoundError(msg)
    if not target.is_file():
        msg = f"{os.fspath(path)}: no such file; check the path (relative paths start from {os.getcwd()})."
        raise FileNotFoundError(msg)
    if not os.access(target, os.R_OK):
        msg = f"{os.fspath(path)}: permission denied; make the file readable for this user."
        raise PermissionError(msg)
    try:
        adata = ad.read_h5ad(target, backed="r" if backed else None)
    except (OSError, KeyError, ValueError, TypeError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        msg = (
            f"{os.fspath(path)} is not a readable h5ad file ({reason}). Is it an h5ad file, and "
            "was it copied completely? Write it again with anndata, or download it again."
        )
        raise ValueError(msg) from error
    if _holds_packed(adata.uns):
        adata.uns = unpack_results(adata.uns)
    return adata


def _holds_packed(uns: Mapping[str, Any]) -> bool:
    return any(
        is_packed(value) or (isinstance(value, Mapping) and _holds_packed(value))
        for value in uns.values()
    )


def copy_with_uns(
    source: str | os.PathLike[str], uns: Mapping[str, Any], path: str | os.PathLike[str]
) -> None:
    """Copy the h5ad ``source`` to ``path`` with ``uns`` entries added (or replaced).

    The file is copied byte for byte and the entries written into the copy, so no matrix
    is loaded: memory does not grow with the data. Atomic, as :func:`write_h5ad`.
    """
    from anndata.io import write_elem

    slashed: list[_SlashedColumn] = []
    safe_uns = _replace_slashed(pack_results(uns), "uns", slashed)
    with atomic_path(path) as temporary:
        shutil.copyfile(source, temporary)
        with h5py.File(temporary, "r+") as handle:
            target = handle.require_group("uns")
            for key, value in safe_uns.items():
                if key in target:
                    del target[key]
                write_elem(target, key, value)
        if slashed:
            _move_to_nested_paths(temporary, slashed)


def write_uns_h5ad(uns: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write ``uns`` alone (an AnnData with no cells or genes) atomically to ``path``."""
    write_h5ad(ad.AnnData(uns=dict(uns)), path)


def read_uns_h5ad(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the ``uns`` of an h5ad file written by :func:`write_uns_h5ad`."""
    return dict(read_h5ad(path).uns)


def _replace_slashed(value: Any, h5_path: str, slashed: list[_SlashedColumn]) -> Any:
    """A copy of the ``uns`` tree whose DataFrame columns with ``/`` have placeholder names."""
    if isinstance(value, Mapping):
        return {
            key: _replace_slashed(item, f"{h5_path}/{key}", slashed) for key, item in value.items()
        }
    if isinstance(value, pd.DataFrame):
        _check_nestable(value.columns, h5_path)
        labels = [column for column in value.columns if isinstance(column, str) and "/" in column]
        if not labels:
            return value
        renames = {}
        taken = {str(column) for column in value.columns}
        for label in labels:
            placeholder = f"__rgg_slashed_column_{len(slashed)}__"
            while placeholder in taken:  # a real column of that name
                placeholder = f"_{placeholder}"
            renames[label] = placeholder
            slashed.append(_SlashedColumn(h5_path, placeholder, label))
        return value.rename(columns=renames)
    return value


def _check_nestable(columns: pd.Index, h5_path: str) -> None:
    problem = nesting_problem(columns)
    if problem is not None:
        msg = (
            f"cannot store the columns of the DataFrame {h5_path} in an h5ad file: {problem}. "
            "Rename the columns first (rank_genes_groups results are stored whatever their "
            "labels)."
        )
        raise ValueError(msg)


@contextmanager
def _swapped_uns(adata: ad.AnnData, uns: dict[str, Any]) -> Iterator[None]:
    original = adata.uns
    adata.uns = uns
    try:
        yield
    finally:
        adata.uns = original


def _move_to_nested_paths(path: Path, slashed: list[_SlashedColumn]) -> None:
    with h5py.File(path, "r+") as handle:
        for column in slashed:
            frame = handle[column.frame_path]
            frame.move(column.placeholder, column.label)  # creates the intermediate groups
            order = [as_str(name) for name in frame.attrs["column-order"]]
            order[order.index(column.placeholder)] = column.label
            frame.attrs["column-order"] = np.array(order, dtype=h5py.string_dtype())
