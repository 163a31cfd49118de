"""AUROC (rgg's opt-in addition) against scikit-learn's roc_auc_score, gene by gene."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import rgg
from rgg import cli

from ._data import MATRIX_KINDS, awkward_adata, to_dense


@pytest.mark.parametrize("method", ["wilcoxon", "t-test"])
@pytest.mark.parametrize("reference", ["rest", "reference"])
@pytest.mark.parametrize(("kind", "make"), MATRIX_KINDS, ids=[k for k, _ in MATRIX_KINDS])
def test_auroc_equals_roc_auc_score(kind: str, make, reference: str, method: str) -> None:
    """Ties, all-zero and constant genes, a two-cell group and NaN labels (part of 'rest')."""
    adata = awkward_adata(make, np.float64, seed=3)
    labels = adata.obs["group"]
    ref = "rest" if reference == "rest" else str(labels.cat.categories[0])
    rgg.rank_genes_groups(adata, "group", method=method, reference=ref, auroc=True)
    result = adata.uns["rank_genes_groups"]
    values = to_dense(adata.X)
    label_text = labels.astype(object).to_numpy()
    for group in result["names"].dtype.names:
        cells = np.ones(adata.n_obs, bool) if ref == "rest" else np.isin(label_text, [group, ref])
        truth = label_text[cells] == group
        columns = adata.var_names.get_indexer(result["names"][group])
        expected = [roc_auc_score(truth, values[cells, column]) for column in columns]
        np.testing.assert_allclose(result["auroc"][group], expected, rtol=0, atol=1e-12)


def test_auroc_changes_nothing_else() -> None:
    adata = rgg.datasets.synthetic()
    plain = rgg.rank_genes_groups(adata, "cell_type", method="wilcoxon", pts=True, copy=True)
    extra = rgg.rank_genes_groups(
        adata, "cell_type", method="wilcoxon", pts=True, copy=True, auroc=True
    )
    for field in ("scores", "pvals", "pvals_adj", "logfoldchanges"):
        assert (
            plain.uns["rank_genes_groups"][field].tobytes()
            == extra.uns["rank_genes_groups"][field].tobytes()
        )
    assert "auroc" not in plain.uns["rank_genes_groups"]


def test_auroc_in_get_df_and_scanpy_still_reads_the_result() -> None:
    sc = pytest.importorskip("scanpy")
    adata = rgg.datasets.synthetic()
    rgg.rank_genes_groups(adata, "cell_type", method="wilcoxon", auroc=True)
    ours = rgg.get.rank_genes_groups_df(adata, "NK")
    assert ours["auroc"].between(0, 1).all()
    assert ours["auroc"].iloc[0] > 0.5  # the top marker is higher in NK
    theirs = sc.get.rank_genes_groups_df(adata, "NK")
    pd.testing.assert_series_equal(ours["names"], theirs["names"])


def test_auroc_is_refused_for_logreg() -> None:
    adata = rgg.datasets.synthetic()
    with pytest.raises(ValueError, match="auroc=True needs rank sums"):
        rgg.rank_genes_groups(adata, "cell_type", method="logreg", auroc=True)
    assert "rank_genes_groups" not in adata.uns


def test_auroc_column_in_the_table(tmp_path) -> None:
    out = tmp_path / "t.parquet"
    argv = ["rank", str(rgg.datasets.synthetic_path()), "--groupby", "cell_type"]
    assert cli.main([*argv, "--method", "wilcoxon", "--auroc", "--out", str(out)]) == 0
    table, params = rgg.io.read_results(out)
    assert params["auroc"] is True
    assert table["auroc"].null_count() == 0
    plain = tmp_path / "plain.parquet"
    assert cli.main([*argv, "--out", str(plain)]) == 0
    assert (
        rgg.io.read_results(plain)[0]["auroc"].null_count() == rgg.io.read_results(plain)[0].height
    )
