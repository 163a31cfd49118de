"""One sweep over the gene blocks of the tested matrix gathers every sum a method needs."""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from scipy import sparse
from tqdm.auto import tqdm

from . import effects, kernels, matrix, stats
from ._settings import settings
from .plan import Plan

_RANGES_PER_THREAD = 4
"""Gene ranges per thread when summing straight from CSR (results do not depend on it)."""


@dataclass
class GeneSums:
    """Per gene and group code: the sufficient statistics of the tests.

    All arrays have one row per tested gene and one column per group code (see
    :attr:`Plan.cell_codes`).

    Attributes
    ----------
    nnz, sums
        Non-zero count and sum of the values.
    m2
        Centred sum of squares, when variances are needed (t-tests).
    ranksums
        One-vs-rest Wilcoxon: rank sums over all cells.
    ustats
        Against a reference: Mann-Whitney U of each code against the reference.
    tiesums
        ``sum(t**3 - t)`` of the tie blocks: per gene (one-vs-rest) or per gene and code
        (against a reference).
    n_nonfinite, n_negative, n_fractional
        Counts over the tested stored values (see :func:`rgg.kernels.scan_values`).
    expm1_sums
        Sums of ``expm1`` of the values (undoing log1p), for Seurat's fold change and for
        scanpy 1.13's ``mean_in_log_space=False``.
    expm1_m2
        Centred sums of squares of the ``expm1`` values: the t-tests' variances with
        ``mean_in_log_space=False``.
    tested
        ``(n_genes, n_groups)`` booleans: genes that pass Seurat's pre-filters for each
        selected group (``None`` when no pre-filter is on). Rank sums are computed only for
        genes that pass for at least one group.
    """

    nnz: np.ndarray
    sums: np.ndarray
    m2: np.ndarray | None = None
    ranksums: np.ndarray | None = None
    ustats: np.ndarray | None = None
    tiesums: np.ndarray | None = None
    expm1_sums: np.ndarray | None = None
    expm1_m2: np.ndarray | None = None
    tested: np.ndarray | None = None
    n_nonfinite: int = 0
    n_negative: int = 0
    n_fractional: int = 0


def empty_sums(plan: Plan, n_genes: int) -> GeneSums:
    """Zeroed :class:`GeneSums` for ``n_genes`` tested genes, with the arrays the method needs."""
    shape = (n_genes, len(plan.n_per_code))
    with_m2 = plan.method in {"t-test", "t-test_overestim_var"}
    wilcoxon = plan.method == "wilcoxon" or plan.auroc  # rank sums are needed
    rest = plan.reference_index is None
    return GeneSums(
        nnz=np.zeros(shape),
        sums=np.zeros(shape),
        m2=np.zeros(shape) if with_m2 else None,
        ranksums=np.zeros(shape) if wilcoxon and rest else None,
        ustats=np.zeros(shape) if wilcoxon and not rest else None,
        tiesums=(np.zeros(n_genes) if rest else np.zeros(shape)) if wilcoxon else None,
        expm1_sums=(
            np.zeros(shape)
            if plan.fold_change == "expm1_mean" or not plan.mean_in_log_space
            else None
        ),
        expm1_m2=np.zeros(shape) if plan.expm1_statistics else None,
        tested=np.ones((n_genes, plan.n_groups), dtype=bool) if plan.prefilters else None,
    )


def sweep(plan: Plan, *, block_nnz: int | None = None) -> GeneSums:
    """Run the kernels the plan's method needs over every gene block.

    ``block_nnz`` bounds the non-zeros of a transposed block (default
    :data:`rgg.matrix.DEFAULT_BLOCK_NNZ`, read at call time). Non-finite values are
    counted in :attr:`GeneSums.n_nonfinite`, not raised; blocks holding them are not
    tested, and the caller decides.
    """
    n_genes = len(plan.genes)
    out = empty_sums(plan, n_genes)
    block_nnz = matrix.DEFAULT_BLOCK_NNZ if block_nnz is None else block_nnz
    progress = tqdm(
        total=n_genes, unit="gene", desc=f"rgg {plan.method}", disable=not settings.progress
    )
    if sums_from_rows(plan, out):
        sweep_csr_rows(plan, out)
        progress.update(n_genes)
    else:
        for block in matrix.iter_gene_blocks(plan.matrix, plan.genes, block_nnz=block_nnz):
            sweep_block(plan, block, out)
            progress.update(block.stop - block.start)
            del block  # the generator allocates the next block: hold one at a time
    progress.close()
    return out


