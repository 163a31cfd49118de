"""h5ad outputs: the '/'-safe writer, uns sidecars, and the `rgg annotate`/`rgg collect` commands."""

from __future__ import annotations

import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import rgg
from rgg import cli, datasets
from rgg.io import read_comparisons, read_results, read_uns_h5ad, write_h5ad, write_uns_h5ad
from rgg.io.h5ad_header import h5ad_header, matrix_nbytes, obs_categories

SYNTHETIC = str(datasets.synthetic_path())


def _ranked_synthetic(**params) -> ad.AnnData:
    adata = datasets.synthetic()
    rgg.rank_genes_groups(adata, "cell_type", method="wilcoxon", pts=True, **params)
    return adata


def test_slashed_pts_labels_round_trip_through_plain_read_h5ad(tmp_path: Path) -> None:
    sc = pytest.importorskip("scanpy")
    adata = _ranked_synthetic()
    pts_before = adata.uns["rank_genes_groups"]["pts"].copy()
    assert any("/" in label for label in pts_before.columns)
    path = tmp_path / "annotated.h5ad"
    with warnings.catch_warnings():
        # anndata 0.12 warns about '/' when it writes such a column itself; rgg must not
        warnings.filterwarnings("error", message=".*[Ss]lash")
        write_h5ad(adata, path)
    pd.testing.assert_frame_equal(adata.uns["rank_genes_groups"]["pts"], pts_before)  # untouched
    back = ad.read_h5ad(path)
    pd.testing.assert_frame_equal(back.uns["rank_genes_groups"]["pts"], pts_before)
    pd.testing.assert_frame_equal(
        sc.get.rank_genes_groups_df(back, None), sc.get.rank_genes_groups_df(adata, None)
    )
    np.testing.assert_array_equal(back.layers["counts"].toarray(), adata.layers["counts"].toarray())


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["a/b", "a"], "'a' and 'a/b'"),
        (["a//b", "c"], "the label 'a//b' is or has an empty part"),
        (["/a", "c"], "the label '/a' is or has an empty part"),
        (["a/../b", "c"], "the label 'a/../b' is or has an empty part, '.' or '..'"),
        (["", "c"], "the label '' is or has an empty part"),
    ],
)
def test_labels_no_hdf5_path_can_hold_are_refused_before_writing(
    tmp_path: Path, labels: list[str], message: str
) -> None:
    adata = ad.AnnData(np.zeros((2, 2), dtype=np.float32))
    adata.uns["result"] = {"pts": pd.DataFrame({label: [0.5, 0.25] for label in labels})}
    path = tmp_path / "out.h5ad"
    with pytest.raises(ValueError, match="cannot store the columns") as info:
        write_h5ad(adata, path)
    assert message in str(info.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written


def test_uns_sidecar_round_trip(tmp_path: Path) -> None:
    uns = _ranked_synthetic().uns["rank_genes_groups"]
    write_uns_h5ad({"key": uns}, tmp_path / "uns.h5ad")
    back = read_uns_h5ad(tmp_path / "uns.h5ad")["key"]
    for field in ("names", "scores", "pvals_adj"):
        np.testing.assert_array_equal(back[field], uns[field])
    pd.testing.assert_frame_equal(back["pts_rest"], uns["pts_rest"])
    assert back["params"] == uns["params"]


def test_header_readers() -> None:
    adata = datasets.synthetic()
    expected = sum(
        m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
        for m in (adata.X, adata.layers["counts"])
    )
    assert matrix_nbytes(SYNTHETIC) == expected
    header = h5ad_header(SYNTHETIC)
    assert header.obs_columns == ["cell_type", "condition", "donor"]
    assert header.layers == ["counts"]
    assert not header.has_raw
    assert obs_categories(SYNTHETIC, "cell_type") == list(adata.obs["cell_type"].cat.categories)


def _rank_files(tmp_path: Path, test: str, *extra: str) -> tuple[Path, Path]:
    table, uns = tmp_path / f"{test}.parquet", tmp_path / f"{test}.uns.h5ad"
    argv = ["rank", SYNTHETIC, "--groupby", "cell_type", "--dataset", "synth", "--test", test]
    argv += ["--key-added", f"rgg_{test}", "--out", str(table), "--uns-out", str(uns), *extra]
    assert cli.main(argv) == 0
    return table, uns


def test_annotate_and_collect_commands(tmp_path: Path) -> None:
    sc = pytest.importorskip("scanpy")
    wilcoxon = _rank_files(tmp_path, "wilcoxon", "--method", "wilcoxon", "--pts")
    ttest = _rank_files(tmp_path, "ttest", "--n-genes", "10", "--reference", "NK")
    out = tmp_path / "annotated.h5ad"
    assert (
        cli.main(["annotate", SYNTHETIC, str(wilcoxon[1]), str(ttest[1]), "--out", str(out)]) == 0
    )
    annotated = ad.read_h5ad(out)
    expected = _ranked_synthetic()
    pd.testing.assert_frame_equal(
        sc.get.rank_genes_groups_df(annotated, None, key="rgg_wilcoxon"),
        sc.get.rank_genes_groups_df(expected, None),
    )
    assert annotated.uns["rgg_ttest"]["params"]["reference"] == "NK"

    combined = tmp_path / "all.parquet"
    assert cli.main(["collect", str(wilcoxon[0]), str(ttest[0]), "--out", str(combined)]) == 0
    table, params = read_results(combined)
    assert_frame_equal(table, pl.concat([read_results(wilcoxon[0])[0], read_results(ttest[0])[0]]))
    assert [record["test"] for record in params["comparisons"]] == ["wilcoxon", "ttest"]
    assert read_comparisons(combined)[1]["params"]["n_genes"] == 10


def test_annotate_refuses_results_of_other_data(tmp_path: Path, capsys) -> None:
    _, uns = _rank_files(tmp_path, "wilcoxon", "--method", "wilcoxon")
    pbmc = str(datasets.pbmc68k_reduced_path())
    out = tmp_path / "annotated.h5ad"
    assert cli.main(["annotate", pbmc, str(uns), "--out", str(out)]) == cli.EXIT_USAGE
    assert "obs['cell_type'], which this dataset does not have" in capsys.readouterr().err
    assert not out.exists()
    assert (
        cli.main(["annotate", SYNTHETIC, str(uns), str(uns), "--out", str(out)]) == cli.EXIT_USAGE
    )
    assert "both hold uns['rgg_wilcoxon']" in capsys.readouterr().err


def test_collect_refuses_a_file_that_is_not_a_results_table(tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    out = tmp_path / "all.parquet"
    assert cli.main(["collect", str(junk), "--out", str(out)]) == cli.EXIT_USAGE
    assert "is not a readable Parquet file" in capsys.readouterr().err
    assert not out.exists()


def test_writing_a_view_leaves_it_a_view(tmp_path: Path) -> None:
    adata = _ranked_synthetic()
    view = adata[:100]
    write_h5ad(view, tmp_path / "view.h5ad")
    assert view.is_view
    assert ad.read_h5ad(tmp_path / "view.h5ad").n_obs == 100
