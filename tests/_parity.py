"""Run rgg and scanpy on copies of the same AnnData and compare every stored output."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from importlib.metadata import version

import anndata as ad
import numpy as np
import pandas as pd
from packaging.version import Version
from scipy import sparse, stats
from statsmodels.stats.multitest import multipletests

import rgg

from ._data import to_dense


@dataclass(frozen=True)
class Tolerance:
    """Agreement required by issue 2: scores/LFC rel 1e-5, p-values rel 1e-4, logreg 1e-3."""

    scores_rtol: float = 1e-5
    scores_atol: float = 1e-6
    pvals_rtol: float = 1e-4
    lfc_rtol: float = 1e-5
    lfc_atol: float = 1e-6
    logreg_atol: float = 1e-3
    #: extra tolerance on |ln p| per unit of |ln p|, for scanpy versions whose t-test variance
    #: is off by ~1e-6 relative: a relative score error e moves ln p by about 2 e |ln p|.
    pvals_log_slack: float = 0.0


TOL = Tolerance()

#: scanpy 1.11 has no code path for scipy's sparse *arrays*; it gets the same data as a matrix
SCANPY_SPARSE_ARRAYS = Version(version("scanpy")) >= Version("1.12")

#: scanpy < 1.12.3 forms t-test variances as E[x^2] - E[x]^2 with float32 squares (spec 5.3)
SCANPY_EXACT_VARIANCE = Version(version("scanpy")) >= Version("1.12.3")


def tolerance_for(method: str | None) -> Tolerance:
    """The issue's tolerances, plus score-implied p-value slack for old scanpy t-tests."""
    if method in (None, "t-test", "t-test_overestim_var") and not SCANPY_EXACT_VARIANCE:
        return replace(TOL, pvals_log_slack=2 * TOL.scores_rtol)
    return TOL


def assert_matches_scanpy(
    adata: ad.AnnData, groupby: str, tol: Tolerance | None = None, **kwargs
) -> dict:
    """Run both tools with ``kwargs`` and assert that rgg's results equal scanpy's; return rgg's.

    On scanpy < 1.12.3, t-test genes that scanpy spoils through float32 variance
    cancellation are checked against an independent Welch computation instead (see
    :func:`check_cancelled_genes`).
    """
    method = kwargs.get("method")
    tol = tol or tolerance_for(method)
    theirs, ours = run_both(adata, groupby, **kwargs)
    skip = None
    if method in (None, "t-test", "t-test_overestim_var") and not SCANPY_EXACT_VARIANCE:
        skip = check_cancelled_genes(adata, groupby, theirs, ours, tol, **kwargs)
    assert_same_results(
        theirs, ours, tol, rankby_abs=kwargs.get("rankby_abs", False), skip_genes=skip
    )
    return ours


def _tested_matrix(
    adata: ad.AnnData, use_raw: bool | None = None, layer: str | None = None, mask_var=None, **_
) -> tuple[np.ndarray, list[str]]:
    if layer is not None:
        x, names = adata.layers[layer], adata.var_names
    elif (use_raw is None and adata.raw is not None) or use_raw:
        x, names = adata.raw.X, adata.raw.var_names
    else:
        x, names = adata.X, adata.var_names
    x = to_dense(x)
    if mask_var is not None:
        mask = (
            adata.var[mask_var].to_numpy(bool)
            if isinstance(mask_var, str)
            else np.asarray(mask_var)
        )
        x, names = x[:, mask], names[mask]
    return x.astype(np.float64), list(names)


