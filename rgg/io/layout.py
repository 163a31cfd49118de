"""Store rank_genes_groups results of any number of groups in an h5ad file.

scanpy keeps each result field (``names``, ``scores``, ...) as a record array with one field
per group, and anndata writes a record array as one HDF5 compound dataset. HDF5 keeps a
dataset's type in its object header, which holds at most 64 KB: with 1,000 or more groups
(a perturbation screen, a fine atlas) the type no longer fits and the write fails, for
scanpy's own results as for rgg's.

So results that would not fit are written in rgg's *columns layout*: every record array as
a plain 2D array (ranks by groups, the fields' values side by side), ``names`` as positions
in the list of gene names ``uns[key]['rgg_layout']['genes']`` (int32: a quarter of the size
of the strings, and written in a fraction of the time), ``pts``/``pts_rest`` as 2D arrays,
and the group labels, the packed fields and the genes of ``pts`` as 1D string arrays under
``uns[key]['rgg_layout']``. Datasets have no such size limit and plain ``anndata.read_h5ad``
reads the file; :func:`unpack_results` (applied by :func:`rgg.read_h5ad`) turns it back
into scanpy's structure. Results that fit keep scanpy's exact layout.

The columns layout also holds results whose group labels cannot be HDF5 names of ``pts``
columns (``../../etc``, ``/lead``, ``a//b``; see :func:`nesting_problem`) or that anndata
cannot write as columns (``dtype``): labels are stored as data there, so every label
round-trips unchanged.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np
import pandas as pd

from ..results import records

#: Key of the layout description inside a packed result.
LAYOUT_KEY = "rgg_layout"
#: Name of the layout, stored as ``uns[key]['rgg_layout']['format']``.
COLUMNS_LAYOUT = "groups-as-columns"
LAYOUT_VERSION = "1"
_FRACTIONS = ("pts", "pts_rest")


def is_result(value: Any) -> bool:
    """Whether ``value`` looks like a rank_genes_groups result (``params`` and ``names``)."""
    return (
        isinstance(value, Mapping)
        and "params" in value
        and isinstance(value.get("names"), np.ndarray)
        and value["names"].dtype.names is not None
    )


def is_packed(value: Any) -> bool:
    """Whether ``value`` is a result in rgg's columns layout."""
    return isinstance(value, Mapping) and isinstance(value.get(LAYOUT_KEY), Mapping)


def fits_hdf5(array: np.ndarray) -> bool:
    """Whether anndata can write this record array as one HDF5 dataset (its type header fits).

    Checked by writing an empty slice of it into an in-memory HDF5 file.
    """
    # h5py: "object header message is too large"
    return _anndata_writes(array[:0], (ValueError, RuntimeError, OSError))


def _anndata_writes(element: Any, errors: tuple[type[Exception], ...]) -> bool:
    """Whether anndata's ``write_elem`` writes ``element`` (an empty slice, so the probe is
    cheap) into an in-memory HDF5 file without raising one of ``errors``."""
    from anndata.io import write_elem

    with h5py.File(io.BytesIO(), "w") as probe:
        try:
            write_elem(probe, "probe", element)
        except errors:
            return False
    return True


def nesting_problem(labels: Any) -> str | None:
    """Why these column labels cannot be HDF5 paths of one DataFrame, or ``None`` if they can.

    anndata writes each column of a DataFrame as a dataset named by its label; rgg's writer
    turns a ``/`` in a label into nested groups, which needs every part to be a plain name
    and no label to be a folder of another.
    """
    names = {str(label) for label in labels}
    for label in sorted(names):
        parts = label.split("/")
        if any(part in {"", ".", ".."} for part in parts):
            return f"the label {label!r} is or has an empty part, '.' or '..' (split at '/')"
        clash = sorted({"/".join(parts[:depth]) for depth in range(1, len(parts))} & names)
        if clash:
            return f"the labels {clash[0]!r} and {label!r} would need one HDF5 name as a column and as a folder"
    return None


def needs_packing(result: Mapping[str, Any]) -> bool:
    """Whether a result must be stored in columns layout: record arrays whose type header
    HDF5 cannot hold, an empty group label, or ``pts`` labels that cannot be HDF5 paths
    (``../x``, ``/a``) or that anndata cannot write as a column (``dtype``)."""
    if not all(fits_hdf5(v) for v in _record_fields(result).values()):
        return True
    if "" in result["names"].dtype.names:  # numpy reads an empty field name back as 'f0'
        return True
    frames = [result[key] for key in _FRACTIONS if isinstance(result.get(key), pd.DataFrame)]
    return any(nesting_problem(frame.columns) or not _labels_writable(frame) for frame in frames)


