"""Dask workers killed with SIGKILL in the middle of an out-of-core ranking.

``rgg rank --out-of-core --scheduler ADDRESS`` runs on a cluster of three ``dask worker``
processes without nannies (tests/_dask_cluster.py). One worker is killed while the gene-ordered
copy is being written (its finished blocks are lost with it), another while the gene blocks
are being summed (it holds a broadcast copy of the plan). Dask recomputes what was lost on the
last worker: the ranking completes, bit-identical to the in-memory ranking.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from polars.testing import assert_frame_equal
from scipy import sparse

from rgg.io import read_results

from ._dask_cluster import dask_cluster

pytestmark = pytest.mark.workflow
distributed = pytest.importorskip("distributed")

RGG = str(Path(sys.executable).with_name("rgg"))
RANK = ["--groupby", "group", "--method", "wilcoxon", "--tie-correct", "--pts", "--no-progress"]
#: Task prefixes of the two phases of a rank test on a row-stored file (rgg/lazy/run.py).
PHASES = ("write_row_block", "stored_block_sums")


def _write_data(path: Path) -> None:
    """20,000 cells x 300 genes, 10% non-zero, CSR: 30 row blocks of 20,000 non-zeros."""
    rng = np.random.default_rng(0)
    x = sparse.random(20_000, 300, density=0.1, format="csr", dtype=np.float32, random_state=rng)
    x.data = np.log1p(np.floor(x.data * 8)).astype(np.float32)  # ties, as counts give
    obs = pd.DataFrame(
        {"group": pd.Categorical(rng.choice([f"g{i}" for i in range(8)], x.shape[0]))},
        index=[f"cell{i}" for i in range(x.shape[0])],
    )
    ad.AnnData(x, obs=obs).write_h5ad(path)


def _phase_progress(client: distributed.Client, prefix: str) -> tuple[int, dict[str, int]]:
    """How many ``prefix`` tasks are done, and how many each worker is running now."""

    def progress(dask_scheduler, prefix=prefix):
        task_prefix = dask_scheduler.task_prefixes.get(prefix)
        done = task_prefix.states.get("memory", 0) if task_prefix else 0
        busy = {
            worker.name: sum(task.prefix.name == prefix for task in worker.processing)
            for worker in dask_scheduler.workers.values()
        }
        return done, busy

    return client.run_on_scheduler(progress)


def _kill_when_busy(
    client: distributed.Client, prefix: str, workers: dict[str, int], ranking: subprocess.Popen
) -> str:
    """SIGKILL a worker that runs a ``prefix`` task, once two of them are done; its name."""
    deadline = time.monotonic() + 300
    while ranking.poll() is None and time.monotonic() < deadline:
        done, busy = _phase_progress(client, prefix)
        running = [name for name, n in busy.items() if n and name in workers]
        if done >= 2 and running:
            os.kill(workers.pop(running[0]), signal.SIGKILL)
            return running[0]
        time.sleep(0.02)
    output = ranking.communicate()[0] if ranking.poll() is not None else ""
    pytest.fail(f"the ranking ended before a {prefix} task could be interrupted:\n{output}")


def _worker_names(client: distributed.Client, timeout: float = 30) -> list[str]:
    """The workers' names once the scheduler has settled (a lost worker may take a moment)."""
    deadline = time.monotonic() + timeout
    while True:
        workers = client.run_on_scheduler(
            lambda dask_scheduler: sorted(w.name for w in dask_scheduler.workers.values())
        )
        if len(workers) == 1 or time.monotonic() > deadline:
            return workers
        time.sleep(0.2)


def test_ranking_survives_killed_workers(tmp_path: Path) -> None:
    data = tmp_path / "data.h5ad"
    _write_data(data)
    memory = tmp_path / "memory.parquet"
    subprocess.run([RGG, "rank", str(data), *RANK, "--out", str(memory)], check=True)
    scratch = tmp_path / "scratch"
    out = tmp_path / "disk.parquet"

    with (
        dask_cluster(tmp_path / "cluster", n_workers=3) as cluster,
        distributed.Client(cluster.address, set_as_default=False) as client,
    ):
        workers = {f"worker-{i}": process.pid for i, process in enumerate(cluster.workers)}
        command = [
            RGG, "rank", str(data), *RANK, "--out-of-core", "--scheduler", cluster.address,
            "--block-nnz", "20000", "--temp-dir", str(scratch), "--out", str(out),
        ]  # fmt: skip
        ranking = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            killed = [_kill_when_busy(client, prefix, workers, ranking) for prefix in PHASES]
            assert not out.exists()  # both kills happened before the result was written
            output, _ = ranking.communicate(timeout=300)
        finally:
            if ranking.poll() is None:
                ranking.kill()
                ranking.wait()
        assert ranking.returncode == 0, output.decode() + cluster.logs()
        assert len(set(killed)) == 2
        assert _worker_names(client) == list(workers)  # the scheduler saw both go
        for name in killed:
            assert cluster.workers[int(name.split("-")[1])].wait(timeout=10) == -signal.SIGKILL

    got, _ = read_results(out)
    expected, _ = read_results(memory)
    assert got.height == expected.height > 0
    assert_frame_equal(got, expected, check_exact=True)
    assert list(scratch.iterdir()) == []  # rgg removed its gene-ordered copy
