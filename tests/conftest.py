"""Shared fixtures, a warm-up of the Numba caches before pytest-xdist workers start, and how
the tests are ordered and shared out between the workers."""

from __future__ import annotations

import logging
import subprocess
import sys
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Compile scanpy's and rgg's kernels before the workers start.

    Numba's on-disk cache is not safe when two processes compile the same function at once
    (numba#4807, numba#10128). On a clean clone, two xdist workers would compile scanpy's
    ``rankdata``/``_tiecorrect`` together and could corrupt scanpy's cache, which then gives
    wrong reference numbers (seen: wrong tie-corrected p-values and segfaults). rgg guards
    its own kernels with a lock; scanpy's we can only warm up here, in one process.

    The two sets of kernels are disjoint (scanpy compiles none of rgg's and rgg none of
    scanpy's), and compiling is single-threaded: scanpy's compile here while a second process
    compiles rgg's, which takes about as long as the longer of the two instead of their sum
    (on a clean clone, about 55 s and 75 s on a loaded 2-core machine).
    """
    if hasattr(config, "workerinput"):  # an xdist worker: the controller has warmed up
        return
    _warm_numba_caches()


#: Test files whose tests take longest, longest first (measured with ``--durations`` on a loaded
#: 2-core machine: test_workflow.py's shared run, the tests on it and its dry runs ~14 min of
#: one worker's time, the SLURM cluster test ~5 min, the 2,000-group tests ~5 min, the
#: two-process compilation ~3.5 min). pytest-xdist hands out work in this order, so the run
#: ends with short tests on both workers, not with one long test on one of them.
FIRST = (
    "test_workflow.py",
    "test_workflow_slurm.py",
    "test_compile_cache.py",
    "test_many_groups.py",
    "test_workflow_beyond.py",
    "test_verify.py",
    "test_workflow_out_of_core.py",
    "test_report_many_groups.py",
    "test_dask_worker_killed.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the tests of :data:`FIRST` to the front, in its order, keeping every other order."""
    rank = {name: i for i, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(FIRST)))


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under ``-n``: one worker for all the tests of a file with a module-scoped fixture.

    A module-scoped fixture (a workflow run, a Dask or SLURM cluster, a browser) is set up once
    per worker that runs a test of its module; pytest-xdist's default (``--dist load``) spread
    test_workflow.py's tests over both workers, which then ran its workflow twice (as did
    test_workflow_out_of_core.py with its Dask cluster). Here such a file is one unit of work;
    every other test is a unit of its own, handed out as the default does, in collection order
    (:func:`pytest_collection_modifyitems`). (``--dist loadgroup`` with ``xdist_group`` marks
    would do this, but pytest-xdist 3.8 tags the test ids through an attribute pytest 9.2 no
    longer reads, so the marks are ignored.) An explicit ``--dist`` keeps pytest-xdist's own.
    """
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = False  # collection order, not the largest units first
    shared: dict[str, bool] = {}

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            if path not in shared:
                source = config.rootpath / path
                shared[path] = source.suffix == ".py" and 'scope="module"' in source.read_text(
                    encoding="utf-8"
                )
            return path if shared[path] else nodeid

    return SharedFixtureScheduling(config, log)


def _warm_numba_caches() -> None:
    """scanpy's kernels in this process, rgg's in a child process at the same time."""
    root = str(Path(__file__).resolve().parents[1])
    code = (
        f"import sys; sys.path.insert(0, {root!r}); from tests.conftest import _warm; _warm('rgg')"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _warm("scanpy")
    finally:
        output, _ = child.communicate()
    if child.returncode != 0:
        msg = f"compiling rgg's kernels before the tests failed ({child.returncode}):\n{output}"
        raise RuntimeError(msg)


def _warm(tool: str) -> None:
    """Rank every kind of test input with ``tool`` ('scanpy' or 'rgg'), compiling its kernels."""
    import scanpy as sc
    from scipy import sparse

    import rgg

    from ._data import awkward_adata, count_adata

    inputs = [
        awkward_adata(make, dtype)
        for make in (np.asarray, sparse.csr_matrix, sparse.csc_matrix)
        for dtype in (np.float32, np.float64)
    ]
    inputs += [count_adata(make) for make in (np.asarray, sparse.csr_matrix, sparse.csc_matrix)]
    rank = {"scanpy": sc.tl.rank_genes_groups, "rgg": rgg.rank_genes_groups}[tool]
    # the count-data warning of both tools is expected here; scanpy logs through its own root
    # logger, which logging.disable does not reach
    verbosity = sc.settings.verbosity
    sc.settings.verbosity = 0
    logging.disable(logging.WARNING)
    try:
        _rank_all(inputs, rank)
    finally:
        logging.disable(logging.NOTSET)
        sc.settings.verbosity = verbosity


def _rank_all(inputs: list[ad.AnnData], rank) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for adata in inputs:
            for method in ("t-test", "wilcoxon"):
                for reference in ("rest", adata.obs["group"].cat.categories[1]):
                    kwargs = {
                        "method": method,
                        "reference": reference,
                        "tie_correct": True,
                        "pts": True,
                        "copy": True,
                    }
                    rank(adata, "group", **kwargs)


@pytest.fixture(scope="session")
def _pbmc_pristine() -> ad.AnnData:
    import scanpy as sc

    return sc.datasets.pbmc68k_reduced()


@pytest.fixture
def pbmc(_pbmc_pristine: ad.AnnData) -> ad.AnnData:
    """A fresh copy of pbmc68k_reduced (700 cells x 765 genes; raw is CSR log-normalised)."""
    return _pbmc_pristine.copy()
