"""What an h5ad file holds, read from its HDF5 headers without loading a matrix.

Apart from :mod:`rgg.io.h5ad` so that the workflow, which reads these headers each time
Snakemake parses it (in every cluster job too), does not import anndata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import h5py
import numpy as np


def matrix_nbytes(path: str | os.PathLike[str]) -> int:
    """Bytes that the arrays of an h5ad file take once loaded.

    ``X``, ``raw/X``, the layers and the arrays in ``obsm``/``obsp``/``varm``/``varp`` (a
    neighbour graph in ``obsp`` can rival X).

    Read from the HDF5 headers only (shapes, dtypes, sparse non-zero counts), so it costs
    nothing on large files; used to size a job's memory request.
    """
    total = 0
    with h5py.File(path, "r") as handle:
        for name in ("X", "raw/X"):
            if name in handle:
                total += _element_nbytes(handle[name])
        for group in ("layers", "obsm", "obsp", "varm", "varp"):
            if group in handle:
                total += sum(_element_nbytes(element) for element in handle[group].values())
    return total


@dataclass(frozen=True)
class H5adHeader:
    """What an h5ad file holds, read without loading any matrix."""

    obs_columns: list[str]
    var_columns: list[str]
    layers: list[str]
    has_raw: bool


def h5ad_header(path: str | os.PathLike[str]) -> H5adHeader:
    """Column names, layer names and whether ``raw`` exists, from the file's header."""
    with h5py.File(path, "r") as handle:
        return H5adHeader(
            obs_columns=_column_order(handle["obs"]),
            var_columns=_column_order(handle["var"]),
            layers=sorted(handle["layers"]) if "layers" in handle else [],
            has_raw="raw" in handle and "X" in handle["raw"],
        )


def _column_order(frame: h5py.Group) -> list[str]:
    order = frame.attrs.get("column-order", [])
    return [as_str(name) for name in np.atleast_1d(order)]


def obs_categories(path: str | os.PathLike[str], column: str) -> list[str] | None:
    """The group labels of an obs column (categories, or distinct strings); ``None`` if numeric."""
    import pandas as pd
    from anndata.io import read_elem

    with h5py.File(path, "r") as handle:
        element = handle["obs"][column]
        if isinstance(element, h5py.Group) and "categories" in element:
            return [str(label) for label in read_elem(element["categories"])]
        values = read_elem(element)
    if values.dtype.kind in "OUS" or pd.api.types.is_string_dtype(values.dtype):
        return sorted({str(value) for value in values if isinstance(value, str)})
    return None


def _element_nbytes(element: h5py.Group | h5py.Dataset) -> int:
    if isinstance(element, h5py.Dataset):
        return element.size * element.dtype.itemsize
    if "data" in element:  # csr_matrix / csc_matrix
        return sum(element[part].size * element[part].dtype.itemsize for part in element)
    return 0


def as_str(value: object) -> str:
    """An HDF5 attribute's string (h5py gives bytes for some)."""
    return value.decode() if isinstance(value, bytes) else str(value)