def _labels_writable(frame: pd.DataFrame) -> bool:
    """Whether anndata writes the columns of ``frame`` whose labels could clash with its own
    names (pandas attributes such as ``dtype``, or a leading ``_`` as in ``_index``).

    Checked by writing an empty frame of those columns into an in-memory HDF5 file; other
    labels need no check, so results of thousands of groups cost nothing here.
    """
    suspects = [
        label
        for label in frame.columns
        if str(label).startswith("_") or hasattr(pd.Series, str(label))
    ]
    if not suspects:
        return True
    return _anndata_writes(
        frame.loc[:, suspects].iloc[:0],
        (ValueError, TypeError, AttributeError, KeyError, RuntimeError, OSError),
    )


def pack_results(uns: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the ``uns`` tree with every result that HDF5 cannot hold in columns layout.

    Nothing else is copied: arrays and frames are shared with ``uns``.
    """
    packed: dict[str, Any] = {}
    for key, value in uns.items():
        if is_result(value) and needs_packing(value):
            packed[key] = pack_result(value)
        elif isinstance(value, Mapping) and not is_result(value):
            packed[key] = pack_results(value)
        else:
            packed[key] = value
    return packed


def pack_result(result: Mapping[str, Any]) -> dict[str, Any]:
    """One result in columns layout (see the module's docstring)."""
    fields = _record_fields(result)
    labels = list(result["names"].dtype.names)
    packed: dict[str, Any] = {}
    layout: dict[str, Any] = {
        "format": COLUMNS_LAYOUT,
        "version": LAYOUT_VERSION,
        "groups": np.asarray(labels, dtype=object),
        "fields": np.asarray(list(fields), dtype=object),
    }
    for key, value in result.items():
        if key == "names":
            positions, genes = pd.factorize(_as_columns(value, labels).ravel())
            packed[key] = positions.astype(np.int32).reshape(value.shape[0], len(labels))
            layout["genes"] = np.asarray(genes, dtype=object)
        elif key in fields:
            packed[key] = _as_columns(value, labels)
        elif key in _FRACTIONS and isinstance(value, pd.DataFrame):
            packed[key] = value.to_numpy()
            layout[f"{key}_groups"] = np.asarray([str(c) for c in value.columns], dtype=object)
            layout[f"{key}_genes"] = np.asarray(value.index.astype(str), dtype=object)
        else:
            packed[key] = value
    packed[LAYOUT_KEY] = layout
    return packed


def unpack_results(uns: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the ``uns`` tree with every packed result back in scanpy's structure."""
    return {
        key: unpack_result(value) if is_packed(value)
        else unpack_results(value) if isinstance(value, Mapping) and not is_result(value)
        else value
        for key, value in uns.items()
    }  # fmt: skip


def unpack_result(packed: Mapping[str, Any]) -> dict[str, Any]:
    """Scanpy's structure of one result stored by :func:`pack_result`."""
    layout = packed[LAYOUT_KEY]
    if str(layout.get("format")) != COLUMNS_LAYOUT:
        msg = (
            f"unknown rgg results layout {layout.get('format')!r} (this rgg reads "
            f"{COLUMNS_LAYOUT!r}); update rgg to read this file."
        )
        raise ValueError(msg)
    labels = [str(label) for label in layout["groups"]]
    fields = {str(field) for field in layout["fields"]}
    result: dict[str, Any] = {}
    for key, value in packed.items():
        if key == LAYOUT_KEY:
            continue
        if key in _FRACTIONS:
            result[key] = pd.DataFrame(
                np.asarray(value),
                index=pd.Index([str(g) for g in layout[f"{key}_genes"]]),
                columns=[str(label) for label in layout[f"{key}_groups"]],
            )
        elif key == "names":
            genes = np.asarray([str(gene) for gene in layout["genes"]], dtype=object)
            result[key] = records(genes[np.asarray(value)], labels)
        elif key in fields:
            result[key] = records(np.asarray(value), labels)
        else:
            result[key] = value
    return result


def _record_fields(result: Mapping[str, Any]) -> dict[str, np.ndarray]:
    return {
        key: value
        for key, value in result.items()
        if isinstance(value, np.ndarray) and value.dtype.names is not None
    }


def _as_columns(array: np.ndarray, labels: list[str]) -> np.ndarray:
    """``(rows, groups)`` values of a record array with one field per group."""
    columns = np.empty((array.shape[0], len(labels)), dtype=array.dtype[labels[0]])
    for j, label in enumerate(labels):
        columns[:, j] = array[label]
    return columns
