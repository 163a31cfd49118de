"""The public API: errors for bad input, and the documented departures from scanpy."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import rgg

from ._data import awkward_adata, count_adata


@pytest.fixture
def adata():
    return awkward_adata(sparse.csr_matrix, np.float32, seed=21)


def _with_previous_result(adata):
    rgg.rank_genes_groups(adata, "group", method="wilcoxon")
    return adata.uns["rank_genes_groups"]


# --- errors: each names the problem and the fix, with scanpy's exception type -----------------


def test_missing_groupby_lists_columns_and_suggests(adata) -> None:
    adata.obs["louvain"] = adata.obs["group"]
    with pytest.raises(
        KeyError,
        match=r"groupby='louvian' is not a column.*Did you mean 'louvain'.*Available columns",
    ):
        rgg.rank_genes_groups(adata, "louvian")


@pytest.mark.parametrize(
    "values", [np.arange(240) % 3, np.arange(240) % 2 == 0], ids=["int", "bool"]
)
def test_numeric_groupby_says_how_to_convert(adata, values) -> None:
    adata.obs["numeric"] = values
    with pytest.raises(
        ValueError, match=r"must be categories.*astype\(str\)\.astype\('category'\)"
    ) as info:
        rgg.rank_genes_groups(adata, "numeric")
    assert isinstance(info.value, AttributeError)  # what scanpy raises here


def test_unknown_group_lists_valid_groups(adata) -> None:
    with pytest.raises(
        ValueError, match=r"groups \['z'\] are not categories.*Valid groups: \['a', 'b'"
    ) as info:
        rgg.rank_genes_groups(adata, "group", groups=["a", "z"])
    assert isinstance(info.value, IndexError)  # what scanpy raises here


def test_unknown_reference_uses_scanpy_wording_and_suggests(adata) -> None:
    with pytest.raises(
        ValueError, match=r"reference = bb needs to be one of groupby = .*Did you mean 'b'"
    ):
        rgg.rank_genes_groups(adata, "group", reference="bb")


def test_one_cell_group_is_named_with_sizes(adata) -> None:
    labels = adata.obs["group"].astype(object).to_numpy(copy=True)
    labels[np.flatnonzero(labels == "tiny")[0]] = "a"
    adata.obs["group"] = pd.Categorical(
        labels, categories=["a", "b", "c/d +", "tiny", "e", "empty"]
    )
    with pytest.raises(
        ValueError,
        match=r"Could not calculate statistics for groups tiny, empty since they only contain one sample.*'tiny': 1, 'empty': 0",
    ):
        rgg.rank_genes_groups(adata, "group")
    # unselected small groups are fine, as in scanpy
    rgg.rank_genes_groups(adata, "group", groups=["a", "b"])
    assert adata.uns["rank_genes_groups"]["names"].dtype.names == ("a", "b")


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"method": "ttest"}, ValueError, r"Method must be one of .*got method='ttest'"),
        ({"corr_method": "fdr"}, ValueError, r"Correction method must be one of"),
        ({"groups": "a"}, ValueError, r"Specify a sequence of groups"),
        ({"groups": []}, ValueError, r"groups=\[\] selects no group"),
        (
            {"layer": "missing", "use_raw": False},
            KeyError,
            r"layer='missing' is not in adata.layers",
        ),
        ({"mask_var": "nope"}, ValueError, r"Did not find `adata.var\['nope'\]`"),
        (
            {"mask_var": np.ones(3, dtype=bool)},
            ValueError,
            r"The shape of the mask do not match the data",
        ),
        ({"mask_var": np.ones(40)}, ValueError, r"Mask array must be boolean"),
        ({"mask_var": np.zeros(40, dtype=bool)}, ValueError, r"mask_var selects no gene"),
        ({"use_raw": True}, ValueError, r"Received `use_raw=True`, but `adata.raw` is empty"),
        (
            {"method": "logreg", "groups": ["a"]},
            ValueError,
            r"Cannot perform logistic regression on a single cluster",
        ),
        ({"n_jobs": 0}, ValueError, r"n_jobs=0 is not a thread count"),
    ],
)
def test_bad_arguments(adata, kwargs, error, pattern) -> None:
    with pytest.raises(error, match=pattern):
        rgg.rank_genes_groups(adata, "group", **kwargs)


def test_layer_with_raw_needs_use_raw_false(adata) -> None:
    adata.raw = adata.copy()
    adata.layers["counts"] = adata.X.copy()
    with pytest.raises(
        ValueError, match=r"Cannot specify `layer` and have `use_raw=True`.*pass use_raw=False"
    ):
        rgg.rank_genes_groups(adata, "group", layer="counts")


def test_mask_against_wider_raw_is_explained(adata) -> None:
    adata.raw = adata.copy()
    small = adata[:, :10].copy()
    with pytest.raises(
        ValueError, match=r"mask_var has 10 entries .* adata.raw.X, the tested matrix, has 40 genes"
    ):
        rgg.rank_genes_groups(small, "group", mask_var=np.ones(10, dtype=bool))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("method", ["t-test", "wilcoxon"])
def test_non_finite_values_are_refused(adata, bad, method) -> None:
    x = adata.X.toarray()
    x[3, 4] = bad
    adata.X = sparse.csr_matrix(x)
    with pytest.raises(ValueError, match=r"holds 1 NaN or infinite values.*mask_var"):
        rgg.rank_genes_groups(adata, "group", method=method)
    # the gene can be left out
    mask = np.ones(adata.n_vars, dtype=bool)
    mask[4] = False
    rgg.rank_genes_groups(adata, "group", method=method, mask_var=mask)


def test_unsupported_matrix_is_not_implemented(adata) -> None:
    """A zarr array (anndata stores it as X) is refused with the kinds that work; backed
    and Dask matrices are ranked out of core (tests/test_lazy.py)."""
    import zarr

    adata.X = zarr.array(adata.X.toarray() if hasattr(adata.X, "toarray") else adata.X)
    with pytest.raises(
        NotImplementedError, match=r"not implemented for matrices of type.*zarr.*from_zarr"
    ):
        rgg.rank_genes_groups(adata, "group")


# --- departures from scanpy ---------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"groups": ["nope"]},
        {"reference": "nope"},
        {"method": "nope"},
        {"layer": "nope", "use_raw": False},
    ],
)
def test_failed_call_keeps_previous_results(adata, kwargs) -> None:
    """scanpy overwrites uns[key] before validating; rgg writes only on success."""
    previous = _with_previous_result(adata)
    with pytest.raises((ValueError, KeyError)):
        rgg.rank_genes_groups(adata, "group", **kwargs)
    assert adata.uns["rank_genes_groups"] is previous
    assert "names" in previous


def test_matrix_is_not_mutated(adata) -> None:
    """scanpy eliminates explicit zeros in place; rgg skips them without touching the matrix."""
    x = adata.X.copy()
    x.data[:5] = 0  # explicit zeros
    adata.X = x
    before = (x.data.copy(), x.indices.copy(), x.indptr.copy())
    rgg.rank_genes_groups(adata, "group", method="wilcoxon", pts=True)
    for a, b in zip(before, (adata.X.data, adata.X.indices, adata.X.indptr), strict=True):
        np.testing.assert_array_equal(a, b)
    # and explicit zeros count as zeros
    clean = awkward_adata(sparse.csr_matrix, np.float32, seed=21)
    clean.X = x.copy()
    clean.X.eliminate_zeros()
    rgg.rank_genes_groups(clean, "group", method="wilcoxon", pts=True)
    pd.testing.assert_frame_equal(
        adata.uns["rank_genes_groups"]["pts"], clean.uns["rank_genes_groups"]["pts"]
    )
    assert (
        adata.uns["rank_genes_groups"]["scores"].tobytes()
        == clean.uns["rank_genes_groups"]["scores"].tobytes()
    )


def test_copy_returns_new_object_and_leaves_input(adata) -> None:
    adata.obs["text"] = adata.obs["group"].astype(str).to_numpy(dtype=object)
    out = rgg.rank_genes_groups(adata, "group", copy=True)
    assert out is not adata
    assert "rank_genes_groups" in out.uns
    assert "rank_genes_groups" not in adata.uns
    assert not isinstance(adata.obs["text"].dtype, pd.CategoricalDtype)  # input not sanitised
    assert isinstance(out.obs["text"].dtype, pd.CategoricalDtype)  # copy sanitised as scanpy does


def test_raw_counts_warning(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="rgg"):
        rgg.rank_genes_groups(count_adata(), "group")
    assert "It seems you use rank_genes_groups on the raw count data" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rgg"):
        rgg.rank_genes_groups(awkward_adata(), "group")
    assert "raw count data" not in caplog.text


def test_only_positive_legacy_keyword(adata) -> None:
    rgg.rank_genes_groups(adata, "group", only_positive=False, key_added="abs")
    rgg.rank_genes_groups(adata, "group", rankby_abs=True, key_added="abs2")
    assert adata.uns["abs"]["scores"].tobytes() == adata.uns["abs2"]["scores"].tobytes()


def test_settings_n_jobs_is_restored() -> None:
    import numba

    before = numba.get_num_threads()
    rgg.settings.n_jobs = 1
    try:
        rgg.rank_genes_groups(awkward_adata(), "group", method="wilcoxon")
    finally:
        rgg.settings.n_jobs = None
    assert numba.get_num_threads() == before


def test_public_api() -> None:
    assert set(rgg.__all__) >= {"rank_genes_groups", "get", "settings", "__version__"}
    assert callable(rgg.get.rank_genes_groups_df)


def test_get_df_edge_groups(adata) -> None:
    rgg.rank_genes_groups(adata, "group", method="wilcoxon", pts=True)
    empty = rgg.get.rank_genes_groups_df(adata, [])
    assert empty.empty
    assert list(empty.columns) == [
        "group",
        "names",
        "scores",
        "logfoldchanges",
        "pvals",
        "pvals_adj",
        "pct_nz_group",
        "pct_nz_reference",
    ]
    with pytest.raises(KeyError):
        rgg.get.rank_genes_groups_df(adata, 0)  # not a group label, as in scanpy
    one = rgg.get.rank_genes_groups_df(adata, "tiny")
    assert "group" not in one.columns
    assert len(one) == adata.n_vars


def test_argument_names_match_the_signature() -> None:
    """The names logreg options may not use are exactly rank_genes_groups' parameters."""
    import inspect

    from rgg._parameters import ARGUMENT_NAMES

    parameters = inspect.signature(rgg.rank_genes_groups).parameters
    named = {name for name, p in parameters.items() if p.kind is not p.VAR_KEYWORD}
    assert named == ARGUMENT_NAMES


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_logreg_fits_the_matrix_without_copying_it():
    """With every cell in a group, scikit-learn gets X itself, not a row-selected copy."""
    import tracemalloc

    import anndata as ad
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    # more cells than genes, as in real data: the padded per-gene operands of the threaded
    # products are then small next to X
    x = sparse.random(3000, 800, density=0.3, format="csr", dtype=np.float32, random_state=rng)
    labels = pd.Categorical(rng.choice(["a", "b", "c"], size=3000))
    adata = ad.AnnData(X=x, obs=pd.DataFrame({"g": labels}, index=[f"c{i}" for i in range(3000)]))
    rgg.rank_genes_groups(adata, "g", method="logreg", max_iter=5)  # imports outside the trace
    tracemalloc.start()
    rgg.rank_genes_groups(adata, "g", method="logreg", max_iter=5)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    matrix_bytes = x.data.nbytes + x.indices.nbytes + x.indptr.nbytes
    assert peak < matrix_bytes, (peak, matrix_bytes)  # a copy alone would reach it
    coef = LogisticRegression(max_iter=5).fit(x, labels.codes).coef_
    scores = adata.uns["rank_genes_groups"]["scores"]
    names = adata.uns["rank_genes_groups"]["names"]
    for code, group in enumerate(["a", "b", "c"]):
        order = np.argsort(-coef[code], kind="stable")[:10]
        np.testing.assert_array_equal(names[group][:10], adata.var_names[order])
        np.testing.assert_allclose(scores[group][:10], coef[code][order].astype(np.float32))