def sums_from_rows(plan: Plan, out: GeneSums) -> bool:
    """Whether ``out`` can be filled straight from a float CSR matrix, without gene blocks.

    Rank sums need every cell of a gene at once (gene blocks); other dtypes are cast block
    by block instead of copying the whole matrix.
    """
    x = plan.matrix
    return (
        sparse.issparse(x)
        and x.format == "csr"
        and x.dtype in (np.float32, np.float64)
        and out.ranksums is None
        and out.ustats is None
        and plan.mean_in_log_space  # expm1 values are summed from gene blocks
    )


def sweep_csr_rows(plan: Plan, out: GeneSums) -> None:
    """Fill ``out`` from the plan's CSR matrix in place: the sums of :func:`sweep_block`.

    No transposed copy: parallel over ranges of genes, each walking the rows (see
    :func:`rgg.kernels.accumulate_csr`); the results are bit-for-bit those of the blocks.
    """
    x = matrix.canonical(plan.matrix)
    col_pos = np.full(x.shape[1], -1, dtype=np.int64)
    col_pos[plan.genes] = np.arange(len(plan.genes))
    col_bounds = matrix.csr_column_ranges(x, _RANGES_PER_THREAD * numba.get_num_threads())
    _count(
        out,
        kernels.accumulate_csr(
            x.indptr, x.indices, x.data, col_pos=col_pos, col_bounds=col_bounds,
            codes=plan.cell_codes, n_per_code=plan.n_per_code, nnz=out.nnz, sums=out.sums,
            m2=out.m2, expm1_sums=out.expm1_sums, log_base=log1p_scale(plan),
        ),
    )  # fmt: skip
    if out.tested is not None and not out.n_nonfinite:
        out.tested[:] = passing(plan, out, slice(None))


def sweep_block(plan: Plan, block: matrix.GeneBlock, out: GeneSums) -> None:
    """Add one gene block's statistics to ``out`` (rows ``block.start:block.stop``).

    ``plan.cell_codes`` must hold the codes of the block's rows: every cell of the plan.
    A rank test without variances or pre-filters reads the block once: its sort pass also
    counts the values and sums them per group. Otherwise the values are checked and summed
    first, and the rank kernels sort only the genes a pre-filter leaves.
    """
    part = slice(block.start, block.stop)
    ranks = out.ranksums is not None or out.ustats is not None
    if ranks and out.m2 is None and out.tested is None:
        _count(out, _rank_block(plan, block, slice(None), out, part, sums_done=False))
        if out.n_nonfinite:
            return  # the caller refuses the data
    else:
        _count(out, kernels.scan_values(block.indptr, block.data, block.cols))
        if out.n_nonfinite:
            return  # the caller refuses the data; don't feed NaN to the sorts
        kernels.accumulate_csc(
            block.indptr, block.rows, block.data, block.cols, codes=plan.cell_codes,
            n_per_code=plan.n_per_code, nnz=out.nnz[part], sums=out.sums[part],
            m2=_rows(out.m2, part),
        )  # fmt: skip
    if not plan.mean_in_log_space:
        # scanpy 1.13's means (and the t-tests' variances) of expm1 values, which it forms
        # in the data's dtype: summed from those values, not from float64 expm1 on the fly
        kernels.accumulate_csc(
            block.indptr, block.rows, expm1_values(plan, block.data), block.cols,
            codes=plan.cell_codes, n_per_code=plan.n_per_code, sums=out.expm1_sums[part],
            m2=_rows(out.expm1_m2, part),
        )  # fmt: skip
    elif out.expm1_sums is not None:
        kernels.accumulate_expm1_csc(
            block.indptr, block.rows, block.data, block.cols, plan.cell_codes,
            log1p_scale(plan), out.expm1_sums[part],
        )  # fmt: skip
    ranked = slice(None)
    if out.tested is not None:
        out.tested[part] = passing(plan, out, part)
        # skip the genes no reported group tests (the reference's own column is unused)
        ranked = np.flatnonzero(out.tested[part][:, plan.reported_groups].any(axis=1))
    if ranks and (out.m2 is not None or out.tested is not None):  # not ranked above
        _rank_block(plan, block, ranked, out, part, sums_done=True)


