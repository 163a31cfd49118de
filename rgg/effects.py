"""Per-group effect sizes from the sweep's sums: log2 fold changes and Seurat's pre-filters."""

from __future__ import annotations

import numpy as np

from . import stats
from .plan import Plan


def fold_changes(
    plan: Plan,
    summary: stats.GroupSummary,
    expm1_sums: np.ndarray | None,
    codes: np.ndarray | slice | None = None,
) -> np.ndarray:
    """log2 fold change of the summarised groups against what each is compared with.

    ``codes`` are the groups of ``summary``'s rows (default: every selected group). Returns
    a ``(len(codes), n_genes)`` array (the reference's own row, if any, is meaningless);
    ``plan.fold_change`` picks scanpy's or Seurat's definition, and ``mean_in_log_space=False``
    scanpy 1.13's ratio of the means of expm1 values.
    """
    if plan.fold_change == "log_mean" and plan.mean_in_log_space:
        return stats.log_fold_change(summary.mean, summary.mean_other, plan.log1p_base)
    codes = slice(0, plan.n_groups) if codes is None else codes
    mean = expm1_sums[:, codes].T / summary.n[:, None]
    if plan.reference_index is None:
        total = expm1_sums.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            other = (total[None, :] - expm1_sums[:, codes].T) / summary.n_other[:, None]
    else:
        r = plan.reference_index
        other = np.broadcast_to(expm1_sums[:, r] / np.float64(plan.n_per_code[r]), mean.shape)
    if not plan.mean_in_log_space:  # scanpy 1.13: a ratio of the means of expm1 values
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log2((mean + 1e-9) / (other + 1e-9))
    return stats.expm1_mean_fold_change(mean, other)


def tested_genes(plan: Plan, summary: stats.GroupSummary, lfc: np.ndarray) -> np.ndarray:
    """Which genes pass Seurat's pre-filters for each group: ``(n_genes, n_groups)`` booleans.

    As Seurat's ``FindMarkers``: the larger of the two expressing fractions must reach
    ``min_pct``, their difference ``min_diff_pct`` and the absolute log2 fold change
    ``min_logfc`` (all inclusive). Fractions are not rounded (Seurat rounds them to three
    decimals). A NaN fold change (negative data) fails ``min_logfc``.
    """
    frac, frac_other = summary.frac, summary.frac_other
    passing = np.ones(frac.shape, dtype=bool)
    if plan.min_pct is not None:
        passing &= np.maximum(frac, frac_other) >= plan.min_pct
    if plan.min_diff_pct is not None:
        passing &= np.abs(frac - frac_other) >= plan.min_diff_pct
    if plan.min_logfc is not None:
        with np.errstate(invalid="ignore"):
            passing &= np.abs(lfc) >= plan.min_logfc
    return passing.T
