"""The run's Workflow Run RO-Crate, its environment files, and `rgg verify` (issue 21).

One small workflow run (the bundled PBMC data, copied into the run's folder so that tests can
tamper with a copy, two tests); each tampering test works on its own copy of the run.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from packaging.requirements import Requirement

import rgg
from rgg.cli import main
from rgg.io.crate import CRATE_FILE, read_run_crate
from rgg.io.provenance import dependency_versions, sha256_file
from rgg.verify import current_environment, table_difference, verify_results

from .test_workflow import snakemake, write_config

pytestmark = pytest.mark.workflow

CONFIG = {
    "datasets": {"pbmc": {"path": "data/pbmc.h5ad"}},
    "groupings": {"bulk_labels": {}},
    "tests": {
        "wilcoxon": {"method": "wilcoxon", "pts": True, "n_genes": 30},
        "t-test": {"method": "t-test"},
    },
    "threads": 1,
}
COMPARISONS = ["pbmc/bulk_labels/t-test", "pbmc/bulk_labels/wilcoxon"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("verified")
    (workdir / "data").mkdir()
    shutil.copyfile(rgg.datasets.pbmc68k_reduced_path(), workdir / "data" / "pbmc.h5ad")
    write_config(workdir, CONFIG)
    snakemake(workdir, "--cores", "2", "--quiet")
    return workdir


@pytest.fixture
def copy(run: Path, tmp_path: Path) -> Path:
    """A copy of the run to tamper with."""
    target = tmp_path / "copy"
    shutil.copytree(run, target, symlinks=True)
    return target


def verify(workdir: Path, *options: str, capsys: pytest.CaptureFixture) -> tuple[int, list[str]]:
    """`rgg verify` on the run's results; its exit code and the problem lines."""
    code = main(["verify", str(workdir / "results"), *options])
    out = capsys.readouterr().out.splitlines()
    return code, [line for line in out if line.startswith("rgg verify: problem: ")]


def test_the_crate_records_the_run(run: Path) -> None:
    from rocrate.rocrate import ROCrate

    results = run / "results"
    crate = ROCrate(results)  # the library's reader takes it
    workflow = crate.mainEntity
    assert workflow.id == "run/Snakefile"
    assert {"File", "SoftwareSourceCode", "ComputationalWorkflow"} <= set(workflow.type)
    assert (results / "run" / "Snakefile").read_bytes() == (
        Path(rgg.__file__).parent.parent / "Snakefile"
    ).read_bytes()
    parts = {part.id for part in workflow["hasPart"]}
    assert {
        "run/workflow/rules/rank.smk",
        "run/workflow/schemas/config.schema.yaml",
    } <= parts

    record = read_run_crate(results)
    [dataset] = record.inputs
    assert dataset.id == "../data/pbmc.h5ad"
    assert dataset.sha256 == sha256_file(run / "data" / "pbmc.h5ad")
    outputs = {entry.id: entry.sha256 for entry in record.outputs}
    for name in (
        "markers.parquet",
        "pbmc/annotated.h5ad",
        "pbmc/bulk_labels/wilcoxon.parquet",
        "../reports/rgg_report.html",
        "environment.txt",
    ):
        assert outputs[name] == sha256_file(results / name), name
    assert [c.name for c in record.comparisons] == COMPARISONS
    wilcoxon = record.comparisons[1]
    assert wilcoxon.table == "pbmc/bulk_labels/wilcoxon.parquet"
    assert wilcoxon.inputs == ["../data/pbmc.h5ad"]
    assert wilcoxon.params["n_genes"] == "30"
    assert wilcoxon.params["method"] == "wilcoxon"
    assert wilcoxon.params["groupby"] == "bulk_labels"
    assert record.rgg_version == rgg.__version__
    assert record.packages["numpy"] == np.__version__
    assert record.python == current_environment().python
    assert record.command.split()[0].endswith("snakemake")
    assert "--configfile" in record.command
    assert record.started <= record.ended
    resolved = yaml.safe_load((results / "run" / "config.yaml").read_text())  # defaults filled in
    for test, given in CONFIG["tests"].items():
        assert given.items() <= resolved["tests"][test].items()
    assert resolved["tests"]["t-test"]["corr_method"] == "benjamini-hochberg"
    action = crate.get("#comparison/pbmc/bulk_labels/wilcoxon")
    assert action["instrument"].id == "#rgg"
    assert action["startTime"] <= action["endTime"]


