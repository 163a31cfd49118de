"""Lazy matrices (Dask arrays, backed h5ad) give the in-memory results, on a 2-worker LocalCluster.

Every input kind is ranked out of core and compared with scanpy on the same data in memory
(the core parity check), and rgg's own options with rgg's in-memory call.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import anndata as ad
import dask
import dask.array as da
import h5py
import numpy as np
import pytest
from anndata.experimental import read_elem_lazy, read_lazy
from scipy import sparse

import rgg
from rgg._errors import NonFiniteValuesError

from ._data import awkward_adata
from ._parity import (
    SCANPY_EXACT_VARIANCE,
    assert_same_results,
    check_cancelled_genes,
    tolerance_for,
)

distributed = pytest.importorskip("distributed")

#: rows per chunk of the row-chunked inputs: several row blocks for 240 cells
ROWS_PER_CHUNK = 50


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    """A LocalCluster of 2 single-threaded worker processes, shared by the module."""
    with (
        warnings.catch_warnings(),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, dashboard_address=":0", processes=True
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,
    ):
        warnings.simplefilter("ignore")
        yield client


@pytest.fixture(scope="module")
def memory_adata() -> ad.AnnData:
    """Log1p counts with ties, an all-zero gene, a two-cell group and NaN labels (CSR)."""
    return awkward_adata(sparse.csr_matrix, np.float32)


@pytest.fixture(scope="module")
def h5ad_paths(tmp_path_factory: pytest.TempPathFactory, memory_adata: ad.AnnData) -> dict:
    """The same data written as CSR, CSC and dense h5ad files."""
    folder = tmp_path_factory.mktemp("lazy")
    paths = {}
    for kind, convert in (
        ("csr", sparse.csr_matrix),
        ("csc", sparse.csc_matrix),
        ("dense", lambda x: x.toarray()),
    ):
        adata = memory_adata.copy()
        adata.X = convert(adata.X)
        paths[kind] = folder / f"{kind}.h5ad"
        adata.write_h5ad(paths[kind])
    return paths


def _read_lazy_rows(paths: dict) -> ad.AnnData:
    """anndata's read_lazy (xarray obs), CSR chunks of 50 rows: row blocks and a transposition."""
    adata = read_lazy(paths["csr"])
    adata.X = adata.X.rechunk((ROWS_PER_CHUNK, -1))
    return adata


def _read_elem_lazy_csc(paths: dict) -> ad.AnnData:
    """An in-memory AnnData whose X is read_elem_lazy over a CSC file: gene-chunked."""
    adata = ad.read_h5ad(paths["csc"])
    adata.X = read_elem_lazy(h5py.File(paths["csc"])["X"], chunks=(adata.n_obs, 7))
    return adata


def _backed_csr(paths: dict) -> ad.AnnData:
    """A backed h5ad; with block_nnz=400 its CSR rows come in several chunks."""
    return ad.read_h5ad(paths["csr"], backed="r")


def _backed_dense(paths: dict) -> ad.AnnData:
    return ad.read_h5ad(paths["dense"], backed="r")


def _dask_dense(paths: dict) -> ad.AnnData:
    """A dense Dask array chunked both ways (row blocks join their column chunks)."""
    adata = ad.read_h5ad(paths["dense"])
    adata.X = da.from_array(adata.X, chunks=(ROWS_PER_CHUNK + 13, 16))
    return adata


LAZY_KINDS: list[tuple[str, Callable[[dict], ad.AnnData]]] = [
    ("read_lazy_csr_rows", _read_lazy_rows),
    ("read_elem_lazy_csc", _read_elem_lazy_csc),
    ("backed_csr", _backed_csr),
    ("backed_dense", _backed_dense),
    ("dask_dense", _dask_dense),
]

SCANPY_CALLS = [
    pytest.param({"method": "t-test", "pts": True}, id="t-test-pts"),
    pytest.param({"method": "t-test_overestim_var"}, id="t-test_overestim_var"),
    pytest.param({"method": "wilcoxon", "tie_correct": True, "pts": True}, id="wilcoxon-tie"),
    pytest.param({"method": "wilcoxon", "reference": "b", "pts": True}, id="wilcoxon-reference"),
    pytest.param({"method": "t-test", "reference": "b"}, id="t-test-reference"),
    pytest.param(
        {"method": "wilcoxon", "groups": ["a", "c/d +"], "corr_method": "bonferroni"},
        id="wilcoxon-groups",
    ),
]


