"""Reading and writing rgg's outputs: atomic files, Parquet result tables."""

from __future__ import annotations

from .atomic import atomic_path
from .parquet import read_results, results_table, write_results

__all__ = ["atomic_path", "read_results", "results_table", "write_results"]
