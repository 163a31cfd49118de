"""The workflow through a real SLURM cluster: ``snakemake --profile profiles/slurm`` and sbatch.

A single-node cluster (tests/_slurm.py) runs the default config and the out-of-core example
(one test: the four runs, two on SLURM and two local, go at once);
every job but the final ``all`` must be a SLURM job that ``sacct`` shows completed, and every
output must equal a local run of the same config. Skipped only where the machine cannot run the
cluster (not root, no apt-get); under CI (``CI`` set) that is a failure instead.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pytest
import yaml
from polars.testing import assert_frame_equal

from rgg.io import read_results

from ._slurm import SlurmCluster, slurm_cluster, why_not_here
from .test_workflow import REPO, SNAKEMAKE

pytestmark = pytest.mark.workflow

CONFIGS = {
    "default": REPO / "config" / "config.yaml",
    "out_of_core_example": REPO / "config" / "examples" / "out_of_core.yaml",
}
#: What the test cluster needs beyond the profile: no slurmdbd, so Snakemake reads job states
#: with squeue; no accounts; a first status check after 1 s instead of 40.
TEST_CLUSTER_OPTIONS = [
    "--slurm-status-command", "squeue",
    "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks", "1",
]  # fmt: skip
SUBMITTED = re.compile(r"submitted with SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+)/")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    reason = why_not_here()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the SLURM tests, but {reason}")
        pytest.skip(reason)
    # a short path: munged's socket path must fit in a Unix socket address
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as cluster:
        yield cluster


def _workdir(parent: Path, config_file: Path) -> Path:
    """A folder with ``config_file``'s config, its dataset paths made absolute."""
    config = yaml.safe_load(config_file.read_text())
    for entry in config["datasets"].values():
        entry["path"] = str(REPO / entry["path"])
    parent.mkdir(parents=True)
    (parent / "config.yaml").write_text(yaml.safe_dump(config))
    return parent


def _start(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Snakemake in ``workdir``, its output to ``workdir``/snakemake.out (not a pipe that fills)."""
    command = [
        SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(workdir / "config.yaml"), *args,
    ]  # fmt: skip
    with (workdir / "snakemake.out").open("w") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)


def _finish(process: subprocess.Popen, workdir: Path, what: str, cluster: SlurmCluster) -> str:
    """Wait for ``process``; its output, or a failure with it and the cluster's logs."""
    try:
        process.wait(timeout=900)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    output = (workdir / "snakemake.out").read_text()
    if process.returncode != 0:
        pytest.fail(f"{what} failed ({process.returncode}):\n{output[-8000:]}\n{cluster.logs()}")
    return output


def test_workflow_through_sbatch_equals_local_run(slurm: SlurmCluster, tmp_path: Path) -> None:
    runs = {}
    # all four runs at once: a SLURM run spends much of its time waiting for job states
    for name, config_file in CONFIGS.items():
        local = _workdir(tmp_path / name / "local", config_file)
        remote = _workdir(tmp_path / name / "slurm", config_file)
        on_slurm = _start(
            remote,
            *("--profile", str(REPO / "profiles" / "slurm"), "--config", "threads=1"),
            *TEST_CLUSTER_OPTIONS,
            env=slurm.env,
        )
        runs[name] = (local, remote, on_slurm, _start(local, "--cores", "2"))
    logs = {}
    try:
        for name, (local, remote, on_slurm, in_place) in runs.items():
            _finish(in_place, local, f"the local run of {name}", slurm)
            logs[name] = _finish(on_slurm, remote, f"the run of {name} through SLURM", slurm)
    finally:  # after a failure, stop the other runs before the cluster stops
        for *_, on_slurm, in_place in runs.values():
            for process in (on_slurm, in_place):
                if process.poll() is None:
                    process.terminate()
                    process.wait(timeout=60)

    for name, (local, remote, _, _) in runs.items():
        _assert_same_outputs(local, remote)
        _assert_jobs_ran_on_slurm(logs[name], slurm, local)


def _results(workdir: Path) -> str:
    return yaml.safe_load((workdir / "config.yaml").read_text()).get("results", "results")


def _assert_same_outputs(local: Path, remote: Path) -> None:
    """The same files; the same tables; the same results in the annotated h5ad files."""
    config = yaml.safe_load((local / "config.yaml").read_text())
    results = _results(local)
    folders = [results, str(Path(config.get("report", {}).get("file", "reports/x")).parent)]
    for folder in folders:
        mine = sorted(p.relative_to(local) for p in (local / folder).rglob("*") if p.is_file())
        theirs = sorted(p.relative_to(remote) for p in (remote / folder).rglob("*") if p.is_file())
        assert mine == theirs
    tables = sorted((local / results).rglob("*.parquet"))
    assert len(tables) >= 3
    for path in tables:
        expected, _ = read_results(path)
        got, _ = read_results(remote / path.relative_to(local))
        assert got.height == expected.height > 0, path
        assert_frame_equal(got, expected, check_exact=True)
    annotated = sorted((local / results).rglob("annotated.h5ad"))
    assert annotated
    for path in annotated:
        expected = ad.read_h5ad(path)
        got = ad.read_h5ad(remote / path.relative_to(local))
        keys = [k for k in expected.uns if k.startswith("rank_genes_groups_")]
        assert keys
        assert keys == [k for k in got.uns if k.startswith("rank_genes_groups_")]
        for key in keys:
            fields = [f for f in ("names", "scores", "pvals_adj") if f in expected.uns[key]]
            assert fields[:2] == ["names", "scores"]
            for field in fields:
                _assert_records_equal(got.uns[key][field], expected.uns[key][field])


def _assert_records_equal(got: Any, expected: Any) -> None:
    assert got.dtype.names == expected.dtype.names
    for group in expected.dtype.names:
        np.testing.assert_array_equal(got[group], expected[group])


def _assert_jobs_ran_on_slurm(log: str, slurm: SlurmCluster, local: Path) -> None:
    """Every job but ``all`` went through sbatch, and ``sacct`` shows each one completed."""
    submitted = dict(SUBMITTED.findall(log))
    ran_here = re.findall(r"localrule (\w+):", log)
    assert ran_here == ["all"], f"jobs that did not go through sbatch: {ran_here}"
    n_rank = len(list((local / _results(local) / "benchmarks" / "rank").rglob("*.tsv")))
    assert n_rank >= 2
    rules = sorted(submitted.values())
    assert rules.count("rank") == n_rank
    assert {"rank", "annotate", "collect", "report"} <= set(rules)
    finished = slurm.finished_jobs()
    for job_id in submitted:
        assert job_id in finished, f"sacct does not show SLURM job {job_id}: {finished}"
        assert finished[job_id]["State"] == "COMPLETED", finished[job_id]
        assert finished[job_id]["ExitCode"] == "0:0", finished[job_id]
    # the plugin names every job of one run after the run
    assert len({finished[job_id]["JobName"] for job_id in submitted}) == 1
