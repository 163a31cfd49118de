"""Seurat's pre-filters (min_pct, min_diff_pct, min_logfc; rgg's opt-in addition).

Oracles: the filter from numpy on the dense matrix; the tested genes' statistics from the
unfiltered call; the corrections from statsmodels with filtered genes counted as p = 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rgg
from rgg import cli
from rgg.io.h5ad import read_h5ad, write_h5ad
from rgg.plan import build_plan
from rgg.sweep import sweep

from ._data import MATRIX_KINDS, awkward_adata, to_dense

multitest = pytest.importorskip("statsmodels.stats.multitest")

FILTERS = {"min_pct": 0.3, "min_diff_pct": 0.05, "min_logfc": 0.25}


def _expected_tested(adata, group: str, reference: str, fold_change: str, **filters) -> pd.Series:
    """Seurat's rule from the dense matrix: which genes are tested for ``group``."""
    x = to_dense(adata.X).astype(np.float64)
    labels = adata.obs["group"].astype(object).to_numpy()
    in_group = labels == group
    other = ~in_group if reference == "rest" else labels == reference
    frac, frac_other = (x[in_group] != 0).mean(axis=0), (x[other] != 0).mean(axis=0)
    if fold_change == "log_mean":
        lfc = np.log2(
            (np.expm1(x[in_group].mean(axis=0)) + 1e-9) / (np.expm1(x[other].mean(axis=0)) + 1e-9)
        )
    else:
        lfc = np.log2(np.expm1(x[in_group]).mean(axis=0) + 1) - np.log2(
            np.expm1(x[other]).mean(axis=0) + 1
        )
    keep = np.ones(adata.n_vars, dtype=bool)
    if "min_pct" in filters:
        keep &= np.maximum(frac, frac_other) >= filters["min_pct"]
    if "min_diff_pct" in filters:
        keep &= np.abs(frac - frac_other) >= filters["min_diff_pct"]
    if "min_logfc" in filters:
        keep &= np.abs(lfc) >= filters["min_logfc"]
    return pd.Series(keep, index=adata.var_names)


def _frame(uns: dict, group: str) -> pd.DataFrame:
    fields = [
        f
        for f in ("names", "scores", "pvals", "pvals_adj", "logfoldchanges", "auroc", "filtered")
        if f in uns
    ]
    return pd.DataFrame({f: uns[f][group] for f in fields})


@pytest.mark.parametrize("reference", ["rest", "b"])
@pytest.mark.parametrize("method", ["t-test", "wilcoxon"])
@pytest.mark.parametrize(("kind", "make"), MATRIX_KINDS[:3], ids=[k for k, _ in MATRIX_KINDS[:3]])
def test_filter_marks_exactly_seurats_genes_and_keeps_the_tested_ones(
    kind, make, method, reference
):
    adata = awkward_adata(make, np.float64, seed=12, n_genes=60)
    common = {"method": method, "reference": reference, "tie_correct": True, "auroc": True}
    filtered_run = rgg.rank_genes_groups(adata, "group", **common, **FILTERS, copy=True)
    plain_run = rgg.rank_genes_groups(adata, "group", **common, copy=True)
    ours, plain = filtered_run.uns["rank_genes_groups"], plain_run.uns["rank_genes_groups"]
    assert {k: ours["params"][k] for k in FILTERS} == FILTERS
    n_filtered = 0
    for group in ours["names"].dtype.names:
        frame = _frame(ours, group)
        expected = _expected_tested(adata, group, reference, "log_mean", **FILTERS)
        tested = ~frame.set_index("names")["filtered"]
        pd.testing.assert_series_equal(tested.loc[expected.index], expected, check_names=False)
        n_filtered += int((~expected).sum())
        # tested genes first, by score; filtered genes last, in gene order
        n_tested = int(expected.sum())
        assert frame["filtered"].iloc[:n_tested].eq(False).all()
        assert (np.diff(frame["scores"].iloc[:n_tested]) <= 0).all()
        gene_order = list(adata.var_names[~expected.to_numpy()])
        assert list(frame["names"].iloc[n_tested:]) == gene_order
        # tested genes: the very numbers of the unfiltered call; filtered: NaN, fold change kept
        by_gene = frame.set_index("names")
        reference_frame = _frame(plain, group).set_index("names").loc[by_gene.index]
        keep = ~by_gene["filtered"]
        for field in ("scores", "pvals", "auroc"):
            np.testing.assert_array_equal(
                by_gene.loc[keep, field], reference_frame.loc[keep, field]
            )
            assert by_gene.loc[~keep, field].isna().all()
        np.testing.assert_array_equal(by_gene["logfoldchanges"], reference_frame["logfoldchanges"])
        # correction over all tested genes, the filtered ones as p = 1
        pvals = np.where(by_gene["filtered"], 1.0, by_gene["pvals"])
        adjusted = multitest.multipletests(pvals, method="fdr_bh")[1]
        np.testing.assert_allclose(
            by_gene.loc[keep, "pvals_adj"], adjusted[keep.to_numpy()], rtol=1e-12
        )
        assert by_gene.loc[~keep, "pvals_adj"].isna().all()
    assert 0 < n_filtered < adata.n_vars * len(ours["names"].dtype.names)  # the filter bites


