"""Thousands of groups (perturbation screens, fine atlases): results, storage and tables.

A group's result against the rest depends on the other cells, not on how they are labelled,
and against a control only on the control: so every method is checked on 2,000 groups
against the same groups ranked with the other cells relabelled into a handful of groups
(the path of the 12-group tests), and against scanpy where scanpy runs in test time.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from scipy import sparse

import rgg
from rgg import cli
from rgg.io import parquet, read_results, results_table
from rgg.io.layout import LAYOUT_KEY

from ._parity import assert_same_results, run_both

CONTROL = "non-targeting"
CHECKED = ["p0000", "p0007", "p0999", "p1500", "p1999"]


def screen(
    n_groups: int = 2000, per_group: int = 6, n_genes: int = 200, seed: int = 0
) -> ad.AnnData:
    """``n_groups`` perturbations of ``per_group`` cells and 600 control cells, log1p counts.

    Every perturbation lowers its own gene (``p0007`` lowers gene 7, modulo the genes), so
    scores differ between groups; gene 0 is all zero, and counts are small (many ties).
    """
    rng = np.random.default_rng(seed)
    labels = np.concatenate(
        [np.repeat([f"p{i:04d}" for i in range(n_groups)], per_group), [CONTROL] * 600]
    )
    counts = rng.negative_binomial(2, 0.6, size=(labels.size, n_genes))
    counts *= rng.binomial(1, 0.5, size=counts.shape)
    for i in range(n_groups):
        counts[i * per_group : (i + 1) * per_group, i % n_genes] //= 4
    counts[:, 0] = 0
    obs = pd.DataFrame(
        {"perturbation": pd.Categorical(labels)}, index=[f"c{i}" for i in range(labels.size)]
    )
    var = pd.DataFrame(index=[f"g{j}" for j in range(n_genes)])
    return ad.AnnData(sparse.csr_matrix(np.log1p(counts).astype(np.float32)), obs=obs, var=var)


@pytest.fixture(scope="module")
def screen_2000() -> ad.AnnData:
    return screen()


def relabelled(adata: ad.AnnData, keep: list[str]) -> ad.AnnData:
    """``adata`` with every group outside ``keep`` (and the control) merged into 8 groups."""
    labels = adata.obs["perturbation"].astype(str).to_numpy().copy()
    others = ~np.isin(labels, [*keep, CONTROL])
    labels[others] = [f"merged{i % 8}" for i in range(others.sum())]
    out = adata.copy()
    out.obs["perturbation"] = pd.Categorical(labels)
    return out


def field_values(uns: dict, group: str, field: str) -> pd.Series:
    """``field`` of ``group`` indexed by gene name (rank order is only defined up to ties)."""
    return pd.Series(np.asarray(uns[field][group]), index=np.asarray(uns["names"][group]))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "params"),
    [
        ("wilcoxon", {}),
        ("wilcoxon", {"tie_correct": True, "auroc": True}),
        ("t-test", {"pts": True}),
        ("t-test_overestim_var", {}),
    ],
)
@pytest.mark.parametrize("reference", ["rest", CONTROL])
def test_2000_groups_equal_the_few_group_path(
    screen_2000: ad.AnnData, method: str, params: dict, reference: str
) -> None:
    many = screen_2000.copy()
    rgg.rank_genes_groups(many, "perturbation", method=method, reference=reference, **params)
    few = relabelled(screen_2000, CHECKED)
    rgg.rank_genes_groups(few, "perturbation", method=method, reference=reference, **params)
    ours, expected = many.uns["rank_genes_groups"], few.uns["rank_genes_groups"]
    n_reported = 2000 if reference == CONTROL else 2001
    assert len(ours["names"].dtype.names) == n_reported
    exact = method == "wilcoxon"  # rank sums are exact; rest sums add up in another order
    for group in CHECKED:
        for field in ("scores", "pvals", "pvals_adj", "logfoldchanges", "auroc"):
            if field not in expected:
                assert field not in ours
                continue
            got = field_values(ours, group, field)
            want = field_values(expected, group, field).reindex(got.index)
            if exact and field != "logfoldchanges":
                np.testing.assert_array_equal(got.to_numpy(), want.to_numpy(), err_msg=field)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=field)
        if "pts" in expected:
            pd.testing.assert_series_equal(ours["pts"][group], expected["pts"][group])


@pytest.mark.slow
def test_2000_groups_match_scanpy_against_a_control() -> None:
    adata = screen(n_genes=30)
    theirs, ours = run_both(adata, "perturbation", method="t-test", reference=CONTROL, pts=True)
    assert_same_results(theirs, ours)


@pytest.mark.slow
def test_2000_groups_logreg_matches_scanpy() -> None:
    # a short fit (max_iter) keeps scanpy's 2,001-class fit in test time; both stop alike
    adata = screen(n_genes=20, per_group=3)
    theirs, ours = run_both(adata, "perturbation", method="logreg", max_iter=5)
    assert_same_results(theirs, ours)


def test_many_groups_are_bit_identical_across_thread_counts(screen_2000: ad.AnnData) -> None:
    results = []
    for n_jobs in (1, 2):
        adata = screen_2000.copy()
        rgg.rank_genes_groups(
            adata, "perturbation", method="wilcoxon", tie_correct=True, pts=True, n_jobs=n_jobs
        )
        results.append(adata.uns["rank_genes_groups"])
    one, two = results
    for field in ("scores", "pvals", "pvals_adj", "logfoldchanges"):
        assert one[field].tobytes() == two[field].tobytes(), field
    for group in one["names"].dtype.names:
        np.testing.assert_array_equal(one["names"][group], two["names"][group])
    pd.testing.assert_frame_equal(one["pts"], two["pts"], check_exact=True)


def test_joint_correction_over_2000_groups(screen_2000: ad.AnnData) -> None:
    statsmodels = pytest.importorskip("statsmodels.stats.multitest")
    adata = screen_2000.copy()
    rgg.rank_genes_groups(adata, "perturbation", method="wilcoxon", corr_scope="all")
    uns = adata.uns["rank_genes_groups"]
    groups = uns["names"].dtype.names
    pvals = np.concatenate([np.asarray(uns["pvals"][g]) for g in groups])
    expected = statsmodels.multipletests(pvals, method="fdr_bh")[1]
    got = np.concatenate([np.asarray(uns["pvals_adj"][g]) for g in groups])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# --- storage ------------------------------------------------------------------------------


def test_results_below_the_hdf5_limit_keep_scanpy_layout(tmp_path: Path) -> None:
    adata = screen(n_groups=12, n_genes=20)
    rgg.rank_genes_groups(adata, "perturbation", method="wilcoxon", pts=True)
    rgg.write_h5ad(adata, tmp_path / "small.h5ad")
    with h5py.File(tmp_path / "small.h5ad") as handle:
        names = handle["uns/rank_genes_groups/names"]
        assert isinstance(names, h5py.Dataset)
        assert names.dtype.names is not None  # a compound dataset: scanpy's record array
        assert LAYOUT_KEY not in handle["uns/rank_genes_groups"]


def test_10000_groups_round_trip_through_rank_and_annotate(tmp_path: Path) -> None:
    """`rgg rank --uns-out` and `rgg annotate` store 10,000 groups; both readers read them."""
    sc = pytest.importorskip("scanpy")
    data = screen(n_groups=10_000, per_group=3, n_genes=20)
    labels = data.obs["perturbation"].astype(str).to_numpy()
    labels[labels == "p0003"] = "a/b"  # a label HDF5 cannot use as a name
    data.obs["perturbation"] = pd.Categorical(labels)
    source = tmp_path / "screen.h5ad"
    data.write_h5ad(source)
    uns_file, table_file = tmp_path / "rank.uns.h5ad", tmp_path / "rank.parquet"
    args = ["rank", str(source), "--groupby", "perturbation", "--method", "wilcoxon",
            "--reference", CONTROL, "--pts", "--n-genes", "5", "--key-added", "screen",
            "--uns-out", str(uns_file), "--out", str(table_file), "--no-progress"]  # fmt: skip
    assert cli.main(args) == 0
    annotated = tmp_path / "annotated.h5ad"
    assert cli.main(["annotate", str(source), str(uns_file), "--out", str(annotated)]) == 0

    expected = data.copy()
    rgg.rank_genes_groups(
        expected, "perturbation", method="wilcoxon", reference=CONTROL, pts=True, n_genes=5,
        key_added="screen",
    )  # fmt: skip
    plain = ad.read_h5ad(annotated)  # plain anndata reads the file: the columns layout
    assert plain.uns["screen"][LAYOUT_KEY]["format"] == "groups-as-columns"
    assert plain.uns["screen"]["scores"].shape == (5, 10_000)
    back = rgg.read_h5ad(annotated)
    theirs, ours = expected.uns["screen"], back.uns["screen"]
    assert set(ours) == set(theirs)
    assert ours["params"] == theirs["params"]
    for field in ("names", "scores", "pvals", "pvals_adj", "logfoldchanges"):
        assert type(ours[field]) is np.recarray
        assert ours[field].dtype == theirs[field].dtype, field
        for group in ("p0000", "a/b", "p9999"):
            np.testing.assert_array_equal(ours[field][group], theirs[field][group])
    pd.testing.assert_frame_equal(ours["pts"], theirs["pts"])
    frame = sc.get.rank_genes_groups_df(back, group=["a/b", "p9999"], key="screen")
    assert len(frame) == 10
    assert set(frame["group"]) == {"a/b", "p9999"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pl.rank_genes_groups_dotplot(
            back, groups=["a/b", "p0001"], n_genes=2, key="screen", dendrogram=False, show=False
        )
    table, _params = read_results(table_file)
    assert len(table) == 5 * 10_000
    assert_frame_equal(table, results_table(theirs, dataset="screen", grouping="perturbation",
                                            test="wilcoxon"))  # fmt: skip


def test_scanpy_results_of_1500_groups_can_be_stored(tmp_path: Path) -> None:
    sc = pytest.importorskip("scanpy")
    adata = screen(n_groups=1500, per_group=3, n_genes=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.tl.rank_genes_groups(adata, "perturbation", method="t-test", reference=CONTROL)
    with pytest.raises(Exception, match="header message is too large"):
        adata.copy().write_h5ad(tmp_path / "scanpy_alone.h5ad")  # why the layout exists
    rgg.write_h5ad(adata, tmp_path / "scanpy.h5ad")
    back = rgg.read_h5ad(tmp_path / "scanpy.h5ad").uns["rank_genes_groups"]
    assert_same_results(adata.uns["rank_genes_groups"], back)


def test_long_table_streams_in_blocks_of_groups(
    screen_2000: ad.AnnData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    adata = screen_2000.copy()
    rgg.rank_genes_groups(adata, "perturbation", method="t-test", pts=True, auroc=True)
    uns = adata.uns["rank_genes_groups"]
    whole = results_table(uns, dataset="d", grouping="g", test="t")
    assert len(whole) == parquet.results_rows(uns) == 200 * 2001
    monkeypatch.setattr(parquet, "BATCH_ROWS", 1000)  # 5 groups per block: 401 blocks
    path = tmp_path / "t.parquet"
    lazy = parquet.results_lazy(uns, dataset="d", grouping="g", test="t")
    parquet.write_results(lazy, path, params={"method": "t-test"}, rgg_version="test")
    assert_frame_equal(pl.read_parquet(path), whole)
    first = whole.filter(pl.col("group") == "p0007").sort("rank")
    assert first["gene"].to_list() == list(uns["names"]["p0007"])
    np.testing.assert_array_equal(
        first["pts"].to_numpy(), uns["pts"]["p0007"].reindex(first["gene"].to_list()).to_numpy()
    )