def _compare_with_scanpy(memory: ad.AnnData, lazy: ad.AnnData, **kwargs) -> None:
    import scanpy as sc

    theirs = memory.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sc.tl.rank_genes_groups(theirs, "group", **kwargs)
    rgg.rank_genes_groups(lazy, "group", **kwargs)
    ours = lazy.uns["rank_genes_groups"]
    theirs = theirs.uns["rank_genes_groups"]
    method = kwargs.get("method")
    tol = tolerance_for(method)
    skip = None
    if method in ("t-test", "t-test_overestim_var") and not SCANPY_EXACT_VARIANCE:
        skip = check_cancelled_genes(memory, "group", theirs, ours, tol, **kwargs)
    assert_same_results(theirs, ours, tol, skip_genes=skip)


@pytest.mark.parity
@pytest.mark.parametrize("kwargs", SCANPY_CALLS)
@pytest.mark.parametrize(("kind", "make"), LAZY_KINDS, ids=[k for k, _ in LAZY_KINDS])
def test_lazy_matches_scanpy(
    kind: str, make: Callable, kwargs: dict, h5ad_paths: dict, memory_adata, client
) -> None:
    lazy = make(h5ad_paths)
    _compare_with_scanpy(memory_adata, lazy, scheduler=client, block_nnz=400, **kwargs)


@pytest.mark.parity
def test_pbmc_raw_read_lazy_matches_scanpy(pbmc, tmp_path: Path, client) -> None:
    """pbmc68k_reduced through read_lazy: raw.X (lazy, one chunk) is tested, as scanpy does."""
    path = tmp_path / "pbmc.h5ad"
    pbmc.write_h5ad(path)
    lazy = read_lazy(path)
    for method in ("wilcoxon", "t-test"):
        import scanpy as sc

        theirs = pbmc.copy()
        sc.tl.rank_genes_groups(theirs, "bulk_labels", method=method, pts=True)
        ours = rgg.rank_genes_groups(
            lazy, "bulk_labels", method=method, pts=True, scheduler=client, copy=True
        )
        assert_same_results(
            theirs.uns["rank_genes_groups"],
            ours.uns["rank_genes_groups"],
            tolerance_for(method),
            skip_genes=None
            if SCANPY_EXACT_VARIANCE or method == "wilcoxon"
            else check_cancelled_genes(
                pbmc,
                "bulk_labels",
                theirs.uns["rank_genes_groups"],
                ours.uns["rank_genes_groups"],
                tolerance_for(method),
                method=method,
            ),
        )


RGG_CALLS = [
    pytest.param({"method": "wilcoxon", "auroc": True, "min_pct": 0.3}, id="auroc-min_pct"),
    pytest.param(
        {"method": "t-test", "fold_change": "expm1_mean", "min_logfc": 0.5, "pts": True},
        id="t-test-expm1-min_logfc",
    ),
    pytest.param({"method": "wilcoxon", "reference": ["b", "e"]}, id="pooled-reference"),
    pytest.param(
        {"method": "t-test", "groups": ["a", "b", "e"], "rest_scope": "groups"},
        id="rest_scope-groups",
    ),
    pytest.param({"method": "wilcoxon", "mask_var": "odd", "corr_scope": "all"}, id="mask"),
]


@pytest.mark.parametrize("kwargs", RGG_CALLS)
@pytest.mark.parametrize(("kind", "make"), LAZY_KINDS[:3], ids=[k for k, _ in LAZY_KINDS[:3]])
def test_lazy_matches_in_memory_rgg(
    kind: str, make: Callable, kwargs: dict, h5ad_paths: dict, memory_adata, client
) -> None:
    """rgg's additions (pre-filters, auroc, pools, scopes, masks) agree with the in-memory call."""
    memory = memory_adata.copy()
    lazy = make(h5ad_paths)
    if "mask_var" in kwargs:
        odd = np.arange(memory.n_vars) % 2 == 1
        memory.var["odd"] = odd
        kwargs = {**kwargs, "mask_var": odd}
    expected = rgg.rank_genes_groups(memory, "group", copy=True, **kwargs)
    rgg.rank_genes_groups(lazy, "group", scheduler=client, block_nnz=400, **kwargs)
    assert_same_results(expected.uns["rank_genes_groups"], lazy.uns["rank_genes_groups"])


@pytest.mark.parametrize("scheduler", ["synchronous", "threads", None])
def test_local_schedulers(scheduler, h5ad_paths: dict, memory_adata) -> None:
    """Dask's local schedulers, and None: a LocalCluster rgg starts and stops for the call."""
    _compare_with_scanpy(
        memory_adata,
        _read_lazy_rows(h5ad_paths),
        method="wilcoxon",
        tie_correct=True,
        scheduler=scheduler,
    )


def test_default_scheduler_is_the_current_client(h5ad_paths: dict, memory_adata, client) -> None:
    """With a distributed client as the default, scheduler=None runs on it."""
    with client.as_current(), distributed.get_task_stream(client) as stream:
        _compare_with_scanpy(memory_adata, _backed_csr(h5ad_paths), method="t-test", block_nnz=400)
    names = {
        task["key"][0] if isinstance(task["key"], tuple) else task["key"] for task in stream.data
    }
    assert any("row_block_sums" in str(name) for name in names), names


