"""Pseudobulk differential expression with biological replicates, tested by PyDESeq2.

Cells of one sample (donor, animal) are not independent replicates, so per-cell tests
overstate significance. :func:`aggregate_counts` sums the raw counts of each (sample, group)
pair into one pseudobulk; :func:`pseudobulk_deseq2` compares the pseudobulks of a group with
those of the rest or of a reference group across samples, with DESeq2's negative-binomial
GLM (PyDESeq2, an optional dependency: ``pip install pydeseq2``).
"""

from __future__ import annotations

from ._aggregate import aggregate_counts
from ._deseq2 import RESULT_COLUMNS, pseudobulk_deseq2

__all__ = ["RESULT_COLUMNS", "aggregate_counts", "pseudobulk_deseq2"]
