"""Reading and writing rgg's outputs: atomic files, Parquet result tables, h5ad files."""

from __future__ import annotations

from .atomic import atomic_path
from .h5ad import read_uns_h5ad, write_h5ad, write_uns_h5ad
from .parquet import (
    pseudobulk_table,
    read_comparisons,
    read_provenance,
    read_results,
    read_table_kind,
    results_table,
    write_combined_results,
    write_results,
)

__all__ = [
    "atomic_path",
    "pseudobulk_table",
    "read_comparisons",
    "read_provenance",
    "read_results",
    "read_table_kind",
    "read_uns_h5ad",
    "results_table",
    "write_combined_results",
    "write_h5ad",
    "write_results",
    "write_uns_h5ad",
]
