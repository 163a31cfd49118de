"""Reading and writing rgg's outputs: atomic files, Parquet result tables, h5ad files.

The names below are imported when first used (PEP 562): a module that needs only
:mod:`rgg.io.provenance` or :mod:`rgg.io.atomic` does not load polars and anndata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exports import lazy_exports

if TYPE_CHECKING:
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

#: Public name -> (the submodule that defines it, the name there).
_PUBLIC: dict[str, tuple[str, str | None]] = {
    "atomic_path": (".atomic", "atomic_path"),
    "pack_results": (".layout", "pack_results"),
    "pseudobulk_table": (".parquet", "pseudobulk_table"),
    "read_comparisons": (".parquet", "read_comparisons"),
    "read_h5ad": (".h5ad", "read_h5ad"),
    "read_provenance": (".parquet", "read_provenance"),
    "read_results": (".parquet", "read_results"),
    "read_table_kind": (".parquet", "read_table_kind"),
    "read_uns_h5ad": (".h5ad", "read_uns_h5ad"),
    "results_table": (".parquet", "results_table"),
    "scan_results": (".parquet", "scan_results"),
    "unpack_results": (".layout", "unpack_results"),
    "write_combined_results": (".parquet", "write_combined_results"),
    "write_h5ad": (".h5ad", "write_h5ad"),
    "write_results": (".parquet", "write_results"),
    "write_uns_h5ad": (".h5ad", "write_uns_h5ad"),
}

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


__getattr__, __dir__ = lazy_exports(__name__, _PUBLIC)
