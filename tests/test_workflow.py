"""The Snakemake workflow, run for real with the ``snakemake`` command on small data.

One module-scoped run ranks the bundled PBMC data and the synthetic data (labels with '/',
'+' and spaces, pts on) with several tests; the tests then check every output against
``rgg.rank_genes_groups`` in this process, and check reruns, dry runs, lint and report.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml
from polars.testing import assert_frame_equal

import rgg
from rgg.io import read_comparisons, read_results, results_table
from rgg.io.parquet import COLUMNS

pytestmark = pytest.mark.workflow

REPO = Path(__file__).resolve().parent.parent
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))

CONFIG: dict[str, Any] = {
    "datasets": {
        "pbmc": {"path": str(rgg.datasets.pbmc68k_reduced_path())},
        "synth": {"path": str(rgg.datasets.synthetic_path())},
    },
    "groupings": {
        "bulk_labels": {"datasets": ["pbmc"]},
        "types": {"column": "cell_type", "datasets": ["synth"]},
    },
    "tests": {
        "wilcoxon": {"method": "wilcoxon", "tie_correct": True, "pts": True, "auroc": True},
        "t-test": {"method": "t-test_overestim_var", "pts": True, "n_genes": 40},
        "vs-b": {"method": "wilcoxon", "reference": "B cell", "corr_method": "bonferroni"},
        "logreg": {"method": "logreg", "logreg": {"max_iter": 300}},
    },
    "comparisons": {
        "exclude": [
            {"grouping": "bulk_labels", "test": ["vs-b", "logreg"]},
        ]
    },
    "threads": 2,
}
#: (dataset, grouping column, test) of every comparison CONFIG selects.
EXPECTED = [
    ("pbmc", "bulk_labels", "bulk_labels", "t-test"),
    ("pbmc", "bulk_labels", "bulk_labels", "wilcoxon"),
    ("synth", "types", "cell_type", "logreg"),
    ("synth", "types", "cell_type", "t-test"),
    ("synth", "types", "cell_type", "vs-b"),
    ("synth", "types", "cell_type", "wilcoxon"),
]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the workflow's Snakefile in ``workdir`` with its config.yaml."""
    command = [
        SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"), *args,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def write_config(workdir: Path, config: dict[str, Any]) -> None:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    write_config(workdir, CONFIG)
    snakemake(workdir, "--cores", "2", "--quiet")
    return workdir


def in_process(dataset: str, column: str, test: str) -> ad.AnnData:
    """The same comparison with the Python API, as the workflow's rank job runs it."""
    adata = ad.read_h5ad(CONFIG["datasets"][dataset]["path"])
    params = {k: v for k, v in CONFIG["tests"][test].items() if k != "logreg"}
    params |= CONFIG["tests"][test].get("logreg", {})
    rgg.rank_genes_groups(adata, column, **params)
    return adata


def test_every_output_is_written(finished_run: Path) -> None:
    results = finished_run / "results"
    for dataset, grouping, _, test in EXPECTED:
        for path in (
            results / dataset / grouping / f"{test}.parquet",
            results / "internal" / "uns" / dataset / grouping / f"{test}.uns.h5ad",
            results / "logs" / "rank" / dataset / grouping / f"{test}.log",
            results / "benchmarks" / "rank" / dataset / grouping / f"{test}.tsv",
        ):
            assert path.is_file(), path
    assert (results / "markers.parquet").is_file()
    for dataset in ("pbmc", "synth"):
        assert (results / dataset / "annotated.h5ad").is_file()
    report = (finished_run / "reports" / "rgg_report.html").read_text()
    for dataset, grouping, _, test in EXPECTED:
        assert f"<h2>{dataset} &middot; {grouping} &middot; {test}</h2>" in report
    assert "CD4+/CD8+ T" in report
    benchmark = pd.read_csv(
        results / "benchmarks" / "rank" / "pbmc" / "bulk_labels" / "wilcoxon.tsv", sep="\t"
    )
    assert {"s", "max_rss"} <= set(benchmark.columns)
    assert not list(results.rglob(".*.tmp"))  # no temporary file left behind
    # the user's folders hold tables and h5ad files that stand on their own; the uns-only
    # intermediates live under internal/
    assert not [p for p in results.rglob("*.uns.h5ad") if "internal" not in p.parts]


@pytest.mark.parametrize(("dataset", "grouping", "column", "test"), EXPECTED)
def test_tables_match_the_api(
    finished_run: Path, dataset: str, grouping: str, column: str, test: str
) -> None:
    table, params = read_results(finished_run / "results" / dataset / grouping / f"{test}.parquet")
    assert table.schema == pl.Schema(COLUMNS)
    expected = results_table(
        in_process(dataset, column, test).uns["rank_genes_groups"],
        dataset=dataset,
        grouping=grouping,
        test=test,
    )
    assert_frame_equal(table, expected)
    assert params["groupby"] == column
    assert params["method"] == CONFIG["tests"][test]["method"]
    [record] = read_comparisons(finished_run / "results" / dataset / grouping / f"{test}.parquet")
    assert (record["dataset"], record["grouping"], record["test"]) == (dataset, grouping, test)
    assert record["rgg_version"] == rgg.__version__


def test_combined_table_holds_every_comparison(finished_run: Path) -> None:
    combined, _ = read_results(finished_run / "results" / "markers.parquet")
    parts = [
        read_results(finished_run / "results" / d / g / f"{t}.parquet")[0]
        for d, g, _, t in EXPECTED
    ]
    assert_frame_equal(combined, pl.concat(parts))
    records = read_comparisons(finished_run / "results" / "markers.parquet")
    assert [(r["dataset"], r["grouping"], r["test"]) for r in records] == [
        (d, g, t) for d, g, _, t in EXPECTED
    ]


@pytest.mark.parametrize("dataset", ["pbmc", "synth"])
def test_annotated_h5ad_works_with_scanpy_after_read_h5ad(finished_run: Path, dataset: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scanpy as sc

    annotated = ad.read_h5ad(finished_run / "results" / dataset / "annotated.h5ad")
    original = ad.read_h5ad(CONFIG["datasets"][dataset]["path"])
    np.testing.assert_array_equal(annotated.obs_names, original.obs_names)
    comparisons = [(g, c, t) for d, g, c, t in EXPECTED if d == dataset]
    for grouping, column, test in comparisons:
        key = f"rank_genes_groups_{grouping}_{test}"
        expected = in_process(dataset, column, test)
        got = sc.get.rank_genes_groups_df(annotated, None, key=key)
        want = sc.get.rank_genes_groups_df(expected, None)
        pd.testing.assert_frame_equal(got, want)
        if "pts" in expected.uns["rank_genes_groups"]:
            assert "pct_nz_group" in got.columns
    if dataset == "synth":  # labels with '/', pts on: what anndata 0.13 cannot write itself
        assert any(
            "/" in label for label in annotated.uns["rank_genes_groups_types_wilcoxon"]["pts"]
        )
    sc.pl.rank_genes_groups_dotplot(
        annotated, key=f"rank_genes_groups_{comparisons[0][0]}_wilcoxon", n_genes=2, show=False
    )
    plt.close("all")


def test_rerun_does_nothing_until_a_parameter_changes(finished_run: Path, tmp_path: Path) -> None:
    nothing = snakemake(finished_run, "--dry-run")
    assert "Nothing to be done" in nothing.stdout

    workdir = tmp_path / "changed"
    shutil.copytree(finished_run, workdir, symlinks=True)
    changed = json.loads(json.dumps(CONFIG))
    changed["tests"]["t-test"]["n_genes"] = 25
    write_config(workdir, changed)
    planned = snakemake(workdir, "--dry-run", "--printshellcmds").stdout
    reranked = re.findall(r"rgg rank .* --out (\S+) --uns-out", planned)
    assert sorted(reranked) == [
        "results/pbmc/bulk_labels/t-test.parquet",
        "results/synth/types/t-test.parquet",
    ]
    snakemake(workdir, "--cores", "2", "--quiet")
    table, params = read_results(workdir / "results" / "synth" / "types" / "t-test.parquet")
    assert params["n_genes"] == 25
    assert table.group_by("group").len()["len"].unique().to_list() == [25]
    untouched = "results/synth/types/wilcoxon.parquet"
    assert (workdir / untouched).stat().st_mtime == (finished_run / untouched).stat().st_mtime


def test_snakemake_report(finished_run: Path) -> None:
    (finished_run / "reports").mkdir(exist_ok=True)
    snakemake(finished_run, "--report", "reports/snakemake.html")
    html = (finished_run / "reports" / "snakemake.html").read_text()
    assert "markers.parquet" in html


def test_default_config_dry_run_from_the_repository() -> None:
    result = subprocess.run(
        [SNAKEMAKE, "--dry-run", "--forceall", "--nolock", "--quiet", "rules"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rank" in result.stdout


@pytest.mark.parametrize(
    "example", sorted((REPO / "config" / "examples").glob("*.yaml")), ids=lambda p: p.stem
)
def test_example_config_dry_runs(example: Path) -> None:
    result = subprocess.run(
        [SNAKEMAKE, "--dry-run", "--forceall", "--nolock", "--configfile", str(example)],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rank" in result.stdout


def test_slurm_profile_dry_run(tmp_path: Path) -> None:
    write_config(tmp_path, CONFIG)
    result = snakemake(tmp_path, "--dry-run", "--profile", str(REPO / "profiles" / "slurm"))
    assert "rank" in result.stdout
    assert "Job stats" in result.stdout


def test_lint_is_clean() -> None:
    result = subprocess.run(
        [SNAKEMAKE, "--lint"], cwd=REPO, capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    assert "Lints for" not in output, output
    assert "Congratulations, your workflow is in a good condition!" in output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tests": {"wilcoxon": {"method": "wilcoxom"}}}, "Did you mean 'wilcoxon'"),
        ({"tests": {"wilcoxon": {"tie_corect": True}}}, "Did you mean 'tie_correct'"),
        ({"datasets": {"bad/name": {"path": "x.h5ad"}}}, "'bad/name' does not match"),
        ({"datasets": {"..": {"path": "x.h5ad"}}}, "'..' does not match"),
        ({"tests": {"a b": {}}}, "'a b' does not match"),
        ({"tests": {"x;touch PWNED": {}}}, "does not match"),
        ({"groupings": {"Zellé": {}}}, "'Zellé' does not match"),
        (
            {"groupings": {"types": {"column": "celltype", "datasets": ["synth"]}}},
            "Did you mean 'cell_type'",
        ),
    ],
)
def test_bad_configs_fail_before_anything_runs(tmp_path: Path, change: dict, message: str) -> None:
    config = json.loads(json.dumps(CONFIG))
    for section, entries in change.items():
        config[section].update(entries)
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "--dry-run", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_a_configfile_replaces_the_default_config(tmp_path: Path) -> None:
    write_config(tmp_path, CONFIG)
    result = subprocess.run(
        [SNAKEMAKE, "--dry-run", "--forceall", "--nolock", "--configfile", str(tmp_path / "config.yaml")],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "results/synth/types/vs-b.parquet" in result.stdout
    assert "results/pbmc68k/" not in result.stdout  # the default dataset was not merged in


def test_a_grouping_may_be_written_without_options(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text(
        f"datasets:\n  synth: {{path: {rgg.datasets.synthetic_path()}}}\n"
        "groupings:\n  cell_type:\ntests:\n  w: {method: wilcoxon}\n"
    )
    result = snakemake(tmp_path, "--dry-run", "--printshellcmds")
    assert "--groupby cell_type" in result.stdout


def test_a_new_rgg_version_reruns_the_rankings(finished_run: Path, tmp_path: Path) -> None:
    """Snakemake's record of the earlier run says it was made by another rgg version."""
    import base64

    workdir = tmp_path / "upgraded"
    shutil.copytree(finished_run, workdir, symlinks=True)
    target = "results/synth/types/wilcoxon.parquet"
    for record_path in (workdir / ".snakemake" / "metadata").iterdir():
        if base64.b64decode(record_path.name.replace("@", "/")).decode() != target:
            continue
        record = json.loads(record_path.read_text())
        assert repr(rgg.__version__) in record["params"]
        record["params"] = [
            "'0.0.0-older'" if p == repr(rgg.__version__) else p for p in record["params"]
        ]
        record_path.write_text(json.dumps(record))
    planned = snakemake(workdir, "--dry-run", "--printshellcmds").stdout
    assert re.findall(r"rgg rank .* --out (\S+) --uns-out", planned) == [target]


@pytest.mark.parametrize(
    ("tests_yaml", "message"),
    [
        ("  w: {method: wilcoxon}\n  t: {}\n  w: {method: logreg}\n", "the key 'w' appears twice"),
        ("  w: {method: wilcoxon, n_genes: ten}\n", "tests.w.n_genes: 'ten' is not of type"),
        ("  w: {method: wilcoxon, groups: B cell}\n", "tests.w.groups: 'B cell' is not of type"),
    ],
)
def test_malformed_config_files_are_named(tmp_path: Path, tests_yaml: str, message: str) -> None:
    (tmp_path / "config.yaml").write_text(
        f"datasets:\n  synth: {{path: {rgg.datasets.synthetic_path()}}}\n"
        f"groupings:\n  cell_type:\ntests:\n{tests_yaml}"
    )
    result = snakemake(tmp_path, "--dry-run", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr


def test_killed_run_resumes_to_identical_outputs(finished_run: Path, tmp_path: Path) -> None:
    """SIGKILL the workflow mid-run (one thread), rerun: outputs equal the 2-thread run's."""
    import os
    import signal
    import time

    workdir = tmp_path / "killed"
    config = json.loads(json.dumps(CONFIG))
    config["threads"] = 1
    write_config(workdir, config)
    command = [
        SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"), "--cores", "1",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    results = workdir / "results"
    deadline = time.monotonic() + 300
    while not list(results.rglob("*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    tables = list(results.rglob("*.parquet"))
    assert 0 < len(tables) < len(EXPECTED) + 1, "the run was not interrupted midway"
    for table in tables:  # whatever is in place is complete; partial writes stay hidden
        read_results(table)
    assert not (workdir / "reports" / "rgg_report.html").exists()

    locked = snakemake(workdir, "--cores", "2", "--quiet", check=False)
    assert locked.returncode != 0  # the killed run's lock is still there
    hint = next(line for line in locked.stderr.splitlines() if line.startswith("rgg: "))
    assert "holds the lock of an earlier run" in hint
    assert "--unlock" in locked.stderr.split(hint)[1].splitlines()[1]  # the command to run
    snakemake(workdir, "--unlock")
    snakemake(workdir, "--cores", "2", "--quiet")
    assert "holds the lock" not in snakemake(workdir, "--dry-run").stderr
    for dataset, grouping, _, test in EXPECTED:
        relative = Path("results") / dataset / grouping / f"{test}.parquet"
        resumed, _ = read_results(workdir / relative)
        reference, _ = read_results(finished_run / relative)
        assert_frame_equal(resumed, reference)  # bit-identical, 1 thread vs 2
    for dataset in ("pbmc", "synth"):
        resumed = ad.read_h5ad(workdir / "results" / dataset / "annotated.h5ad").uns
        reference = ad.read_h5ad(finished_run / "results" / dataset / "annotated.h5ad").uns
        keys = [key for key in reference if key.startswith("rank_genes_groups_")]
        assert sorted(keys) == sorted(k for k in resumed if k.startswith("rank_genes_groups_"))
        for key in keys:
            for field in ("names", "scores", "pvals", "pvals_adj", "logfoldchanges"):
                if field in reference[key]:
                    np.testing.assert_array_equal(resumed[key][field], reference[key][field])
    assert (workdir / "reports" / "rgg_report.html").is_file()


def test_shell_characters_in_labels_are_data_not_code(tmp_path: Path) -> None:
    hostile = 'it\'s $(touch PWNED) `touch PWNED2`; "x" | ../x Zellé β/γ'  # noqa: RUF001 (unicode on purpose)
    # labels no HDF5 name can hold: rgg stores that result in its columns layout
    paths = {"B cell": "../../etc", "Mono/Macro": "a/./b", "DC": "/lead"}
    adata = rgg.datasets.synthetic()
    adata.obs["cell_type"] = adata.obs["cell_type"].cat.rename_categories({"NK": hostile, **paths})
    data = tmp_path / "hostile data.h5ad"  # a space in the path too
    adata.write_h5ad(data)
    config = {
        "datasets": {"h": {"path": str(data)}},
        "groupings": {"cell_type": None},
        "tests": {
            "vs": {"method": "t-test", "reference": hostile, "groups": ["/lead", hostile]},
            "w": {"method": "wilcoxon", "pts": True},
        },
    }
    write_config(tmp_path, config)
    snakemake(tmp_path, "--cores", "2", "--quiet")
    assert not list(tmp_path.rglob("PWNED*"))
    assert not list(REPO.glob("PWNED*"))
    against, _ = read_results(tmp_path / "results" / "h" / "cell_type" / "vs.parquet")
    assert against["reference"].unique().to_list() == [hostile]
    assert against["group"].unique().to_list() == ["/lead"]
    annotated = rgg.read_h5ad(tmp_path / "results" / "h" / "annotated.h5ad")
    result = annotated.uns["rank_genes_groups_cell_type_w"]
    labels = list(adata.obs["cell_type"].cat.categories)
    assert list(result["pts"].columns) == labels
    assert list(result["names"].dtype.names) == labels
    assert list(annotated.obs["cell_type"].cat.categories) == labels
    in_process = adata.copy()
    rgg.rank_genes_groups(in_process, "cell_type", method="wilcoxon", pts=True)
    expected = in_process.uns["rank_genes_groups"]
    for field in ("names", "scores", "pvals_adj", "logfoldchanges"):
        np.testing.assert_array_equal(result[field], expected[field])
    pd.testing.assert_frame_equal(result["pts"], expected["pts"])


def test_report_shows_the_parameters_each_test_sets(finished_run: Path) -> None:
    """What the config sets, with the resolved defaults folded away (issue 19)."""
    report = (finished_run / "reports" / "rgg_report.html").read_text()
    table = report.split('id="tests-table"')[1].split("</table>")[0]
    row = next(r for r in table.split("<tr>") if r.startswith("<td>wilcoxon</td>"))
    chosen = row.split("<code>")[1].split("</code>")[0]
    assert chosen == "auroc: true, method: wilcoxon, pts: true, tie_correct: true"
    defaults = row.split("<summary>defaults</summary><code>")[1].split("</code>")[0]
    assert "corr_method: benjamini-hochberg" in defaults
    assert "method" not in defaults.replace("corr_method", "")


def test_report_shows_the_snakemake_command_that_was_run(finished_run: Path) -> None:
    """The provenance names the user's command, not the internal `rgg collect` step, which is
    kept below it with each job's own command (issue 19)."""
    report = (finished_run / "reports" / "rgg_report.html").read_text()
    table = report.split('id="provenance-table"')[1].split("</table>")[0]
    command = table.split("<th>command</th><td><code>")[1].split("</code>")[0]
    assert command.split()[0].endswith("snakemake")
    assert "--configfile" in command
    assert "--cores 2" in command
    step = table.split("<th>its step that combined the tables</th><td><code>")[1]
    assert step.startswith("rgg collect")
    jobs = report.split('id="job-times-table"')[1].split("</table>")[0]
    assert jobs.count("<code>rgg rank ") == len(EXPECTED)
