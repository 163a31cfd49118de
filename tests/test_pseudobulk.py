"""Pseudobulk DESeq2: aggregation against pandas, tests against a direct PyDESeq2 run.

The oracle here aggregates with pandas on the dense counts and calls PyDESeq2 itself, so it
shares no code with ``rgg.pseudobulk``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from rgg._errors import ColumnNotFoundError, UnknownGroupError
from rgg.datasets import make_synthetic
from rgg.pseudobulk import RESULT_COLUMNS, aggregate_counts, pseudobulk_deseq2

from ._data import MATRIX_KINDS, to_dense

with warnings.catch_warnings():  # pydeseq2.dds ignores every FutureWarning on import
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

# with few genes PyDESeq2's parametric trend may not converge; rgg passes that warning on
pytestmark = pytest.mark.filterwarnings("ignore:.*dispersion trend curve fitting did not converge")

#: donor labels that would break a formula if they reached it
DONORS = {"donor1": "donor 1", "donor2": "donor/2", "donor3": "donor+3", "donor4": "d 4 (x)"}
ZERO_GENE = 3


@pytest.fixture(scope="module")
def synthetic() -> ad.AnnData:
    """make_synthetic with 80 genes, awkward donor labels and one all-zero gene."""
    adata = make_synthetic(n_genes=80)
    adata.obs["donor"] = adata.obs["donor"].cat.rename_categories(DONORS)
    counts = adata.layers["counts"].tolil()
    counts[:, ZERO_GENE] = 0
    adata.layers["counts"] = counts.tocsr()
    return adata


def _pandas_sums(adata: ad.AnnData, groupby: str, sample: str) -> tuple[pd.DataFrame, pd.Series]:
    """Counts and cell numbers per (sample, group), by pandas on the dense counts."""
    counts = pd.DataFrame(to_dense(adata.layers["counts"]), columns=adata.var_names)
    frame = pd.concat([adata.obs[[sample, groupby]].reset_index(drop=True), counts], axis=1)
    grouped = frame.groupby([sample, groupby], observed=True)
    return grouped.sum(), grouped.size()


# --- aggregate_counts ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.float32, np.float64])
@pytest.mark.parametrize(("kind", "make"), MATRIX_KINDS, ids=[k for k, _ in MATRIX_KINDS])
def test_aggregate_matches_pandas(synthetic, kind, make, dtype) -> None:
    adata = synthetic.copy()
    adata.layers["counts"] = make(to_dense(synthetic.layers["counts"]).astype(dtype))
    expected, sizes = _pandas_sums(synthetic, "cell_type", "donor")
    bulk = aggregate_counts(adata, "cell_type", "donor", min_cells=0)
    assert isinstance(bulk.X, np.ndarray)
    assert bulk.X.dtype == np.int64
    np.testing.assert_array_equal(bulk.X, expected.to_numpy())
    assert list(zip(bulk.obs["sample"], bulk.obs["group"], strict=True)) == list(expected.index)
    np.testing.assert_array_equal(bulk.obs["n_cells"], sizes.to_numpy())
    assert list(bulk.var_names) == list(adata.var_names)
    assert list(bulk.obs["group"].cat.categories) == list(adata.obs["cell_type"].cat.categories)


def test_min_cells_drops_exactly_the_small_pairs(synthetic, caplog) -> None:
    _, sizes = _pandas_sums(synthetic, "cell_type", "donor")
    small = sizes[sizes < 10]
    assert 0 < len(small) < len(sizes)  # the test needs both kinds
    with caplog.at_level(logging.INFO, logger="rgg"):
        bulk = aggregate_counts(synthetic, "cell_type", "donor", min_cells=10)
    kept = set(zip(bulk.obs["sample"], bulk.obs["group"], strict=True))
    assert kept == set(sizes[sizes >= 10].index)
    for (donor, cell_type), n in small.items():
        assert f"{donor}/{cell_type} ({n})" in caplog.text


def test_nan_labels_are_left_out(synthetic) -> None:
    adata = synthetic.copy()
    adata.obs.loc[adata.obs_names[:25], "cell_type"] = np.nan
    adata.obs.loc[adata.obs_names[20:60], "donor"] = np.nan
    expected, sizes = _pandas_sums(adata, "cell_type", "donor")  # groupby drops NaN keys
    bulk = aggregate_counts(adata, "cell_type", "donor", min_cells=0)
    np.testing.assert_array_equal(bulk.X, expected.to_numpy())
    assert bulk.obs["n_cells"].sum() == adata.n_obs - 60 == sizes.sum()


def test_string_columns_and_layer_none() -> None:
    counts = np.array([[1, 0], [2, 5], [0, 7], [4, 4]])
    obs = pd.DataFrame({"g": ["x", "y", "x", "x"], "s": ["b", "b", "a", "b"]})
    adata = ad.AnnData(X=counts.astype(np.float32), obs=obs.set_axis([f"c{i}" for i in range(4)]))
    bulk = aggregate_counts(adata, "g", "s", layer=None, min_cells=0)
    assert list(bulk.obs_names) == ["a_x", "b_x", "b_y"]
    np.testing.assert_array_equal(bulk.X, [[0, 7], [5, 4], [2, 5]])


def test_float32_counts_are_summed_exactly() -> None:
    counts = np.array([[2.0**24], [1.0], [1.0]], dtype=np.float32)  # float32 sum would lose 2
    obs = pd.DataFrame({"g": ["x"] * 3, "s": ["a"] * 3}, index=["c0", "c1", "c2"])
    bulk = aggregate_counts(ad.AnnData(X=counts, obs=obs), "g", "s", layer=None, min_cells=0)
    assert bulk.X[0, 0] == 2**24 + 2


@pytest.mark.parametrize(
    ("column", "argument", "typo"),
    [("cell_type", "groupby", "cell_types"), ("donor", "sample", "Donor")],
)
def test_missing_column_suggests_the_closest(synthetic, column, argument, typo) -> None:
    kwargs = {"groupby": "cell_type", "sample": "donor", argument: typo}
    with pytest.raises(KeyError, match=f"Did you mean '{column}'"):
        aggregate_counts(synthetic, **kwargs)
    with pytest.raises(ColumnNotFoundError, match=f"{argument}='{typo}'"):
        pseudobulk_deseq2(synthetic, **kwargs)


def test_missing_layer(synthetic) -> None:
    with pytest.raises(ColumnNotFoundError, match=r"Did you mean 'counts'.*layer=None"):
        aggregate_counts(synthetic, "cell_type", "donor", layer="count")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: m * -1, "negative"),
        (lambda m: m * 0.5, "fractional"),
        (lambda m: np.where(m > 0, np.nan, m), "NaN or infinite"),
    ],
)
def test_counts_that_are_not_counts(synthetic, change, problem) -> None:
    adata = synthetic.copy()
    adata.layers["counts"] = sparse.csr_matrix(change(to_dense(synthetic.layers["counts"])))
    with pytest.raises(ValueError, match=rf"adata.layers\['counts'\] holds {problem} values"):
        aggregate_counts(adata, "cell_type", "donor")


def test_log_normalised_x_is_refused(synthetic) -> None:
    with pytest.raises(ValueError, match=r"adata.X holds fractional.*layer='counts'"):
        pseudobulk_deseq2(synthetic, "cell_type", "donor", layer=None)


# --- pseudobulk_deseq2 against PyDESeq2 ----------------------------------------------------


def _oracle(adata, group, reference, min_cells) -> tuple[pd.DataFrame, int]:
    """PyDESeq2 on pandas sums, paired design: samples with both arms of >= min_cells cells."""
    sums, sizes = _pandas_sums(adata, "cell_type", "donor")
    labels = sums.index.get_level_values("cell_type")
    in_reference = labels != group if reference == "rest" else labels == reference
    arms = {
        "trt": (sums[labels == group], sizes[labels == group]),
        "ctl": (sums[in_reference], sizes[in_reference]),
    }
    per_donor = {
        arm: (
            s.groupby(level="donor", observed=True).sum(),
            n.groupby(level="donor", observed=True).sum(),
        )
        for arm, (s, n) in arms.items()
    }
    donors = [
        d
        for d in adata.obs["donor"].cat.categories
        if all(d in n.index and n[d] >= min_cells for _, n in per_donor.values())
    ]
    codes = {d: f"d{i}" for i, d in enumerate(donors)}
    rows = [(arm, d) for arm in ("ctl", "trt") for d in donors]
    counts = pd.DataFrame(
        [per_donor[arm][0].loc[d].to_numpy() for arm, d in rows],
        index=[f"{arm}_{codes[d]}" for arm, d in rows],
        columns=adata.var_names,
    )
    metadata = pd.DataFrame(
        {"donor": [codes[d] for _, d in rows], "condition": [arm for arm, _ in rows]},
        index=counts.index,
    )
    inference = DefaultInference(n_cpus=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dds = DeseqDataSet(
            counts=counts,
            metadata=metadata,
            design="~donor + condition",
            refit_cooks=True,
            inference=inference,
            quiet=True,
        )
        dds.deseq2()
        stats = DeseqStats(
            dds, contrast=["condition", "trt", "ctl"], inference=inference, quiet=True
        )
        stats.summary()
    return stats.results_df, len(donors)


def _assert_matches_oracle(result: pd.DataFrame, adata, group, reference, min_cells) -> None:
    expected, n_donors = _oracle(adata, group, reference, min_cells)
    rows = result[result["group"] == group].set_index("gene")
    assert len(rows) == adata.n_vars
    got = rows.loc[expected.index]
    pairs = [
        ("base_mean", "baseMean"),
        ("log2_fold_change", "log2FoldChange"),
        ("lfc_se", "lfcSE"),
        ("stat", "stat"),
        ("pval", "pvalue"),
        ("pval_adj", "padj"),
    ]
    for ours, theirs in pairs:
        np.testing.assert_allclose(got[ours], expected[theirs], rtol=1e-6, err_msg=ours)
    assert (rows["n_samples_group"] == n_donors).all()
    assert (rows["n_samples_reference"] == n_donors).all()
    assert (rows["design"] == "~ sample + arm").all()
    assert (rows["reference"] == reference).all()


def _assert_sorted_by_stat(result: pd.DataFrame) -> None:
    for _, rows in result.groupby("group", observed=True, sort=False):
        stat = rows["stat"].to_numpy()
        finite = stat[~np.isnan(stat)]
        assert np.all(np.diff(finite) <= 0)
        assert np.isnan(stat[len(finite) :]).all()  # NaN last


def test_one_vs_rest_matches_pydeseq2(synthetic) -> None:
    groups = ["CD4+/CD8+ T", "B cell"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = pseudobulk_deseq2(synthetic, "cell_type", "donor", groups=groups)
    # 8 pseudobulks, 5 coefficients: pydeseq2's residual-df warning is expected and silenced
    assert not [w for w in caught if "degrees of freedom" in str(w.message)]
    # others (here: the trend fit of CD4+/CD8+ T did not converge) pass on, naming the group
    passed_on = [
        str(w.message)
        for w in caught
        if "pydeseq2" in w.filename
        and not issubclass(w.category, DeprecationWarning | FutureWarning)
    ]
    assert passed_on
    assert all(m.startswith("group 'CD4+/CD8+ T' vs 'rest': ") for m in passed_on)
    assert list(result.columns) == RESULT_COLUMNS
    assert list(result["group"].cat.categories) == ["B cell", "CD4+/CD8+ T"]  # category order
    assert result["group"].iloc[0] == "B cell"
    for group in groups:
        _assert_matches_oracle(result, synthetic, group, "rest", min_cells=10)
    _assert_sorted_by_stat(result)
    # a gene with no counts anywhere is kept, with base_mean 0 and NaN statistics
    zero = result[result["gene"] == synthetic.var_names[ZERO_GENE]]
    assert len(zero) == 2
    assert (zero["base_mean"] == 0).all()
    assert zero[["log2_fold_change", "lfc_se", "stat", "pval", "pval_adj"]].isna().all(axis=None)
    assert result.dtypes["n_samples_group"] == np.int64
    assert result.dtypes["base_mean"] == np.float64


def test_vs_reference_matches_pydeseq2_and_skips_small_groups(synthetic, caplog) -> None:
    # DC has >= 10 cells in one donor only: skipped, with a warning naming its samples
    with caplog.at_level(logging.WARNING, logger="rgg"):
        result = pseudobulk_deseq2(
            synthetic, "cell_type", "donor", groups=["DC", "NK", "Mono/Macro"], reference="NK"
        )
    assert "skipped group 'DC' vs 'NK': 1 sample(s) in the group arm" in caplog.text
    assert list(result["group"].unique()) == ["Mono/Macro"]  # the reference is not reported
    _assert_matches_oracle(result, synthetic, "Mono/Macro", "NK", min_cells=10)


def test_nothing_testable_raises(synthetic) -> None:
    with pytest.raises(ValueError, match=r"no group could be tested.*'B cell' vs 'rest'"):
        pseudobulk_deseq2(synthetic, "cell_type", "donor", min_cells=1000)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"reference": "NKs"}, UnknownGroupError, "Did you mean 'NK'"),
        ({"groups": ["B cells"]}, UnknownGroupError, "Did you mean 'B cell'"),
        ({"groups": "NK"}, ValueError, r"a list of group labels, e\.g\. \['NK'\]"),
        ({"design": "nested"}, ValueError, "design must be one of"),
        ({"n_jobs": 0}, ValueError, "n_jobs=0"),
        ({"min_cells": -1}, ValueError, "min_cells=-1"),
    ],
)
def test_bad_options(synthetic, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        pseudobulk_deseq2(synthetic, "cell_type", "donor", **kwargs)


# --- designs on data with planted effects ----------------------------------------------------

UP, DOWN = range(10), range(10, 20)
STIM = "stim 24h/+"


def _nested(n_donors: int = 8, cells: int = 40, n_genes: int = 60, seed: int = 0) -> ad.AnnData:
    """Donors nested in condition (first half ctrl); genes 0-9 x4 and 10-19 /4 in stim."""
    rng = np.random.default_rng(seed)
    base = rng.lognormal(mean=0.5, sigma=0.8, size=n_genes)
    stim = np.repeat(np.arange(n_donors) >= n_donors // 2, cells)
    donor_effect = rng.lognormal(sigma=0.2, size=(n_donors, n_genes))
    mu = base * np.repeat(donor_effect, cells, axis=0)
    mu[np.ix_(stim, UP)] *= 4
    mu[np.ix_(stim, DOWN)] /= 4
    counts = rng.negative_binomial(5, 5 / (5 + mu))
    obs = pd.DataFrame(
        {
            "condition": pd.Categorical(np.where(stim, STIM, "ctrl"), categories=["ctrl", STIM]),
            "donor": pd.Categorical([f"donor {i}" for i in np.repeat(range(n_donors), cells)]),
        },
        index=[f"cell{i}" for i in range(len(stim))],
    )
    var = pd.DataFrame(index=[f"gene{i}" for i in range(n_genes)])
    return ad.AnnData(X=sparse.csr_matrix(counts.astype(np.float32)), obs=obs, var=var)


def test_unpaired_design_finds_planted_genes() -> None:
    adata = _nested()
    by_reference = pseudobulk_deseq2(
        adata, "condition", "donor", layer=None, groups=[STIM], reference="ctrl"
    )
    assert (by_reference["design"] == "~ arm").all()  # auto: no donor is in both conditions
    assert (by_reference[["n_samples_group", "n_samples_reference"]] == 4).all(axis=None)
    table = by_reference.set_index("gene")
    up, down = table.loc[[f"gene{i}" for i in UP]], table.loc[[f"gene{i}" for i in DOWN]]
    assert (up["pval_adj"] < 0.01).all()
    assert (up["log2_fold_change"] > 1).all()
    assert (down["pval_adj"] < 0.01).all()
    assert (down["log2_fold_change"] < -1).all()
    null = table.drop(up.index.union(down.index))
    assert (null["pval_adj"] < 0.05).mean() <= 0.1
    # with two conditions, 'rest' of stim is ctrl: the same test
    by_rest = pseudobulk_deseq2(adata, "condition", "donor", layer=None, groups=[STIM])
    assert (by_rest["reference"] == "rest").all()
    np.testing.assert_allclose(
        by_rest["stat"].to_numpy(), by_reference["stat"].to_numpy(), rtol=1e-10
    )


def test_mixed_pairing_needs_an_explicit_design(caplog) -> None:
    adata = _nested()
    crossed = {"donor 0": 20, "donor 7": 20}  # half of these donors' cells change condition
    for donor, n in crossed.items():
        cells = adata.obs_names[adata.obs["donor"] == donor][:n]
        other = "ctrl" if donor == "donor 7" else STIM
        adata.obs.loc[cells, "condition"] = other
    with pytest.raises(
        ValueError,
        match=r"no group could be tested.*\['donor 0', 'donor 7'\] have cells on both sides",
    ):
        pseudobulk_deseq2(adata, "condition", "donor", layer=None, groups=[STIM])
    with caplog.at_level(logging.INFO, logger="rgg"):
        paired = pseudobulk_deseq2(
            adata, "condition", "donor", layer=None, groups=[STIM], design="paired"
        )
    # only the two crossed donors have both arms; the others are left out, and logged
    assert (paired["design"] == "~ sample + arm").all()
    assert (paired[["n_samples_group", "n_samples_reference"]] == 2).all(axis=None)
    assert "donor 1/reference: 40" in caplog.text


def test_import_keeps_future_warnings_visible() -> None:
    code = (
        "import warnings\n"
        "from rgg.pseudobulk._deseq2 import _import_pydeseq2\n"
        "_import_pydeseq2()\n"
        "import pydeseq2.dds\n"
        "assert not [f for f in warnings.filters if f[2] is FutureWarning and f[0] == 'ignore'], "
        "warnings.filters\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_donor_without_cells_of_a_rare_group_keeps_the_design_paired(synthetic, caplog) -> None:
    """Only donors with cells of the group decide the design: no DC cells in donor1 is fine."""
    no_dc = (synthetic.obs["donor"] == "donor1") & (synthetic.obs["cell_type"] == "DC")
    adata = synthetic[~no_dc.to_numpy()].copy()
    with caplog.at_level(logging.WARNING, logger="rgg"):
        table = pseudobulk_deseq2(adata, "cell_type", "donor", min_cells=5)
    assert (table["design"] == "~ sample + arm").all()
    assert {"B cell", "NK"} <= set(table["group"])
    assert "cannot tell" not in caplog.text


# --- hostile inputs (second round) ----------------------------------------------------------


def test_a_group_labelled_rest_is_tested_one_vs_rest(synthetic) -> None:
    adata = synthetic.copy()
    adata.obs["cell_type"] = adata.obs["cell_type"].cat.rename_categories({"NK": "rest"})
    result = pseudobulk_deseq2(
        adata, "cell_type", "donor", layer="counts", groups=["rest", "B cell"]
    )
    assert list(result["group"].cat.categories) == ["B cell", "rest"]


@pytest.mark.parametrize(
    "kwargs", [{"groups": []}, {"groups": ["NK"], "reference": "NK"}], ids=["none", "reference"]
)
def test_nothing_to_compare_with_the_reference_is_named(synthetic, kwargs) -> None:
    with pytest.raises(ValueError, match=r"no group to compare with reference=.*Select groups"):
        pseudobulk_deseq2(synthetic, "cell_type", "donor", layer="counts", **kwargs)


def test_all_zero_counts_are_skipped_with_the_reason(synthetic) -> None:
    adata = synthetic.copy()
    adata.layers["counts"] = adata.layers["counts"] * 0
    with pytest.raises(ValueError, match=r"no group could be tested: .*every gene has zero counts"):
        pseudobulk_deseq2(adata, "cell_type", "donor", layer="counts")


@pytest.mark.parametrize("dtype", [np.complex128, object, "<U5", "datetime64[s]"])
def test_counts_of_a_dtype_that_is_not_numbers_are_refused(synthetic, dtype) -> None:
    adata = synthetic.copy()
    adata.layers["counts"] = adata.layers["counts"].toarray().astype(dtype)
    with pytest.raises(
        ValueError, match=r"adata.layers\['counts'\] has dtype .*astype\(np.int64\)"
    ):
        aggregate_counts(adata, "cell_type", "donor", layer="counts")


@pytest.mark.parametrize(
    ("dtype", "value"), [(np.uint64, 2**63), (np.int64, 2**62), (np.float64, 1e300)]
)
def test_counts_too_large_to_sum_exactly_are_refused(synthetic, dtype, value) -> None:
    """They used to wrap around (uint64 2**63 became -2**63; 1e300 became INT64_MIN)."""
    adata = synthetic.copy()
    counts = adata.layers["counts"].toarray().astype(dtype)
    counts[0, 0] = value
    adata.layers["counts"] = counts
    with pytest.raises(ValueError, match=r"implausibly large \(2\*\*53 or more\)"):
        aggregate_counts(adata, "cell_type", "donor", layer="counts")