def check_cancelled_genes(
    adata: ad.AnnData, groupby: str, theirs: dict, ours: dict, tol: Tolerance = TOL, **kwargs
) -> dict[str, set[str]]:
    """Genes whose old-scanpy t is spoilt by float32 cancellation in a zero variance.

    scanpy < 1.12.3 forms ``E[x^2] - E[x]^2`` from float32 squares. Where one arm of the
    comparison is constant, the true variance is 0 but that formula leaves rounding noise:
    negative noise gives t = 0, p = 1; positive noise a t that is off by up to ~1e-4. For
    every gene where scanpy disagrees with rgg beyond the score tolerance, this asserts that
    one arm is exactly constant and that rgg's t equals Welch's t from numpy float64 means
    and variances of the values; rgg's ``pvals_adj`` must then equal statsmodels' correction
    of rgg's own p-values. Returns the genes per group, to leave out of the scanpy comparison.
    """
    x, names = _tested_matrix(adata, **kwargs)
    column = {name: j for j, name in enumerate(names)}
    labels = adata.obs[groupby].astype(object).to_numpy()
    reference = kwargs.get("reference", "rest")
    overestimate = kwargs.get("method") == "t-test_overestim_var"
    skipped: dict[str, set[str]] = {}
    for group in theirs["names"].dtype.names:
        in_group = labels == group
        other = ~in_group if reference == "rest" else labels == reference
        our_t = dict(
            zip(
                ours["names"][group],
                np.asarray(ours["scores"][group], dtype=np.float64),
                strict=True,
            )
        )
        for gene, t in zip(theirs["names"][group], theirs["scores"][group], strict=True):
            if abs(our_t[gene] - t) <= tol.scores_atol + tol.scores_rtol * abs(t):
                continue
            a, b = x[in_group, column[gene]], x[other, column[gene]]
            assert np.ptp(a) == 0 or np.ptp(b) == 0, (
                f"{group}/{gene}: no constant arm, a real mismatch"
            )
            n_b = len(a) if overestimate else len(b)
            expected = stats.ttest_ind_from_stats(
                a.mean(), a.std(ddof=1), len(a), b.mean(), b.std(ddof=1), n_b, equal_var=False
            ).statistic
            np.testing.assert_allclose(our_t[gene], expected, rtol=1e-5, err_msg=f"{group}/{gene}")
            skipped.setdefault(group, set()).add(gene)
        if group in skipped:
            method = (
                "fdr_bh"
                if theirs["params"]["corr_method"] == "benjamini-hochberg"
                else "bonferroni"
            )
            expected_adj = multipletests(np.asarray(ours["pvals"][group]), method=method)[1]
            np.testing.assert_allclose(
                np.asarray(ours["pvals_adj"][group]), expected_adj, rtol=1e-12
            )
    return skipped


