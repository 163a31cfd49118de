"""One sweep over the gene blocks of the tested matrix gathers every sum a method needs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from . import kernels, matrix
from ._settings import settings
from .plan import Plan


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
        Sums of ``expm1`` of the values (undoing log1p), for Seurat's fold change.
    """

    nnz: np.ndarray
    sums: np.ndarray
    m2: np.ndarray | None = None
    ranksums: np.ndarray | None = None
    ustats: np.ndarray | None = None
    tiesums: np.ndarray | None = None
    expm1_sums: np.ndarray | None = None
    n_nonfinite: int = 0
    n_negative: int = 0
    n_fractional: int = 0


def sweep(plan: Plan, *, block_nnz: int | None = None) -> GeneSums:
    """Run the kernels the plan's method needs over every gene block.

    ``block_nnz`` bounds the non-zeros of a transposed block (default
    :data:`rgg.matrix.DEFAULT_BLOCK_NNZ`, read at call time). Non-finite values are
    counted in :attr:`GeneSums.n_nonfinite`, not raised; blocks holding them are not
    tested, and the caller decides.
    """
    n_genes = len(plan.genes)
    n_codes = len(plan.n_per_code)
    shape = (n_genes, n_codes)
    with_m2 = plan.method in {"t-test", "t-test_overestim_var"}
    wilcoxon = plan.method == "wilcoxon" or plan.auroc  # rank sums are needed
    rest = plan.reference_index is None
    out = GeneSums(
        nnz=np.zeros(shape),
        sums=np.zeros(shape),
        m2=np.zeros(shape) if with_m2 else None,
        ranksums=np.zeros(shape) if wilcoxon and rest else None,
        ustats=np.zeros(shape) if wilcoxon and not rest else None,
        tiesums=(np.zeros(n_genes) if rest else np.zeros(shape)) if wilcoxon else None,
        expm1_sums=np.zeros(shape) if plan.fold_change == "expm1_mean" else None,
    )
    log_base = np.log(plan.log1p_base) if plan.log1p_base is not None else 1.0
    no_m2 = np.zeros((0, n_codes))
    codes = plan.cell_codes
    block_nnz = matrix.DEFAULT_BLOCK_NNZ if block_nnz is None else block_nnz
    progress = tqdm(
        total=n_genes, unit="gene", desc=f"rgg {plan.method}", disable=not settings.progress
    )
    for block in matrix.iter_gene_blocks(plan.matrix, plan.genes, block_nnz=block_nnz):
        part = slice(block.start, block.stop)
        n_nonfinite, n_negative, n_fractional = kernels.scan_values(
            block.indptr, block.data, block.cols
        )
        out.n_nonfinite += n_nonfinite
        out.n_negative += n_negative
        out.n_fractional += n_fractional
        if n_nonfinite:
            continue  # the caller refuses the data; don't feed NaN to the sorts
        kernels.accumulate_csc(
            block.indptr, block.rows, block.data, block.cols, codes, plan.n_per_code,
            with_m2, out.nnz[part], out.sums[part], out.m2[part] if with_m2 else no_m2,
        )  # fmt: skip
        if out.expm1_sums is not None:
            kernels.accumulate_expm1_csc(
                block.indptr, block.rows, block.data, block.cols, codes, log_base,
                out.expm1_sums[part],
            )  # fmt: skip
        if wilcoxon and rest:
            kernels.ranksum_rest_csc(
                block.indptr, block.rows, block.data, block.cols, codes, plan.n_per_code,
                out.ranksums[part], out.tiesums[part],
            )  # fmt: skip
        elif wilcoxon:
            kernels.ranksum_reference_csc(
                block.indptr, block.rows, block.data, block.cols, codes, plan.n_per_code,
                plan.reference_index, out.ustats[part], out.tiesums[part],
            )  # fmt: skip
        progress.update(block.stop - block.start)
        del block  # the generator allocates the next block: hold one at a time
    progress.close()
    return out
