"""Kernels and statistics against independent oracles (scipy), and across block boundaries."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import sparse, stats

import rgg
import rgg.matrix
from rgg import kernels
from rgg.kernels.ranksum import _ranksum_reference_csc
from rgg.kernels.sort import native_keys_inplace
from rgg.stats import adjust_pvalues, wilcoxon_reference, wilcoxon_rest

from ._data import MATRIX_KINDS, awkward_adata


def _random_column_data(rng: np.random.Generator, n_cells: int, n_genes: int) -> np.ndarray:
    """Small integers (many ties), zeros and some negative values."""
    x = rng.integers(-2, 4, size=(n_cells, n_genes)).astype(np.float64)
    x[rng.random((n_cells, n_genes)) < 0.5] = 0
    x[:, 0] = 0  # all zero
    x[:, 1] = 2.5  # constant
    return x


def _ranksums_rest(x: np.ndarray, codes: np.ndarray, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    csc = sparse.csc_matrix(x)
    n_per_code = np.bincount(codes, minlength=n_codes).astype(np.int64)
    ranksum = np.zeros((x.shape[1], n_codes))
    tiesum = np.zeros(x.shape[1])
    cols = np.arange(x.shape[1])
    kernels.ranksum_rest_csc(
        csc.indptr, csc.indices, csc.data, cols, codes=codes.astype(np.int32),
        n_per_code=n_per_code, ranksums=ranksum, tiesums=tiesum,
    )  # fmt: skip
    return ranksum, tiesum


@pytest.mark.parametrize("seed", range(5))
def test_ranksum_rest_equals_scipy_ranks(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _random_column_data(rng, 57, 9)
    codes = rng.integers(0, 3, size=57)
    ranksum, tiesum = _ranksums_rest(x, codes, 3)
    for j in range(x.shape[1]):
        ranks = stats.rankdata(x[:, j])
        _, counts = np.unique(x[:, j], return_counts=True)
        assert tiesum[j] == np.sum(counts.astype(float) ** 3 - counts)
        for k in range(3):
            assert ranksum[j, k] == ranks[codes == k].sum()


def test_ranksum_rest_at_five_million_cells_adds_tie_terms_in_value_order() -> None:
    """Above 2**53 the tie sum rounds: it must add each block's t**3 - t in value order
    (negative runs, the zeros, positive runs), as a plain walk over the sorted column does."""
    n_cells = 5_000_000
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(n_cells, size=3000, replace=False)).astype(np.int32)
    values = rng.choice([-2.0, -1.0, 1.0, 2.0, 3.0], size=rows.size)  # long tie runs
    codes = (np.arange(n_cells) % 3).astype(np.int32)
    n_per_code = np.bincount(codes).astype(np.int64)
    ranksum = np.zeros((1, 3))
    tiesum = np.zeros(1)
    indptr = np.array([0, rows.size])
    kernels.ranksum_rest_csc(
        indptr, rows, values, np.array([0]), codes=codes, n_per_code=n_per_code,
        ranksums=ranksum, tiesums=tiesum,
    )  # fmt: skip
    expected = 0.0
    for value in (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0):
        t = float(n_cells - rows.size) if value == 0 else float((values == value).sum())
        expected += t * t * t - t
    assert tiesum[0] == expected
    # the rank sums stay exact (twice each is an integer)
    column = np.zeros(n_cells)
    column[rows] = values
    ranks = stats.rankdata(column)
    for k in range(3):
        assert ranksum[0, k] == ranks[codes == k].sum()


@pytest.mark.parametrize("seed", range(5))
def test_wilcoxon_rest_pvalues_equal_mannwhitneyu(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _random_column_data(rng, 64, 8)
    codes = rng.integers(0, 2, size=64)
    ranksum, tiesum = _ranksums_rest(x, codes, 2)
    n = float((codes == 0).sum())
    z, p = wilcoxon_rest(ranksum[:, 0], n, 64, tiesum)
    for j in range(2, x.shape[1]):  # genes 0 and 1 are constant: no test
        expected = stats.mannwhitneyu(
            x[codes == 0, j], x[codes == 1, j], use_continuity=False, method="asymptotic"
        )
        np.testing.assert_allclose(p[j], expected.pvalue, rtol=1e-10)
    # all-zero gene: the tie factor is 0, z = 0/0 -> 0 and p = 1, as in scanpy
    assert z[0] == 0
    assert p[0] == 1


@pytest.mark.parametrize("seed", range(5))
def test_ranksum_reference_pvalues_equal_mannwhitneyu(seed: int) -> None:
    """U of each group against the reference from one sort, vs scipy per pair."""
    rng = np.random.default_rng(seed)
    x = _random_column_data(rng, 80, 7)
    codes = rng.integers(-1, 4, size=80).astype(np.int32)  # -1: in no selected group
    ref = 2
    csc = sparse.csc_matrix(x)
    n_per_code = np.bincount(codes[codes >= 0], minlength=4).astype(np.int64)
    ustat = np.zeros((7, 4))
    tiesum = np.zeros((7, 4))
    block = (csc.indptr, csc.indices, csc.data, np.arange(7))
    groups = {"codes": codes, "n_per_code": n_per_code, "ref_code": ref}
    kernels.ranksum_reference_csc(*block, **groups, ustats=ustat, tiesums=tiesum)
    # without the tie terms: the same U
    ustat_only = np.zeros((7, 4))
    kernels.ranksum_reference_csc(*block, **groups, ustats=ustat_only)
    assert ustat_only.tobytes() == ustat.tobytes()
    # and the compiled loop, told to skip them, leaves the tie sums alone
    ustat_only, untouched = np.zeros((7, 4)), np.full((7, 4), -1.0)
    _ranksum_reference_csc(
        *block, codes, n_per_code, ref, False, ustat_only, untouched, *np.zeros((2, 7, 4))
    )
    assert ustat_only.tobytes() == ustat.tobytes()
    assert (untouched == -1.0).all()
    for g in (0, 1, 3):
        a, b = x[codes == g], x[codes == ref]
        _, p = wilcoxon_reference(ustat[:, g], len(a), len(b), tiesum[:, g])
        for j in range(2, 7):
            expected = stats.mannwhitneyu(
                a[:, j], b[:, j], use_continuity=False, method="asymptotic"
            )
            assert ustat[j, g] == expected.statistic
            np.testing.assert_allclose(p[j], expected.pvalue, rtol=1e-10)
        _, counts = np.unique(np.concatenate([a[:, 4], b[:, 4]]), return_counts=True)
        assert tiesum[4, g] == np.sum(counts.astype(float) ** 3 - counts)


def test_accumulate_and_leave_one_out_equal_numpy() -> None:
    rng = np.random.default_rng(7)
    x = _random_column_data(rng, 50, 6) + 0.25 * rng.random((50, 6))
    codes = rng.integers(0, 4, size=50).astype(np.int32)
    csc = sparse.csc_matrix(x)
    n_per_code = np.bincount(codes, minlength=4).astype(np.int64)
    nnz, sums, m2 = (np.zeros((6, 4)) for _ in range(3))
    kernels.accumulate_csc(
        csc.indptr, csc.indices, csc.data, np.arange(6), codes=codes, n_per_code=n_per_code,
        nnz=nnz, sums=sums, m2=m2,
    )  # fmt: skip
    rest_m2 = np.empty((6, 4))
    kernels.leave_one_out_m2(n_per_code, sums, m2, 4, rest_m2)
    for k in range(4):
        group = x[codes == k]
        np.testing.assert_array_equal(nnz[:, k], (group != 0).sum(axis=0))
        np.testing.assert_allclose(sums[:, k], group.sum(axis=0), rtol=1e-13)
        np.testing.assert_allclose(
            m2[:, k], ((group - group.mean(axis=0)) ** 2).sum(axis=0), rtol=1e-12, atol=1e-12
        )
        rest = x[codes != k]
        np.testing.assert_allclose(
            rest_m2[:, k], ((rest - rest.mean(axis=0)) ** 2).sum(axis=0), rtol=1e-12
        )


def test_welch_ttest_equals_scipy() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(1, 2, size=(30, 5))
    b = rng.normal(0, 1, size=(70, 5))
    t, p = rgg.stats.welch_ttest(a.mean(0), a.var(0, ddof=1), 30, b.mean(0), b.var(0, ddof=1), 70)
    expected = stats.ttest_ind(a, b, equal_var=False)
    np.testing.assert_allclose(t, expected.statistic, rtol=1e-12)
    np.testing.assert_allclose(p, expected.pvalue, rtol=1e-10)


@pytest.mark.parametrize("method", ["benjamini-hochberg", "bonferroni"])
def test_adjust_pvalues_equal_statsmodels(method: str) -> None:
    from statsmodels.stats.multitest import multipletests

    p = np.random.default_rng(0).random(200) ** 3
    p[[3, 7]] = p[5]  # ties
    expected = multipletests(
        p, method="fdr_bh" if method == "benjamini-hochberg" else "bonferroni"
    )[1]
    np.testing.assert_array_equal(adjust_pvalues(p, method), expected)


def test_wilcoxon_variance_does_not_overflow_at_five_million_cells() -> None:
    """scanpy's int64 product wraps above ~3M cells (spec 6.3); rgg stays in float64."""
    n, m = 2_500_000, 2_500_000
    ranksum = np.array([n * (n + m + 1) / 2.0 + 1e9])
    z, p = wilcoxon_rest(ranksum, n, n + m, None)
    expected = 1e9 / np.sqrt(float(n) * float(m) * float(n + m + 1) / 12.0)
    np.testing.assert_allclose(z, expected, rtol=1e-12)
    assert 0 < p[0] < 1