def _rows(sums: np.ndarray | None, part: slice) -> np.ndarray | None:
    """The rows ``part`` of an optional array of :class:`GeneSums`."""
    return None if sums is None else sums[part]


def _count(out: GeneSums, counts: tuple[int, int, int]) -> None:
    """Add a block's counts of non-finite, negative and fractional values to ``out``."""
    n_nonfinite, n_negative, n_fractional = counts
    out.n_nonfinite += n_nonfinite
    out.n_negative += n_negative
    out.n_fractional += n_fractional


def expm1_values(plan: Plan, values: np.ndarray) -> np.ndarray:
    """``expm1`` of stored values as scanpy 1.13 forms them: in the values' dtype, after
    multiplying by ``log(base)`` for a log1p of another base (which gives float64)."""
    if plan.log1p_base is not None:
        return np.expm1(values * np.log(plan.log1p_base))
    return np.expm1(values)


def log1p_scale(plan: Plan) -> float:
    """``log(base)`` of the data's log1p (1 for natural log), for :func:`accumulate_expm1_csc`."""
    return float(np.log(plan.log1p_base)) if plan.log1p_base is not None else 1.0


def passing(plan: Plan, out: GeneSums, part: slice) -> np.ndarray:
    """Seurat's pre-filters on the genes ``part`` of ``out``, from their complete per-code sums."""
    summary = stats.summarise_groups(
        plan.n_per_code, out.nnz[part], out.sums[part], None, plan.n_groups, plan.reference_index
    )
    expm1_sums = None if out.expm1_sums is None else out.expm1_sums[part]
    return effects.tested_genes(plan, summary, effects.fold_changes(plan, summary, expm1_sums))


def _rank_block(
    plan: Plan,
    block: matrix.GeneBlock,
    ranked: slice | np.ndarray,
    out: GeneSums,
    part: slice,
    *,
    sums_done: bool,
) -> tuple[int, int, int]:
    """Rank sums (one-vs-rest) or U statistics (reference) of the block's ``ranked`` genes.

    Unless ``sums_done``, the kernels' pass also fills ``out.nnz``/``out.sums`` of the
    block; returns its counts of non-finite, negative and fractional values.
    """
    cols = block.cols[ranked]
    if len(cols) == 0:
        return 0, 0, 0
    rest = plan.reference_index is None
    stat = (out.ranksums if rest else out.ustats)[part][ranked]
    ties = out.tiesums[part][ranked]
    nnz = None if sums_done else out.nnz[part][ranked]
    sums = None if sums_done else out.sums[part][ranked]
    block_args = (block.indptr, block.rows, block.data, cols)
    if rest:
        counts = kernels.ranksum_rest_csc(
            *block_args, codes=plan.cell_codes, n_per_code=plan.n_per_code, ranksums=stat,
            tiesums=ties, nnz=nnz, sums=sums,
        )  # fmt: skip
    else:
        counts = kernels.ranksum_reference_csc(
            *block_args, codes=plan.cell_codes, n_per_code=plan.n_per_code,
            ref_code=plan.reference_index, ustats=stat,
            tiesums=ties if plan.tie_correct else None, nnz=nnz, sums=sums,
        )  # fmt: skip
    if not isinstance(ranked, slice):  # fancy indexing gave copies: write them back
        (out.ranksums if rest else out.ustats)[part][ranked] = stat
        out.tiesums[part][ranked] = ties
    return counts