def test_temp_dir_is_emptied(h5ad_paths: dict, tmp_path: Path, monkeypatch) -> None:
    """The gene-ordered copy goes under temp_dir and is removed after the call."""
    import rgg.lazy.run

    store = tmp_path / "store"
    written: list[Path] = []

    def recording_write(chunks, directory, index, threads):
        counts = write_row_block(chunks, directory, index, threads)
        written.extend(Path(directory).iterdir())
        return counts

    write_row_block = rgg.lazy.run.write_row_block
    monkeypatch.setattr(rgg.lazy.run, "write_row_block", recording_write)
    adata = _read_lazy_rows(h5ad_paths)
    rgg.rank_genes_groups(
        adata, "group", method="wilcoxon", scheduler="synchronous", temp_dir=store
    )
    n_row_blocks = len(adata.X.chunks[0])
    assert {p.name.split(".")[0] for p in written} == {f"rows{i:06d}" for i in range(n_row_blocks)}
    assert all(p.is_relative_to(store) for p in written)
    assert list(store.iterdir()) == []
    assert adata.uns["rank_genes_groups"]["params"]["method"] == "wilcoxon"


def test_failed_call_removes_the_copy_and_keeps_adata(h5ad_paths, memory_adata, tmp_path) -> None:
    """NaN in a lazy matrix: a clear error, no result stored, no leftover files."""
    values = memory_adata.X.toarray()
    values[3, 5] = np.nan
    adata = memory_adata.copy()
    adata.X = da.from_array(values, chunks=(ROWS_PER_CHUNK, -1))
    with pytest.raises(NonFiniteValuesError, match="NaN or infinite"):
        rgg.rank_genes_groups(
            adata, "group", method="wilcoxon", scheduler="synchronous", temp_dir=tmp_path
        )
    assert "rank_genes_groups" not in adata.uns
    assert list(tmp_path.iterdir()) == []


def test_backed_copy_is_refused_before_work(h5ad_paths: dict) -> None:
    backed = _backed_csr(h5ad_paths)
    with pytest.raises(ValueError, match=r"copy=True cannot copy a backed AnnData.*to_memory"):
        rgg.rank_genes_groups(backed, "group", copy=True, scheduler="synchronous")
    assert "rank_genes_groups" not in backed.uns


def test_logreg_needs_memory(h5ad_paths: dict) -> None:
    with pytest.raises(NotImplementedError, match=r"logreg.*to_memory"):
        rgg.rank_genes_groups(_backed_csr(h5ad_paths), "group", method="logreg")


@pytest.mark.parametrize(
    ("scheduler", "error", "match"),
    [
        (42, TypeError, "is not a Dask scheduler"),
        ("tcp://127.0.0.1:1", ValueError, "could not reach the Dask scheduler"),
    ],
)
def test_bad_scheduler(scheduler, error, match, h5ad_paths: dict) -> None:
    adata = _backed_csr(h5ad_paths)
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(error, match=match),
    ):
        rgg.rank_genes_groups(adata, "group", scheduler=scheduler)
    assert "rank_genes_groups" not in adata.uns


@pytest.mark.parametrize("block_nnz", [0, -5, 2.5, True])
def test_bad_block_nnz(block_nnz, memory_adata) -> None:
    with pytest.raises(ValueError, match="block_nnz must be a positive number"):
        rgg.rank_genes_groups(memory_adata.copy(), "group", block_nnz=block_nnz)


def test_block_nnz_bounds_the_tasks(h5ad_paths: dict) -> None:
    """A backed CSR file is cut into row chunks of about block_nnz non-zeros."""
    from rgg.lazy import as_dask_array

    backed = _backed_csr(h5ad_paths)
    nnz = backed.X.group["data"].shape[0]
    x = as_dask_array(backed.X, block_nnz=400)
    per_row = nnz / backed.n_obs
    assert max(x.chunks[0]) == int(400 / per_row)
    assert len(x.chunks[1]) == 1
    csc = as_dask_array(read_elem_lazy(h5py.File(h5ad_paths["csc"])["X"]), block_nnz=400)
    assert len(csc.chunks[0]) == 1  # a Dask array keeps its own chunks


def test_unknown_chunk_sizes_are_refused(memory_adata) -> None:
    from rgg.lazy import as_dask_array

    x = da.from_array(memory_adata.X.toarray(), chunks=(ROWS_PER_CHUNK, -1))
    filtered = x[x[:, 0] >= 0]  # boolean indexing: row chunk sizes unknown
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        as_dask_array(filtered, block_nnz=400)