def test_tie_correction_does_not_overflow_at_five_million_cells() -> None:
    """sum(t^3 - t) of two tie blocks of 2.5M cells is 3.1e19, above int64's 9.2e18."""
    n, m = 2_500_000, 2_500_000
    t = 2_500_000.0
    tiesum = np.array([2 * (t**3 - t)])
    total = float(n + m)
    ranksum = np.array([n * (total + 1) / 2.0 + 1e9])
    z, p = wilcoxon_rest(ranksum, n, total, tiesum)
    factor = 1.0 - tiesum[0] / (total**3 - total)
    expected = 1e9 / np.sqrt(factor * n * m * (total + 1) / 12.0)
    np.testing.assert_allclose(z, expected, rtol=1e-12)
    assert 0.74 < factor < 0.76
    assert np.all(np.isfinite(p))

    ustat = np.array([n * m / 2.0 + 1e9])
    z_ref, _ = wilcoxon_reference(ustat, n, m, tiesum)
    np.testing.assert_allclose(z_ref, expected, rtol=1e-12)


def test_variances_stay_exact_at_five_million_cells() -> None:
    """Two-pass M2 on 5M cells of a gene with a large mean and a tiny spread."""
    rng = np.random.default_rng(5)
    n_cells = 5_000_000
    values = (1000.0 + rng.normal(0.0, 1e-2, n_cells)).astype(np.float64)
    codes = (np.arange(n_cells) % 2).astype(np.int32)
    n_per_code = np.bincount(codes).astype(np.int64)
    indptr = np.array([0, n_cells], dtype=np.int64)
    rows = np.arange(n_cells, dtype=np.int64)
    nnz, sums, m2 = np.zeros((1, 2)), np.zeros((1, 2)), np.zeros((1, 2))
    kernels.accumulate_csc(
        indptr, rows, values, np.array([0], dtype=np.int64), codes=codes, n_per_code=n_per_code,
        nnz=nnz, sums=sums, m2=m2,
    )  # fmt: skip
    for code in (0, 1):
        part = values[codes == code]
        np.testing.assert_allclose(m2[0, code] / (len(part) - 1), part.var(ddof=1), rtol=1e-8)
        np.testing.assert_allclose(sums[0, code], part.sum(), rtol=1e-12)
        assert nnz[0, code] == len(part)
    mean, var = sums[0] / n_per_code, m2[0] / (n_per_code - 1)
    t, p = rgg.stats.welch_ttest(mean[:1], var[:1], n_per_code[0], mean[1:], var[1:], n_per_code[1])
    expected = stats.ttest_ind(values[codes == 0], values[codes == 1], equal_var=False)
    np.testing.assert_allclose(t, expected.statistic, rtol=1e-6)
    np.testing.assert_allclose(p, expected.pvalue, rtol=1e-5)


