"""The ``rgg`` command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

import rgg
from rgg import cli, datasets


def test_demo_prints_top_markers_of_every_group(capsys) -> None:
    assert cli.main(["demo", "--n-genes", "3"]) == 0
    out = capsys.readouterr().out
    adata = datasets.pbmc68k_reduced()
    rgg.rank_genes_groups(adata, "bulk_labels", method="wilcoxon")
    for group in adata.obs["bulk_labels"].cat.categories:
        assert f"== {group}" in out
        top = adata.uns["rank_genes_groups"]["names"][group][0]
        section = out.split(f"== {group}\n", 1)[1].split("\n\n", 1)[0]
        assert top in section.splitlines()[1]  # first row after the header


def test_demo_with_input_file_and_reference(tmp_path, capsys) -> None:
    path = tmp_path / "pbmc.h5ad"
    datasets.pbmc68k_reduced().write_h5ad(path)
    assert (
        cli.main(
            [
                "demo",
                "--input",
                str(path),
                "--groupby",
                "louvain",
                "--reference",
                "0",
                "--method",
                "t-test",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "reference '0'" in out
    assert "== 0\n" not in out  # the reference gets no result


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--groupby", "bulk_label"], "Did you mean 'bulk_labels'"),
        (["demo", "--reference", "nope"], "reference = nope needs to be one of"),
        (["demo", "--input", "/nonexistent.h5ad"], "no such file"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(argv, message, capsys) -> None:
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("rgg: error: ")
    assert message in err
    assert "Traceback" not in err


def test_console_script_help() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "rgg", "demo", "--help"], capture_output=True, text=True, check=True
    )
    for option in (
        "--input",
        "--groupby",
        "--method",
        "--reference",
        "--tie-correct",
        "--n-genes",
        "--n-jobs",
    ):
        assert option in result.stdout


def test_rank_progress_bar_on_request(tmp_path, capsys) -> None:
    out = tmp_path / "t.parquet"
    argv = ["rank", str(datasets.synthetic_path()), "--groupby", "cell_type", "--out", str(out)]
    assert cli.main([*argv, "--progress"]) == 0
    assert "300/300" in capsys.readouterr().err  # tqdm's count of tested genes
    assert cli.main([*argv, "--no-progress"]) == 0
    assert "300/300" not in capsys.readouterr().err
