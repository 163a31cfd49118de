"""What the page draws on demand: a compact data block per comparison.

A screen has thousands of groups x all genes, far more than a page can hold or anyone read.
The report embeds, per comparison, a summary of every group (its significant genes up and
down), the genes at both ends of each group's ranking (the top hits, and what a gene lookup
searches), and the strongest genes x groups for a clustered heatmap; the page's script draws
tables and the heatmap from it. Numbers keep the three significant digits the page shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from .data import SIGNIFICANT_P, ComparisonView

#: Rows of looked-up genes the whole report embeds (split over its comparisons): about
#: 5 MB of JSON; a comparison with few groups gets every gene of every group.
LOOKUP_BUDGET_ROWS = 120_000
#: Genes of the clustered heatmap.
HEATMAP_GENES = 40
#: Each group's strongest genes (by |score|) that are candidates for the heatmap.
HEATMAP_CANDIDATES_PER_GROUP = 3
#: Volcano plots drawn per comparison: every group up to this many, else the groups with
#: the most significant genes.
VOLCANO_GROUPS = 12
#: Result columns the page may show, in order (those without any value are left out).
VALUE_COLUMNS = ("score", "logfoldchange", "pval_adj", "pts", "pts_rest", "auroc")
DIGITS = 3  # as the page shows them


@dataclass
class Detail:
    """One comparison's data block, before encoding."""

    depth: int  # genes looked up at each end of every group's ranking
    lookup: pl.DataFrame  # group, gene, rank and VALUE_COLUMNS of the looked-up genes
    columns: list[str]  # the value columns that hold values
    significance: pl.DataFrame | None  # group, up, down (None without p-values)
    heatmap: dict[str, Any] | None
    volcano_groups: list[str]


def lookup_depth(n_groups: int, genes_per_group: int, n_comparisons: int, top_n: int) -> int:
    """Genes to embed at each end of every group's ranking.

    Parameters
    ----------
    n_groups
        Groups of the comparison.
    genes_per_group
        Rows of its longest group.
    n_comparisons
        Comparisons of the report, which share :data:`LOOKUP_BUDGET_ROWS`.
    top_n
        The report's top genes per group: always embedded.

    Returns
    -------
    As many genes as the comparison's share of the budget allows, at least ``top_n`` and at
    most every gene.
    """
    per_group = LOOKUP_BUDGET_ROWS // max(1, n_comparisons) // max(1, n_groups) // 2
    return max(top_n, min(per_group, genes_per_group))


def comparison_detail(view: ComparisonView, depth: int) -> Detail:
    """The data block of one comparison, before encoding.

    Parameters
    ----------
    view
        The comparison.
    depth
        Genes to keep at each end of every group's ranking (:func:`lookup_depth`): the first
        ``depth`` rows, and the last ``depth`` rows of tested genes (untested genes, left
        without a score by a pre-filter, are ranked after them).
    """
    with_values = view.columns_with_values(VALUE_COLUMNS)
    columns = [c for c in VALUE_COLUMNS if c in with_values]
    sizes = pl.DataFrame(
        {
            "group": view.groups,
            "position": range(len(view.groups)),
            "n_scored": view.scored_per_group,
        },
        schema={"group": pl.String, "position": pl.Int64, "n_scored": pl.Int64},
    )
    fewest = min(view.scored_per_group, default=0)
    bottom = (pl.col("rank") > pl.col("n_scored") - depth) & (pl.col("rank") <= pl.col("n_scored"))
    # a cheap scan first (both ends of the group with fewest tested genes), then each
    # group's own ends; sorted by group and rank, whatever the order of the file
    lookup = (
        view.table.filter((pl.col("rank") <= depth) | (pl.col("rank") > fewest - depth))
        .select("group", "gene", "rank", *[pl.col(c).cast(pl.Float64) for c in columns])
        .collect()
        .join(sizes, on="group")
        .filter((pl.col("rank") <= depth) | bottom)
        .sort("position", "rank")
        .drop("position", "n_scored")
    )
    significance = view.significance() if "pval_adj" in columns else None
    return Detail(
        depth=depth,
        lookup=lookup,
        columns=columns,
        significance=significance,
        heatmap=_heatmap(view, lookup, columns),
        volcano_groups=volcano_groups(view.groups, significance),
    )


def volcano_groups(groups: Sequence[str], significance: pl.DataFrame | None) -> list[str]:
    """The groups whose volcano plots are drawn: all of few, else the most significant."""
    if len(groups) <= VOLCANO_GROUPS or significance is None:
        return list(groups)[:VOLCANO_GROUPS]
    ranked = significance.with_columns(total=pl.col("up") + pl.col("down")).sort(
        "total", descending=True, maintain_order=True
    )
    chosen = set(ranked["group"].head(VOLCANO_GROUPS).to_list())
    return [group for group in groups if group in chosen]


def ends_phrase(view: ComparisonView, depth: int) -> str:
    """What the looked-up rows of each group are, in words for the page."""
    if view.is_truncated:
        return (
            f"the {depth} first- and {depth} last-ranked of the {view.genes_per_group} genes "
            "each group keeps (n_genes)"
        )
    if view.params.get("rankby_abs"):
        return f"the {depth} first- and {depth} last-ranked genes (ranked by |score|)"
    return f"the {depth} most up and {depth} most down genes"


