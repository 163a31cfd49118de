"""scanpy 1.13's additions: ``mean_in_log_space``, ``method='wilcoxon_illico'`` and presets.

The first part checks rgg against numpy/scipy and against itself, so it runs with any scanpy.
The second compares with scanpy itself and needs scanpy >= 1.13 (the pre-release, on Python
3.12+): CI runs it in its second leg, which installs that scanpy (see ``.ci/run``).
"""

from __future__ import annotations

import sys
import types
import warnings
from importlib.metadata import version

import numpy as np
import pandas as pd
import pytest
from packaging.version import Version
from scipy import stats

import rgg
from rgg import cli

from ._data import MATRIX_KINDS, awkward_adata, to_dense
from ._parity import assert_matches_scanpy

SCANPY_113 = Version(version("scanpy")).release >= (1, 13)
needs_scanpy_113 = pytest.mark.skipif(
    not SCANPY_113, reason=f"needs scanpy >= 1.13 (found {version('scanpy')}; CI's second leg)"
)


def _expm1(adata, base: float | None) -> np.ndarray:
    values = to_dense(adata.X)
    return np.expm1(values * np.log(base)) if base else np.expm1(values)


@pytest.mark.parametrize("base", [None, 2.0])
@pytest.mark.parametrize("reference", ["rest", "b"])
@pytest.mark.parametrize("method", ["t-test", "t-test_overestim_var"])
@pytest.mark.parametrize(("kind", "make"), MATRIX_KINDS[:3], ids=[k for k, _ in MATRIX_KINDS[:3]])
@pytest.mark.filterwarnings("ignore:Precision loss occurred")
def test_t_tests_on_expm1_values_equal_scipy(kind, make, method, reference, base) -> None:
    adata = awkward_adata(make, np.float64)
    if base is not None:
        adata.uns["log1p"] = {"base": base}
    rgg.rank_genes_groups(
        adata, "group", method=method, reference=reference, mean_in_log_space=False
    )
    result = adata.uns["rank_genes_groups"]
    counts = _expm1(adata, base)
    labels = adata.obs["group"].astype(str).to_numpy()
    for group in result["names"].dtype.names:
        inside = labels == group
        other = ~inside if reference == "rest" else labels == reference
        x, y = counts[inside], counts[other]
        columns = adata.var_names.get_indexer(result["names"][group])
        if method == "t-test":
            expected = stats.ttest_ind(x, y, equal_var=False).statistic
        else:  # scanpy's over-estimated variance: the rest's variance over the group's size
            var_x, var_y = x.var(0, ddof=1), y.var(0, ddof=1)
            expected = (x.mean(0) - y.mean(0)) / np.sqrt(var_x / len(x) + var_y / len(x))
        expected = np.nan_to_num(expected)  # scanpy stores 0 where the statistic is 0/0
        # gene6 is constant (expm1(1) in every cell): its statistic is 0/0, which rounding
        # turns into noise in scipy, scanpy and rgg alike; compare the other genes
        keep = result["names"][group] != "gene6"
        np.testing.assert_allclose(
            result["scores"][group][keep], expected[columns][keep], rtol=1e-5, atol=1e-5
        )
        lfc = np.log2((x.mean(0) + 1e-9) / (y.mean(0) + 1e-9))
        np.testing.assert_allclose(
            result["logfoldchanges"][group], lfc[columns], rtol=1e-5, atol=1e-5
        )
    assert "mean_in_log_space" not in result["params"]  # scanpy does not store it either


@pytest.mark.parametrize("reference", ["rest", "b"])
def test_wilcoxon_scores_keep_log_values_and_fold_changes_use_expm1(reference: str) -> None:
    adata = awkward_adata()
    log_space = rgg.rank_genes_groups(
        adata, "group", method="wilcoxon", reference=reference, copy=True
    ).uns["rank_genes_groups"]
    linear = rgg.rank_genes_groups(
        adata, "group", method="wilcoxon", reference=reference, mean_in_log_space=False, copy=True
    ).uns["rank_genes_groups"]
    for key in ("names", "scores", "pvals", "pvals_adj"):
        assert log_space[key].tobytes() == linear[key].tobytes()
    counts = _expm1(adata, None).astype(np.float32)  # formed in the data's dtype, as scanpy
    labels = adata.obs["group"].astype(str).to_numpy()
    for group in linear["names"].dtype.names:
        other = labels != group if reference == "rest" else labels == reference
        mean = counts[labels == group].astype(np.float64).mean(0)
        mean_other = counts[other].astype(np.float64).mean(0)
        lfc = np.log2((mean + 1e-9) / (mean_other + 1e-9))
        columns = adata.var_names.get_indexer(linear["names"][group])
        np.testing.assert_allclose(linear["logfoldchanges"][group], lfc[columns], rtol=1e-5)


