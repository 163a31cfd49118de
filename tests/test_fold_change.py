"""fold_change='expm1_mean' (Seurat's definition; rgg's opt-in addition) against numpy."""

from __future__ import annotations

import numpy as np
import pytest

import rgg
from rgg import cli

from ._data import MATRIX_KINDS, to_dense


@pytest.mark.parametrize("base", [None, 2.0])
@pytest.mark.parametrize("reference", ["rest", "NK"])
@pytest.mark.parametrize(("kind", "make"), MATRIX_KINDS, ids=[k for k, _ in MATRIX_KINDS])
def test_seurat_fold_change_equals_numpy(kind: str, make, reference: str, base) -> None:
    adata = rgg.datasets.synthetic()
    adata.X = make(to_dense(adata.X))
    if base is not None:
        adata.uns["log1p"] = {"base": base}
    rgg.rank_genes_groups(
        adata, "cell_type", method="t-test", reference=reference, fold_change="expm1_mean"
    )
    result = adata.uns["rank_genes_groups"]
    values = to_dense(adata.X).astype(np.float64)
    counts = np.expm1(values * (np.log(base) if base else 1.0))
    labels = adata.obs["cell_type"].astype(str).to_numpy()
    for group in result["names"].dtype.names:
        other = labels != group if reference == "rest" else labels == reference
        expected = np.log2(counts[labels == group].mean(0) + 1) - np.log2(counts[other].mean(0) + 1)
        columns = adata.var_names.get_indexer(result["names"][group])
        np.testing.assert_allclose(
            result["logfoldchanges"][group], expected[columns], rtol=1e-5, atol=1e-6
        )
    assert result["params"]["fold_change"] == "expm1_mean"


def test_default_fold_change_is_scanpys() -> None:
    adata = rgg.datasets.synthetic()
    default = rgg.rank_genes_groups(adata, "cell_type", copy=True).uns["rank_genes_groups"]
    seurat = rgg.rank_genes_groups(adata, "cell_type", fold_change="expm1_mean", copy=True)
    assert "fold_change" not in default["params"]
    assert default["scores"].tobytes() == seurat.uns["rank_genes_groups"]["scores"].tobytes()
    assert (
        default["logfoldchanges"].tobytes()
        != seurat.uns["rank_genes_groups"]["logfoldchanges"].tobytes()
    )


def test_unknown_fold_change_and_cli(tmp_path) -> None:
    adata = rgg.datasets.synthetic()
    with pytest.raises(ValueError, match="fold_change must be one of"):
        rgg.rank_genes_groups(adata, "cell_type", fold_change="seurat")
    out = tmp_path / "t.parquet"
    argv = ["rank", str(rgg.datasets.synthetic_path()), "--groupby", "cell_type"]
    assert cli.main([*argv, "--fold-change", "expm1_mean", "--out", str(out)]) == 0
    assert rgg.io.read_results(out)[1]["fold_change"] == "expm1_mean"