@pytest.mark.parametrize("method", ["t-test", "wilcoxon"])
@pytest.mark.parametrize("reference", ["rest", "b"])
@pytest.mark.parametrize(("kind", "make"), MATRIX_KINDS[:3], ids=[k for k, _ in MATRIX_KINDS[:3]])
def test_results_do_not_depend_on_block_size(
    monkeypatch, kind: str, make, reference: str, method: str
) -> None:
    """Tiny gene blocks (many CSR/dense transposes, with a mask) give bit-identical results."""
    adata = awkward_adata(make, np.float32, seed=11)
    mask = np.ones(adata.n_vars, dtype=bool)
    mask[[2, 9, 10, 30]] = False
    kwargs = {
        "method": method,
        "reference": reference,
        "mask_var": mask,
        "pts": True,
        "tie_correct": True,
    }
    whole = rgg.rank_genes_groups(adata, "group", copy=True, **kwargs).uns["rank_genes_groups"]
    monkeypatch.setattr(rgg.matrix, "DEFAULT_BLOCK_NNZ", 7)
    blocked = rgg.rank_genes_groups(adata, "group", copy=True, **kwargs).uns["rank_genes_groups"]
    for field in ("scores", "pvals", "logfoldchanges"):
        assert whole[field].tobytes() == blocked[field].tobytes(), field
    for group in whole["names"].dtype.names:
        assert list(whole["names"][group]) == list(blocked["names"][group])
    assert whole["pts"].equals(blocked["pts"])


