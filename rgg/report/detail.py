"""What the page draws on demand: a compact data block per comparison.

A screen has thousands of groups x all genes, far more than a page can hold or anyone read.
The report embeds, per comparison, a summary of every group (its significant genes up and
down), the genes at both ends of each group's ranking (the top hits, and what a gene lookup
searches), and the strongest genes x groups for a clustered heatmap; the page's script draws
tables and the heatmap from it. Numbers keep the three significant digits the page shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
#: Dot plots and heatmaps of group means (one row per group) are drawn up to this many groups.
FIGURE_GROUPS = 50
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
    """Genes to embed at each end of every group's ranking: as many as the budget allows,
    at least ``top_n``, at most every gene."""
    per_group = LOOKUP_BUDGET_ROWS // max(1, n_comparisons) // max(1, n_groups) // 2
    return max(top_n, min(per_group, genes_per_group))


def comparison_detail(view: ComparisonView, depth: int) -> Detail:
    """The data block of one comparison: ``depth`` genes at each end of every group."""
    with_values = view.columns_with_values(VALUE_COLUMNS)
    columns = [c for c in VALUE_COLUMNS if c in with_values]
    sizes = pl.DataFrame(
        {"group": view.groups, "n_group": view.rows_per_group},
        schema={"group": pl.String, "n_group": pl.Int64},
    )
    shortest = min(view.rows_per_group, default=0)
    # a cheap scan first (both ends of the shortest group), then each group's own ends
    lookup = (
        view.table.filter((pl.col("rank") <= depth) | (pl.col("rank") > shortest - depth))
        .select("group", "gene", "rank", *[pl.col(c).cast(pl.Float64) for c in columns])
        .collect()
        .join(sizes, on="group", maintain_order="left")
        .filter((pl.col("rank") <= depth) | (pl.col("rank") > pl.col("n_group") - depth))
        .drop("n_group")
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
        lookup.with_columns(strength=pl.col("score").abs())
        .sort("strength", descending=True, nulls_last=True)
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
    values = (
        view.table.filter(pl.col("gene").is_in(genes))
        .select("group", "gene", pl.col(value).cast(pl.Float64))
        .collect()
        .pivot(on="gene", index="group", values=value, aggregate_function="first")
    )
    matrix = np.full((len(groups), len(genes)), np.nan)
    row_of = {group: i for i, group in enumerate(groups)}
    rows = [row_of[group] for group in values["group"].to_list()]
    for j, gene in enumerate(genes):
        if gene in values.columns:
            matrix[rows, j] = values[gene].to_numpy()
    group_order, gene_order = _cluster_order(matrix), _cluster_order(matrix.T)
    matrix = matrix[np.ix_(group_order, gene_order)]
    finite = np.abs(matrix[np.isfinite(matrix)])
    return {
        "value": value,
        "groups": [int(i) for i in group_order],  # positions in the comparison's groups
        "genes": [genes[i] for i in gene_order],
        "values": _rounded(matrix.ravel()),  # groups x genes, row by row
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


def _rounded(values: np.ndarray | pl.Series) -> list[float | None]:
    """:data:`DIGITS` significant digits; NaN and missing as None (JSON null)."""
    series = pl.Series(values, dtype=pl.Float64)
    return series.fill_nan(None).round_sig_figs(DIGITS).to_list()


def _group_ends(labels: list[str], group_of: Mapping[str, int]) -> list[int]:
    """Per group (in order), the position after its last row; rows come group by group."""
    codes = np.asarray([group_of[label] for label in labels], dtype=np.int64)
    if codes.size and np.any(np.diff(codes) < 0):
        msg = "the looked-up rows are not in the order of the groups"
        raise AssertionError(msg)
    return np.searchsorted(codes, np.arange(len(group_of)), side="right").tolist()


class GeneNames:
    """The report's gene names, each stored once; the data blocks hold positions."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._position: dict[str, int] = {}

    def positions(self, genes: Sequence[str]) -> list[int]:
        out = []
        for gene in genes:
            position = self._position.get(gene)
            if position is None:
                position = self._position[gene] = len(self.names)
                self.names.append(gene)
            out.append(position)
        return out


def encode(view: ComparisonView, detail: Detail, names: GeneNames, top_n: int) -> dict[str, Any]:
    """The JSON block of one comparison (genes as positions in ``names``)."""
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
        "top_n": top_n,
        "columns": detail.columns,
        "rows": {
            # rows come group by group: where each group's rows end
            "group_ends": _group_ends(lookup["group"].to_list(), group_of),
            "gene": names.positions(lookup["gene"].to_list()),
            "rank": lookup["rank"].to_list(),
            **{column: _rounded(lookup[column]) for column in detail.columns},
        },
        "heatmap": detail.heatmap,
    }
    if detail.significance is not None:
        counts = dict(
            zip(
                detail.significance["group"].to_list(),
                zip(detail.significance["up"], detail.significance["down"], strict=True),
                strict=True,
            )
        )
        block["significant"] = {
            "up": [int(counts.get(group, (0, 0))[0]) for group in groups],
            "down": [int(counts.get(group, (0, 0))[1]) for group in groups],
            "p": SIGNIFICANT_P,
        }
    return block
