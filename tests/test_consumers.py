"""scanpy's own consumers of ``rank_genes_groups`` results work on rgg's results.

``sc.get.rank_genes_groups_df``, the ``sc.pl.rank_genes_groups*`` plots,
``sc.tl.filter_rank_genes_groups`` and an h5ad round trip, each run on rgg's output and
compared with the same consumer run on scanpy's output for the same data; plus
``rgg.get.rank_genes_groups_df`` against ``sc.get.rank_genes_groups_df`` on either output.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from matplotlib.axes import Axes

import rgg

from ._parity import TOL

GROUPBY = "bulk_labels"
KEY = "rank_genes_groups"
CUSTOM_KEY = "de_custom"
#: groups reported by every case below (Dendritic is the reference of the t-test case)
MONO, B_CELL, NK = "CD14+ Monocyte", "CD19+ B", "CD56+ NK"
#: a scanpy quirk: rank_genes_groups_violin labels ticks without fixing them first
VIOLIN_TICKS_WARNING = "ignore:set_ticklabels\\(\\) should only be used:UserWarning"
#: anndata 0.12 warns about the '/' in group names such as 'CD4+/CD25 T Reg' (pts columns)
H5_SLASH_WARNING = "ignore:Forward slashes will be disallowed in h5 stores:FutureWarning"


@dataclass(frozen=True)
class Agreement:
    """How closely rgg's numbers must agree with scanpy's (the project's parity tolerances)."""

    rtol: float = 0.0
    atol: float = 0.0

    @property
    def exact(self) -> bool:
        return self.rtol == 0 and self.atol == 0


#: case id -> (rank_genes_groups kwargs, agreement of the resulting numbers)
CASES: dict[str, tuple[dict[str, Any], Agreement]] = {
    "wilcoxon-pts": ({"method": "wilcoxon", "pts": True}, Agreement()),
    "t-test-ref": (
        {"method": "t-test", "reference": "Dendritic", "pts": True},
        Agreement(rtol=TOL.pvals_rtol),
    ),
    "logreg": ({"method": "logreg"}, Agreement(atol=TOL.logreg_atol)),
}

#: keyword arguments for rank_genes_groups_df (after adata)
QUERIES = [
    pytest.param({"group": None}, id="all"),
    pytest.param({"group": MONO}, id="one"),
    pytest.param({"group": [B_CELL, MONO]}, id="list"),
    pytest.param({"group": [NK]}, id="list-of-one"),
    pytest.param({"group": None, "pval_cutoff": 0.01}, id="pval_cutoff"),
    pytest.param({"group": None, "log2fc_min": 1.0}, id="log2fc_min"),
    pytest.param({"group": MONO, "log2fc_max": -1.0}, id="log2fc_max"),
    pytest.param(
        {"group": [NK, B_CELL], "pval_cutoff": 0.05, "log2fc_min": 0.5, "log2fc_max": 4.0},
        id="all-filters",
    ),
    pytest.param({"group": None, "gene_symbols": "symbol"}, id="gene_symbols"),
]
FILTERS = ("pval_cutoff", "log2fc_min", "log2fc_max")


@dataclass(frozen=True)
class Run:
    """One ``rank_genes_groups`` call, made by scanpy and by rgg on copies of the same data."""

    theirs: ad.AnnData
    ours: ad.AnnData


def run_both(base: ad.AnnData, **kwargs: Any) -> Run:
    """Results of scanpy and of rgg for the same call on copies of ``base``."""
    theirs, ours = base.copy(), base.copy()
    sc.tl.rank_genes_groups(theirs, GROUPBY, **kwargs)
    rgg.rank_genes_groups(ours, GROUPBY, **kwargs)
    return Run(theirs=theirs, ours=ours)


@pytest.fixture(scope="module", autouse=True)
def _agg_backend() -> None:
    """Draw off-screen."""
    matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def base(_pbmc_pristine: ad.AnnData) -> ad.AnnData:
    """pbmc68k_reduced without its stored results, with a gene-symbol column in ``var``."""
    adata = _pbmc_pristine.copy()
    del adata.uns[KEY]
    adata.var["symbol"] = "sym-" + adata.var_names.str.lower()
    return adata


@pytest.fixture(scope="module")
def runs(base: ad.AnnData) -> dict[str, Run]:
    """Every case of :data:`CASES`, computed once."""
    return {case: run_both(base, **kwargs) for case, (kwargs, _) in CASES.items()}


@pytest.fixture(scope="module")
def wilcoxon(runs: dict[str, Run]) -> Run:
    """Wilcoxon one-vs-rest with ``pts``: the run the plots are drawn from."""
    return runs["wilcoxon-pts"]


@pytest.fixture(scope="module")
def custom_key_run(base: ad.AnnData) -> Run:
    """Wilcoxon with ``pts`` stored under a custom key only, 25 genes per group."""
    return run_both(base, method="wilcoxon", pts=True, n_genes=25, key_added=CUSTOM_KEY)


def top_names(adata: ad.AnnData, groups: list[str], n: int, key: str = KEY) -> list[str]:
    """The first ``n`` stored names of each group, group after group."""
    names = adata.uns[key]["names"]
    return [str(gene) for group in groups for gene in names[group][:n]]


def _tied_rows(frame: pd.DataFrame, agreement: Agreement) -> np.ndarray:
    """Rows whose score equals a neighbour's of the same group, within the agreement."""
    scores = frame["scores"].to_numpy(np.float64)
    close = np.isclose(scores[1:], scores[:-1], rtol=agreement.rtol, atol=agreement.atol)
    if "group" in frame:
        group = frame["group"].astype(str).to_numpy()
        close &= group[1:] == group[:-1]
    tied = np.zeros(len(frame), dtype=bool)
    tied[1:] |= close
    tied[:-1] |= close
    return tied


def assert_frames_match(ours: pd.DataFrame, theirs: pd.DataFrame, agreement: Agreement) -> None:
    """rgg's frame equals scanpy's, up to the order of genes with tied scores.

    Row by row, groups and scores agree and names differ only inside blocks of tied scores;
    sorted by (group, names), every column agrees within ``agreement``.
    """
    assert list(ours.columns) == list(theirs.columns)
    assert ours.dtypes.to_dict() == theirs.dtypes.to_dict()
    assert len(ours) == len(theirs)
    if "group" in theirs:
        pd.testing.assert_series_equal(ours["group"], theirs["group"])
    np.testing.assert_allclose(
        ours["scores"].to_numpy(np.float64),
        theirs["scores"].to_numpy(np.float64),
        rtol=agreement.rtol,
        atol=agreement.atol,
        err_msg="scores in rank order",
    )
    differ = ours["names"].to_numpy() != theirs["names"].to_numpy()
    tied = _tied_rows(theirs, agreement)
    assert tied[differ].all(), f"names differ outside ties: rows {np.flatnonzero(differ & ~tied)}"

    by = [column for column in ("group", "names") if column in theirs]
    ours_sorted = ours.sort_values(by, kind="stable").reset_index(drop=True)
    theirs_sorted = theirs.sort_values(by, kind="stable").reset_index(drop=True)
    if agreement.exact:
        pd.testing.assert_frame_equal(ours_sorted, theirs_sorted, check_exact=True)
    else:
        pd.testing.assert_frame_equal(
            ours_sorted, theirs_sorted, check_exact=False, rtol=agreement.rtol, atol=agreement.atol
        )


# --- 1. rank_genes_groups_df -------------------------------------------------------------


@pytest.mark.parity
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("case", CASES)
def test_scanpy_get_df_on_rgg_output(
    runs: dict[str, Run], case: str, query: dict[str, Any]
) -> None:
    """``sc.get.rank_genes_groups_df`` gives the same table for rgg's and scanpy's results."""
    run = runs[case]
    ours = sc.get.rank_genes_groups_df(run.ours, **query)
    theirs = sc.get.rank_genes_groups_df(run.theirs, **query)
    assert_frames_match(ours, theirs, CASES[case][1])

    unfiltered = sc.get.rank_genes_groups_df(run.theirs, query["group"])
    if not any(query.get(name) is not None for name in FILTERS):
        assert len(theirs) == len(unfiltered) > 0
    elif case == "logreg":  # the filters do not apply to logreg
        assert len(theirs) == len(unfiltered)
    else:  # the filters removed something and left something
        assert 0 < len(theirs) < len(unfiltered)
    if "gene_symbols" in query:
        assert theirs["symbol"].notna().all()
    assert ("pct_nz_group" in theirs) == (case != "logreg")
    assert ("pct_nz_reference" in theirs) == (case == "wilcoxon-pts")


@pytest.mark.parity
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("source", ["scanpy", "rgg"])
def test_rgg_get_df_equals_scanpy_get_df(
    runs: dict[str, Run], case: str, query: dict[str, Any], source: str
) -> None:
    """``rgg.get.rank_genes_groups_df`` equals scanpy's on either tool's stored results."""
    run = runs[case]
    adata = run.theirs if source == "scanpy" else run.ours
    expected = sc.get.rank_genes_groups_df(adata, **query)
    pd.testing.assert_frame_equal(
        rgg.get.rank_genes_groups_df(adata, **query), expected, check_exact=True
    )


@pytest.mark.parity
@pytest.mark.parametrize("group", [None, MONO, [NK, MONO]], ids=["all", "one", "list"])
def test_get_df_with_custom_key(custom_key_run: Run, group: str | list[str] | None) -> None:
    """Results under ``key_added`` are read with ``key=`` by both getters, from both tools."""
    run = custom_key_run
    theirs = sc.get.rank_genes_groups_df(run.theirs, group, key=CUSTOM_KEY)
    assert_frames_match(
        sc.get.rank_genes_groups_df(run.ours, group, key=CUSTOM_KEY), theirs, Agreement()
    )
    for adata in (run.theirs, run.ours):
        pd.testing.assert_frame_equal(
            rgg.get.rank_genes_groups_df(adata, group, key=CUSTOM_KEY),
            sc.get.rank_genes_groups_df(adata, group, key=CUSTOM_KEY),
            check_exact=True,
        )
    n_groups = len(run.theirs.obs[GROUPBY].cat.categories) if group is None else len(group)
    assert len(theirs) == 25 * (1 if isinstance(group, str) else n_groups)


@pytest.mark.parity
@pytest.mark.parametrize("getter", ["scanpy", "rgg"])
@pytest.mark.parametrize("source", ["scanpy", "rgg"])
@pytest.mark.parametrize("key", [KEY, "missing"], ids=["default-key", "other-key"])
def test_get_df_missing_key_raises(custom_key_run: Run, getter: str, source: str, key: str) -> None:
    """With results only under a custom key, any other key raises ``KeyError``, as in scanpy."""
    adata = custom_key_run.theirs if source == "scanpy" else custom_key_run.ours
    get_df = sc.get.rank_genes_groups_df if getter == "scanpy" else rgg.get.rank_genes_groups_df
    assert KEY not in adata.uns
    with pytest.raises(KeyError):
        get_df(adata, None, key=key)


@pytest.mark.parity
@pytest.mark.parametrize("getter", ["scanpy", "rgg"])
@pytest.mark.parametrize("source", ["scanpy", "rgg"])
def test_get_df_unreported_group_raises(runs: dict[str, Run], getter: str, source: str) -> None:
    """Asking for the reference, which is not reported, raises ``KeyError`` in both getters."""
    run = runs["t-test-ref"]
    adata = run.theirs if source == "scanpy" else run.ours
    get_df = sc.get.rank_genes_groups_df if getter == "scanpy" else rgg.get.rank_genes_groups_df
    with pytest.raises(KeyError):
        get_df(adata, "Dendritic")


# --- 2. plots ------------------------------------------------------------------------------

PLOT_GROUPS = [MONO, "Dendritic"]


def _labels(axes: Axes) -> list[str]:
    """The non-empty x tick labels."""
    return [label.get_text() for label in axes.get_xticklabels() if label.get_text()]


def _drawn(axes: Axes) -> Axes:
    """Render the axes' figure (errors may surface only then) and return the axes."""
    assert axes.figure is not None
    axes.figure.canvas.draw()
    return axes


@pytest.mark.parity
def test_pl_rank_genes_groups(wilcoxon: Run) -> None:
    """One panel per group, titled as scanpy titles it, listing rgg's top genes."""
    n_genes = 4
    axes = sc.pl.rank_genes_groups(wilcoxon.ours, n_genes=n_genes, show=False)
    groups = list(wilcoxon.ours.uns[KEY]["names"].dtype.names)
    assert len(axes) == len(groups)
    theirs = sc.pl.rank_genes_groups(wilcoxon.theirs, n_genes=n_genes, show=False)
    for ax, their_ax, group in zip(axes, theirs, groups, strict=True):
        _drawn(ax)
        assert ax.get_title() == their_ax.get_title() == f"{group} vs. rest"
        texts = [text.get_text() for text in ax.texts]
        assert texts == top_names(wilcoxon.ours, [group], n_genes)
        assert texts == [text.get_text() for text in their_ax.texts]


def _gene_axis_labels(name: str, axes: dict[str, Any]) -> list[str]:
    """The gene labels of a ``rank_genes_groups_<name>`` plot, in plotted order."""
    if name == "heatmap":
        return _labels(axes["heatmap_ax"])
    if name == "tracksplot":
        return [ax.get_ylabel() for ax in axes["track_axes"]]
    return _labels(axes["mainplot_ax"])


@pytest.mark.parametrize(
    "name", ["dotplot", "matrixplot", "stacked_violin", "heatmap", "tracksplot"]
)
def test_grouped_plots_show_rgg_top_genes(wilcoxon: Run, name: str) -> None:
    """The grouped plots run on rgg's results and label rgg's top genes of each group."""
    n_genes = 2
    plot: Callable[..., dict[str, Any]] = getattr(sc.pl, f"rank_genes_groups_{name}")
    axes = plot(wilcoxon.ours, n_genes=n_genes, groups=PLOT_GROUPS, dendrogram=False, show=False)
    assert axes
    for ax in axes.values():
        if isinstance(ax, Axes):
            _drawn(ax)
    assert _gene_axis_labels(name, axes) == top_names(wilcoxon.ours, PLOT_GROUPS, n_genes)


@pytest.mark.filterwarnings(VIOLIN_TICKS_WARNING)
def test_violin_shows_rgg_top_genes(wilcoxon: Run) -> None:
    """``rank_genes_groups_violin`` runs on rgg's results and labels rgg's top genes."""
    n_genes = 3
    axes = sc.pl.rank_genes_groups_violin(wilcoxon.ours, groups=[MONO], n_genes=n_genes, show=False)
    assert len(axes) == 1
    assert _labels(_drawn(axes[0])) == top_names(wilcoxon.ours, [MONO], n_genes)
    assert axes[0].get_title() == f"{MONO} vs. rest"


@pytest.mark.parity
@pytest.mark.parametrize(
    ("name", "values_to_plot", "frame"),
    [
        ("dotplot", "logfoldchanges", "dot_color_df"),
        ("dotplot", "log10_pvals_adj", "dot_color_df"),
        ("matrixplot", "scores", "values_df"),
    ],
)
def test_values_to_plot_match_scanpy(
    wilcoxon: Run, name: str, values_to_plot: str, frame: str
) -> None:
    """Plotting stored statistics instead of expression shows scanpy's values and genes."""
    n_genes = 3
    plot = getattr(sc.pl, f"rank_genes_groups_{name}")
    kwargs = {"n_genes": n_genes, "values_to_plot": values_to_plot, "dendrogram": False}
    ours = plot(wilcoxon.ours, return_fig=True, **kwargs)
    theirs = plot(wilcoxon.theirs, return_fig=True, **kwargs)
    pd.testing.assert_frame_equal(getattr(ours, frame), getattr(theirs, frame))
    if name == "dotplot":  # the dot size is the expressing fraction of each group
        pd.testing.assert_frame_equal(ours.dot_size_df, theirs.dot_size_df)
    ours.make_figure()
    groups = list(wilcoxon.ours.uns[KEY]["names"].dtype.names)
    labels = _labels(_drawn(ours.get_axes()["mainplot_ax"]))
    assert labels == top_names(wilcoxon.ours, groups, n_genes)


# --- 3. filter_rank_genes_groups -----------------------------------------------------------

#: case id -> (rank_genes_groups kwargs, filter_rank_genes_groups kwargs), as in scanpy's test
FILTER_CASES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "reference": ({"reference": "Dendritic"}, {}),
    "rest": ({}, {}),
    "rest-pts": ({"pts": True}, {}),
    "rest-pts-abs": (
        {"pts": True, "rankby_abs": True},
        {
            "compare_abs": True,
            "min_in_group_fraction": -1,
            "max_out_group_fraction": 1,
            "min_fold_change": 3.1,
        },
    ),
}


