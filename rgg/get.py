"""Read results back out of ``adata.uns`` as tidy tables."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = ["rank_genes_groups_df"]


def rank_genes_groups_df(
    adata: AnnData,
    group: str | Iterable[str] | None,
    *,
    key: str = "rank_genes_groups",
    pval_cutoff: float | None = None,
    log2fc_min: float | None = None,
    log2fc_max: float | None = None,
    gene_symbols: str | None = None,
) -> pd.DataFrame:
    """Results of ``rank_genes_groups`` as a long DataFrame, as ``scanpy.get`` returns it.

    Parameters
    ----------
    adata
        Object holding the results.
    group
        A group, a list of groups, or ``None`` for all reported groups.
    key
        Key of the results in ``adata.uns``.
    pval_cutoff
        Keep rows with ``pvals_adj < pval_cutoff``.
    log2fc_min, log2fc_max
        Keep rows with ``logfoldchanges`` strictly above / below.
    gene_symbols
        A column of ``adata.var`` to add, joined on the gene names.

    Returns
    -------
    Rows in rank order, group after group. Columns ``group`` (dropped when a single group
    is asked for), ``names``, ``scores``, and unless the method was logreg
    ``logfoldchanges``, ``pvals``, ``pvals_adj``; then ``pct_nz_group`` and
    ``pct_nz_reference`` when ``pts`` / ``pts_rest`` were stored. The filters do not apply
    to logreg results.
    """
    result = adata.uns[key]
    if group is None:
        groups = list(result["names"].dtype.names)
    elif isinstance(group, str) or not isinstance(group, Iterable):
        groups = [group]  # an unknown label then raises KeyError, as in scanpy
    else:
        groups = list(group)
    is_logreg = result["params"]["method"] == "logreg"
    columns = (
        ["names", "scores"]
        if is_logreg
        else ["names", "scores", "logfoldchanges", "pvals", "pvals_adj"]
    )
    columns += [field for field in ("auroc", "filtered") if field in result]  # rgg's opt-in fields

    parts = []
    for name in groups:
        part = pd.DataFrame({col: pd.DataFrame(result[col])[name] for col in columns})
        part.insert(0, "group", name)
        parts.append(part)
    # group=[] gives an empty table with the usual columns
    df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["group", *columns])
    df["group"] = pd.Categorical(df["group"], categories=groups)

    if not is_logreg:
        if pval_cutoff is not None:
            df = df[df["pvals_adj"] < pval_cutoff]
        if log2fc_min is not None:
            df = df[df["logfoldchanges"] > log2fc_min]
        if log2fc_max is not None:
            df = df[df["logfoldchanges"] < log2fc_max]
    if gene_symbols is not None:
        df = df.join(adata.var[gene_symbols], on="names")

    for uns_key, column in (("pts", "pct_nz_group"), ("pts_rest", "pct_nz_reference")):
        if uns_key in result:
            fractions = result[uns_key][groups].rename_axis(index="names").reset_index()
            long = fractions.melt(id_vars="names", var_name="group", value_name=column)
            df = df.merge(long)

    if len(groups) == 1:
        df = df.drop(columns="group")
    return df.reset_index(drop=True)