@pytest.mark.parametrize("method", ["t-test", "wilcoxon"])
def test_out_of_core_equals_in_memory(method: str) -> None:
    da = pytest.importorskip("dask.array")
    adata = awkward_adata()
    expected = rgg.rank_genes_groups(
        adata, "group", method=method, mean_in_log_space=False, pts=True, copy=True
    ).uns["rank_genes_groups"]
    lazy = adata.copy()
    lazy.X = da.from_array(adata.X, chunks=(60, 40))
    rgg.rank_genes_groups(
        lazy, "group", method=method, mean_in_log_space=False, pts=True, scheduler="synchronous"
    )
    result = lazy.uns["rank_genes_groups"]
    for group in expected["names"].dtype.names:
        for key in ("scores", "pvals_adj", "logfoldchanges"):
            ours = pd.Series(result[key][group], index=result["names"][group])
            theirs = pd.Series(expected[key][group], index=expected["names"][group])
            # row blocks merge sums in another order: rounding-level differences only
            np.testing.assert_allclose(ours.loc[theirs.index], theirs, rtol=1e-6, atol=1e-9)
    pd.testing.assert_frame_equal(result["pts"], expected["pts"])


def test_wilcoxon_illico_is_wilcoxon_stored_as_scanpy_stores_it() -> None:
    adata = awkward_adata()
    adata.obs["group"] = adata.obs["group"].cat.reorder_categories(["tiny", "e", "b", "c/d +", "a"])
    classic = rgg.rank_genes_groups(adata, "group", method="wilcoxon", pts=True, copy=True)
    with pytest.warns(DeprecationWarning, match="scanpy 2.0 makes it plain 'wilcoxon'"):
        illico = rgg.rank_genes_groups(
            adata, "group", method="wilcoxon_illico", pts=True, copy=True
        )
    classic, illico = classic.uns["rank_genes_groups"], illico.uns["rank_genes_groups"]
    assert illico["params"]["method"] == "wilcoxon_illico"
    assert classic["names"].dtype.names == ("tiny", "e", "b", "c/d +", "a")
    assert illico["names"].dtype.names == ("a", "b", "c/d +", "e", "tiny")  # illico's order
    assert list(illico["pts"].columns) == list(classic["pts"].columns)  # pts keep theirs
    for group in classic["names"].dtype.names:
        for key in ("names", "scores", "pvals_adj", "logfoldchanges"):
            assert classic[key][group].tobytes() == illico[key][group].tobytes()


def _fake_scanpy(monkeypatch, preset: str, method: str, mean_in_log_space: bool) -> None:
    """A stand-in for scanpy >= 1.13's settings: the preset and its rank_genes_groups entry."""

    class Preset(str):
        rank_genes_groups = types.SimpleNamespace(
            method=method, mean_in_log_space=mean_in_log_space, mask_var=None
        )

    module = types.ModuleType("scanpy")
    module.settings = types.SimpleNamespace(preset=Preset(preset))
    monkeypatch.setitem(sys.modules, "scanpy", module)


def test_defaults_follow_scanpys_active_preset(monkeypatch) -> None:
    adata = awkward_adata()
    expected = rgg.rank_genes_groups(
        adata, "group", method="wilcoxon", mean_in_log_space=False, copy=True
    ).uns["rank_genes_groups"]
    _fake_scanpy(monkeypatch, "scanpy-v2-preview", "wilcoxon", mean_in_log_space=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the preset's own method: no warning
        preview = rgg.rank_genes_groups(adata, "group", copy=True).uns["rank_genes_groups"]
    assert preview["params"]["method"] == "wilcoxon_illico"
    assert preview["scores"]["a"].tobytes() == expected["scores"]["a"].tobytes()
    assert preview["logfoldchanges"]["a"].tobytes() == expected["logfoldchanges"]["a"].tobytes()
    explicit = rgg.rank_genes_groups(adata, "group", method="t-test", copy=True)
    assert explicit.uns["rank_genes_groups"]["params"]["method"] == "t-test"
    # the preset's mean_in_log_space=False gives way to an explicit Seurat fold change
    seurat = rgg.rank_genes_groups(adata, "group", fold_change="expm1_mean", copy=True)
    assert seurat.uns["rank_genes_groups"]["params"]["fold_change"] == "expm1_mean"
    with pytest.warns(DeprecationWarning, match="wilcoxon_illico"):  # explicit: as scanpy
        rgg.rank_genes_groups(adata, "group", method="wilcoxon_illico", copy=True)
    _fake_scanpy(monkeypatch, "scanpy-v1", "t-test", mean_in_log_space=True)
    classic = rgg.rank_genes_groups(adata, "group", copy=True).uns["rank_genes_groups"]
    assert classic["params"]["method"] == "t-test"


def test_mean_in_log_space_and_seurat_fold_changes_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="both define the fold change; choose one"):
        rgg.rank_genes_groups(
            awkward_adata(), "group", mean_in_log_space=False, fold_change="expm1_mean"
        )
    with pytest.raises(ValueError, match="mean_in_log_space must be True or False"):
        rgg.rank_genes_groups(awkward_adata(), "group", mean_in_log_space="no")