def run_both(adata: ad.AnnData, groupby: str, **kwargs) -> tuple[dict, dict]:
    """``uns`` results of scanpy and of rgg for the same call on copies of ``adata``."""
    import scanpy as sc

    theirs = adata.copy()
    ours = adata.copy()
    if (
        not SCANPY_SPARSE_ARRAYS
        and sparse.issparse(theirs.X)
        and isinstance(theirs.X, sparse.sparray)
    ):
        theirs.X = (
            sparse.csr_matrix(theirs.X) if theirs.X.format == "csr" else sparse.csc_matrix(theirs.X)
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log2 of negative data, 0/0 ties
        sc.tl.rank_genes_groups(theirs, groupby, **kwargs)
        rgg.rank_genes_groups(ours, groupby, **kwargs)
    key = kwargs.get("key_added") or "rank_genes_groups"
    return theirs.uns[key], ours.uns[key]


def assert_same_results(
    theirs: dict,
    ours: dict,
    tol: Tolerance = TOL,
    *,
    rankby_abs: bool = False,
    skip_genes: dict[str, set[str]] | None = None,
) -> None:
    """Every key, dtype, field and number agrees; gene order may differ only inside ties.

    ``skip_genes`` (group -> genes) leaves genes out of the comparison; callers must check
    those against an independent oracle instead.
    """
    assert "names" in theirs
    assert set(theirs) == set(ours), (sorted(theirs), sorted(ours))
    assert theirs["params"] == ours["params"]
    logreg = theirs["params"]["method"] == "logreg"
    fields = theirs["names"].dtype.names
    for key in set(theirs) - {"params"}:
        if key.startswith("pts"):
            pd.testing.assert_frame_equal(ours[key], theirs[key], rtol=1e-12, check_exact=False)
            continue
        assert isinstance(ours[key], np.recarray), key
        assert ours[key].dtype == theirs[key].dtype, (key, ours[key].dtype, theirs[key].dtype)
        assert ours[key].shape == theirs[key].shape, key
    for group in fields:
        skip = (skip_genes or {}).get(group, set())
        _assert_group(theirs, ours, group, tol, logreg=logreg, rankby_abs=rankby_abs, skip=skip)


def _values_by_name(uns: dict, group: str, field: str) -> pd.Series:
    return pd.Series(
        np.asarray(uns[field][group], dtype=np.float64), index=np.asarray(uns["names"][group])
    )


def _assert_group(
    theirs: dict,
    ours: dict,
    group: str,
    tol: Tolerance,
    *,
    logreg: bool,
    rankby_abs: bool,
    skip: set[str],
) -> None:
    their_keep = ~np.isin(np.asarray(theirs["names"][group]), list(skip))
    our_keep = ~np.isin(np.asarray(ours["names"][group]), list(skip))
    their_scores = np.asarray(theirs["scores"][group], dtype=np.float64)[their_keep]
    our_scores = np.asarray(ours["scores"][group], dtype=np.float64)[our_keep]
    atol = tol.logreg_atol if logreg else tol.scores_atol
    rtol = 0 if logreg else tol.scores_rtol
    # rank order: position by position the scores agree, so names differ only within ties
    key = np.abs if rankby_abs else np.asarray
    np.testing.assert_allclose(
        key(our_scores), key(their_scores), rtol=rtol, atol=atol, err_msg=f"{group}: ranked scores"
    )
    names_differ = (
        np.asarray(ours["names"][group])[our_keep] != np.asarray(theirs["names"][group])[their_keep]
    )
    if names_differ.any():
        # allowed only where neighbouring scores are tied within tolerance
        tied = _tied_positions(key(their_scores), rtol, atol)
        assert tied[names_differ].all(), (
            f"{group}: names differ outside ties at {np.flatnonzero(names_differ & ~tied)}"
        )
    # with n_genes, the lists may end in different members of a tie block: compare the rest
    shared = np.intersect1d(np.asarray(ours["names"][group]), np.asarray(theirs["names"][group]))
    checks = [("scores", rtol, atol)]
    if not logreg:
        checks += [
            ("pvals", tol.pvals_rtol, 0.0),
            ("pvals_adj", tol.pvals_rtol, 0.0),
            ("logfoldchanges", tol.lfc_rtol, tol.lfc_atol),
        ]
    for field, f_rtol, f_atol in checks:
        shared = np.setdiff1d(shared, list(skip))
        a = _values_by_name(ours, group, field)[shared]
        b = _values_by_name(theirs, group, field)[shared]
        if field == "pvals_adj" and skip:
            continue  # BH depends on every p-value; checked by check_cancelled_genes
        if field.startswith("pvals") and tol.pvals_log_slack:
            _assert_close_log(
                a.to_numpy(), b.to_numpy(), f_rtol, tol.pvals_log_slack, f"{group}: {field}"
            )
        else:
            np.testing.assert_allclose(
                a.to_numpy(),
                b.to_numpy(),
                rtol=f_rtol,
                atol=f_atol,
                equal_nan=True,
                err_msg=f"{group}: {field}",
            )


def _assert_close_log(
    ours: np.ndarray, theirs: np.ndarray, rtol: float, slack: float, what: str
) -> None:
    """|ln ours - ln theirs| <= rtol + slack |ln theirs|; exact zeros (underflow) must coincide
    unless the other value is itself below 1e-250."""
    both = (ours > 0) & (theirs > 0)
    with np.errstate(divide="ignore"):
        log_ours, log_theirs = np.log(ours[both]), np.log(theirs[both])
    bad = np.abs(log_ours - log_theirs) > rtol + slack * np.abs(log_theirs)
    assert not bad.any(), f"{what}: {ours[both][bad][:5]} vs {theirs[both][bad][:5]}"
    assert np.all(np.maximum(ours[~both], theirs[~both]) < 1e-250), f"{what}: zero vs non-zero p"


def _tied_positions(sorted_keys: np.ndarray, rtol: float, atol: float) -> np.ndarray:
    """Positions whose key equals a neighbour's within tolerance."""
    close = np.abs(np.diff(sorted_keys)) <= atol + rtol * np.abs(sorted_keys[1:])
    tied = np.zeros(len(sorted_keys), dtype=bool)
    tied[1:] |= close
    tied[:-1] |= close
    return tied
