"""Agreement of methods: how alike the tests of one dataset and grouping rank the genes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import polars as pl

from .data import ComparisonView

#: The most groups a mean runs over; beyond, evenly spaced groups stand for all (a screen's
#: 2,000 groups x all genes would join two tables of tens of millions of rows per pair).
MAX_GROUPS = 200


@dataclass
class Agreement:
    """How alike the tests of one dataset and grouping rank the genes, among tests that
    compare the groups with the same thing (means over the groups all of them report)."""

    dataset: str
    grouping: str
    tests: list[str]
    top_overlap: np.ndarray  # fraction of shared genes among the top N
    rank_correlation: np.ndarray  # Spearman's rho of the scores on shared genes
    n: int = 0
    reference: str = "rest"  # what every group is compared with
    groups: list[str] = field(default_factory=list)  # the groups the means run over
    n_shared: int = 0  # groups all the tests report (``groups`` is a sample when more)


def method_agreement(views: Sequence[ComparisonView], n: int) -> list[Agreement]:
    """Top-``n`` overlap and rank correlation between the tests of each dataset x grouping
    that compare the groups with the same reference ('rest', or one group), averaged over
    the groups every one of them reports (at most :data:`MAX_GROUPS`, evenly spaced), so
    that each cell of a table is a mean over the same comparisons."""
    alike: dict[tuple[str, str, str], list[ComparisonView]] = {}
    for view in views:
        alike.setdefault((view.dataset, view.grouping, _compared_with(view)), []).append(view)
    agreements = []
    for (dataset, grouping, reference), members in alike.items():
        if len(members) < 2:
            continue
        shared = set.intersection(*(set(m.groups) for m in members))
        in_order = [group for group in members[0].groups if group in shared]
        groups = _evenly_spaced(in_order, MAX_GROUPS)
        ranked = [_ranked(member, groups) for member in members]
        k = len(members)
        overlap, correlation = np.eye(k), np.eye(k)
        for i, j in combinations(range(k), 2):
            overlap[i, j] = overlap[j, i] = _mean_overlap(ranked[i], ranked[j], n)
            correlation[i, j] = correlation[j, i] = _mean_spearman(ranked[i], ranked[j])
        tests = [m.test for m in members]
        agreements.append(
            Agreement(
                dataset, grouping, tests, overlap, correlation, n, reference, groups, len(in_order)
            )
        )
    return agreements


def _compared_with(view: ComparisonView) -> str:
    """What each group of a comparison is compared with: 'rest', a reference label, or, with
    ``rest_scope='groups'``, the other listed groups (a different rest for each list)."""
    if view.reference == "rest" and view.params.get("rest_scope", "all") == "groups":
        listed = ", ".join(sorted(str(g) for g in view.params.get("groups") or ()))
        return f"the other listed groups ({listed})"
    return view.reference


def _evenly_spaced(items: list[str], most: int) -> list[str]:
    if len(items) <= most:
        return items
    return [items[int(i)] for i in np.linspace(0, len(items) - 1, most).round()]


def _ranked(view: ComparisonView, groups: list[str]) -> pl.DataFrame:
    return (
        view.table.filter(pl.col("group").is_in(groups))
        .select("group", "gene", "rank", pl.col("score").cast(pl.Float64))
        .collect()
    )


def _mean_overlap(a: pl.DataFrame, b: pl.DataFrame, n: int) -> float:
    """Mean over groups of |top_a & top_b| / min(|top_a|, |top_b|)."""
    top_a = a.filter(pl.col("rank") <= n).select("group", "gene")
    top_b = b.filter(pl.col("rank") <= n).select("group", "gene")
    sizes = (
        top_a.group_by("group")
        .agg(n_a=pl.len())
        .join(top_b.group_by("group").agg(n_b=pl.len()), on="group")
    )
    shared = top_a.join(top_b, on=["group", "gene"]).group_by("group").agg(n_shared=pl.len())
    per_group = sizes.join(shared, on="group", how="left").with_columns(
        fraction=pl.col("n_shared").fill_null(0) / pl.min_horizontal("n_a", "n_b")
    )
    return _finite_mean(per_group["fraction"].to_numpy())


def _mean_spearman(a: pl.DataFrame, b: pl.DataFrame) -> float:
    """Mean over groups of Spearman's rho of the scores of the genes both tables rank."""
    joined = a.join(b, on=["group", "gene"], suffix="_b").filter(
        pl.col("score").is_not_null()
        & pl.col("score_b").is_not_null()
        & pl.col("score").is_not_nan()
        & pl.col("score_b").is_not_nan()
    )  # genes without a score (pre-filtered, or all-zero in a pseudobulk test) have no rank
    rho = (
        joined.with_columns(
            pl.col("score").rank("average").over("group").alias("rank_a"),
            pl.col("score_b").rank("average").over("group").alias("rank_b"),
        )
        .group_by("group")
        .agg(rho=pl.corr("rank_a", "rank_b"), n=pl.len())
        .filter(pl.col("n") >= 3)
    )
    return _finite_mean(rho["rho"].to_numpy())


def _finite_mean(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(values.mean()) if values.size else float("nan")
