"""Reading and writing rgg's outputs: atomic files, Parquet result tables, h5ad files."""

from __future__ import annotations

from .atomic import atomic_path
from .h5ad import read_h5ad, read_uns_h5ad, write_h5ad, write_uns_h5ad
from .layout import pack_results, unpack_results
from .parquet import (
    pseudobulk_table,
    read_comparisons,
    read_provenance,
    read_results,
    read_table_kind,
    results_table,
    scan_results,
    write_combined_results,
    write_results,
)

__all__ = [
    "atomic_path",
    "pack_results",
    "pseudobulk_table",
    "read_comparisons",
    "read_h5ad",
    "read_provenance",
    "read_results",
    "read_table_kind",
    "read_uns_h5ad",
    "results_table",
    "scan_results",
    "unpack_results",
    "write_combined_results",
    "write_h5ad",
    "write_results",
    "write_uns_h5ad",
]
