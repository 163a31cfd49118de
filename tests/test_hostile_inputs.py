"""Hostile inputs, second round: the cases a careful user still broke, one test each.

A failed call changes nothing (``adata.uns`` keeps its earlier result); an input with nothing
to compare is an error; a dtype rgg cannot rank is refused by name; a misspelled keyword is an
error naming the parameter meant; every command-line error is one line; Ctrl-C is one line
and exit status 130; every group label round-trips through the h5ad outputs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import rgg
from rgg import cli
from rgg.workflow_lock import lock_hint


@pytest.fixture
def ranked(pbmc: ad.AnnData) -> ad.AnnData:
    """pbmc68k with an earlier result in ``uns``, which a failed call must leave alone."""
    rgg.rank_genes_groups(pbmc, "bulk_labels")
    return pbmc


def _assert_untouched(adata: ad.AnnData, before: dict) -> None:
    after = adata.uns["rank_genes_groups"]
    assert after.keys() == before.keys()
    for key in ("names", "scores", "pvals_adj"):
        np.testing.assert_array_equal(after[key], before[key])


def test_groups_that_hold_only_the_reference_are_refused(ranked: ad.AnnData) -> None:
    before = dict(ranked.uns["rank_genes_groups"])
    with pytest.raises(ValueError, match=r"holds only the reference 'CD14\+ Monocyte'"):
        rgg.rank_genes_groups(
            ranked, "bulk_labels", groups=["CD14+ Monocyte"], reference="CD14+ Monocyte"
        )
    _assert_untouched(ranked, before)


@pytest.mark.parametrize("method", ["t-test", "wilcoxon", "logreg"])
def test_one_group_holding_every_cell_is_refused(ranked: ad.AnnData, method: str) -> None:
    before = dict(ranked.uns["rank_genes_groups"])
    ranked.obs["everyone"] = pd.Categorical(["all cells"] * ranked.n_obs)
    with pytest.raises(ValueError, match=r"every cell is in group 'all cells'.*no cell to compare"):
        rgg.rank_genes_groups(ranked, "everyone", method=method)
    _assert_untouched(ranked, before)


def test_one_group_with_the_others_unlabelled_still_ranks(pbmc: ad.AnnData) -> None:
    """Cells with no label are the rest (scanpy): a single named group has something to
    compare with."""
    labels = np.where(pbmc.obs["bulk_labels"] == "CD14+ Monocyte", "mono", None)
    pbmc.obs["mono"] = pd.Categorical(labels)
    rgg.rank_genes_groups(pbmc, "mono", method="wilcoxon")
    assert np.isfinite(pbmc.uns["rank_genes_groups"]["scores"]["mono"]).all()


@pytest.mark.parametrize(
    ("kind", "dtype", "fix"),
    [
        ("dense", np.complex64, ".real"),
        ("csr", np.complex64, ".real"),
        ("csc", np.complex128, ".real"),
        ("dense", object, ".astype(np.float32)"),  # scipy.sparse has no object matrices
    ],
)
def test_matrices_that_are_not_real_numbers_are_refused(
    ranked: ad.AnnData, kind: str, dtype: type, fix: str
) -> None:
    before = dict(ranked.uns["rank_genes_groups"])
    values = ranked.X.astype(dtype)
    ranked.X = values if kind == "dense" else getattr(sparse, f"{kind}_matrix")(values)
    with pytest.raises(ValueError, match=rf"adata.X has dtype {np.dtype(dtype)}.*{re.escape(fix)}") as info:
        rgg.rank_genes_groups(ranked, "bulk_labels", method="wilcoxon", use_raw=False)
    assert isinstance(info.value, TypeError)  # a wrong type, and ValueError for the CLI
    _assert_untouched(ranked, before)


def test_a_complex_layer_is_named(ranked: ad.AnnData) -> None:
    ranked.layers["phase"] = ranked.X.astype(np.complex128)
    with pytest.raises(ValueError, match=r"adata.layers\['phase'\] has dtype complex128"):
        rgg.rank_genes_groups(ranked, "bulk_labels", layer="phase", use_raw=False)


@pytest.mark.parametrize(
    ("method", "keyword", "nearest"),
    [
        ("wilcoxon", "tie_corect", "tie_correct"),
        ("t-test", "rankby_ab", "rankby_abs"),
        ("t-test_overestim_var", "n_gene", "n_genes"),
        ("logreg", "tie_corect", "tie_correct"),
        ("logreg", "max_iters", "max_iter"),
    ],
)
def test_misspelled_keywords_name_the_parameter_meant(
    ranked: ad.AnnData, method: str, keyword: str, nearest: str
) -> None:
    before = dict(ranked.uns["rank_genes_groups"])
    with pytest.raises(TypeError, match=rf"\['{keyword}'\]. Did you mean '{nearest}'\?"):
        rgg.rank_genes_groups(ranked, "bulk_labels", method=method, **{keyword: 1})
    _assert_untouched(ranked, before)


def test_logistic_regression_options_and_only_positive_still_pass(pbmc: ad.AnnData) -> None:
    rgg.rank_genes_groups(pbmc, "bulk_labels", method="logreg", max_iter=300, C=0.5)
    rgg.rank_genes_groups(pbmc, "bulk_labels", method="t-test", only_positive=False)
    scores = pbmc.uns["rank_genes_groups"]["scores"]["CD14+ Monocyte"]
    assert (np.abs(scores[:-1]) >= np.abs(scores[1:])).all()  # ranked by absolute score


def test_mean_in_log_space_true_is_scanpys_default(pbmc: ad.AnnData) -> None:
    expected = pbmc.copy()
    rgg.rank_genes_groups(expected, "bulk_labels", method="logreg")
    rgg.rank_genes_groups(pbmc, "bulk_labels", method="logreg", mean_in_log_space=True)
    np.testing.assert_array_equal(
        pbmc.uns["rank_genes_groups"]["scores"], expected.uns["rank_genes_groups"]["scores"]
    )
    with pytest.raises(NotImplementedError, match=r"mean_in_log_space=False.*expm1_mean"):
        rgg.rank_genes_groups(pbmc, "bulk_labels", mean_in_log_space=False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--method", "bogus"], "argument --method: invalid choice: 'bogus'"),
        (["--n-genes", "abc"], "argument --n-genes: invalid int value: 'abc'"),
        (["--corr-method", "bh"], "argument --corr-method: invalid choice"),
        (["--no-such-option"], "unrecognized arguments: --no-such-option"),
    ],
)
def test_usage_errors_are_one_line(tmp_path: Path, capsys, options, message) -> None:
    out = tmp_path / "out.parquet"
    argv = ["rank", str(rgg.datasets.synthetic_path()), "--groupby", "cell_type", *options]
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*argv, "--out", str(out)])
    assert exit_info.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"rgg: error: {message}")
    assert err.rstrip().endswith("(see `rgg rank --help`).")
    assert not out.exists()


@pytest.mark.parametrize("argv", [[], ["bogus"], ["report"], ["collect", "--out"]])
def test_usage_errors_of_every_subcommand_are_one_line(capsys, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("rgg: error: ")


def _slow_logreg_data(tmp_path: Path) -> Path:
    """Data on which logreg fits for tens of seconds (50 classes, 4 million values)."""
    rng = np.random.default_rng(0)
    counts = sparse.random(20_000, 2_000, density=0.1, format="csr", random_state=rng)
    adata = ad.AnnData(np.log1p(counts * 10).astype(np.float32).tocsr())
    adata.obs["group"] = pd.Categorical(rng.integers(0, 50, adata.n_obs).astype(str))
    path = tmp_path / "slow.h5ad"
    adata.write_h5ad(path)
    return path


def test_ctrl_c_is_one_line_exit_130_and_no_output(tmp_path: Path) -> None:
    data = _slow_logreg_data(tmp_path)
    out = tmp_path / "out" / "result.parquet"
    params = '{"method": "logreg", "logreg": {"max_iter": 10000}}'
    command = [
        sys.executable, "-m", "rgg", "rank", str(data), "--groupby", "group",
        "--test-params", params, "--out", str(out), "--uns-out", str(tmp_path / "uns.h5ad"),
    ]  # fmt: skip
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the ranking has started
        lines.append(process.stderr.readline())
        if lines[-1].startswith("rgg: ranking") or not lines[-1]:
            break
    assert lines[-1].startswith("rgg: ranking"), lines
    time.sleep(1.0)  # inside the fit
    assert process.poll() is None, "the fit ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    assert process.wait(timeout=120) == cli.EXIT_INTERRUPTED, rest
    assert "Traceback" not in rest
    assert rest.strip().splitlines() == ["rgg: interrupted; rgg rank wrote no output."]
    assert not out.exists() and not (tmp_path / "uns.h5ad").exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["slow.h5ad"] + (
        ["out"] if out.parent.exists() else []
    )


HOSTILE_LABELS = ["../../etc", "a/./b", "/lead", "trail/", "x//y", ".", "..", "", "a", "a/b"]


@pytest.mark.parametrize("method", ["wilcoxon", "t-test"])
def test_every_label_round_trips_through_h5ad(tmp_path: Path, method: str) -> None:
    sc = pytest.importorskip("scanpy")
    rng = np.random.default_rng(0)
    adata = ad.AnnData(np.log1p(rng.poisson(1.0, (200, 30))).astype(np.float32))
    adata.obs["group"] = pd.Categorical(
        [HOSTILE_LABELS[i % len(HOSTILE_LABELS)] for i in range(adata.n_obs)]
    )
    rgg.rank_genes_groups(adata, "group", method=method, pts=True)
    path = tmp_path / "annotated.h5ad"
    rgg.write_h5ad(adata, path)
    back = rgg.read_h5ad(path)
    result = back.uns["rank_genes_groups"]
    labels = list(adata.obs["group"].cat.categories)
    assert list(back.obs["group"].cat.categories) == labels
    assert list(result["names"].dtype.names) == labels
    assert list(result["pts"].columns) == labels
    pd.testing.assert_frame_equal(
        sc.get.rank_genes_groups_df(back, None), sc.get.rank_genes_groups_df(adata, None)
    )
    plain = ad.read_h5ad(path).uns["rank_genes_groups"]  # columns layout, labels as data
    assert [str(label) for label in plain["rgg_layout"]["groups"]] == labels


def test_an_empty_label_is_a_field_as_in_scanpy(pbmc: ad.AnnData) -> None:
    sc = pytest.importorskip("scanpy")
    pbmc.obs["blank"] = pbmc.obs["bulk_labels"].cat.rename_categories({"Dendritic": ""})
    expected = pbmc.copy()
    sc.tl.rank_genes_groups(expected, "blank", method="wilcoxon")
    rgg.rank_genes_groups(pbmc, "blank", method="wilcoxon")
    names = pbmc.uns["rank_genes_groups"]["names"]
    assert names.dtype == expected.uns["rank_genes_groups"]["names"].dtype
    np.testing.assert_array_equal(names[""], expected.uns["rank_genes_groups"]["names"][""])


def test_a_stale_snakemake_lock_gets_the_unlock_hint(tmp_path: Path) -> None:
    argv = ["/venv/bin/snakemake", "--cores", "2", "--configfile", "my config.yaml", "--quiet"]
    assert lock_hint(tmp_path, argv) is None  # no lock
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    assert lock_hint(tmp_path, argv) is None  # an empty lock folder
    (locks / "0.input.lock").write_text("data.h5ad\n")
    hint = lock_hint(tmp_path, argv)
    assert hint is not None and "killed" in hint
    assert "snakemake --cores 2 --configfile 'my config.yaml' --unlock" in hint
    assert lock_hint(tmp_path, [*argv, "--unlock"]) is None  # while unlocking
    assert os.fspath(locks) in hint