def test_command_line_and_config_take_mean_in_log_space(tmp_path) -> None:
    from rgg.workflow.model import ConfigError
    from rgg.workflow.resolve import resolve_comparisons

    out = tmp_path / "t.parquet"
    argv = ["rank", str(rgg.datasets.synthetic_path()), "--groupby", "cell_type"]
    assert cli.main([*argv, "--no-mean-in-log-space", "--out", str(out)]) == 0
    table, params = rgg.io.read_results(out)
    assert params["mean_in_log_space"] is False
    adata = rgg.datasets.synthetic()
    rgg.rank_genes_groups(adata, "cell_type", mean_in_log_space=False)
    ranked = rgg.get.rank_genes_groups_df(adata, "NK")
    expected = ranked.set_index("names")["logfoldchanges"]
    nk = table.filter(table["group"] == "NK")
    got = pd.Series(nk["logfoldchange"].to_numpy(), index=nk["gene"].to_list())
    np.testing.assert_allclose(got.loc[expected.index], expected, rtol=1e-6)
    config = {
        "results": "results",
        "datasets": {"s": {"path": str(rgg.datasets.synthetic_path())}},
        "groupings": {"cell_type": None},
        "tests": {"pb": {"method": "pseudobulk", "sample": "donor", "mean_in_log_space": False}},
    }
    with pytest.raises(ConfigError, match="sets mean_in_log_space, which only rank_genes_groups"):
        resolve_comparisons(config)


# --- against scanpy >= 1.13 -----------------------------------------------------------------


@needs_scanpy_113
@pytest.mark.parametrize("mean_in_log_space", [True, False])
@pytest.mark.parametrize("reference", ["rest", "b"])
@pytest.mark.parametrize("method", ["t-test", "t-test_overestim_var", "wilcoxon", "logreg"])
@pytest.mark.parametrize(("kind", "make"), MATRIX_KINDS[:2], ids=[k for k, _ in MATRIX_KINDS[:2]])
def test_matches_scanpy_113(kind, make, method, reference, mean_in_log_space) -> None:
    """On the awkward data without its constant gene: expm1(1) in every cell makes a 0/0
    t statistic that rounding turns into noise, differently in scanpy and rgg."""
    adata = awkward_adata(make)
    adata = adata[:, adata.var_names != "gene6"].copy()
    kwargs = {"method": method, "reference": reference, "mean_in_log_space": mean_in_log_space}
    if method != "logreg":
        kwargs["pts"] = True
    else:
        kwargs["max_iter"] = 1000
    assert_matches_scanpy(adata, "group", **kwargs)


@needs_scanpy_113
@pytest.mark.parametrize("tie_correct", [False, True])
@pytest.mark.parametrize("reference", ["rest", "CD14+ Monocyte"])
def test_wilcoxon_illico_matches_scanpy_113(pbmc, tie_correct: bool, reference: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert_matches_scanpy(
            pbmc, "bulk_labels", method="wilcoxon_illico", tie_correct=tie_correct,
            reference=reference, pts=True,
        )  # fmt: skip


@needs_scanpy_113
@pytest.mark.parametrize("method", [None, "t-test", "logreg"])
def test_v2_preview_preset_matches_scanpy_113(pbmc, method: str | None) -> None:
    import scanpy as sc

    kwargs = {} if method is None else {"method": method}
    with sc.settings.override(preset=sc.Preset.ScanpyV2Preview):
        ours = assert_matches_scanpy(pbmc, "bulk_labels", **kwargs)
    assert ours["params"]["method"] == (method or "wilcoxon_illico")


@needs_scanpy_113
def test_default_preset_is_scanpys_classic_behaviour(pbmc) -> None:
    ours = assert_matches_scanpy(pbmc, "bulk_labels")
    assert ours["params"]["method"] == "t-test"
    frame = pd.DataFrame(ours["scores"])
    assert np.isfinite(frame.to_numpy(dtype=float)).all()
