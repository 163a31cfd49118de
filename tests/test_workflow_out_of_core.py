"""The workflow with an out-of-core dataset, run for real against a Dask cluster's address.

The same file is declared twice: in memory and ``out_of_core: true`` with the address of a
cluster this module starts as on a real one (``dask scheduler`` and two ``dask worker``
processes on 127.0.0.1, tests/_dask_cluster.py). Both must give the same tables; the
out-of-core jobs must have ranked through the cluster. tests/test_dask_worker_killed.py kills
workers in the middle of a ranking.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anndata as ad
import pytest
from polars.testing import assert_frame_equal

import rgg
from rgg.io import read_results

from ._dask_cluster import DaskCluster, dask_cluster
from .test_workflow import snakemake, write_config

pytestmark = pytest.mark.workflow
distributed = pytest.importorskip("distributed")

SYNTHETIC = str(rgg.datasets.synthetic_path())
TESTS = {
    "wilcoxon": {"method": "wilcoxon", "tie_correct": True, "pts": True},
    "t-test": {"method": "t-test", "pts": True},
}


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    with dask_cluster(tmp_path_factory.mktemp("dask")) as cluster:
        yield cluster


def _config(address: str) -> dict[str, Any]:
    return {
        "datasets": {
            "memory": {"path": SYNTHETIC},
            # block_nnz small enough that the file is read in several row blocks
            "disk": {
                "path": SYNTHETIC,
                "out_of_core": True,
                "scheduler": address,
                "block_nnz": 5000,
            },
        },
        "groupings": {"types": {"column": "cell_type"}},
        "tests": TESTS,
        "threads": 2,
    }


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, scheduler) -> Path:
    workdir = tmp_path_factory.mktemp("out_of_core")
    write_config(workdir, _config(scheduler.address))
    snakemake(workdir, "--cores", "2", "--quiet")
    return workdir


@pytest.mark.parametrize("test", list(TESTS))
def test_out_of_core_tables_equal_in_memory_tables(finished_run: Path, test: str) -> None:
    results = finished_run / "results"
    memory, _ = read_results(results / "memory" / "types" / f"{test}.parquet")
    disk, _ = read_results(results / "disk" / "types" / f"{test}.parquet")
    assert disk.height == memory.height > 0
    assert_frame_equal(disk.drop("dataset"), memory.drop("dataset"), check_exact=False)
    log = (results / "logs" / "rank" / "disk" / "types" / f"{test}.log").read_text()
    assert "out of core" in log


def test_out_of_core_ran_on_the_given_scheduler(finished_run: Path, scheduler) -> None:
    with distributed.Client(scheduler.address, set_as_default=False) as client:
        kinds = client.run_on_scheduler(
            lambda dask_scheduler: sorted(str(prefix) for prefix in dask_scheduler.task_prefixes)
        )
    assert "row_block_sums" in kinds  # the t-test
    assert "write_row_block" in kinds  # the Wilcoxon test's gene-ordered copy
    assert "stored_block_sums" in kinds  # its gene blocks


def test_annotated_copy_keeps_the_file_and_adds_results(finished_run: Path) -> None:
    annotated = ad.read_h5ad(finished_run / "results" / "disk" / "annotated.h5ad")
    original = ad.read_h5ad(SYNTHETIC)
    assert (annotated.X != original.X).nnz == 0
    assert set(annotated.uns) >= {
        "rank_genes_groups_types_wilcoxon",
        "rank_genes_groups_types_t-test",
    }
    records = annotated.uns["rgg_provenance"]
    record = json.loads(records["rank_genes_groups_types_wilcoxon"])
    assert "--out-of-core" in record["command"]
    import scanpy as sc

    frame = sc.get.rank_genes_groups_df(annotated, None, key="rank_genes_groups_types_wilcoxon")
    assert len(frame) == annotated.n_vars * annotated.obs["cell_type"].nunique()


@pytest.mark.parametrize(
    ("dataset", "test", "message"),
    [
        (
            {"scheduler": "tcp://h:8786"},
            None,
            "only out-of-core ranking reads; add 'out_of_core: true'",
        ),
        ({"out_of_core": True}, {"method": "logreg"}, "needs the whole matrix in memory"),
    ],
)
def test_out_of_core_config_mistakes(tmp_path: Path, dataset, test, message) -> None:
    config = {
        "datasets": {"synth": {"path": SYNTHETIC, **dataset}},
        "groupings": {"types": {"column": "cell_type"}},
        "tests": {"t": test or {"method": "t-test"}},
    }
    write_config(tmp_path, config)
    result = snakemake(tmp_path, "--dry-run", check=False)
    assert result.returncode != 0
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()
