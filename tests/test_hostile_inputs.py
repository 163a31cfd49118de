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
from rgg.workflow.command import lock_hint


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
    with pytest.raises(
        ValueError, match=rf"adata.X has dtype {np.dtype(dtype)}.*{re.escape(fix)}"
    ) as info:
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


def _ctrl_c_reaches_it() -> None:
    """In the child: SIGINT as in a terminal. A shell starts background jobs (`cmd &`, as a
    CI runner may run the tests) with SIGINT ignored, and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt in this process (as in a terminal), whatever the
    disposition the test run was started with; put back afterwards."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_is_one_line_sigint_status_and_no_output(tmp_path: Path) -> None:
    data = _slow_logreg_data(tmp_path)
    env = dict(os.environ)
    out = tmp_path / "out" / "result.parquet"
    params = '{"method": "logreg", "logreg": {"max_iter": 10000}}'
    command = [
        sys.executable, "-m", "rgg", "rank", str(data), "--groupby", "group",
        "--test-params", params, "--out", str(out), "--uns-out", str(tmp_path / "uns.h5ad"),
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env=env, preexec_fn=_ctrl_c_reaches_it
    )
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until the ranking has started
        lines.append(process.stderr.readline())
        if lines[-1].startswith("rgg: ranking") or not lines[-1]:
            break
    assert lines[-1].startswith("rgg: ranking"), lines
    time.sleep(1.0)  # inside the fit (or, on a fresh install, compiling for it)
    assert process.poll() is None, "the fit ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    rest = process.stderr.read()
    # killed by SIGINT, as a shell needs to see to stop a loop; the shell shows status 130
    assert process.wait(timeout=120) == -signal.SIGINT, rest
    assert "Traceback" not in rest
    assert rest.strip().splitlines() == ["rgg: interrupted; no partial output file is left."]
    assert not out.exists()
    assert not (tmp_path / "uns.h5ad").exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["slow.h5ad"] + (["out"] if out.parent.exists() else [])


def test_ctrl_c_waits_until_a_compilation_is_done(ctrl_c_raises) -> None:
    """Ctrl-C inside LLVM's callbacks is swallowed by ctypes and left llvmlite broken (a
    segfault on a fresh install in CI): compilation holds it back and raises it after."""
    from rgg.kernels._jit import LockedKernel

    class Dispatcher:  # stands in for Numba's: Ctrl-C arrives while it compiles
        compiled = False

        def py_func(self) -> None: ...

        def compile(self, signature) -> None:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # Python would raise KeyboardInterrupt here, mid-compilation
            self.compiled = True

        def __call__(self, *args) -> None:
            msg = "not called after Ctrl-C"
            raise AssertionError(msg)

    dispatcher = Dispatcher()
    with pytest.raises(KeyboardInterrupt):
        LockedKernel(dispatcher)(1.0)
    assert dispatcher.compiled
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


HOSTILE_LABELS = ["../../etc", "a/./b", "/lead", "trail/", "x//y", ".", "..", "", "a", "a/b"]


@pytest.mark.parametrize("pts", [True, False])
@pytest.mark.parametrize("method", ["wilcoxon", "t-test"])
def test_every_label_round_trips_through_h5ad(tmp_path: Path, method: str, pts: bool) -> None:
    sc = pytest.importorskip("scanpy")
    rng = np.random.default_rng(0)
    adata = ad.AnnData(np.log1p(rng.poisson(1.0, (200, 30))).astype(np.float32))
    adata.obs["group"] = pd.Categorical(
        [HOSTILE_LABELS[i % len(HOSTILE_LABELS)] for i in range(adata.n_obs)]
    )
    rgg.rank_genes_groups(adata, "group", method=method, pts=pts)
    path = tmp_path / "annotated.h5ad"
    rgg.write_h5ad(adata, path)
    back = rgg.read_h5ad(path)
    result = back.uns["rank_genes_groups"]
    labels = list(adata.obs["group"].cat.categories)
    assert list(back.obs["group"].cat.categories) == labels
    assert list(result["names"].dtype.names) == labels
    assert not pts or list(result["pts"].columns) == labels
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
    argv = ["/venv/bin/snakemake", "--cores", "2", "--configfile", "my config.yaml"]
    assert lock_hint(tmp_path, argv) is None  # no lock
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    assert lock_hint(tmp_path, argv) is None  # an empty lock folder
    (locks / "0.input.lock").write_text("data.h5ad\n")
    hint = lock_hint(tmp_path, argv)
    assert hint is not None
    assert "killed" in hint
    assert "/venv/bin/snakemake --cores 2 --configfile 'my config.yaml' --unlock" in hint
    for extra in ("--unlock", "--unl", "-n", "-np", "--dry-run", "--dryrun", "--dag"):
        assert lock_hint(tmp_path, [*argv, extra]) is None  # unlocking, or no lock needed
    assert os.fspath(locks) in hint


# --- found by the audit of the API ----------------------------------------------------------


def _small(labels: list | None = None) -> ad.AnnData:
    rng = np.random.default_rng(0)
    adata = ad.AnnData(np.log1p(rng.poisson(1.0, (60, 8))).astype(np.float32))
    labels = labels if labels is not None else [("a", "b", "c")[i % 3] for i in range(60)]
    adata.obs["g"] = pd.Categorical(labels)
    return adata


@pytest.mark.parametrize(
    ("n_genes", "message"),
    [
        (-8, "n_genes=-8 would drop all 8 tested genes"),
        (-100, "n_genes=-100 would drop all 8 tested genes"),
        (1.5, "n_genes must be an integer"),
        (True, "n_genes must be an integer"),
        ("5", "n_genes must be an integer"),
    ],
)
@pytest.mark.parametrize("method", ["t-test", "wilcoxon", "logreg"])
def test_n_genes_that_leaves_no_gene_or_is_no_integer_is_refused(n_genes, message, method) -> None:
    """n_genes <= -(tested genes) once wrote past the end of the result buffers (a crash
    later); scanpy fails there too (numpy's kth out of bounds)."""
    adata = _small()
    with pytest.raises(ValueError, match=re.escape(message)):
        rgg.rank_genes_groups(adata, "g", n_genes=n_genes, method=method)
    assert "rank_genes_groups" not in adata.uns
    for n_genes, n_rows in ((np.int64(3), 3), (0, 8), (-7, 1)):  # 0 and -k as in scanpy
        rgg.rank_genes_groups(adata, "g", n_genes=n_genes, method=method)
        assert len(adata.uns["rank_genes_groups"]["names"]) == n_rows


@pytest.mark.parametrize("method", ["t-test", "wilcoxon", "logreg"])
def test_a_rest_of_one_cell_is_refused_like_a_group_of_one(method: str) -> None:
    adata = _small(["a"] * 59 + ["b"])
    with pytest.raises(ValueError, match=r"only 1 cell is outside group 'a'"):
        rgg.rank_genes_groups(adata, "g", groups=["a"], method=method)
    assert "rank_genes_groups" not in adata.uns


def test_a_group_listed_twice_is_one_group() -> None:
    """scanpy 1.11 deduplicates such a list; 1.12 fails in pandas (InvalidIndexError)."""
    twice, once = _small(), _small()
    rgg.rank_genes_groups(twice, "g", groups=["a", "b", "a"], reference="b")
    rgg.rank_genes_groups(once, "g", groups=["a", "b"], reference="b")
    assert twice.uns["rank_genes_groups"]["names"].dtype.names == ("a",)
    for key in ("names", "scores", "pvals_adj"):
        np.testing.assert_array_equal(
            twice.uns["rank_genes_groups"][key], once.uns["rank_genes_groups"][key]
        )


def test_rest_scope_with_a_reference_is_refused() -> None:
    with pytest.raises(ValueError, match=r"rest_scope='groups' chooses what 'rest' holds"):
        rgg.rank_genes_groups(_small(), "g", rest_scope="groups", reference="b")


def test_categories_that_print_alike_are_refused() -> None:
    adata = _small([(1, "1", "b")[i % 3] for i in range(60)])
    with pytest.raises(ValueError, match=r"the categories 1 and '1' .* same label '1'"):
        rgg.rank_genes_groups(adata, "g")


def test_pre_filters_that_leave_no_gene_are_an_error() -> None:
    adata = _small()
    with pytest.raises(ValueError, match=r"min_pct=1.0 leave no gene to test in any group"):
        rgg.rank_genes_groups(adata, "g", min_pct=1.0)
    assert "rank_genes_groups" not in adata.uns


def test_pre_filters_that_empty_some_groups_warn(caplog) -> None:
    adata = _small()
    group = adata.obs["g"].to_numpy()
    adata.X[group == "a"] = adata.X[group == "c"]  # a equals the reference: no fold change
    adata.X[group == "b"] = adata.X[group == "c"] + 1.0
    with caplog.at_level("WARNING", logger="rgg"):
        rgg.rank_genes_groups(adata, "g", min_logfc=0.5, reference="c")
    assert "min_logfc=0.5 leave no gene to test in 1 of 2 groups (e.g. 'a')" in caplog.text
    assert np.isnan(adata.uns["rank_genes_groups"]["scores"]["a"]).all()
    assert np.isfinite(adata.uns["rank_genes_groups"]["scores"]["b"]).all()


def test_float16_and_longdouble_rank_like_float64() -> None:
    """Numba and scipy.sparse have no float16 (and Numba no float128): cast, as dense is."""
    da = pytest.importorskip("dask.array")
    expected = _small()
    values = expected.X.astype(np.float16)  # the values both sides rank
    expected.X = values.astype(np.float64)
    rgg.rank_genes_groups(expected, "g", method="wilcoxon")
    for x in (
        da.from_array(values, chunks=(20, 8)),
        sparse.csr_matrix(values.astype(np.longdouble)),
    ):
        adata = _small()
        adata.X = x
        rgg.rank_genes_groups(adata, "g", method="wilcoxon", scheduler="synchronous")
        np.testing.assert_array_equal(
            adata.uns["rank_genes_groups"]["scores"], expected.uns["rank_genes_groups"]["scores"]
        )


def test_a_raw_of_the_wrong_dtype_gets_a_fix_that_works() -> None:
    adata = _small()
    adata.raw = ad.AnnData(adata.X.astype(np.complex64), var=adata.var)
    with pytest.raises(ValueError, match=r"adata.raw.X has dtype complex64") as info:
        rgg.rank_genes_groups(adata, "g")
    fix = str(info.value).split("e.g. ")[1].split(" (if")[0]
    exec(fix, {"ad": ad, "np": np, "adata": adata})  # the advice runs as written
    rgg.rank_genes_groups(adata, "g")


def test_a_misspelled_setting_is_refused() -> None:
    with pytest.raises(AttributeError, match=r"no setting 'njobs'. Did you mean 'n_jobs'"):
        rgg.settings.njobs = 3
    assert not hasattr(rgg.settings, "njobs")


def test_read_h5ad_refuses_a_writable_backed_mode() -> None:
    with pytest.raises(ValueError, match=r"backed='r\+': rgg.read_h5ad opens files read-only"):
        rgg.read_h5ad(rgg.datasets.synthetic_path(), backed="r+")


def test_a_label_anndata_cannot_write_as_a_column_round_trips(tmp_path: Path) -> None:
    adata = _small([("dtype", "b", "c")[i % 3] for i in range(60)])
    rgg.rank_genes_groups(adata, "g", pts=True)
    rgg.write_h5ad(adata, tmp_path / "out.h5ad")
    back = rgg.read_h5ad(tmp_path / "out.h5ad").uns["rank_genes_groups"]
    pd.testing.assert_frame_equal(back["pts"], adata.uns["rank_genes_groups"]["pts"])


def test_a_failed_write_leaves_obs_as_it_was(tmp_path: Path) -> None:
    adata = _small()
    adata.obs["sample"] = [f"s{i % 2}" for i in range(60)]  # strings: anndata makes categories
    adata.uns["unwritable"] = object()
    before = adata.obs["sample"].dtype  # object, or pandas 3's str
    with pytest.raises(Exception, match=r"unwritable|object"):
        rgg.write_h5ad(adata, tmp_path / "out.h5ad")
    assert adata.obs["sample"].dtype == before
    assert not isinstance(adata.obs["sample"].dtype, pd.CategoricalDtype)
    assert list(tmp_path.iterdir()) == []


def test_duplicate_gene_names_with_pts_are_refused_before_ranking(tmp_path: Path, capsys) -> None:
    adata = _small()
    adata.var_names = ["G1", "G1", *[f"H{i}" for i in range(6)]]
    rgg.rank_genes_groups(adata, "g", pts=True)
    with pytest.raises(ValueError, match=r"'G1'\), so the long table cannot tell their pts"):
        rgg.io.results_table(adata.uns["rank_genes_groups"], dataset="d", grouping="g", test="t")
    data = tmp_path / "dup.h5ad"
    adata.write_h5ad(data)
    out = tmp_path / "out.parquet"
    argv = ["rank", str(data), "--groupby", "g", "--pts", "--out", str(out)]
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "rgg: ranking" not in err  # refused before the ranking, not after it
    assert err.strip().splitlines()[-1].startswith("rgg: error: 1 gene names occur more than once")
    assert not out.exists()


def test_numba_gets_a_cache_folder_on_a_read_only_install(monkeypatch, tmp_path: Path) -> None:
    """A read-only shared install, run by a user without a writable home: Numba finds no cache
    folder and every kernel fails at import, unless rgg points it at the temporary folder."""
    import numba

    from rgg.kernels import _jit

    writable = {tmp_path / f"rgg-numba-cache-{os.getuid()}"}
    monkeypatch.setattr(_jit, "_writable", lambda directory: directory in writable)
    monkeypatch.setattr(_jit.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    _jit._ensure_cache_dir()
    assert str(tmp_path / f"rgg-numba-cache-{os.getuid()}") == numba.config.CACHE_DIR
    monkeypatch.setattr(numba.config, "CACHE_DIR", "/elsewhere")  # the user's choice wins
    _jit._ensure_cache_dir()
    assert numba.config.CACHE_DIR == "/elsewhere"


# --- found by the audit of the command line -------------------------------------------------


@pytest.fixture(scope="module")
def ranked_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The synthetic data, one `rgg rank` table and uns file, and a combined table."""
    workdir = tmp_path_factory.mktemp("cli")
    data = workdir / "data.h5ad"
    rgg.datasets.synthetic().write_h5ad(data)
    table, uns, markers = workdir / "w.parquet", workdir / "w.uns.h5ad", workdir / "m.parquet"
    argv = ["rank", str(data), "--groupby", "cell_type", "--method", "wilcoxon"]
    assert cli.main([*argv, "--out", str(table), "--uns-out", str(uns)]) == 0
    assert cli.main(["collect", str(table), "--out", str(markers)]) == 0
    return {"data": data, "table": table, "uns": uns, "markers": markers}


def _one_error_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(lines) == 1, lines
    assert lines[0].startswith("rgg: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["rank", "{data}", "--groupby", "cell_type", "--out", "{data}"], "is the input file"),
        (
            ["rank", "{data}", "--groupby", "cell_type", "--out", "{new}", "--uns-out", "{data}"],
            "--uns-out {data} is the input file",
        ),
        (
            ["rank", "{data}", "--groupby", "cell_type", "--out", "{new}", "--uns-out", "{new}"],
            "are the same file",
        ),
        (["rank", "{data}", "--groupby", "cell_type", "--out", "{folder}"], "is a directory"),
        (["collect", "{table}", "--out", "{table}"], "is the input table"),
        (["collect", "{table}", "{table}", "--out", "{new}"], "is given more than once"),
        (["annotate", "{data}", "{uns}", "--out", "{data}"], "is the input file"),
        (["annotate", "{data}", "{uns}", "--out", "{uns}"], "is the results file"),
        (["report", "{markers}", "--out", "{markers}"], "is the markers table"),
        (
            [
                "pseudobulk",
                "{data}",
                "--groupby",
                "cell_type",
                "--sample",
                "donor",
                "--out",
                "{data}",
            ],
            "is the input file",
        ),
    ],
)
def test_outputs_never_overwrite_inputs_or_each_other(
    ranked_files, tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    paths = {**{k: str(v) for k, v in ranked_files.items()}, "new": str(tmp_path / "new.out")}
    paths["folder"] = str(tmp_path)
    before = {name: Path(path).read_bytes() for name, path in ranked_files.items()}
    assert cli.main([part.format(**paths) for part in argv]) == cli.EXIT_USAGE
    assert message.format(**paths) in _one_error_line(capsys)
    assert {name: Path(path).read_bytes() for name, path in ranked_files.items()} == before
    assert not (tmp_path / "new.out").exists()


def test_an_output_folder_that_cannot_be_written_is_refused_before_ranking(
    ranked_files, tmp_path: Path, capsys, monkeypatch
) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(  # root may write anywhere: play a user who may not write here
        os, "access", lambda path, mode: Path(path) != folder and real_access(path, mode)
    )
    argv = ["rank", str(ranked_files["data"]), "--groupby", "cell_type"]
    assert cli.main([*argv, "--out", str(folder / "sub" / "o.parquet")]) == cli.EXIT_USAGE
    error = _one_error_line(capsys)
    assert f"cannot write in {folder}" in error
    assert "ranking" not in capsys.readouterr().err


def test_collect_refuses_a_comparison_given_twice(ranked_files, tmp_path: Path, capsys) -> None:
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(ranked_files["table"].read_bytes())
    out = tmp_path / "all.parquet"
    argv = ["collect", str(ranked_files["markers"]), str(copy), "--out", str(out)]
    assert cli.main(argv) == cli.EXIT_USAGE
    assert "both hold the comparison data/cell_type/wilcoxon" in _one_error_line(capsys)
    assert not out.exists()


def test_annotate_refuses_results_of_other_groups_and_files_without_results(
    ranked_files, tmp_path: Path, capsys
) -> None:
    relabelled = rgg.datasets.synthetic()
    categories = relabelled.obs["cell_type"].cat.categories
    relabelled.obs["cell_type"] = relabelled.obs["cell_type"].cat.rename_categories(
        [f"type {i}" for i in range(len(categories))]
    )
    other = tmp_path / "relabelled.h5ad"
    relabelled.write_h5ad(other)
    out = tmp_path / "annotated.h5ad"
    assert cli.main(["annotate", str(other), str(ranked_files["uns"]), "--out", str(out)]) == 2
    assert "has results for groups" in _one_error_line(capsys)
    argv = ["annotate", str(ranked_files["data"]), str(other), "--out", str(out)]
    assert cli.main(argv) == cli.EXIT_USAGE
    assert "holds no rank_genes_groups result" in _one_error_line(capsys)
    assert not out.exists()


def test_report_refuses_a_dataset_file_the_results_did_not_come_from(
    ranked_files, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "report.html"
    pbmc = rgg.datasets.pbmc68k_reduced_path()
    argv = ["report", str(ranked_files["markers"]), "--dataset", f"data={pbmc}", "--out", str(out)]
    assert cli.main(argv) == cli.EXIT_USAGE
    error = _one_error_line(capsys)
    assert "has no obs column 'cell_type' that cell_type/wilcoxon was computed on" in error
    data = f"data={ranked_files['data']}"
    argv = ["report", str(ranked_files["markers"]), "--dataset", data, "--dataset", data]
    assert cli.main([*argv, "--out", str(out)]) == cli.EXIT_USAGE
    assert "--dataset 'data' is given twice" in _one_error_line(capsys)
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--key-added", ""], "key_added must be a non-empty string"),
        (["--uns-out", "{tmp}/u.h5ad", "--key-added", "a/b"], "cannot hold '/'"),
        (["--test-config", "{tmp}/missing.yaml"], "--test-config {tmp}/missing.yaml: no such file"),
        (["--test-config", "{data}"], "is not a text file"),
        (["--mask-var", "highly_variable_rank"], "Did not find"),
    ],
)
def test_more_rank_mistakes_are_one_line(
    ranked_files, tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    paths = {"tmp": str(tmp_path), "data": str(ranked_files["data"])}
    base = ["rank", str(ranked_files["data"]), "--groupby", "cell_type", "--out"]
    full = [*base, str(tmp_path / "o.parquet"), *[part.format(**paths) for part in argv]]
    assert cli.main(full) == cli.EXIT_USAGE
    assert message.format(**paths) in _one_error_line(capsys)
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ('{sample: donor, min_cells: "ten"}', "min_cells must be an integer, got 'ten'"),
        ("{sample: [donor]}", "sample must be a string"),
    ],
)
def test_pseudobulk_parameters_of_the_wrong_type_are_one_line(
    ranked_files, tmp_path: Path, capsys, params: str, message: str
) -> None:
    argv = ["pseudobulk", str(ranked_files["data"]), "--groupby", "cell_type"]
    argv += ["--test-params", params, "--out", str(tmp_path / "o.parquet")]
    assert cli.main(argv) == cli.EXIT_USAGE
    assert message in _one_error_line(capsys)


def test_a_directory_given_as_input_is_named(tmp_path: Path, capsys) -> None:
    argv = ["rank", str(tmp_path), "--groupby", "g", "--out", str(tmp_path / "o.parquet")]
    assert cli.main(argv) == cli.EXIT_USAGE
    assert "is a directory, not an h5ad file" in _one_error_line(capsys)
    assert cli.main(["collect", str(tmp_path), "--out", str(tmp_path / "o.parquet")]) == 2
    assert "is a directory, not a table" in _one_error_line(capsys)


def test_python_warnings_are_one_line_each() -> None:
    """A library's warning (anndata's, PyDESeq2's) is one ``rgg: warning:`` line, not the
    warning and its source line. In a subprocess: pytest records warnings itself."""
    script = (
        "import warnings, rgg.cli.demo as demo, rgg.cli as cli\n"
        "def command(args):\n"
        '    warnings.warn("a library\'s warning", FutureWarning, stacklevel=1)\n'
        "    return 0\n"
        "demo.run = command\n"
        "raise SystemExit(cli.main(['demo']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stderr.splitlines() == ["rgg: warning: FutureWarning: a library's warning"]


def test_duplicate_gene_names_outside_the_mask_are_fine(tmp_path: Path) -> None:
    adata = _small()
    adata.var_names = ["G1", "G1", *[f"H{i}" for i in range(6)]]
    adata.var["keep"] = [False, True, *[True] * 6]  # the duplicate is not tested
    data = tmp_path / "dup.h5ad"
    adata.write_h5ad(data)
    out = tmp_path / "out.parquet"
    argv = ["rank", str(data), "--groupby", "g", "--pts", "--mask-var", "keep", "--out", str(out)]
    assert cli.main(argv) == 0
    assert rgg.io.read_results(out)[0].height == 3 * 7


def test_the_recorded_workflow_command_hides_secrets() -> None:
    from rgg.workflow.command import workflow_command

    argv = [
        "snakemake", "--cores", "2", "--storage-s3-secret-key", "ABC", "--config",
        "api_token=xyz", "results=r", "--password=hunter2", "--keep-going",
    ]  # fmt: skip
    command = workflow_command(argv, {"SNAKEMAKE_PROFILE": "profiles/slurm"})
    assert command.startswith("SNAKEMAKE_PROFILE=profiles/slurm snakemake --cores 2")
    for secret in ("ABC", "xyz", "hunter2"):
        assert secret not in command
    assert "results=r" in command
    assert "--keep-going" in command
