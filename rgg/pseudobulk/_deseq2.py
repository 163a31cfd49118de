"""``pseudobulk_deseq2``: each group against the rest or a reference group, with PyDESeq2."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .._errors import check_choice
from ._aggregate import aggregate_counts, check_min_cells
from ._comparison import (
    AmbiguousDesignError,
    arm_pseudobulks,
    auto_design,
    match_category,
    select_groups,
    usable,
)

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("rgg")

Design = Literal["auto", "paired", "unpaired"]
FORMULAS = {"paired": "~ sample + arm", "unpaired": "~ arm"}
RESULT_COLUMNS = [
    "group",
    "reference",
    "gene",
    "base_mean",
    "log2_fold_change",
    "lfc_se",
    "stat",
    "pval",
    "pval_adj",
    "n_samples_group",
    "n_samples_reference",
    "design",
]
_DESEQ2_COLUMNS = {
    "baseMean": "base_mean",
    "log2FoldChange": "log2_fold_change",
    "lfcSE": "lfc_se",
    "stat": "stat",
    "pvalue": "pval",
    "padj": "pval_adj",
}
#: pydeseq2 warnings that are expected with few replicates and carry no action for the user:
#: small residual df (we allow 2 samples per arm) and its fallback to iterative size factors.
_EXPECTED_WARNINGS = (
    "As the residual degrees of freedom is less than 3",
    "Every gene contains at least one zero",
)


def pseudobulk_deseq2(
    adata: AnnData,
    groupby: str,
    sample: str,
    *,
    layer: str | None = "counts",
    groups: Literal["all"] | Iterable[Any] = "all",
    reference: str = "rest",
    min_cells: int = 10,
    design: Design = "auto",
    n_jobs: int | None = None,
) -> pd.DataFrame:
    """Test each group against the rest or a reference group on pseudobulks, with DESeq2.

    For every selected group, each sample gives one pseudobulk of the group's cells and one
    of the reference's: all its other cells (``reference='rest'``) or the cells of the
    ``reference`` group. Pseudobulks with fewer than ``min_cells`` cells are left out.

    Parameters
    ----------
    adata
        Cells x genes with raw counts in ``layer`` (CSR, CSC or dense; int or float).
    groupby
        ``adata.obs`` column of the groups to test (cell types, clusters, or a condition).
    sample
        ``adata.obs`` column of biological replicates (donors, animals).
    layer
        Layer holding raw counts; ``None`` uses ``adata.X``.
    groups
        ``'all'`` (every group that has cells) or a list of category labels. The reference
        group itself is not reported.
    reference
        ``'rest'`` or the label of the group to compare with.
    min_cells
        Least number of cells for a pseudobulk to enter a comparison.
    design
        ``'paired'``: ``~ sample + arm``, each sample contributes to both arms (groupby is a
        cell type, sample a donor); samples left with a single arm after ``min_cells`` carry
        no information on the arm effect and are left out. ``'unpaired'``: ``~ arm``, samples
        are nested in the arms (groupby is a condition). ``'auto'``, per comparison: paired
        when every sample with cells in the comparison has cells in both arms, unpaired when
        none has, a ValueError when mixed. Presence is judged on cells before ``min_cells``,
        so a small group dropped from a few samples does not flip the design.
    n_jobs
        Processes for PyDESeq2 (its ``DefaultInference(n_cpus=...)``). ``None`` means 1,
        which is fastest for pseudobulk sizes (no worker start-up); ``-1`` means all cores.

    Returns
    -------
    pandas.DataFrame
        One row per group and gene; groups in category order, and within a group rows by
        ``stat`` descending (NaN last). Columns: ``group`` (categorical of the groups
        reported), ``reference`` (``'rest'`` or the reference label), ``gene``,
        ``base_mean``, ``log2_fold_change`` (group over reference), ``lfc_se``, ``stat``
        (Wald), ``pval``, ``pval_adj`` (DESeq2's ``padj`` after its independent filtering,
        so NaN for filtered genes), all float64; ``n_samples_group`` and
        ``n_samples_reference`` (int64, pseudobulks per arm); ``design`` (the formula used,
        ``'~ sample + arm'`` or ``'~ arm'``). Genes with zero counts in every pseudobulk of
        a comparison are kept with ``base_mean`` 0 and NaN statistics, as PyDESeq2 reports
        them; genes whose p-value DESeq2 sets to NaN (Cook's outliers) are kept too.

    Notes
    -----
    PyDESeq2 runs with ``quiet=True``. Two of its warnings are expected here and silenced:
    the residual degrees of freedom are at most 3 (2 samples per arm are allowed) and every
    gene has a zero (it then fits size factors iteratively). Its other warnings are
    re-issued with the comparison they come from prefixed to the message.

    Raises
    ------
    ValueError
        ``design='auto'`` with some samples in both arms and some in one; or no group has
        at least 2 samples per arm (a group lacking them alone is skipped with a logged
        warning naming its sample counts); or the counts are not raw counts.
    """
    check_choice(
        "design", design, ("auto", *FORMULAS),
        "'paired' fits ~ sample + arm, 'unpaired' ~ arm, 'auto' picks from the data.",
    )  # fmt: skip
    check_min_cells(min_cells)
    n_cpus = _n_cpus(n_jobs)
    bulk = aggregate_counts(adata, groupby, sample, layer=layer, min_cells=0)
    categories = bulk.obs["group"].cat.categories
    reference_label = (
        "rest" if reference == "rest" else match_category(categories, reference, "reference")
    )
    tested = select_groups(categories, bulk.obs["group"], groups, reference_label)
    if not tested:
        msg = (
            f"pseudobulk_deseq2: no group to compare with reference={reference_label!r} "
            f"(groups={groups!r}, groups of adata.obs[{groupby!r}] with cells: "
            f"{list(bulk.obs['group'].unique())}). Select groups other than the reference."
        )
        raise ValueError(msg)
    frames, skipped = [], []
    for group in tested:
        context = f"group {group!r} vs {reference_label!r}"
        frame = _compare(bulk, group, reference_label, min_cells, design, n_cpus, context)
        (frames if isinstance(frame, pd.DataFrame) else skipped).append(frame)
    if not frames:
        msg = (
            f"pseudobulk_deseq2: no group could be tested: {'; '.join(skipped)}. DESeq2 needs "
            f"at least 2 samples per arm with at least min_cells={min_cells} cells, and counts: "
            f"lower min_cells, check that adata.obs[{sample!r}] holds biological replicates, "
            "and that the layer holds raw counts."
        )
        raise ValueError(msg)
    return _concat(frames)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The groups' results one after the other; ``group`` as a categorical in that order."""
    result = pd.concat(frames, ignore_index=True)
    order = [frame["group"].iat[0] for frame in frames]
    result["group"] = pd.Categorical(result["group"], categories=order)
    return result


def _n_cpus(n_jobs: int | None) -> int:
    """PyDESeq2's process count for ``n_jobs``: ``None`` is 1, ``-1`` every core."""
    if n_jobs is None:
        return 1
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        msg = f"n_jobs={n_jobs} is not a process count; use a positive number, or -1 for all cores."
        raise ValueError(msg)
    return n_jobs


def _compare(
    bulk: AnnData,
    group: Any,
    reference: Any,
    min_cells: int,
    design: Design,
    n_cpus: int,
    context: str,
) -> pd.DataFrame | str:
    """One group's results, or why it was skipped (also logged as a warning)."""
    counts, table = arm_pseudobulks(bulk, group, reference)
    try:
        chosen = design if design != "auto" else auto_design(table, context)
    except AmbiguousDesignError as error:
        logger.warning("pseudobulk_deseq2: skipped %s", error)
        return str(error)
    keep = usable(table, min_cells, chosen == "paired", context)
    n_group, n_reference = (
        int(table.loc[keep, "arm"].eq(arm).sum()) for arm in ("group", "reference")
    )
    if min(n_group, n_reference) < 2:
        reason = (
            f"{context}: {n_group} sample(s) in the group arm and {n_reference} in the "
            f"reference arm with at least min_cells={min_cells} cells ({chosen} design)"
        )
        logger.warning("pseudobulk_deseq2: skipped %s; DESeq2 needs at least 2 per arm.", reason)
        return reason
    if not counts[keep].any():
        reason = f"{context}: every gene has zero counts in these pseudobulks"
        logger.warning("pseudobulk_deseq2: skipped %s.", reason)
        return reason
    formula = FORMULAS[chosen]
    results = _run_deseq2(counts[keep], table.loc[keep], formula, n_cpus, context)
    frame = _format(results, bulk.var_names, group, reference, formula)
    return frame.assign(n_samples_group=n_group, n_samples_reference=n_reference)[RESULT_COLUMNS]


def _import_pydeseq2() -> tuple[type, type, type]:
    """PyDESeq2's classes, imported without its module-level ``simplefilter`` leaking out.

    ``pydeseq2.dds`` calls ``warnings.simplefilter("ignore", FutureWarning)`` on import,
    which would hide every FutureWarning of the process; ``catch_warnings`` restores the
    filters afterwards.
    """
    try:
        with warnings.catch_warnings():
            from pydeseq2.dds import DeseqDataSet
            from pydeseq2.default_inference import DefaultInference
            from pydeseq2.ds import DeseqStats
    except ImportError as error:
        msg = "pseudobulk_deseq2 needs PyDESeq2: pip install pydeseq2"
        raise ImportError(msg) from error
    return DeseqDataSet, DeseqStats, DefaultInference


def _run_deseq2(
    counts: np.ndarray, table: pd.DataFrame, formula: str, n_cpus: int, context: str
) -> pd.DataFrame:
    """:func:`_fit_and_test` with PyDESeq2's expected warnings silenced, the others named."""
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for message in _EXPECTED_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=UserWarning)
            return _fit_and_test(counts, table, formula, n_cpus)
    finally:
        _rewarn(caught, context)


