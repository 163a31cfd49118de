"""Wilcoxon rank-sum z-scores and p-values (normal approximation, no continuity correction)."""

from __future__ import annotations

import numpy as np
from scipy import special


def _tie_factor(tiesum: np.ndarray, n_ranked: float | np.ndarray) -> np.ndarray | float:
    """``1 - sum(t^3 - t) / (N^3 - N)``; 1 when fewer than two cells are ranked."""
    size = np.float64(n_ranked)
    if np.ndim(size) == 0 and size < 2:
        return 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = 1.0 - tiesum / (size**3 - size)
    return np.where(size < 2, 1.0, factor) if np.ndim(size) else factor


def _z_and_p(ranksum: np.ndarray, n: float, m: float, tie_factor: np.ndarray | float):
    # float64 throughout: scanpy's int64 product overflows above ~3 million cells (spec 6.3)
    n = np.float64(n)
    m = np.float64(m)
    with np.errstate(invalid="ignore", divide="ignore"):
        std_dev = np.sqrt(tie_factor * n * m * (n + m + 1) / 12.0)
        z = (ranksum - (n * ((n + m + 1) / 2.0))) / std_dev
    z[np.isnan(z)] = 0
    p = 2 * special.ndtr(-np.abs(z))  # stats.norm.sf without its argument checks: same values
    return z, p


def wilcoxon_rest(
    ranksum: np.ndarray, n: float, n_cells: float, tiesum: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """z and two-sided p of one group against all other cells.

    Parameters
    ----------
    ranksum
        Per gene: sum of the group's ranks among all ``n_cells`` cells.
    n
        Cells in the group.
    tiesum
        Per gene ``sum(t^3 - t)`` over all cells, or ``None`` for no tie correction.
    """
    tie_factor = 1.0 if tiesum is None else _tie_factor(tiesum, n_cells)
    return _z_and_p(ranksum, n, n_cells - n, tie_factor)


def wilcoxon_reference(
    ustat: np.ndarray, n: float, n_reference: float, tiesum: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """z and two-sided p of one group against the reference group.

    Parameters
    ----------
    ustat
        Per gene: Mann-Whitney U of the group against the reference.
    tiesum
        Per gene ``sum(t^3 - t)`` over the cells of the pair, or ``None``.
    """
    ranksum = ustat + n * (n + 1) / 2.0  # rank sum within group + reference, exact
    tie_factor = 1.0 if tiesum is None else _tie_factor(tiesum, n + n_reference)
    return _z_and_p(ranksum, n, n_reference, tie_factor)


def auroc_rest(ranksum: np.ndarray, n: float, n_cells: float) -> np.ndarray:
    """Area under the ROC curve of each gene as a marker of the group against the rest.

    The probability that a random cell of the group has a higher value than a random other
    cell, ties counting one half: ``U / (n * (N - n))`` with ``U = R - n (n + 1) / 2`` from
    the group's rank sum ``R`` among all ``N`` cells (midranks for ties).
    """
    n = np.float64(n)
    n_rest = np.float64(n_cells) - n
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ranksum - n * (n + 1) / 2.0) / (n * n_rest)


def auroc_reference(ustat: np.ndarray, n: float, n_reference: float) -> np.ndarray:
    """Area under the ROC curve against the reference group: ``U / (n * n_ref)``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return ustat / (np.float64(n) * np.float64(n_reference))
