"""Multiple-testing corrections over the genes of one comparison."""

from __future__ import annotations

import numpy as np

from .._types import CorrMethod


def adjust_pvalues(pvals: np.ndarray, method: CorrMethod) -> np.ndarray:
    """Benjamini-Hochberg or Bonferroni adjusted p-values (as statsmodels computes them).

    NaN p-values count as 1.
    """
    p = np.where(np.isnan(pvals), 1.0, pvals)
    n = p.shape[0]
    if method == "bonferroni":
        return np.minimum(p * n, 1.0)
    if method == "benjamini-hochberg":
        order = np.argsort(p)
        ranked = p[order] / (np.arange(1, n + 1) / n)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        adjusted = np.empty(n)
        adjusted[order] = np.minimum(ranked, 1.0)
        return adjusted
    msg = f"Correction method must be one of ['benjamini-hochberg', 'bonferroni'], got {method!r}."
    raise ValueError(msg)