@pytest.fixture(scope="module")
def filtered(base: ad.AnnData) -> dict[str, Run]:
    """Each :data:`FILTER_CASES` entry: wilcoxon with ``n_genes=5``, then the filter."""
    out = {}
    for case, (kwargs, filter_kwargs) in FILTER_CASES.items():
        run = run_both(base, method="wilcoxon", n_genes=5, **kwargs)
        for adata in (run.theirs, run.ours):
            sc.tl.filter_rank_genes_groups(adata, **filter_kwargs)
        out[case] = run
    return out


def _filtered_names(adata: ad.AnnData) -> np.ndarray:
    return np.array(adata.uns["rank_genes_groups_filtered"]["names"].tolist(), dtype=str)


@pytest.mark.parity
@pytest.mark.parametrize("case", FILTER_CASES)
def test_filter_rank_genes_groups(filtered: dict[str, Run], case: str) -> None:
    """The filter keeps and drops the same genes from rgg's results as from scanpy's."""
    ours = _filtered_names(filtered[case].ours)
    theirs = _filtered_names(filtered[case].theirs)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.shape[0] == 5
    dropped = ours == "nan"
    assert dropped.any()
    assert not dropped.all()


@pytest.mark.parity
def test_plot_filtered_results(filtered: dict[str, Run]) -> None:
    """A dotplot of the filtered key skips the dropped genes, as for scanpy's results."""
    run = filtered["rest-pts"]
    kwargs = {"key": "rank_genes_groups_filtered", "n_genes": 3, "dendrogram": False}
    ours = sc.pl.rank_genes_groups_dotplot(run.ours, show=False, **kwargs)
    theirs = sc.pl.rank_genes_groups_dotplot(run.theirs, show=False, **kwargs)
    labels = _labels(_drawn(ours["mainplot_ax"]))
    assert labels
    assert "nan" not in labels
    assert labels == _labels(theirs["mainplot_ax"])


