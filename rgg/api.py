"""``rank_genes_groups``: parameters in, scanpy-shaped results out."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numba
import numpy as np
import pandas as pd
from scipy import sparse

from . import effects, stats
from ._errors import NonFiniteValuesError
from ._parameters import PREFILTERS
from ._settings import numba_threads
from ._types import CorrMethod, CorrScope, FoldChange, Method, RestScope
from .lazy import LazyOptions, sweep_lazy
from .lazy.options import DEFAULT_LAZY_BLOCK_NNZ
from .matrix import is_lazy
from .plan import Plan, build_plan
from .results import GroupResult, RankedTable, build_uns, fraction_frame, n_output_genes, uns_dict
from .sweep import GeneSums, sweep

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("rgg")

RAW_COUNTS_WARNING = (
    "It seems you use rank_genes_groups on the raw count data. "
    "Please logarithmize your data before calling rank_genes_groups."
)


def rank_genes_groups(
    adata: AnnData,
    groupby: str,
    *,
    mask_var: np.ndarray | str | None = None,
    use_raw: bool | None = None,
    groups: Literal["all"] | Iterable[str] = "all",
    reference: str | Sequence[str] = "rest",
    n_genes: int | None = None,
    rankby_abs: bool = False,
    pts: bool = False,
    key_added: str | None = None,
    copy: bool = False,
    method: Method | None = None,
    corr_method: CorrMethod = "benjamini-hochberg",
    tie_correct: bool = False,
    layer: str | None = None,
    n_jobs: int | None = None,
    auroc: bool = False,
    corr_scope: CorrScope = "group",
    rest_scope: RestScope = "all",
    fold_change: FoldChange = "log_mean",
    min_pct: float | None = None,
    min_diff_pct: float | None = None,
    min_logfc: float | None = None,
    mean_in_log_space: bool | None = None,
    scheduler: Any = None,
    block_nnz: int | None = None,
    temp_dir: str | Path | None = None,
    **kwds: Any,
) -> AnnData | None:
    """Rank genes for characterizing groups; a drop-in for ``scanpy.tl.rank_genes_groups``.

    Same parameters, same ``adata.uns[key_added]`` and the same numbers as scanpy, computed
    by multi-threaded Numba kernels that never densify or copy the matrix per group.
    Expects log-normalised data.

    Parameters
    ----------
    adata
        Annotated data matrix.
    groupby
        Categorical column of ``adata.obs`` whose groups are compared.
    mask_var
        Boolean mask (length ``adata.n_vars``) or name of a boolean ``adata.var`` column:
        test only these genes. Corrections then run over the tested genes only. Default:
        scanpy's active preset's when scanpy >= 1.13 is imported (no mask in both of its
        presets).
    use_raw
        Test ``adata.raw.X``. Default: when ``adata.raw`` exists.
    groups
        ``'all'`` or the groups to report, in the output order. With ``reference='rest'``
        the rest still holds *all* other cells, not only the listed groups.
    reference
        ``'rest'`` (each group against all other cells) or a group to compare against. A
        list of two or more groups pools their cells into one reference (scanpy issue 984;
        rgg's addition): every other selected group is compared with the pool, which is
        stored as ``params['reference']`` = the labels joined by ``' + '`` and
        ``params['reference_groups']`` = the list; with ``pts``, ``pts`` holds the compared
        groups and ``pts_rest`` the pool. A list of one group is that group.
    n_genes
        Genes per group in the output tables (default: all tested genes).
    rankby_abs
        Rank by absolute score; stored scores keep their sign.
    pts
        Also store the fraction of cells expressing each gene (``pts``; ``pts_rest`` for
        the rest in one-vs-rest mode). Ignored by logreg.
    key_added
        Key in ``adata.uns`` (default ``'rank_genes_groups'``).
    copy
        Work on a copy of ``adata`` and return it.
    method
        ``'t-test'`` (default), ``'t-test_overestim_var'``, ``'wilcoxon'`` or ``'logreg'``;
        also ``'wilcoxon_illico'`` (scanpy 1.13's name for its illico-computed Wilcoxon
        test: the same statistic as ``'wilcoxon'``, stored as ``params['method'] =
        'wilcoxon_illico'`` with the groups in illico's order, sorted by label). Default:
        scanpy's active preset's when scanpy >= 1.13 is imported (``'wilcoxon_illico'``
        under ``Preset.ScanpyV2Preview``), else ``'t-test'``.
    corr_method
        ``'benjamini-hochberg'`` (default) or ``'bonferroni'``, per group over the tested genes.
    tie_correct
        Tie-corrected Wilcoxon variance.
    layer
        Test ``adata.layers[layer]`` (needs ``use_raw=False`` when ``adata.raw`` exists).
    n_jobs
        Threads for this call (default :attr:`rgg.settings.n_jobs`: all cores). Results do
        not depend on it.
    auroc
        Also store ``auroc``: per gene and group, the area under the ROC curve of the gene as
        a marker of the group (the probability that a random cell of the group has a higher
        value than a random cell of the rest, or of the reference; ties count one half), as
        presto and scran report it. Free with ``'wilcoxon'`` (from its rank sums); the
        t-tests run the rank-sum kernels in addition; not available for logreg. rgg's
        addition; scanpy's consumers ignore the extra field.
    corr_scope
        ``'group'`` (default, scanpy): each group's p-values are corrected over the tested
        genes on their own. ``'all'``: the p-values of all reported groups are corrected
        together (genes x groups tests), the stricter choice when markers of all groups are
        reported at once. rgg's addition; stored as ``params['corr_scope']`` when ``'all'``.
    rest_scope
        With ``reference='rest'``: ``'all'`` (default, scanpy) compares each group with every
        other cell; ``'groups'`` only with the cells of the other groups in ``groups`` (cells
        of unselected groups and with no label take no part; scanpy issue 1519). rgg's
        addition; stored as ``params['rest_scope']`` when ``'groups'``.
    fold_change
        ``'log_mean'`` (default, scanpy): ``log2(expm1(mean of log values))`` ratios, an
        approximation. ``'expm1_mean'`` (Seurat): ``log2(mean(expm1(x)) + 1) -
        log2(mean(expm1(y)) + 1)`` from the normalised values cell by cell (scanpy issue
        864); honours ``adata.uns['log1p']['base']``. rgg's addition; stored as
        ``params['fold_change']`` when not the default.
    mean_in_log_space
        scanpy 1.13's parameter. ``True``: group means of the (log) values, fold changes
        ``log2(expm1(mean))`` ratios (scanpy's classic behaviour). ``False``: the t-tests run
        on ``expm1`` of the values (base-aware), and every method's fold change is
        ``log2((mean(expm1 x) + 1e-9) / (mean_other(expm1 x) + 1e-9))``; not stored in
        ``params``, as in scanpy. Not the same as ``fold_change='expm1_mean'``
        (Seurat's +1 pseudocount), which it excludes. Default: scanpy's active preset's when
        scanpy >= 1.13 is imported (``False`` under ``Preset.ScanpyV2Preview``), else ``True``.
    min_pct, min_diff_pct, min_logfc
        Seurat's pre-filters (``FindMarkers``' ``min.pct``, ``min.diff.pct``,
        ``logfc.threshold``; scanpy issue 3159; rgg's addition, off by default). For each
        group, a gene is tested only if the larger of its expressing fractions in the group
        and in what the group is compared with reaches ``min_pct``, the two fractions differ
        by at least ``min_diff_pct``, and its absolute log2 fold change (as ``fold_change``
        defines it) reaches ``min_logfc``. Genes that fail are not tested (Wilcoxon skips
        their sort): their ``scores``, ``pvals``, ``pvals_adj`` (and ``auroc``) are NaN,
        ``logfoldchanges`` is kept, they are ranked after the tested genes, and the record
        field ``filtered`` marks them. Corrections count them as p = 1, so the family size
        stays the number of tested genes. Not available for logreg.
    scheduler
        Lazy matrices only (a Dask array, as from :func:`anndata.experimental.read_lazy`, or
        a backed h5ad): where the Dask tasks run. ``None`` (default): the current
        ``dask.distributed`` client if one exists, else a local cluster of ``n_jobs``
        single-threaded workers for this call. Also an address (``'tcp://host:8786'``), a
        :class:`distributed.Client`, or ``'threads'``, ``'processes'``, ``'synchronous'``.
        rgg's addition.
    block_nnz
        Upper bound on the non-zeros (entries, for dense data) one block of work holds; it
        bounds memory, not results. In memory: the block of genes transposed at a time
        (default 16 million). Lazy: also the rows per task of a backed file (default 20
        million non-zeros, about 250 MB per task). rgg's addition.
    temp_dir
        Lazy matrices stored by rows (CSR, dense) with ``method='wilcoxon'`` or ``auroc``:
        where the gene-ordered copy the rank tests read is written (as large as the
        matrix; removed after the call). Default: the system's temporary directory; on a
        multi-machine cluster, a directory every worker sees. rgg's addition.
    **kwds
        Passed to :class:`sklearn.linear_model.LogisticRegression` for ``method='logreg'``.
        A keyword that no test reads (a misspelled parameter, or any keyword for the other
        methods) raises an error naming the closest parameter; scanpy drops it silently.
        ``only_positive`` (legacy) means ``rankby_abs=not only_positive``.

    Returns
    -------
    ``None``, or the new AnnData if ``copy=True``. Sets ``adata.uns[key_added]``:

    ``params``
        ``groupby``, ``reference``, ``method``, ``use_raw``, ``layer``, ``corr_method``.
    ``names``, ``scores``
        Record arrays, one field per group, genes in rank order; names ``object``,
        scores ``float32`` (z-scores for Wilcoxon, t for t-tests, coefficients for logreg).
    ``logfoldchanges``, ``pvals``, ``pvals_adj``
        ``float32``, ``float64``, ``float64`` record arrays (not for logreg).
    ``pts``, ``pts_rest``
        DataFrames, genes (in gene order) by groups, when ``pts=True``.
    ``auroc``
        ``float64`` record array in the same gene order as ``names``, when ``auroc=True``.
    ``filtered``
        ``bool`` record array, True for genes a pre-filter kept out of the test, when one of
        ``min_pct``, ``min_diff_pct``, ``min_logfc`` is given.

    Notes
    -----
    Deliberate departures from scanpy: a call that fails leaves ``adata`` untouched
    (scanpy overwrites ``uns[key_added]`` first); the matrix is not mutated (scanpy runs
    ``eliminate_zeros`` on it); the Wilcoxon variance is computed in float64, so it does
    not overflow above about 3 million cells; NaN or infinite values raise an error; bad
    arguments get messages that list the valid choices; misspelled keywords, ``groups``
    that hold only the reference and a group that holds every cell are errors.
    """
    plan = build_plan(
        adata,
        groupby,
        mask_var=mask_var,
        use_raw=use_raw,
        groups=groups,
        reference=reference,
        n_genes=n_genes,
        rankby_abs=rankby_abs,
        pts=pts,
        key_added=key_added,
        method=method,
        corr_method=corr_method,
        tie_correct=tie_correct,
        layer=layer,
        kwds=kwds,
        auroc=auroc,
        corr_scope=corr_scope,
        rest_scope=rest_scope,
        fold_change=fold_change,
        min_pct=min_pct,
        min_diff_pct=min_diff_pct,
        min_logfc=min_logfc,
        mean_in_log_space=mean_in_log_space,
    )
    if copy and getattr(adata, "isbacked", False):
        msg = (
            "copy=True cannot copy a backed AnnData (anndata needs a file name for that). "
            "Call without copy: the results go to adata.uns in memory and the file is not "
            "changed; or load the data first with adata.to_memory()."
        )
        raise ValueError(msg)
    block_nnz = None if block_nnz is None else _positive(block_nnz)
    lazy = None
    if is_lazy(plan.matrix):
        lazy = LazyOptions(
            scheduler=scheduler,
            block_nnz=DEFAULT_LAZY_BLOCK_NNZ if block_nnz is None else block_nnz,
            temp_dir=None if temp_dir is None else Path(temp_dir),
            n_jobs=n_jobs,
        )
    elif scheduler is not None:
        logger.warning(
            "scheduler=%r is used for lazy matrices only (a Dask array or a backed h5ad); "
            "this matrix is in memory and is ranked in this process.",
            scheduler,
        )
    with numba_threads(n_jobs):  # also the threads of the steps after the kernels
        uns = compute(plan, lazy=lazy, block_nnz=block_nnz)
    target = adata.copy() if copy else adata
    if isinstance(target.obs, pd.DataFrame):  # not for read_lazy's xarray-backed obs
        target.strings_to_categoricals()  # scanpy's sanitize step
    target.uns[plan.key_added] = uns
    return target if copy else None


def _positive(block_nnz: Any) -> int:
    if isinstance(block_nnz, bool) or not isinstance(block_nnz, int | np.integer) or block_nnz < 1:
        msg = f"block_nnz must be a positive number of non-zeros, got {block_nnz!r}."
        raise ValueError(msg)
    return int(block_nnz)


def compute(plan: Plan, *, lazy: LazyOptions | None = None, block_nnz: int | None = None) -> dict:
    """Run the plan and return what belongs in ``adata.uns[plan.key_added]``.

    ``lazy`` is required for a lazy matrix (see :mod:`rgg.lazy`); ``block_nnz`` bounds the
    transposed blocks of an in-memory one (see :func:`rgg.sweep.sweep`).
    """
    params = plan.params() | plan.extra_params()
    if plan.method == "logreg":
        return build_uns(
            params, _logreg(plan), plan.var_names, plan.n_genes, rankby_abs=plan.rankby_abs
        )

    sums = sweep_lazy(plan, lazy) if lazy is not None else sweep(plan, block_nnz=block_nnz)
    _check_values(sums)
    if plan.expm1_statistics:  # the t-test on expm1 values: test their means and variances
        sums.sums, sums.m2 = sums.expm1_sums, sums.expm1_m2
    _hint_small_groups(plan)
    reported = np.asarray(plan.reported_groups, dtype=np.int64)
    if sums.tested is not None:
        _check_prefiltered(plan, sums.tested[:, reported])
    fields = ["logfoldchanges", "pvals", "pvals_adj"]
    fields += ["auroc"] if plan.auroc else []
    fields += ["filtered"] if sums.tested is not None else []
    table = RankedTable(
        [plan.group_labels[g] for g in reported],
        plan.var_names,
        n_output_genes(len(plan.genes), plan.n_genes),
        fields,
    )
    fractions = _Fractions(plan, sums.nnz) if plan.pts else None
    _test_and_rank(plan, sums, reported, table, fractions)
    del sums  # the per-gene sums go before the record arrays are built
    pts, pts_rest = fractions.frames() if fractions is not None else (None, None)
    return uns_dict(params, table, pts, pts_rest)


def _test_and_rank(
    plan: Plan,
    sums: GeneSums,
    reported: np.ndarray,
    table: RankedTable,
    fractions: _Fractions | None,
) -> None:
    """Test, correct and rank the ``reported`` groups a block at a time into ``table``.

    Blocks run on the call's threads: they write disjoint columns of the table (and rows of
    ``fractions``), and numpy and rgg's scatter kernels release the GIL.
    """
    m2_other = totals = None
    if plan.reference_index is None:
        totals = (sums.nnz.sum(axis=1), sums.sums.sum(axis=1))
        if sums.m2 is not None:
            m2_other = stats.rest_m2(plan.n_per_code, sums.sums, sums.m2, plan.n_groups)

    def test_block(block: slice) -> GroupResult | None:
        codes = reported[block]
        summary = stats.summarise_groups(
            plan.n_per_code, sums.nnz, sums.sums, sums.m2, plan.n_groups,
            plan.reference_index, codes, m2_other, totals,
        )  # fmt: skip
        if fractions is not None:
            fractions.add(codes, summary)
        result = _test_groups(plan, sums, summary, codes)
        if plan.corr_scope == "all":
            return result  # corrected together once all groups are tested
        table.add(block, result, rankby_abs=plan.rankby_abs)
        return None

    blocks = _group_blocks(len(reported), sums.nnz.shape[0])
    with ThreadPoolExecutor(max_workers=numba.get_num_threads()) as pool:
        pending = [r for r in pool.map(test_block, blocks) if r is not None]
    if pending:
        joint = _adjust_jointly(pending, plan.corr_method)
        table.add(slice(0, len(reported)), joint, rankby_abs=plan.rankby_abs)


_GROUP_BLOCK_VALUES = 1 << 18
"""Groups x genes values per block of groups tested at once (2 MB per float64 array), so
that blocks keep every thread busy and their temporaries stay small."""


def _group_blocks(n_reported: int, n_genes: int) -> list[slice]:
    """Consecutive blocks of the reported groups, each small enough to keep in cache."""
    size = max(1, _GROUP_BLOCK_VALUES // max(n_genes, 1))
    return [slice(i, min(i + size, n_reported)) for i in range(0, n_reported, size)]


class _Fractions:
    """``pts`` and ``pts_rest`` as scanpy stores them, filled a block of groups at a time.

    With a pooled reference, ``pts`` holds the compared groups and ``pts_rest`` the pool's
    fraction (what each group is compared with), so that ``rank_genes_groups_df`` reports
    it as ``pct_nz_reference``. Otherwise ``pts`` holds every selected group, the
    reference too, and ``pts_rest`` (one-vs-rest only) the rest of each group.
    """

    def __init__(self, plan: Plan, nnz: np.ndarray) -> None:
        self.plan = plan
        pooled = plan.reference_groups is not None
        self.rows = list(plan.reported_groups) if pooled else list(range(plan.n_groups))
        self.frac = np.empty((len(self.rows), nnz.shape[0]))
        with_rest = pooled or plan.reference_index is None
        self.frac_other = np.empty((len(self.rows), nnz.shape[0])) if with_rest else None
        self.row_of = {g: i for i, g in enumerate(self.rows)}
        r = plan.reference_index
        if r is not None and not pooled:  # a listed group of its own, never tested
            self.frac[self.row_of[r]] = nnz[:, r] / np.float64(plan.n_per_code[r])

    def add(self, codes: np.ndarray, summary: stats.GroupSummary) -> None:
        """Store the fractions of the summarised ``codes``."""
        for i, g in enumerate(codes):
            self.frac[self.row_of[g]] = summary.frac[i]
            if self.frac_other is not None:
                self.frac_other[self.row_of[g]] = summary.frac_other[i]

    def frames(self) -> tuple[pd.DataFrame, pd.DataFrame | None]:
        """``pts`` and ``pts_rest`` (``None`` against a single reference group)."""
        labels = [self.plan.group_labels[g] for g in self.rows]
        var_names = self.plan.var_names
        pts = fraction_frame(self.frac, var_names, labels)
        if self.frac_other is None:
            return pts, None
        return pts, fraction_frame(self.frac_other, var_names, labels)


def _adjusted(pvals: np.ndarray, filtered: np.ndarray | None, corr_method: str) -> np.ndarray:
    """Corrected p-values (per row); genes a pre-filter kept out count as p = 1 and come back
    NaN.

    Counting them keeps the family size at the number of tested genes, as Seurat does, so
    that a pre-filter never makes the correction less strict.
    """
    if filtered is None:
        return stats.adjust_pvalues(pvals, corr_method)
    adjusted = stats.adjust_pvalues(np.where(filtered, 1.0, pvals), corr_method)
    adjusted[filtered] = np.nan
    return adjusted


def _adjust_jointly(results: list[GroupResult], corr_method: str) -> GroupResult:
    """Stack blocks of groups and correct all their p-values as one family (genes x groups)."""
    stacked = {
        field: None if results[0].rows(field) is None
        else np.concatenate([r.rows(field) for r in results])
        for field in ("scores", "pvals", "logfoldchanges", "auroc", "filtered")
    }  # fmt: skip
    pvals, filtered = stacked["pvals"], stacked["filtered"]
    flat = _adjusted(pvals.ravel(), None if filtered is None else filtered.ravel(), corr_method)
    labels = [label for r in results for label in r.labels]
    return GroupResult(label=labels, pvals_adj=flat.reshape(pvals.shape), **stacked)


def _check_prefiltered(plan: Plan, tested: np.ndarray) -> None:
    """Pre-filters that leave no gene to test: an error for every group, a warning for some."""
    empty = ~tested.any(axis=0)
    if not empty.any():
        return
    filters = ", ".join(
        f"{name}={getattr(plan, name)}" for name in PREFILTERS if getattr(plan, name) is not None
    )
    labels = [plan.group_labels[g] for g in np.asarray(plan.reported_groups)[empty]]
    if empty.all():
        msg = (
            f"the pre-filters {filters} leave no gene to test in any group, so nothing would "
            "be tested. Lower them (Seurat's defaults: min_pct=0.01, min_logfc=0.1)."
        )
        raise ValueError(msg)
    logger.warning(
        "The pre-filters %s leave no gene to test in %d of %d groups (e.g. %s): their scores "
        "and p-values are all NaN.",
        filters,
        len(labels),
        len(empty),
        ", ".join(repr(label) for label in labels[:3]),
    )


def _check_values(sums: GeneSums) -> None:
    if sums.n_nonfinite:
        msg = (
            f"The tested matrix holds {sums.n_nonfinite} NaN or infinite values. "
            "rank_genes_groups needs finite, log-normalised expression values: fix or "
            "drop them first (e.g. np.nan_to_num on the matrix), or exclude those genes "
            "with mask_var."
        )
        raise NonFiniteValuesError(msg)
    if sums.n_negative == 0 and sums.n_fractional == 0:
        logger.warning(RAW_COUNTS_WARNING)


def _test_groups(
    plan: Plan, sums: GeneSums, summary: stats.GroupSummary, codes: np.ndarray
) -> GroupResult:
    """Scores, p-values, corrections and fold changes of a block of groups, one row each."""
    n = summary.n[:, None]
    n_ref = None if plan.reference_index is None else plan.n_per_code[plan.reference_index]
    auroc = None
    if plan.auroc and n_ref is None:
        auroc = stats.auroc_rest(sums.ranksums[:, codes].T, n, plan.n_ranked)
    elif plan.auroc:
        auroc = stats.auroc_reference(sums.ustats[:, codes].T, n, np.float64(n_ref))
    if plan.method == "wilcoxon" and n_ref is None:
        tiesum = sums.tiesums if plan.tie_correct else None
        scores, pvals = stats.wilcoxon_rest(sums.ranksums[:, codes].T, n, plan.n_ranked, tiesum)
    elif plan.method == "wilcoxon":
        tiesum = sums.tiesums[:, codes].T if plan.tie_correct else None
        scores, pvals = stats.wilcoxon_reference(
            sums.ustats[:, codes].T, n, np.float64(n_ref), tiesum
        )
    else:
        scores, pvals = stats.welch_ttest(
            summary.mean, summary.var, n,
            summary.mean_other, summary.var_other, summary.n_other[:, None],
            overestimate_var=plan.method == "t-test_overestim_var",
        )  # fmt: skip
    filtered = None
    if sums.tested is not None:
        filtered = ~sums.tested[:, codes].T
        scores, pvals = _blank(scores, filtered), _blank(pvals, filtered)
        auroc = None if auroc is None else _blank(auroc, filtered)
    return GroupResult(
        label=[plan.group_labels[g] for g in codes],
        scores=scores,
        pvals=pvals,
        pvals_adj=None
        if plan.corr_scope == "all"
        else _adjusted(pvals, filtered, plan.corr_method),
        logfoldchanges=effects.fold_changes(plan, summary, sums.expm1_sums, codes),
        auroc=auroc,
        filtered=filtered,
    )


def _blank(values: np.ndarray, filtered: np.ndarray) -> np.ndarray:
    """NaN where a pre-filter kept the gene out of the test (its statistic was not computed)."""
    return np.where(filtered, np.nan, values).astype(values.dtype, copy=False)


def _hint_small_groups(plan: Plan) -> None:
    """scanpy's note on the normal approximation of Wilcoxon against a small reference or group."""
    if plan.method != "wilcoxon" or plan.reference_index is None:
        return
    n = plan.n_per_code[plan.reported_groups]
    if len(n) and ((n <= 25).any() or plan.n_per_code[plan.reference_index] <= 25):
        logger.info(
            "Few observations in a group for normal approximation (<=25). Lower test accuracy."
        )


def _logreg(plan: Plan) -> list[GroupResult]:
    in_groups = plan.cell_codes >= 0
    if plan.reference_index is None:
        in_groups &= plan.cell_codes < plan.n_groups
    if plan.n_groups == 1:
        msg = "Cannot perform logistic regression on a single cluster."
        raise ValueError(msg)
    x = plan.matrix if len(plan.genes) == plan.matrix.shape[1] else plan.matrix[:, plan.genes]
    # The row selection copies X; when every cell is in, the copy would hold the same rows in
    # the same layout (sparse, or C-ordered dense), so scikit-learn gets X itself.
    if not (in_groups.all() and (sparse.issparse(x) or x.flags.c_contiguous)):
        x = x[in_groups]
    if sparse.issparse(x) and x.format == "csc":
        x = x.tocsr()  # the CSR copy scikit-learn would make, so its products can be threaded
    labels = plan.category_codes[in_groups]
    x = stats.threaded_csr(x)  # same products, bit for bit, on rgg's threads
    rows = stats.logreg_scores(x, labels, plan.group_categories, plan.logreg_kwds)
    labels_out = [plan.group_labels[g] for g in plan.reported_groups]
    return [GroupResult(label=lab, scores=row) for lab, row in zip(labels_out, rows, strict=True)]
