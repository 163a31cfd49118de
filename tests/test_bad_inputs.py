"""Hostile and broken inputs through the ``rgg rank`` command: one clear line, exit 2, no file.

Each case is a mistake users make; the message must name the problem and the fix, with no
traceback, and no output file may appear.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pytest
from scipy import sparse

import rgg
from rgg import cli

GOOD = rgg.datasets.synthetic_path()


def _write(tmp_path: Path, name: str, change) -> Path:
    adata = rgg.datasets.synthetic()
    changed = change(adata)
    adata = adata if changed is None else changed  # not `or`: an AnnData of 0 cells is falsy
    path = tmp_path / f"{name}.h5ad"
    adata.write_h5ad(path)
    return path


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "missing.h5ad"


def _not_h5ad(tmp_path: Path) -> Path:
    path = tmp_path / "table.h5ad"
    path.write_text("gene,score\nA,1\n")
    return path


def _truncated(tmp_path: Path) -> Path:
    path = tmp_path / "truncated.h5ad"
    path.write_bytes(GOOD.read_bytes()[:50_000])
    return path


def _corrupt(tmp_path: Path) -> Path:
    data = bytearray(GOOD.read_bytes())
    for position in range(5_000, len(data), 997):  # flip bytes inside the compressed chunks
        data[position] ^= 0xFF
    path = tmp_path / "corrupt.h5ad"
    path.write_bytes(bytes(data))
    return path


def _with_nan(adata: ad.AnnData) -> None:
    adata.X = adata.X.toarray()
    adata.X[3, 7] = np.nan
    adata.X[4, 8] = np.inf


def _boolean_column(adata: ad.AnnData) -> None:
    adata.obs["is_ctrl"] = (adata.obs["condition"] == "ctrl").to_numpy()


def _one_cell_group(adata: ad.AnnData) -> None:
    labels = adata.obs["cell_type"].cat.add_categories(["lonely", "empty"])
    labels.iloc[0] = "lonely"
    adata.obs["cell_type"] = labels


CASES = {
    "parameter of the wrong type": (
        None,
        ["--test-params", "{n_genes: abc}"],
        "n_genes must be an integer",
    ),
    "numeric reference label": (None, ["--test-params", "{reference: 0}"], "quote labels"),
    "rgg parameter hidden in logreg": (
        None,
        ["--test-params", "{method: logreg, logreg: {method: wilcoxon}}"],
        "are rank_genes_groups parameters",
    ),
    "unknown logreg option": (
        None,
        ["--test-params", "{method: logreg, logreg: {bogus: 1}}"],
        "nor LogisticRegression takes the keyword(s) ['bogus']",
    ),
    "missing file": (_missing, [], "no such file"),
    "not an h5ad": (_not_h5ad, [], "is not a readable h5ad file"),
    "truncated h5ad": (_truncated, [], "truncated file"),
    "corrupt h5ad": (_corrupt, [], "is not a readable h5ad file"),
    "groupby missing": (None, ["--groupby", "celltype"], "Did you mean 'cell_type'"),
    "groupby boolean": ("bool", ["--groupby", "is_ctrl"], "groups must be categories"),
    "group of one cell": ("one", [], "'lonely': 1"),
    "group of zero cells": ("one", ["--groups", "empty", "NK"], "'empty': 0"),
    "reference missing": (None, ["--reference", "T cell"], "reference = T cell needs to be one of"),
    "group missing": (None, ["--groups", "NK", "B-cell"], "are not categories"),
    "no genes": ("nogenes", [], "the tested matrix has no genes"),
    "no cells": ("nocells", [], "adata has no cells"),
    "all genes masked out": ("mask", ["--mask-var", "none"], "mask_var selects no gene"),
    "mask column missing": (None, ["--mask-var", "highly_variable"], "Did not find"),
    "NaN and inf values": ("nan", [], "holds 2 NaN or infinite values"),
    "layer missing": (None, ["--layer", "count"], "Did you mean 'counts'"),
    "raw requested, none there": (None, ["--use-raw"], "adata.raw` is empty"),
    "malformed test params": (None, ["--test-params", "{method: wilcoxon"], "--test-params"),
    "unknown test key": (
        None,
        ["--test-params", "{tie_corect: true}"],
        "Did you mean 'tie_correct'",
    ),
}

CHANGES = {
    "bool": _boolean_column,
    "one": _one_cell_group,
    "nan": _with_nan,
    "nogenes": lambda adata: adata[:, :0].copy(),
    "nocells": lambda adata: adata[:0].copy(),
    "mask": lambda adata: adata.var.__setitem__("none", False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_one_line_and_no_file(tmp_path: Path, capsys, case: str) -> None:
    make, options, message = CASES[case]
    if make is None:
        data = GOOD
    elif isinstance(make, str):
        data = _write(tmp_path, make, CHANGES[make])
    else:
        data = make(tmp_path)
    out = tmp_path / "out" / "result.parquet"
    argv = ["rank", str(data), "--groupby", "cell_type", *options, "--out", str(out)]  # a later
    # --groupby in options wins: argparse keeps the last
    assert cli.main(argv) == cli.EXIT_USAGE
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("rgg: error: ")
    assert message in error
    assert "Traceback" not in capsys.readouterr().err
    assert not out.exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: setattr(a, "X", a.layers["counts"].astype(np.float32)), "raw count data"),
        (
            lambda a: setattr(a, "var_names", ["g"] * 3 + list(a.var_names[3:])),
            "occur more than once",
        ),
    ],
    ids=["raw counts", "duplicate gene names"],
)
def test_suspicious_input_runs_with_a_warning(tmp_path: Path, capsys, change, message) -> None:
    data = _write(tmp_path, "suspicious", change)
    out = tmp_path / "result.parquet"
    assert cli.main(["rank", str(data), "--groupby", "cell_type", "--out", str(out)]) == 0
    assert message in capsys.readouterr().err
    assert out.is_file()


def test_scaled_data_with_negative_values_runs_like_scanpy(tmp_path: Path, capsys) -> None:
    def scale(adata: ad.AnnData) -> None:
        dense = adata.X.toarray()
        adata.X = (dense - dense.mean(axis=0)) / dense.std(axis=0).clip(min=1e-3)

    data = _write(tmp_path, "scaled", scale)
    out = tmp_path / "result.parquet"
    assert cli.main(["rank", str(data), "--groupby", "cell_type", "--out", str(out)]) == 0
    assert "raw count" not in capsys.readouterr().err
    assert out.is_file()


def test_sparse_matrix_is_not_densified_for_errors(tmp_path: Path, capsys) -> None:
    """NaN in a sparse matrix is found too (stored values only)."""

    def sparse_nan(adata: ad.AnnData) -> None:
        matrix = adata.X.tocsr(copy=True)
        matrix.data[10] = np.nan
        adata.X = sparse.csr_matrix(matrix)

    data = _write(tmp_path, "sparse_nan", sparse_nan)
    out = tmp_path / "result.parquet"
    assert cli.main(["rank", str(data), "--groupby", "cell_type", "--out", str(out)]) == 2
    assert "holds 1 NaN or infinite values" in capsys.readouterr().err
    assert not out.exists()


def test_json_floats_in_test_params_stay_numbers(tmp_path) -> None:
    """JSON writes 1e-05, which YAML 1.1 would read as a string."""
    out = tmp_path / "result.parquet"
    params = '{"method": "logreg", "logreg": {"tol": 1e-05, "max_iter": 200}}'
    argv = ["rank", str(GOOD), "--groupby", "cell_type", "--test-params", params, "--out", str(out)]
    assert cli.main(argv) == 0
    assert rgg.io.read_results(out)[1]["tol"] == 1e-05


def test_malformed_test_config_file_is_one_line(tmp_path: Path, capsys) -> None:
    config = tmp_path / "test.yaml"
    config.write_text("method: [wilcoxon\n")
    out = tmp_path / "result.parquet"
    argv = ["rank", str(GOOD), "--groupby", "cell_type", "--test-config", str(config)]
    assert cli.main([*argv, "--out", str(out)]) == cli.EXIT_USAGE
    assert f"{config}: not valid YAML" in capsys.readouterr().err
    assert not out.exists()