@pytest.mark.parametrize("method", ["t-test", "t-test_overestim_var", "wilcoxon", "logreg"])
@pytest.mark.parametrize("reference", ["rest", "first"])
def test_results_are_bit_identical_across_threads_and_reruns(method: str, reference: str) -> None:
    adata = awkward_adata(sparse.csr_matrix, np.float32, seed=12)
    if reference == "first":
        reference = str(adata.obs["group"].cat.categories[0])
    runs = [
        rgg.rank_genes_groups(
            adata, "group", method=method, reference=reference, pts=True, copy=True, n_jobs=n_jobs
        ).uns["rank_genes_groups"]
        for n_jobs in (1, 2, 2)  # one thread, two threads, and a rerun
    ]
    for other in runs[1:]:
        for field in ("scores", "pvals", "pvals_adj", "logfoldchanges"):
            if field in runs[0]:
                assert runs[0][field].tobytes() == other[field].tobytes(), field
        for group in runs[0]["names"].dtype.names:  # object fields: compare the strings
            assert list(runs[0]["names"][group]) == list(other["names"][group])
        if "pts" in runs[0]:
            assert runs[0]["pts"].equals(other["pts"])


@numba.njit
def _native_keys(values: np.ndarray) -> np.ndarray:
    return native_keys_inplace(values.copy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(3))