@pytest.mark.parametrize(("name", "value"), list(FILTERS.items()))
def test_each_filter_alone(name: str, value: float) -> None:
    adata = awkward_adata(seed=13, n_genes=50)
    rgg.rank_genes_groups(adata, "group", method="wilcoxon", **{name: value})
    uns = adata.uns["rank_genes_groups"]
    for group in uns["names"].dtype.names:
        expected = _expected_tested(adata, group, "rest", "log_mean", **{name: value})
        tested = ~_frame(uns, group).set_index("names")["filtered"]
        pd.testing.assert_series_equal(tested.loc[expected.index], expected, check_names=False)


def test_min_logfc_uses_the_chosen_fold_change() -> None:
    adata = awkward_adata(seed=14, n_genes=50)
    rgg.rank_genes_groups(adata, "group", fold_change="expm1_mean", min_logfc=0.3)
    uns = adata.uns["rank_genes_groups"]
    for group in uns["names"].dtype.names:
        expected = _expected_tested(adata, group, "rest", "expm1_mean", min_logfc=0.3)
        tested = ~_frame(uns, group).set_index("names")["filtered"]
        pd.testing.assert_series_equal(tested.loc[expected.index], expected, check_names=False)


def test_joint_bonferroni_counts_filtered_tests_as_p_one() -> None:
    adata = awkward_adata(seed=15, n_genes=40)
    rgg.rank_genes_groups(
        adata, "group", method="wilcoxon", corr_method="bonferroni", corr_scope="all", min_pct=0.3
    )
    uns = adata.uns["rank_genes_groups"]
    frames = [_frame(uns, g) for g in uns["names"].dtype.names]
    pvals = np.concatenate([np.where(f["filtered"], 1.0, f["pvals"]) for f in frames])
    expected = np.minimum(pvals * len(pvals), 1.0)
    got = np.concatenate([f["pvals_adj"] for f in frames])
    tested = ~np.concatenate([f["filtered"] for f in frames])
    np.testing.assert_allclose(got[tested], expected[tested], rtol=1e-12)
    assert np.isnan(got[~tested]).all()


def test_wilcoxon_skips_genes_no_group_tests() -> None:
    """Genes filtered for every group are never sorted: their rank sums stay zero."""
    adata = awkward_adata(seed=16, n_genes=40)
    plan = build_plan(adata, "group", method="wilcoxon", min_pct=0.5)
    sums = sweep(plan)
    skipped = ~sums.tested.any(axis=1)
    assert 0 < skipped.sum() < len(skipped)
    assert (sums.ranksums[skipped] == 0).all()
    assert (sums.ranksums[~skipped].sum(axis=1) > 0).all()
    full = sweep(build_plan(adata, "group", method="wilcoxon"))
    np.testing.assert_array_equal(sums.ranksums[~skipped], full.ranksums[~skipped])


def test_everything_filtered_keeps_gene_order_and_all_nan() -> None:
    adata = awkward_adata(seed=17, n_genes=20)
    rgg.rank_genes_groups(adata, "group", min_pct=1.0, min_diff_pct=0.01, n_genes=5)
    frame = _frame(adata.uns["rank_genes_groups"], "a")
    assert frame["filtered"].all()
    assert list(frame["names"]) == list(adata.var_names[:5])
    assert frame["scores"].isna().all()


def test_default_has_no_filtered_field() -> None:
    adata = awkward_adata(seed=18)
    rgg.rank_genes_groups(adata, "group")
    assert "filtered" not in adata.uns["rank_genes_groups"]
    assert "min_pct" not in adata.uns["rank_genes_groups"]["params"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"min_pct": 1.5}, ValueError, "min_pct must be between 0 and 1"),
        ({"min_diff_pct": -0.1}, ValueError, "min_diff_pct must be between 0 and 1"),
        ({"min_logfc": -1}, ValueError, "min_logfc must be at least 0"),
        ({"min_pct": "0.1"}, TypeError, "min_pct must be a number"),
        ({"min_pct": True}, TypeError, "min_pct must be a number"),
        ({"min_logfc": float("nan")}, TypeError, "min_logfc must be a number"),
        ({"min_pct": 0.1, "method": "logreg"}, ValueError, "logreg fits all genes at once"),
    ],
)
def test_bad_filter_values_are_refused(kwargs, error, message) -> None:
    adata = awkward_adata(seed=19)
    with pytest.raises(error, match=message):
        rgg.rank_genes_groups(adata, "group", **kwargs)
    assert "rank_genes_groups" not in adata.uns


def test_filtered_results_survive_h5ad_scanpy_and_parquet(tmp_path) -> None:
    sc = pytest.importorskip("scanpy")
    path = tmp_path / "in.h5ad"
    write_h5ad(rgg.datasets.synthetic(), path)
    out, uns_out = tmp_path / "t.parquet", tmp_path / "t.uns.h5ad"
    argv = ["rank", str(path), "--groupby", "cell_type", "--method", "wilcoxon"]
    argv += ["--min-pct", "0.2", "--min-logfc", "0.5", "--out", str(out), "--uns-out", str(uns_out)]
    assert cli.main(argv) == 0
    table, params = rgg.io.read_results(out)
    assert params["min_pct"] == 0.2
    assert params["min_logfc"] == 0.5
    assert table["filtered"].any()
    assert not table["filtered"].all()
    assert table.filter(table["filtered"])["score"].is_nan().all()
    back = read_h5ad(uns_out)
    uns = back.uns["rank_genes_groups"]
    assert uns["filtered"].dtype["NK"] == np.bool_
    frame = sc.get.rank_genes_groups_df(back, "NK", pval_cutoff=0.05)  # NaN p-values drop out
    assert len(frame) > 0
    assert (frame["pvals_adj"] < 0.05).all()
