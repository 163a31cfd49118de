"""A list of groups as the reference (scanpy issue 984; rgg's opt-in addition).

The oracle is scanpy itself on a copy whose reference groups are relabelled as one group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rgg
from rgg import cli
from rgg.io.h5ad import read_h5ad, write_h5ad

from ._data import MATRIX_KINDS, awkward_adata

sc = pytest.importorskip("scanpy")

POOL = ["b", "c/d +"]
POOL_LABEL = "b + c/d +"


def _pooled_copy(adata, pool: list[str], label: str = "POOL"):
    """The same cells with the pool's groups relabelled as one category, placed last."""
    relabelled = adata.copy()
    column = relabelled.obs["group"].astype(object)
    column[column.isin(pool)] = label
    kept = [c for c in adata.obs["group"].cat.categories if c not in pool]
    relabelled.obs["group"] = pd.Categorical(column, categories=[*kept, label])
    return relabelled


def _by_gene(uns: dict, group: str, fields: tuple[str, ...]) -> pd.DataFrame:
    return pd.DataFrame({f: uns[f][group] for f in ("names", *fields)}).set_index("names")


@pytest.mark.parametrize("method", ["t-test", "t-test_overestim_var", "wilcoxon"])
@pytest.mark.parametrize(("kind", "make"), MATRIX_KINDS[:3], ids=[k for k, _ in MATRIX_KINDS[:3]])
def test_pooled_reference_equals_scanpy_on_relabelled_groups(kind: str, make, method: str) -> None:
    adata = awkward_adata(make, np.float64, seed=7)
    rgg.rank_genes_groups(adata, "group", method=method, reference=POOL, pts=True, tie_correct=True)
    oracle = _pooled_copy(adata, POOL)
    sc.tl.rank_genes_groups(
        oracle, "group", method=method, reference="POOL", pts=True, tie_correct=True
    )
    ours, theirs = adata.uns["rank_genes_groups"], oracle.uns["rank_genes_groups"]
    assert ours["params"]["reference"] == POOL_LABEL
    assert ours["params"]["reference_groups"] == POOL
    assert ours["names"].dtype.names == ("a", "tiny", "e")
    fields = ("scores", "pvals", "pvals_adj", "logfoldchanges")
    for group in ("a", "tiny", "e"):
        mine, scanpy = _by_gene(ours, group, fields), _by_gene(theirs, group, fields)
        mine = mine.loc[scanpy.index]
        np.testing.assert_allclose(mine["scores"], scanpy["scores"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(mine["pvals"], scanpy["pvals"], rtol=1e-4, atol=1e-12)
        np.testing.assert_allclose(mine["pvals_adj"], scanpy["pvals_adj"], rtol=1e-4, atol=1e-12)
        np.testing.assert_allclose(
            mine["logfoldchanges"], scanpy["logfoldchanges"], rtol=1e-5, atol=1e-5
        )
    # pts: the compared groups; pts_rest: the pool, which scanpy has as its "POOL" column
    pd.testing.assert_frame_equal(ours["pts"], theirs["pts"][["a", "tiny", "e"]])
    for group in ("a", "tiny", "e"):
        np.testing.assert_allclose(ours["pts_rest"][group], theirs["pts"]["POOL"])


def test_pooled_reference_logreg_equals_scanpy_on_relabelled_groups() -> None:
    adata = awkward_adata(seed=8)
    rgg.rank_genes_groups(adata, "group", method="logreg", reference=POOL, max_iter=500)
    oracle = _pooled_copy(adata, POOL)
    sc.tl.rank_genes_groups(oracle, "group", method="logreg", reference="POOL", max_iter=500)
    ours, theirs = adata.uns["rank_genes_groups"], oracle.uns["rank_genes_groups"]
    # more than two classes: scanpy reports every class, the pool included
    assert ours["names"].dtype.names == ("a", "tiny", "e", POOL_LABEL)
    for mine_label, their_label in zip(
        ours["names"].dtype.names, theirs["names"].dtype.names, strict=True
    ):
        mine = _by_gene(ours, mine_label, ("scores",))
        scanpy = _by_gene(theirs, their_label, ("scores",))
        np.testing.assert_allclose(mine.loc[scanpy.index, "scores"], scanpy["scores"], atol=1e-3)


def test_groups_subset_with_pool_on_pbmc() -> None:
    adata = sc.datasets.pbmc68k_reduced()
    pool = ["CD14+ Monocyte", "Dendritic"]
    groups = ["CD56+ NK", "CD19+ B", "Dendritic"]  # a pool member listed in groups: not reported
    rgg.rank_genes_groups(adata, "bulk_labels", method="wilcoxon", reference=pool, groups=groups)
    assert adata.uns["rank_genes_groups"]["names"].dtype.names == ("CD56+ NK", "CD19+ B")
    oracle = adata.copy()
    labels = oracle.obs["bulk_labels"].astype(str)
    oracle.obs["pooled"] = pd.Categorical(labels.where(~labels.isin(pool), "POOL"))
    sc.tl.rank_genes_groups(
        oracle, "pooled", method="wilcoxon", reference="POOL", groups=["CD56+ NK", "CD19+ B"]
    )
    for group in ("CD56+ NK", "CD19+ B"):
        mine = _by_gene(adata.uns["rank_genes_groups"], group, ("scores", "pvals"))
        scanpy = _by_gene(oracle.uns["rank_genes_groups"], group, ("scores", "pvals"))
        np.testing.assert_allclose(mine.loc[scanpy.index], scanpy, rtol=1e-5, atol=1e-12)


def test_a_list_of_one_group_is_that_group() -> None:
    adata = awkward_adata(seed=9)
    listed = rgg.rank_genes_groups(adata, "group", reference=["b"], pts=True, copy=True)
    single = rgg.rank_genes_groups(adata, "group", reference="b", pts=True, copy=True)
    ours, theirs = listed.uns["rank_genes_groups"], single.uns["rank_genes_groups"]
    assert ours["params"] == theirs["params"]
    for field in ("names", "scores", "pvals_adj"):
        assert ours[field].tolist() == theirs[field].tolist()
    pd.testing.assert_frame_equal(ours["pts"], theirs["pts"])


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (["b", "tinny"], r"reference groups \['tinny'\] are not categories.*Did you mean 'tiny'\?"),
        (["b", "rest"], "mixes 'rest' with groups"),
        ([], "names no group"),
        (["a", "b", "c/d +", "tiny", "e"], "every selected group is part of reference"),
        (["tiny", "lonely"], None),
    ],
)
def test_bad_pools_are_refused_with_the_fix(reference, message) -> None:
    adata = awkward_adata(seed=10)
    before = dict(adata.uns)
    if message is None:  # a pool of one cell: 'lonely' has 1 cell, 'tiny' is not in it here
        column = adata.obs["group"].astype(object)
        column.iloc[0] = "lonely"
        adata.obs["group"] = pd.Categorical(column)
        reference = ["lonely", "nobody"]
        adata.obs["group"] = adata.obs["group"].cat.add_categories("nobody")
        message = (
            r"Could not calculate statistics for groups lonely \+ nobody.*'lonely \+ nobody': 1"
        )
    with pytest.raises(ValueError, match=message):
        rgg.rank_genes_groups(adata, "group", reference=reference)
    assert adata.uns == before


