"""Multiple-testing corrections over the genes of one comparison."""

from __future__ import annotations

import numpy as np

from .._types import CorrMethod


def adjust_pvalues(pvals: np.ndarray, method: CorrMethod) -> np.ndarray:
    """Benjamini-Hochberg or Bonferroni adjusted p-values (as statsmodels computes them).

    Each row (last axis) of ``pvals`` is one family; NaN p-values count as 1.
    """
    p = np.where(np.isnan(pvals), 1.0, pvals)
    n = p.shape[-1]
    if method == "bonferroni":
        return np.minimum(p * n, 1.0)
    if method == "benjamini-hochberg":
        order = np.argsort(p, axis=-1)
        ranked = np.take_along_axis(p, order, axis=-1) / (np.arange(1, n + 1) / n)
        ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
        adjusted = np.empty(p.shape)
        np.put_along_axis(adjusted, order, np.minimum(ranked, 1.0), axis=-1)
        return adjusted
    msg = f"Correction method must be one of ['benjamini-hochberg', 'bonferroni'], got {method!r}."
    raise ValueError(msg)