def _ro_crate_11_context() -> bytes:
    """RO-Crate 1.1's JSON-LD context, which the validator needs and cannot fetch offline.

    ro-crate-py 0.13 ships it (later versions ship 1.3's): fetched with pip, from the package
    registry the tests install from anyway.
    """
    folder = Path(__file__).parent / "artifacts" / "rocrate-0.13.0"
    wheels = list(folder.glob("rocrate-0.13.0-*.whl"))
    if not wheels:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest",
             str(folder), "rocrate==0.13.0"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        wheels = list(folder.glob("rocrate-0.13.0-*.whl"))
        if result.returncode != 0 or not wheels:
            pytest.skip(
                f"pip could not download rocrate 0.13.0 for RO-Crate 1.1's context: {result.stderr[-300:]}"
            )
    return zipfile.ZipFile(wheels[0]).read("rocrate/data/ro-crate.jsonld")


def _seed_validator_cache(cache: Path, url: str, body: bytes) -> None:
    """Put ``body`` in the validator's HTTP cache as the response of ``url``."""
    import requests
    import requests_cache
    import urllib3

    response = requests.Response()
    response.status_code = 200
    response.url = url
    headers = {"Content-Type": "application/ld+json"}
    response.raw = urllib3.HTTPResponse(
        body=io.BytesIO(body), headers=headers, status=200, preload_content=False, request_url=url
    )
    response._content = body
    response.headers = requests.structures.CaseInsensitiveDict(headers)
    response.request = requests.Request("GET", url).prepare()
    requests_cache.CachedSession(cache_name=str(cache), backend="sqlite").cache.save_response(
        response
    )


@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_the_crate_validates_as_a_workflow_run_crate(run: Path, tmp_path: Path) -> None:
    from rocrate_validator import services

    context = _ro_crate_11_context()
    assert json.loads(context)["@id"] == "https://w3id.org/ro/crate/1.1/context"
    cache = tmp_path / "http-cache"
    _seed_validator_cache(cache, "https://w3id.org/ro/crate/1.1/context", context)
    settings = services.ValidationSettings(
        rocrate_uri=str(run / "results"),
        profile_identifier="workflow-run-crate-0.5",
        requirement_severity="REQUIRED",
        offline=True,
        cache_path=str(cache),
    )
    result = services.validate(settings)
    issues = [f"{issue.check.identifier}: {issue.message}" for issue in result.get_issues()]
    assert result.passed(), issues
    checked = {check.identifier.rsplit("_", 1)[0] for check in result.executed_checks}
    # the profile's own checks ran, and those of the profiles it builds on
    assert {"workflow-run-crate-0.5", "process-run-crate-0.5", "workflow-ro-crate-1.0"} <= checked


def test_the_environment_files_pin_every_package(run: Path) -> None:
    installed = {name.lower(): version for name, version in dependency_versions().items()}
    lines = (run / "results" / "environment.txt").read_text().splitlines()
    assert lines[0].startswith(f"# The packages of an rgg {rgg.__version__} run on Python")
    pins = [Requirement(line) for line in lines if not line.startswith("#")]
    assert {p.name.lower() for p in pins} == set(installed) - {"rgg", "pip"}
    for pin in pins:
        assert str(pin.specifier) == f"=={installed[pin.name.lower()]}"
    conda = yaml.safe_load((run / "results" / "environment.yml").read_text())
    python, pip, nested = conda["dependencies"]
    assert python == f"python={current_environment().python}"
    assert pip == "pip"
    assert nested["pip"] == [line for line in lines if not line.startswith("#")]