def test_pooled_results_survive_h5ad_and_scanpy_readers(tmp_path) -> None:
    adata = awkward_adata(seed=11)
    rgg.rank_genes_groups(adata, "group", method="wilcoxon", reference=POOL, pts=True)
    path = tmp_path / "pooled.h5ad"
    write_h5ad(adata, path)
    back = read_h5ad(path)
    params = back.uns["rank_genes_groups"]["params"]
    assert params["reference"] == POOL_LABEL
    assert list(params["reference_groups"]) == POOL
    frame = sc.get.rank_genes_groups_df(back, "a", pval_cutoff=0.05)
    assert len(frame) > 0
    assert (frame["pvals_adj"] < 0.05).all()
    table = sc.get.rank_genes_groups_df(back, "a")
    np.testing.assert_allclose(
        table.set_index("names")["pct_nz_reference"],
        back.uns["rank_genes_groups"]["pts_rest"]["a"].loc[table["names"]],
    )
    # scanpy's filter compares params['reference'] with 'rest': a string keeps that working
    sc.tl.filter_rank_genes_groups(back, min_fold_change=0.5)


def test_cli_takes_several_reference_groups(tmp_path) -> None:
    out = tmp_path / "pool.parquet"
    argv = ["rank", str(rgg.datasets.synthetic_path()), "--groupby", "cell_type"]
    argv += ["--method", "wilcoxon", "--reference", "NK", "--reference", "DC", "--out", str(out)]
    assert cli.main(argv) == 0
    table, params = rgg.io.read_results(out)
    assert params["reference"] == ["NK", "DC"]  # the request, as given
    assert set(table["reference"].unique()) == {"NK + DC"}
    assert set(table["group"].unique()) == {"B cell", "CD4+/CD8+ T", "Mono/Macro"}


def test_a_pool_named_like_an_existing_group_is_refused() -> None:
    adata = awkward_adata(seed=12)
    column = adata.obs["group"].astype(object)
    column.iloc[:3] = "a + b"
    adata.obs["group"] = pd.Categorical(column)
    with pytest.raises(ValueError, match="would be labelled 'a \\+ b', which is already a group"):
        rgg.rank_genes_groups(adata, "group", reference=["a", "b"])
