"""Property-based tests: rgg's statistics against SciPy on random small inputs.

Inputs are drawn with many ties and zeros, constant genes and groups of two cells; every
gene of every draw must agree with the independent SciPy computation.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse, stats

import rgg

#: Few distinct values, zero among them: ties and zeros are the rule, not the exception.
VALUES = st.sampled_from([0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 2.0, 3.25, 7.5])


@st.composite
def two_groups(draw: st.DrawFn) -> tuple[np.ndarray, int, bool]:
    """A cells x genes matrix, the size of group 'a' (the rest are 'b'), and sparse or not."""
    n_a = draw(st.integers(2, 25))
    n_b = draw(st.integers(2, 25))
    n_genes = draw(st.integers(1, 6))
    columns = []
    for _ in range(n_genes):
        kind = draw(st.sampled_from(["random", "random", "constant", "zero-in-a"]))
        if kind == "constant":
            columns.append(np.full(n_a + n_b, draw(VALUES)))
        else:
            column = np.array(draw(st.lists(VALUES, min_size=n_a + n_b, max_size=n_a + n_b)))
            if kind == "zero-in-a":
                column[:n_a] = 0.0
            columns.append(column)
    return np.column_stack(columns), n_a, draw(st.booleans())


def _ranked(matrix: np.ndarray, n_a: int, as_sparse: bool, **params) -> pd.DataFrame:
    labels = ["a"] * n_a + ["b"] * (len(matrix) - n_a)
    adata = ad.AnnData(
        X=sparse.csr_matrix(matrix) if as_sparse else matrix,
        obs=pd.DataFrame(
            {"group": pd.Categorical(labels)}, index=[f"c{i}" for i in range(len(matrix))]
        ),
        var=pd.DataFrame(index=[f"g{j}" for j in range(matrix.shape[1])]),
    )
    rgg.rank_genes_groups(adata, "group", groups=["a"], reference="b", n_jobs=1, **params)
    result = adata.uns["rank_genes_groups"]
    frame = pd.DataFrame({key: result[key]["a"] for key in ("names", "scores", "pvals")}).set_index(
        "names"
    )
    return frame.loc[adata.var_names]


def _no_tie_z(a: np.ndarray, b: np.ndarray) -> float:
    """Rank-sum z of group a without the tie correction of the variance (scanpy's default)."""
    n_a, n_b = len(a), len(b)
    ranks = stats.rankdata(np.concatenate([a, b]))
    expected = n_a * (n_a + n_b + 1) / 2
    sd = np.sqrt(n_a * n_b * (n_a + n_b + 1) / 12)
    return (ranks[:n_a].sum() - expected) / sd


#: Derandomized: CI sees the same 150 draws on every run, so a failure reproduces.
PROPERTY_SETTINGS = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(two_groups())
def test_wilcoxon_tie_corrected_matches_mannwhitneyu(case) -> None:
    matrix, n_a, as_sparse = case
    result = _ranked(matrix, n_a, as_sparse, method="wilcoxon", tie_correct=True)
    for j, gene in enumerate(result.index):
        a, b = matrix[:n_a, j], matrix[n_a:, j]
        if np.ptp(matrix[:, j]) == 0:  # all values tied: no test, scanpy's z = 0, p = 1
            assert result.loc[gene, "scores"] == 0
            assert result.loc[gene, "pvals"] == pytest.approx(1.0)
            continue
        oracle = stats.mannwhitneyu(a, b, use_continuity=False, method="asymptotic")
        assert result.loc[gene, "pvals"] == pytest.approx(oracle.pvalue, rel=1e-6, abs=1e-12)
        u_shift = oracle.statistic - len(a) * len(b) / 2  # same sign as rgg's z
        assert np.sign(result.loc[gene, "scores"]) == np.sign(u_shift)
        if 1e-200 < oracle.pvalue < 0.99:  # |z| from SciPy's tie-corrected p
            expected = stats.norm.isf(oracle.pvalue / 2)
            assert abs(result.loc[gene, "scores"]) == pytest.approx(expected, rel=1e-5)


@PROPERTY_SETTINGS
@given(two_groups())
def test_wilcoxon_without_tie_correction_matches_the_rank_sum_z(case) -> None:
    matrix, n_a, as_sparse = case
    result = _ranked(matrix, n_a, as_sparse, method="wilcoxon")
    for j, gene in enumerate(result.index):
        z = _no_tie_z(matrix[:n_a, j], matrix[n_a:, j])
        assert result.loc[gene, "scores"] == pytest.approx(z, rel=1e-6, abs=1e-9)
        p = 2 * stats.norm.sf(abs(z))
        assert result.loc[gene, "pvals"] == pytest.approx(p, rel=1e-6, abs=1e-12)


@PROPERTY_SETTINGS
@given(two_groups())
def test_welch_t_test_matches_ttest_ind(case) -> None:
    matrix, n_a, as_sparse = case
    result = _ranked(matrix, n_a, as_sparse, method="t-test")
    for j, gene in enumerate(result.index):
        a, b = matrix[:n_a, j], matrix[n_a:, j]
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # SciPy on constant arms
            oracle = stats.ttest_ind(a, b, equal_var=False)
        if np.isnan(oracle.statistic):  # both arms constant and equal: scanpy's t = 0, p = 1
            assert result.loc[gene, "scores"] == 0
            assert result.loc[gene, "pvals"] == 1
            continue
        if np.isinf(oracle.statistic):  # both arms constant, means differ: t = +-inf, p = 0
            assert result.loc[gene, "scores"] == oracle.statistic
            assert result.loc[gene, "pvals"] == 0
            continue
        assert result.loc[gene, "scores"] == pytest.approx(oracle.statistic, rel=1e-5, abs=1e-9)
        assert result.loc[gene, "pvals"] == pytest.approx(oracle.pvalue, rel=1e-5, abs=1e-12)