def test_radix_sort_equals_stable_argsort(dtype, seed: int) -> None:
    """Sorted order and tie blocks of both key widths (float32 data sort on uint32 keys)."""
    from rgg.kernels.sort import radix_sort_pairs

    rng = np.random.default_rng(seed)
    values = np.concatenate(
        [
            rng.normal(0, 3, 500),
            rng.integers(-3, 4, 300).astype(float),  # ties, negatives
            [np.finfo(dtype).max, np.finfo(dtype).tiny, -np.finfo(dtype).tiny, 1e-30, -1e30],
        ]
    ).astype(dtype)
    values = values[values != 0]
    payload = np.arange(len(values), dtype=np.int64)
    keys = _native_keys(values)
    assert keys.dtype == (np.uint32 if dtype == np.float32 else np.uint64)
    keys, order = radix_sort_pairs(keys, payload.copy())
    expected = np.argsort(values, kind="stable")
    np.testing.assert_array_equal(order, expected)
    assert np.all(np.diff(keys.astype(np.float64)) >= 0)
    # equal keys exactly where values are equal
    sorted_values = values[expected]
    np.testing.assert_array_equal(keys[1:] == keys[:-1], sorted_values[1:] == sorted_values[:-1])


def test_radix_sort_empty_and_single() -> None:
    from rgg.kernels.sort import radix_sort_pairs

    for values in (np.array([], dtype=np.float32), np.array([2.5], dtype=np.float32)):
        _, order = radix_sort_pairs(_native_keys(values), np.arange(len(values), dtype=np.int64))
        assert list(order) == list(range(len(values)))


def test_is_canonical_matches_scipy() -> None:
    x = sparse.random(300, 40, density=0.2, format="csr", random_state=1)
    assert kernels.is_canonical(x.indptr, x.indices)
    unsorted = x.copy()
    row = int(np.argmax(np.diff(x.indptr)))
    start = unsorted.indptr[row]
    unsorted.indices[start : start + 2] = unsorted.indices[start : start + 2][::-1].copy()
    assert not kernels.is_canonical(unsorted.indptr, unsorted.indices)
    duplicated = sparse.csr_matrix(
        (np.ones(3), np.array([2, 2, 5]), np.array([0, 3, 3])), shape=(2, 6)
    )
    assert not kernels.is_canonical(duplicated.indptr, duplicated.indices)


def test_mixed_index_dtypes_are_not_copied() -> None:
    """int64 indptr with int32 indices (as h5ad files of large data hold): no int64 copy of
    the indices (scipy's has_canonical_format would make one), and the same results."""
    import tracemalloc

    adata = awkward_adata(sparse.csr_matrix, np.float32, n_cells=50_000, n_genes=400, seed=3)
    expected = rgg.rank_genes_groups(adata, "group", method="wilcoxon", copy=True)
    x = adata.X
    mixed = sparse.csr_matrix(x.shape, dtype=x.dtype)
    mixed.data, mixed.indices, mixed.indptr = (
        x.data,
        x.indices.astype(np.int32),
        x.indptr.astype(np.int64),
    )
    adata.X = mixed
    rgg.rank_genes_groups(adata, "group", method="wilcoxon")  # compile outside the trace
    # rgg's own scan answered, and cached its answer in scipy's flag (no copy was made)
    assert mixed.__dict__.get("_has_canonical_format") is True
    tracemalloc.start()
    rgg.rank_genes_groups(adata, "group", method="wilcoxon")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # transposed blocks of at most max(1M, nnz / 16) non-zeros, 8 bytes each; an int64 copy
    # of the indices alone would take 8 bytes per non-zero
    assert x.nnz > 4_000_000
    assert peak < x.nnz * 4, (peak, x.nnz)
    for field in ("names", "scores", "pvals"):
        np.testing.assert_array_equal(
            adata.uns["rank_genes_groups"][field], expected.uns["rank_genes_groups"][field]
        )


