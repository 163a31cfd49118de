"""Welch's t-test from summary statistics, with scanpy's handling of degenerate genes."""

from __future__ import annotations

import numpy as np
from scipy import stats


def welch_ttest(
    mean: np.ndarray,
    var: np.ndarray,
    n: float,
    mean_other: np.ndarray,
    var_other: np.ndarray,
    n_other: float,
    *,
    overestimate_var: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided Welch t statistic and p-value of each gene.

    Parameters
    ----------
    mean, var, n
        The group's means and variances (ddof 1) per gene, and its size.
    mean_other, var_other, n_other
        The same for the comparison set.
    overestimate_var
        scanpy's ``t-test_overestim_var``: the comparison set's size is replaced by ``n`` in
        the standard error and the degrees of freedom.

    Returns
    -------
    t, p
        ``t = 0`` and ``p = 1`` where the statistic is undefined (equal means, zero
        variances); ``t = ±inf``, ``p = 0`` where both variances are zero but means differ.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        t, p = stats.ttest_ind_from_stats(
            mean1=mean,
            std1=np.sqrt(var),
            nobs1=n,
            mean2=mean_other,
            std2=np.sqrt(var_other),
            nobs2=n if overestimate_var else n_other,
            equal_var=False,
        )
    t = np.asarray(t, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    t[np.isnan(t)] = 0
    p[np.isnan(p)] = 1
    return t, p
