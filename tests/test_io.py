"""rgg's outputs: atomic writes, the long Parquet table and the ``rgg rank`` command."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import rgg
from rgg import cli, datasets
from rgg.io import atomic_path, read_results
from rgg.io.parquet import COLUMNS, SCHEMA_VERSION

INPUT = str(datasets.pbmc68k_reduced_path())


def test_atomic_path_replaces_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out" / "table.parquet"
    with atomic_path(target) as temporary:
        temporary.write_text("complete")
    assert target.read_text() == "complete"
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    with pytest.raises(RuntimeError, match="killed"):
        _write_then_fail(target)
    assert target.read_text() == "complete"  # the earlier file is untouched
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.parquet"]  # no leftovers


def _write_then_fail(target: Path) -> None:
    with atomic_path(target) as temporary:
        temporary.write_text("half")
        msg = "killed"
        raise RuntimeError(msg)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_rank_writes_the_long_table(tmp_path: Path) -> None:
    out = tmp_path / "wilcoxon.parquet"
    argv = [
        "rank",
        INPUT,
        "--groupby",
        "bulk_labels",
        "--method",
        "wilcoxon",
        "--pts",
        "--tie-correct",
    ]
    argv += ["--dataset", "pbmc", "--grouping", "cell type", "--test", "wilcox", "--out", str(out)]
    assert cli.main(argv) == 0
    table, params = read_results(out)
    assert dict(table.schema) == COLUMNS
    assert params == {
        "groupby": "bulk_labels",
        "method": "wilcoxon",
        "pts": True,
        "tie_correct": True,
    }
    assert pl.read_parquet_metadata(out)["rgg:version"] == rgg.__version__

    adata = datasets.pbmc68k_reduced()
    rgg.rank_genes_groups(adata, "bulk_labels", method="wilcoxon", pts=True, tie_correct=True)
    expected = rgg.get.rank_genes_groups_df(adata, None)
    assert len(table) == len(expected) == adata.n_vars * 10
    assert table["gene"].to_list() == expected["names"].astype(str).to_list()
    assert table["group"].to_list() == expected["group"].astype(str).to_list()
    np.testing.assert_array_equal(table["score"].to_numpy(), expected["scores"].to_numpy())
    np.testing.assert_array_equal(table["pval_adj"].to_numpy(), expected["pvals_adj"].to_numpy())
    np.testing.assert_array_equal(
        table["logfoldchange"].to_numpy(), expected["logfoldchanges"].to_numpy()
    )
    np.testing.assert_array_equal(table["pts"].to_numpy(), expected["pct_nz_group"].to_numpy())
    np.testing.assert_array_equal(
        table["pts_rest"].to_numpy(), expected["pct_nz_reference"].to_numpy()
    )
    first = table.filter(pl.col("group") == "CD14+ Monocyte").row(0, named=True)
    assert (
        first["dataset"],
        first["grouping"],
        first["test"],
        first["reference"],
        first["rank"],
    ) == ("pbmc", "cell type", "wilcox", "rest", 1)


def test_rank_with_test_config_and_logreg(tmp_path: Path) -> None:
    config = tmp_path / "test.yaml"
    config.write_text(
        "method: logreg\ngroups: ['1', '0', '3']\nn_genes: 5\nlogreg:\n  max_iter: 300\n  C: 0.5\n"
    )
    out = tmp_path / "lr.parquet"
    assert (
        cli.main(
            ["rank", INPUT, "--groupby", "louvain", "--test-config", str(config), "--out", str(out)]
        )
        == 0
    )
    table, params = read_results(out)
    assert params["C"] == 0.5
    assert table["group"].unique(maintain_order=True).to_list() == ["1", "0", "3"]
    assert table["rank"].to_list() == [1, 2, 3, 4, 5] * 3
    assert table["pval"].null_count() == len(table)
    adata = datasets.pbmc68k_reduced()
    rgg.rank_genes_groups(
        adata, "louvain", method="logreg", groups=["1", "0", "3"], n_genes=5, max_iter=300, C=0.5
    )
    np.testing.assert_array_equal(
        table["score"].to_numpy()[:5], adata.uns["rank_genes_groups"]["scores"]["1"]
    )


def test_option_overrides_test_config(tmp_path: Path) -> None:
    config = tmp_path / "test.yaml"
    config.write_text("method: t-test\nreference: Dendritic\n")
    out = tmp_path / "t.parquet"
    argv = [
        "rank",
        INPUT,
        "--groupby",
        "bulk_labels",
        "--test-config",
        str(config),
        "--method",
        "wilcoxon",
        "--out",
        str(out),
    ]
    assert cli.main(argv) == 0
    table, params = read_results(out)
    assert params["method"] == "wilcoxon"
    assert set(table["reference"].to_list()) == {"Dendritic"}
    assert "Dendritic" not in table["group"].to_list()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("methd: wilcoxon\n", "unknown key 'methd'. Did you mean 'method'?"),
        ("- wilcoxon\n", "test parameters are a mapping"),
        ("method: logreg\nlogreg: 300\n", "'logreg' holds LogisticRegression options as a mapping"),
    ],
)
def test_bad_test_config_is_explained_and_writes_nothing(
    tmp_path: Path, capsys, config: str, message: str
) -> None:
    path = tmp_path / "test.yaml"
    path.write_text(config)
    out = tmp_path / "results" / "x.parquet"
    assert (
        cli.main(
            [
                "rank",
                INPUT,
                "--groupby",
                "bulk_labels",
                "--test-config",
                str(path),
                "--out",
                str(out),
            ]
        )
        == cli.EXIT_USAGE
    )
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_failed_rank_leaves_no_file(tmp_path: Path, capsys) -> None:
    out = tmp_path / "x.parquet"
    assert cli.main(["rank", INPUT, "--groupby", "bulk_label", "--out", str(out)]) == cli.EXIT_USAGE
    assert "Did you mean 'bulk_labels'" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_read_results_refuses_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "other.parquet"
    pl.DataFrame({"gene": ["A"]}).write_parquet(path)
    with pytest.raises(
        ValueError, match=f"not an rgg results table of schema version {SCHEMA_VERSION}"
    ):
        read_results(path)
