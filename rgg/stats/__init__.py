"""Statistics: from accumulated sums to scores, p-values, corrections and fold changes.

NumPy level only: no AnnData, no I/O.
"""

from __future__ import annotations

from .foldchange import expm1_mean_fold_change, log_fold_change
from .groupstats import GroupSummary, rest_m2, summarise_groups
from .logreg import logreg_scores
from .multitest import adjust_pvalues
from .threaded_products import ThreadedCSR, threaded_csr
from .ttest import welch_ttest
from .wilcoxon import auroc_reference, auroc_rest, wilcoxon_reference, wilcoxon_rest

__all__ = [
    "GroupSummary",
    "ThreadedCSR",
    "adjust_pvalues",
    "auroc_reference",
    "auroc_rest",
    "expm1_mean_fold_change",
    "log_fold_change",
    "logreg_scores",
    "rest_m2",
    "summarise_groups",
    "threaded_csr",
    "welch_ttest",
    "wilcoxon_reference",
    "wilcoxon_rest",
]