def test_an_untouched_run_verifies_and_recomputes(run: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["verify", str(run / "results"), "--recompute"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "problem" not in out
    assert "2 comparisons recomputed" in out
    # which software made it: the first line
    assert out.startswith(f"rgg verify: the run: rgg {rgg.__version__}")
    assert f"Python {current_environment().python}" in out.splitlines()[0]


def test_a_tampered_input_is_caught(copy: Path, capsys: pytest.CaptureFixture) -> None:
    data = copy / "data" / "pbmc.h5ad"
    content = bytearray(data.read_bytes())
    content[-100] ^= 0xFF
    data.write_bytes(bytes(content))
    code, problems = verify(copy, capsys=capsys)
    assert code == 1
    [problem] = problems
    assert problem.startswith("rgg verify: problem: ../data/pbmc.h5ad: sha256 ")
    assert "this input changed since the run" in problem


def test_a_missing_input_is_found_with_data(copy: Path, capsys: pytest.CaptureFixture) -> None:
    moved = copy / "elsewhere"
    moved.mkdir()
    (copy / "data" / "pbmc.h5ad").rename(moved / "pbmc.h5ad")
    code, [problem] = verify(copy, capsys=capsys)
    assert code == 1
    assert "../data/pbmc.h5ad: missing" in problem
    assert "--data" in problem
    code, problems = verify(copy, "--data", str(moved), "--recompute", "1", capsys=capsys)
    assert (code, problems) == (0, [])


def test_a_tampered_output_is_caught_and_recomputed(
    copy: Path, capsys: pytest.CaptureFixture
) -> None:
    """One score changed, the file rewritten with its metadata: only its checksum and the
    recomputation can tell."""
    path = copy / "results" / "pbmc" / "bulk_labels" / "t-test.parquet"
    metadata = {k: v for k, v in pl.read_parquet_metadata(path).items() if k.startswith("rgg:")}
    table = pl.read_parquet(path)
    table = table.with_columns(
        score=pl.when(pl.int_range(pl.len()) == 3).then(pl.col("score") + 1e-3).otherwise("score")
    )
    table.write_parquet(path, metadata=metadata)
    code, problems = verify(copy, "--recompute", "all", capsys=capsys)
    assert code == 1
    assert len(problems) == 2, problems
    assert problems[0].startswith("rgg verify: problem: pbmc/bulk_labels/t-test.parquet: sha256 ")
    assert problems[1].startswith(
        "rgg verify: problem: pbmc/bulk_labels/t-test (recomputed): the table differs from "
        "pbmc/bulk_labels/t-test.parquet: column score differs in 1 rows, first at row 3"
    )


def _edit_crate(workdir: Path, identifier: str, key: str, value: str) -> None:
    path = workdir / "results" / CRATE_FILE
    crate = json.loads(path.read_text())
    [entity] = [e for e in crate["@graph"] if e["@id"] == identifier]
    entity[key] = value
    path.write_text(json.dumps(crate))


def test_a_changed_parameter_is_caught(copy: Path, capsys: pytest.CaptureFixture) -> None:
    _edit_crate(copy, "#comparison/pbmc/bulk_labels/wilcoxon/param/n_genes", "value", "25")
    code, problems = verify(copy, capsys=capsys)
    assert code == 1
    # the comparison's own table, its record in the combined table and in the annotated h5ad
    assert problems == [
        f"rgg verify: problem: {where}: parameter n_genes of pbmc/bulk_labels/wilcoxon is '25' "
        "in the crate but '30' in the table's provenance; the crate or the table was edited "
        "since the run; rerun the workflow."
        for where in (
            "pbmc/bulk_labels/wilcoxon.parquet",
            "markers.parquet",
            "pbmc/annotated.h5ad (uns['rank_genes_groups_bulk_labels_wilcoxon'])",
        )
    ]


def test_a_changed_config_is_caught(copy: Path, capsys: pytest.CaptureFixture) -> None:
    config = copy / "results" / "run" / "config.yaml"
    config.write_text(config.read_text().replace("n_genes: 30", "n_genes: 25"))
    code, [problem] = verify(copy, capsys=capsys)
    assert code == 1
    assert problem.startswith("rgg verify: problem: run/config.yaml: sha256 ")


def test_a_different_rgg_version_is_caught(run: Path) -> None:
    here = current_environment()
    older = verify_results(run / "results", environment=replace(here, rgg_version="0.1.0"))
    assert not older.passed
    assert older.problems == [
        f"rgg: the run used rgg {rgg.__version__}, this is rgg 0.1.0; install rgg "
        f"{rgg.__version__} (git commit {read_run_crate(run / 'results').rgg_commit or 'unknown'}) "
        "and rebuild the run's environment from environment.txt (README: Reproduce a "
        "colleague's results)."
    ]


def test_a_crate_that_names_another_rgg_version_is_caught(
    copy: Path, capsys: pytest.CaptureFixture
) -> None:
    _edit_crate(copy, "#rgg", "softwareVersion", "0.1.0")
    code, problems = verify(copy, capsys=capsys)
    assert code == 1
    assert problems[-1].startswith(
        f"rgg verify: problem: rgg: the run used rgg 0.1.0, this is rgg {rgg.__version__}; "
    )
    assert len(problems) == 7
    made_by = [p for p in problems if f"made by rgg {rgg.__version__}, the crate says" in p]
    assert len(made_by) == 6  # two tables, their records in markers.parquet and annotated.h5ad


def test_package_versions_against_this_environment(run: Path) -> None:
    here = current_environment()
    changed = dict(here.packages, numpy="0.0.1", pytest="0.0.1")
    outcome = verify_results(run / "results", environment=replace(here, packages=changed))
    # numpy computes the results (an rgg dependency); pytest does not: a note, not a problem
    assert outcome.problems == [
        f"package numpy: the run used {np.__version__}, it is 0.0.1 here; rebuild the run's "
        "environment from environment.txt (README: Reproduce a colleague's results)."
    ]
    assert any("pytest" in note and "rgg does not depend on" in note for note in outcome.notes)


def test_snakemake_verify_target(run: Path, copy: Path) -> None:
    result = snakemake(run, "--cores", "1", "verify")
    log = (run / "results" / "logs" / "verify.log").read_text()
    assert result.returncode == 0
    assert "rgg verify: results holds: " in log
    # a tampered output is newer than the crate: the target checks it, and does not rewrite
    # the crate first
    with (copy / "results" / "pbmc" / "annotated.h5ad").open("ab") as handle:
        handle.write(b"\0")
    tampered = snakemake(copy, "--cores", "1", "verify", check=False)
    assert tampered.returncode != 0
    log = (copy / "results" / "logs" / "verify.log").read_text()
    assert "rgg verify: problem: pbmc/annotated.h5ad: sha256 " in log
    assert "rgg crate" not in tampered.stdout + tampered.stderr


def test_verify_refuses_a_folder_without_a_crate(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["verify", str(tmp_path)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"rgg: error: {tmp_path} holds no ro-crate-metadata.json; ")
    assert main(["verify", str(tmp_path), "--recompute", "some"]) == 2
    assert "--recompute 'some': give a number" in capsys.readouterr().err


def test_table_difference_is_bit_for_bit() -> None:
    table = pl.DataFrame(
        {
            "group": ["a", "b"],
            "gene": ["x", "y"],
            "score": pl.Series([0.0, np.nan], dtype=pl.Float32),
        }
    )
    assert table_difference(table, table.clone()) is None
    negative_zero = table.with_columns(score=pl.Series([-0.0, np.nan], dtype=pl.Float32))
    assert "column score differs in 1 rows, first at row 0 (group 'a', gene 'x')" in (
        table_difference(negative_zero, table)
    )
    missing = table.with_columns(score=pl.Series([0.0, None], dtype=pl.Float32))
    assert "column score differs in 1 rows, first at row 1" in table_difference(missing, table)
    assert table_difference(table.head(1), table) == "1 rows instead of 2"