def _fit_and_test(
    counts: np.ndarray, table: pd.DataFrame, formula: str, n_cpus: int
) -> pd.DataFrame:
    """PyDESeq2's ``results_df`` (genes in input order) for group over reference.

    Genes are named by position ('g0', 'g1', ...) so duplicate or odd gene names cannot
    trip PyDESeq2; the caller puts the real names back.
    """
    deseq_dataset, deseq_stats, default_inference = _import_pydeseq2()
    inference = default_inference(n_cpus=n_cpus)
    genes = [f"g{i}" for i in range(counts.shape[1])]
    dataset = deseq_dataset(
        counts=pd.DataFrame(counts, index=table.index, columns=genes),
        metadata=table[["sample", "arm"]],
        design=formula,
        refit_cooks=True,
        inference=inference,
        quiet=True,
    )
    dataset.deseq2()
    stats = deseq_stats(
        dataset, contrast=["arm", "group", "reference"], inference=inference, quiet=True
    )
    stats.summary()
    return stats.results_df.loc[genes]


def _rewarn(caught: list[warnings.WarningMessage], context: str) -> None:
    """Re-issue the warnings caught around PyDESeq2.

    Warnings about the fit name the comparison they come from; deprecation notices of the
    libraries (about their code, not the data) pass on unchanged.
    """
    for record in caught:
        about_code = issubclass(record.category, DeprecationWarning | FutureWarning)
        message = record.message if about_code else f"{context}: {record.message}"
        warnings.warn_explicit(message, record.category, record.filename, record.lineno)


def _format(
    results: pd.DataFrame, genes: pd.Index, group: Any, reference: Any, formula: str
) -> pd.DataFrame:
    """``results_df`` with rgg's column names, sorted by ``stat`` descending (NaN last)."""
    frame = results.rename(columns=_DESEQ2_COLUMNS)[list(_DESEQ2_COLUMNS.values())].astype(
        np.float64
    )
    frame.insert(0, "gene", np.asarray(genes, dtype=object))
    frame.insert(0, "reference", reference)
    frame.insert(0, "group", [group] * len(frame))
    frame["design"] = formula
    return frame.sort_values("stat", ascending=False, na_position="last", kind="stable")