def _heatmap(
    view: ComparisonView, lookup: pl.DataFrame, columns: list[str]
) -> dict[str, Any] | None:
    """The strongest genes x groups, both ordered by hierarchical clustering.

    A gene is a candidate where it is among a group's strongest (by |score|); the genes that
    are candidates in the most groups (then with the largest |score|) are shown. Values are
    log2 fold changes (scores for logreg, which has none).
    """
    value = "logfoldchange" if "logfoldchange" in columns else "score"
    groups = view.groups
    if len(groups) < 2 or value not in columns:
        return None
    candidates = (
        lookup.with_columns(strength=pl.col("score").abs().fill_nan(None))
        .drop_nulls("strength")  # untested genes (pre-filters) have no score
        .sort("strength", descending=True)
        .group_by("group", maintain_order=True)
        .head(HEATMAP_CANDIDATES_PER_GROUP)
        .group_by("gene")
        .agg(n_groups=pl.len(), strength=pl.col("strength").max())
        .sort(["n_groups", "strength", "gene"], descending=[True, True, False], nulls_last=True)
        .head(HEATMAP_GENES)
    )
    genes = candidates["gene"].to_list()
    if len(genes) < 2:
        return None
    long = (
        view.table.filter(pl.col("gene").is_in(genes))
        .select("group", "gene", pl.col(value).cast(pl.Float64))
        .collect()
    )
    row_of = {group: i for i, group in enumerate(groups)}
    column_of = {gene: j for j, gene in enumerate(genes)}
    matrix = np.full((len(groups), len(genes)), np.nan)  # a gene a group did not rank: NaN
    rows = np.fromiter((row_of[g] for g in long["group"]), dtype=np.int64, count=long.height)
    cols = np.fromiter((column_of[g] for g in long["gene"]), dtype=np.int64, count=long.height)
    matrix[rows, cols] = long[value].to_numpy()
    group_order, gene_order = _cluster_order(matrix), _cluster_order(matrix.T)
    matrix = matrix[np.ix_(group_order, gene_order)]
    finite = np.abs(matrix[np.isfinite(matrix)])
    return {
        "value": value,
        "groups": [int(i) for i in group_order],  # positions in the comparison's groups
        "genes": [genes[i] for i in gene_order],
        "values": rounded(matrix.ravel()),  # groups x genes, row by row
        # colours saturate at the 99th percentile of |value| (1 where all are 0)
        "limit": (float(np.percentile(finite, 99)) if finite.size else 0.0) or 1.0,
    }


def _cluster_order(matrix: np.ndarray) -> np.ndarray:
    """Rows in the order of an average-linkage tree (missing values count as 0)."""
    from scipy.cluster import hierarchy

    if matrix.shape[0] < 3:
        return np.arange(matrix.shape[0])
    filled = np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0)
    return hierarchy.leaves_list(hierarchy.linkage(filled, method="average"))


def rounded(values: np.ndarray | pl.Series) -> list[float | str | None]:
    """:data:`DIGITS` significant digits for JSON: NaN and missing as None (null), infinite
    values as the strings ``'inf'`` and ``'-inf'`` (JSON has no number for them; the page
    reads them back as numbers)."""
    series = pl.Series(values, dtype=pl.Float64)
    out: list[float | str | None] = series.fill_nan(None).round_sig_figs(DIGITS).to_list()
    for position in np.flatnonzero(np.isinf(series.to_numpy())):
        out[position] = "inf" if series[int(position)] > 0 else "-inf"
    return out


def _group_ends(codes: list[int], n_groups: int) -> list[int]:
    """Per group, the position after its last row (rows are sorted by group)."""
    ends = np.searchsorted(np.asarray(codes, dtype=np.int64), np.arange(n_groups), "right")
    return ends.tolist()


class GeneNames:
    """The report's gene names, each stored once; the data blocks hold positions."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._position: dict[str, int] = {}

    def positions(self, genes: Sequence[str]) -> list[int]:
        """The position of each of ``genes`` in :attr:`names`, adding those not there yet."""
        out = []
        for gene in genes:
            position = self._position.get(gene)
            if position is None:
                position = self._position[gene] = len(self.names)
                self.names.append(gene)
            out.append(position)
        return out


def encode(view: ComparisonView, detail: Detail, names: GeneNames, top_n: int) -> dict[str, Any]:
    """The JSON block of one comparison, as the page's script reads it.

    Parameters
    ----------
    view, detail
        The comparison and its data (:func:`comparison_detail`).
    names
        The report's gene names: the block holds genes as positions in it.
    top_n
        Rows per group of the top hits table.
    """
    groups = view.groups
    group_of = {group: i for i, group in enumerate(groups)}
    sizes = view.provenance.get("data", {}).get("group_sizes", {})
    lookup = detail.lookup
    block: dict[str, Any] = {
        "comparison": [view.dataset, view.grouping, view.test],
        "groups": groups,
        "cells": [sizes.get(group) for group in groups],
        "depth": detail.depth,
        "genes_per_group": view.genes_per_group,
        # n_genes kept only the top of each ranking: its last rows are not the most down
        "truncated": view.is_truncated,
        "ends": ends_phrase(view, detail.depth),
        "rankby_abs": bool(view.params.get("rankby_abs", False)),
        "top_n": top_n,
        "columns": detail.columns,
        "rows": {
            # rows come group by group: where each group's rows end
            "group_ends": _group_ends([group_of[g] for g in lookup["group"]], len(groups)),
            "gene": names.positions(lookup["gene"].to_list()),
            "rank": lookup["rank"].to_list(),
            **{column: rounded(lookup[column]) for column in detail.columns},
        },
        "heatmap": detail.heatmap,
    }
    if detail.significance is not None:
        block["significant"] = {  # in the order of the groups, as the view's summary
            "up": detail.significance["up"].to_list(),
            "down": detail.significance["down"].to_list(),
            "p": SIGNIFICANT_P,
        }
    return block
