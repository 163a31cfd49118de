"""Means, variances and expressing fractions of each group and of what it is compared with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import kernels


@dataclass(frozen=True)
class GroupSummary:
    """Per selected group (rows) and gene (columns).

    ``*_other`` describe the comparison set: all other cells (one-vs-rest) or the reference
    group (every row then holds the reference's values). ``var*`` are ``None`` unless
    centred sums of squares were accumulated.
    """

    n: np.ndarray
    mean: np.ndarray
    var: np.ndarray | None
    frac: np.ndarray
    n_other: np.ndarray
    mean_other: np.ndarray
    var_other: np.ndarray | None
    frac_other: np.ndarray


def summarise_groups(
    n_per_code: np.ndarray,
    nnz: np.ndarray,
    sums: np.ndarray,
    m2: np.ndarray | None,
    n_groups: int,
    reference_index: int | None,
    codes: np.ndarray | slice | None = None,
    m2_other: np.ndarray | None = None,
    totals: tuple[np.ndarray, np.ndarray] | None = None,
) -> GroupSummary:
    """Derive group and comparison-set statistics from per-code sums.

    Parameters
    ----------
    n_per_code
        Cells per code; in one-vs-rest mode the last code holds the cells of no selected
        group.
    nnz, sums, m2
        ``(n_genes, n_codes)`` accumulators from the sweep.
    n_groups
        Number of selected groups (codes ``0 .. n_groups - 1``).
    reference_index
        Code of the reference group, or ``None`` for one-vs-rest.
    codes
        The groups to summarise, one row each (default: all ``n_groups``), so that many
        groups can be summarised a block at a time.
    m2_other
        One-vs-rest with ``m2``: the rest's centred sums of squares of every group,
        ``(n_genes, n_groups)``, from :func:`rest_m2` (computed here when not given).
    totals
        One-vs-rest: ``nnz.sum(axis=1)`` and ``sums.sum(axis=1)``, when already computed
        (a caller summarising many blocks of groups sums them once).
    """
    codes = slice(0, n_groups) if codes is None else codes
    n = n_per_code[codes].astype(np.float64)
    mean = sums[:, codes].T / n[:, None]
    frac = nnz[:, codes].T / n[:, None]
    var = None
    with np.errstate(invalid="ignore", divide="ignore"):
        if m2 is not None:
            var = m2[:, codes].T / (n[:, None] - 1)
        if reference_index is None:
            n_other = n_per_code.sum() - n
            nnz_total, sums_total = totals or (nnz.sum(axis=1), sums.sum(axis=1))
            mean_other = (sums_total[None, :] - sums[:, codes].T) / n_other[:, None]
            frac_other = (nnz_total[None, :] - nnz[:, codes].T) / n_other[:, None]
            var_other = None
            if m2 is not None:
                if m2_other is None:
                    m2_other = rest_m2(n_per_code, sums, m2, n_groups)
                var_other = m2_other[:, codes].T / (n_other[:, None] - 1)
        else:
            r = reference_index
            n_ref = np.float64(n_per_code[r])
            n_other = np.full(mean.shape[0], n_ref)
            mean_other = np.broadcast_to(sums[:, r] / n_ref, mean.shape)
            frac_other = np.broadcast_to(nnz[:, r] / n_ref, frac.shape)
            var_other = None
            if m2 is not None:
                var_other = np.broadcast_to(m2[:, r] / (n_ref - 1), var.shape)
    return GroupSummary(n, mean, var, frac, n_other, mean_other, var_other, frac_other)


def rest_m2(n_per_code: np.ndarray, sums: np.ndarray, m2: np.ndarray, n_groups: int) -> np.ndarray:
    """Centred sums of squares of "all cells but group g", ``(n_genes, n_groups)``."""
    m2_other = np.empty((sums.shape[0], n_groups))
    kernels.leave_one_out_m2(n_per_code, sums, m2, n_groups, m2_other)
    return m2_other
