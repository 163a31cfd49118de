"""What the report shows, computed from the result tables, provenance records and data."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from scipy import sparse, stats


@dataclass(frozen=True)
class ComparisonView:
    """One comparison as the report shows it."""

    dataset: str
    grouping: str
    test: str
    params: dict[str, Any]
    provenance: dict[str, Any]
    table: pl.DataFrame  # its rows of the long table
    anchor: str  # HTML id of its section: by position, names may contain '-'

    @property
    def method(self) -> str:
        return str(self.params.get("method", "t-test"))

    @property
    def reference(self) -> str:
        """The reference as stored (a pooled reference is its labels joined by ' + ')."""
        if self.table.height:
            return str(self.table["reference"][0])
        return str(self.params.get("reference", "rest"))

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(self.table["group"].to_list()))

    def top(self, n: int) -> pl.DataFrame:
        """The first ``n`` ranked genes of each group."""
        return self.table.filter(pl.col("rank") <= n)


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


def comparison_views(
    table: pl.DataFrame, records: Sequence[Mapping[str, Any]], prefix: str = "cmp"
) -> list[ComparisonView]:
    """Split the combined table into comparisons, in the order of their records.

    Section anchors are ``{prefix}-1``, ``{prefix}-2``, ... (names may hold any character).
    """
    views = []
    for position, record in enumerate(records):
        rows = table.filter(
            (pl.col("dataset") == record["dataset"])
            & (pl.col("grouping") == record["grouping"])
            & (pl.col("test") == record["test"])
        )
        views.append(
            ComparisonView(
                dataset=record["dataset"],
                grouping=record["grouping"],
                test=record["test"],
                params=dict(record.get("params", {})),
                provenance=dict(record.get("provenance", {})),
                table=rows,
                anchor=f"{prefix}-{position + 1}",
            )
        )
    return views


def pseudobulk_views(
    table: pl.DataFrame, records: Sequence[Mapping[str, Any]]
) -> list[ComparisonView]:
    """Pseudobulk comparisons as views; DESeq2's Wald statistic serves as the score, so that
    the agreement of methods compares it with the rank tests of the same grouping."""
    return comparison_views(table.with_columns(score=pl.col("stat")), records, prefix="pb")


def sample_counts(view: ComparisonView) -> list[dict[str, Any]]:
    """Per tested group: samples on each side and the design DESeq2 fitted."""
    firsts = view.table.group_by("group", maintain_order=True).first()
    return firsts.select("group", "n_samples_group", "n_samples_reference", "design").to_dicts()


def method_agreement(views: Sequence[ComparisonView], n: int) -> list[Agreement]:
    """Top-``n`` overlap and rank correlation between the tests of each dataset x grouping
    that compare the groups with the same reference ('rest', or one group), averaged over
    the groups every one of them reports, so that each cell of a table is a mean over the
    same comparisons."""
    alike: dict[tuple[str, str, str], list[ComparisonView]] = {}
    for view in views:
        alike.setdefault((view.dataset, view.grouping, _compared_with(view)), []).append(view)
    agreements = []
    for (dataset, grouping, reference), members in alike.items():
        if len(members) < 2:
            continue
        shared = set.intersection(*(set(m.groups) for m in members))
        groups = [group for group in members[0].groups if group in shared]
        k = len(members)
        overlap, correlation = np.eye(k), np.eye(k)
        for i, j in combinations(range(k), 2):
            pair = (members[i], members[j], groups, n)
            overlap[i, j] = overlap[j, i] = _mean_over_groups(*pair, _overlap)
            correlation[i, j] = correlation[j, i] = _mean_over_groups(*pair, _spearman)
        tests = [m.test for m in members]
        agreements.append(
            Agreement(dataset, grouping, tests, overlap, correlation, n, reference, groups)
        )
    return agreements


def _compared_with(view: ComparisonView) -> str:
    """What each group of a comparison is compared with: 'rest', a reference label, or, with
    ``rest_scope='groups'``, the other listed groups (a different rest for each list)."""
    if view.reference == "rest" and view.params.get("rest_scope", "all") == "groups":
        listed = ", ".join(sorted(str(g) for g in view.params.get("groups") or ()))
        return f"the other listed groups ({listed})"
    return view.reference


def _mean_over_groups(
    a: ComparisonView, b: ComparisonView, groups: Sequence[str], n: int, measure: Any
) -> float:
    values = [measure(a, b, group, n) for group in groups]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def _ranked(view: ComparisonView, group: str) -> pl.DataFrame:
    return view.table.filter(pl.col("group") == group).select("gene", "rank", "score")


def _overlap(a: ComparisonView, b: ComparisonView, group: str, n: int) -> float:
    top_a = set(_ranked(a, group).filter(pl.col("rank") <= n)["gene"].to_list())
    top_b = set(_ranked(b, group).filter(pl.col("rank") <= n)["gene"].to_list())
    size = min(len(top_a), len(top_b))
    return len(top_a & top_b) / size if size else float("nan")


def _spearman(a: ComparisonView, b: ComparisonView, group: str, n: int) -> float:
    joined = _ranked(a, group).join(_ranked(b, group), on="gene", suffix="_b")
    # genes without a score (pre-filtered, or all-zero in a pseudobulk test) cannot be ranked
    joined = joined.drop_nulls(["score", "score_b"]).filter(
        pl.col("score").is_not_nan() & pl.col("score_b").is_not_nan()
    )
    if joined.height < 3:
        return float("nan")
    rho = stats.spearmanr(joined["score"].to_numpy(), joined["score_b"].to_numpy()).statistic
    return float(rho)


#: Cells read at a time for the report's dot plots.
EXPRESSION_BLOCK_ROWS = 20_000


def group_expression(
    adata: Any, facts: Mapping[str, Any], genes: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean value and fraction of non-zero cells of ``genes`` in each group.

    ``facts`` is the ``data`` part of a comparison's provenance: ``groupby``,
    ``tested_matrix`` (``X``, ``raw.X`` or ``layers[...]``) and ``layer``. Returns two frames,
    groups x genes (scanpy's dot plot: colour and size).
    """
    groupby = facts["groupby"]
    if facts.get("layer") is not None:
        names, matrix = adata.var_names, adata.layers[facts["layer"]]
    elif facts["tested_matrix"] == "raw.X":
        names, matrix = adata.raw.var_names, adata.raw.X
    else:
        names, matrix = adata.var_names, adata.X
    columns = names.get_indexer(list(genes))
    known = columns >= 0
    genes = [gene for gene, ok in zip(genes, known, strict=True) if ok]
    labels = adata.obs[groupby].astype("category")
    codes = labels.cat.codes.to_numpy()
    n_groups = len(labels.cat.categories)
    sums = np.zeros((n_groups, len(genes)))
    counts = np.zeros((n_groups, len(genes)))
    # rows a block at a time: a backed matrix (an out-of-core dataset) is never loaded whole
    for start in range(0, adata.n_obs, EXPRESSION_BLOCK_ROWS):
        rows = slice(start, min(start + EXPRESSION_BLOCK_ROWS, adata.n_obs))
        block = matrix[rows]
        block = sparse.csr_matrix(block) if sparse.issparse(block) else np.asarray(block)
        values = sparse.csr_matrix(block[:, columns[known]])
        block_codes = codes[rows]
        keep = block_codes >= 0
        indicator = sparse.csr_matrix(
            (np.ones(keep.sum()), (block_codes[keep], np.flatnonzero(keep))),
            shape=(n_groups, values.shape[0]),
        )
        sums += np.asarray((indicator @ values).todense())
        values.data = (values.data != 0).astype(np.float64)
        counts += np.asarray((indicator @ values).todense())
    sizes = np.bincount(codes[codes >= 0], minlength=n_groups).clip(min=1)[:, None]
    index = pd.Index([str(c) for c in labels.cat.categories], name="group")
    return (
        pd.DataFrame(sums / sizes, index=index, columns=genes),
        pd.DataFrame(counts / sizes, index=index, columns=genes),
    )


def benchmark_records(directory: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Snakemake's benchmark files under ``directory``: job, seconds, peak memory (MB)."""
    root = Path(directory)
    records = []
    for path in sorted(root.rglob("*.tsv")) if root.is_dir() else []:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        row = rows[-1]
        records.append(
            {
                "job": path.relative_to(root).with_suffix("").as_posix(),
                "seconds": _number(row.get("s")),
                "max_rss_mb": _number(row.get("max_rss")),
                "cpu_time": _number(row.get("cpu_time")),
            }
        )
    return records


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "-", "NA") else None
    except ValueError:
        return None
