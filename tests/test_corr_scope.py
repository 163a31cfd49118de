"""corr_scope='all' (rgg's opt-in addition): one correction over every group's p-values."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

import rgg
from rgg import cli


@pytest.mark.parametrize("corr_method", ["benjamini-hochberg", "bonferroni"])
@pytest.mark.parametrize("reference", ["rest", "NK"])
def test_joint_correction_equals_statsmodels_on_all_pvalues(
    corr_method: str, reference: str
) -> None:
    adata = rgg.datasets.synthetic()
    kwargs = {"method": "wilcoxon", "reference": reference, "corr_method": corr_method}
    rgg.rank_genes_groups(adata, "cell_type", corr_scope="all", **kwargs)
    joint = adata.uns["rank_genes_groups"]
    groups = joint["names"].dtype.names
    # the raw p-values in gene order, group after group
    order = {g: adata.var_names.get_indexer(joint["names"][g]) for g in groups}
    pvals = np.concatenate([joint["pvals"][g][np.argsort(order[g])] for g in groups])
    method = {"benjamini-hochberg": "fdr_bh", "bonferroni": "bonferroni"}[corr_method]
    expected = multipletests(pvals, method=method)[1]
    got = np.concatenate([joint["pvals_adj"][g][np.argsort(order[g])] for g in groups])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert joint["params"]["corr_scope"] == "all"

    per_group = rgg.rank_genes_groups(adata, "cell_type", copy=True, **kwargs).uns[
        "rank_genes_groups"
    ]
    assert "corr_scope" not in per_group["params"]  # scanpy's params untouched by default
    for g in groups:  # same tests, same order; only the adjusted p-values differ
        np.testing.assert_array_equal(per_group["pvals"][g], joint["pvals"][g])
        if corr_method == "bonferroni":  # n_groups times the family: never smaller
            assert np.all(joint["pvals_adj"][g] >= per_group["pvals_adj"][g])


def test_unknown_scope_is_named() -> None:
    adata = rgg.datasets.synthetic()
    with pytest.raises(ValueError, match="corr_scope must be one of"):
        rgg.rank_genes_groups(adata, "cell_type", corr_scope="genes")


def test_cli_and_table(tmp_path) -> None:
    out = tmp_path / "t.parquet"
    argv = ["rank", str(rgg.datasets.synthetic_path()), "--groupby", "cell_type"]
    assert cli.main([*argv, "--corr-scope", "all", "--out", str(out)]) == 0
    assert rgg.io.read_results(out)[1]["corr_scope"] == "all"