# --- 4. h5ad round trip --------------------------------------------------------------------

RECORD_KEYS = ("names", "scores", "pvals", "pvals_adj", "logfoldchanges")


def _write_read(adata: ad.AnnData, path: Path) -> ad.AnnData:
    adata.write_h5ad(path)
    return ad.read_h5ad(path)


@pytest.fixture(scope="module")
def slash_free_runs(base: ad.AnnData) -> dict[str, Run]:
    """Every case of :data:`CASES` on labels without '/' (writable by every anndata)."""
    relabelled = base.copy()
    labels = relabelled.obs[GROUPBY].cat.categories
    relabelled.obs[GROUPBY] = relabelled.obs[GROUPBY].cat.rename_categories(
        [label.replace("/", "|") for label in labels]
    )
    return {case: run_both(relabelled, **kwargs) for case, (kwargs, _) in CASES.items()}


@pytest.mark.parity
@pytest.mark.parametrize("case", CASES)
def test_h5ad_round_trip(slash_free_runs: dict[str, Run], case: str, tmp_path: Path) -> None:
    """rgg's results survive write_h5ad/read_h5ad as scanpy's do, and still feed get_df."""
    run = slash_free_runs[case]
    before = run.ours.uns[KEY]
    read_back = _write_read(run.ours, tmp_path / "rgg.h5ad")
    after = read_back.uns[KEY]
    their_after = _write_read(run.theirs, tmp_path / "scanpy.h5ad").uns[KEY]

    assert set(after) == set(before) == set(their_after)
    assert after["params"] == before["params"]
    assert {k: type(v) for k, v in after["params"].items()} == {
        k: type(v) for k, v in their_after["params"].items()
    }
    for key in RECORD_KEYS:
        if key not in before:
            continue
        assert after[key].dtype == before[key].dtype, key
        assert after[key].dtype == their_after[key].dtype, key
        for group in before[key].dtype.names:
            np.testing.assert_array_equal(after[key][group], before[key][group], err_msg=key)
    for key in ("pts", "pts_rest"):
        if key in before:
            pd.testing.assert_frame_equal(after[key], before[key], check_exact=True)

    for query in ({"group": None}, {"group": [NK, MONO], "gene_symbols": "symbol"}):
        pd.testing.assert_frame_equal(
            sc.get.rank_genes_groups_df(read_back, **query),
            sc.get.rank_genes_groups_df(run.ours, **query),
            check_exact=True,
        )