@pytest.mark.filterwarnings("ignore:invalid value encountered in log2:RuntimeWarning")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"method": "t-test", "pts": True},
        {"method": "t-test_overestim_var", "reference": "b"},
        {"method": "t-test", "groups": ["a", "tiny"], "fold_change": "expm1_mean"},
        {"method": "t-test", "min_pct": 0.2, "negative": True},
        {"method": "wilcoxon"},  # rank sums: gene blocks, never the row route
    ],
    ids=["ttest-pts", "overestim-ref", "groups-expm1", "prefilter-negative", "wilcoxon"],
)
def test_sums_straight_from_csr_equal_the_gene_blocks(monkeypatch, kwargs, dtype) -> None:
    """CSR t-tests sum without transposing, to the bit what the gene blocks give."""
    import rgg.sweep
    from rgg.plan import build_plan

    kwargs = dict(kwargs)
    adata = awkward_adata(sparse.csr_matrix, dtype, seed=5, negative=kwargs.pop("negative", False))
    adata.X.data[::23] = 0.0  # stored zeros, skipped like the transposition skips them
    adata.X.data[::41] = -0.0
    mask = np.ones(adata.n_vars, dtype=bool)
    mask[[1, 7, 8, 33]] = False
    plan = build_plan(adata, "group", mask_var=mask, **kwargs)
    calls = []
    real_kernel = kernels.accumulate_csr
    monkeypatch.setattr(
        kernels, "accumulate_csr", lambda *a, **k: calls.append(1) or real_kernel(*a, **k)
    )
    from_rows = rgg.sweep.sweep(plan)
    assert bool(calls) == (kwargs["method"] != "wilcoxon")
    monkeypatch.setattr(rgg.sweep, "sums_from_rows", lambda plan, out: False)
    from_blocks = rgg.sweep.sweep(plan)
    for field in ("nnz", "sums", "m2", "expm1_sums", "tested", "ranksums"):
        ours, theirs = getattr(from_rows, field), getattr(from_blocks, field)
        assert (ours is None) == (theirs is None), field
        if ours is not None:
            assert ours.tobytes() == theirs.tobytes(), field
    counts = ("n_nonfinite", "n_negative", "n_fractional")
    assert [getattr(from_rows, c) for c in counts] == [getattr(from_blocks, c) for c in counts]
    assert (from_rows.expm1_sums is not None) == ("fold_change" in kwargs)
    assert (from_rows.tested is not None) == ("min_pct" in kwargs)
    assert (from_rows.m2 is not None) == kwargs["method"].startswith("t-test")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reference", [None, 2])
def test_rank_kernels_sum_and_count_as_the_separate_kernels(dtype, reference) -> None:
    """The rank kernels' single pass gives accumulate_csc's sums and scan_values' counts."""
    rng = np.random.default_rng(7)
    x = _random_column_data(rng, 90, 12).astype(dtype)
    x[3, 4] = -0.0  # a negative zero counts as negative
    x[5, 6] = -1.5
    csc = sparse.csc_matrix(x)
    csc.data[0] = 0.0  # a stored zero: counted, never summed
    codes = rng.integers(-1 if reference is not None else 0, 4, size=90).astype(np.int32)
    n_per_code = np.bincount(codes[codes >= 0], minlength=4).astype(np.int64)
    cols = np.arange(12)
    expected_nnz, expected_sum = np.zeros((12, 4)), np.zeros((12, 4))
    block = (csc.indptr, csc.indices, csc.data, cols)
    groups = {"codes": codes, "n_per_code": n_per_code}
    kernels.accumulate_csc(*block, **groups, nnz=expected_nnz, sums=expected_sum)
    nnz, sums = np.zeros((12, 4)), np.zeros((12, 4))
    if reference is None:
        counts = kernels.ranksum_rest_csc(
            *block, **groups, ranksums=np.zeros((12, 4)), tiesums=np.zeros(12), nnz=nnz, sums=sums
        )
    else:
        counts = kernels.ranksum_reference_csc(
            *block, **groups, ref_code=reference, ustats=np.zeros((12, 4)),
            tiesums=np.zeros((12, 4)), nnz=nnz, sums=sums,
        )  # fmt: skip
    assert nnz.tobytes() == expected_nnz.tobytes()
    assert sums.tobytes() == expected_sum.tobytes()
    assert counts == kernels.scan_values(csc.indptr, csc.data, cols)
    assert counts[1] >= 1