def _write_outcome(adata: ad.AnnData, path: Path) -> str:
    """'written' after a successful round trip, or the reason anndata refused to write."""
    try:
        _write_read(adata, path)
    except ValueError as error:
        return "refused" if "Forward slashes are not allowed" in str(error) else str(error)
    return "written"


@pytest.mark.parity
@pytest.mark.filterwarnings(H5_SLASH_WARNING)
def test_h5ad_with_slash_labels_and_pts_behaves_as_scanpy(
    runs: dict[str, Run], tmp_path: Path
) -> None:
    """A '/' in a group label with ``pts``: anndata >= 0.13 refuses the pts column as an h5 key.

    rgg's results must write (anndata 0.12, with its FutureWarning) or fail (anndata 0.13)
    exactly as scanpy's do; the workflow's annotated h5ad has to work around it.
    """
    run = runs["wilcoxon-pts"]
    assert any("/" in label for label in run.ours.uns[KEY]["pts"].columns)
    outcomes = [
        _write_outcome(adata, tmp_path / f"{name}.h5ad")
        for name, adata in (("scanpy", run.theirs), ("rgg", run.ours))
    ]
    assert outcomes[0] == outcomes[1]
    from importlib.metadata import version

    from packaging.version import Version

    expected = "refused" if Version(version("anndata")) >= Version("0.13") else "written"
    assert outcomes[0] == expected
