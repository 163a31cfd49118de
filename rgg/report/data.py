"""What the report shows, computed from the result tables, provenance records and data."""

from __future__ import annotations

import csv
import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from scipy import sparse

#: Adjusted p below which a gene counts as significant in the report's counts.
SIGNIFICANT_P = 0.05


def fold_change() -> pl.Expr:
    """The log2 fold change column of either table kind (markers or pseudobulk), as floats."""
    return pl.col("^(logfoldchange|log2_fold_change)$").cast(pl.Float64)


def direction() -> pl.Expr:
    """Up (> 0) or down (< 0): the log2 fold change, else the score where it has none."""
    fold = fold_change()
    return pl.when(fold.is_not_null() & fold.is_not_nan()).then(fold).otherwise(pl.col("score"))


def scored() -> pl.Expr:
    """Rows of tested genes: a pre-filter (min_pct, ...) leaves its genes without a score,
    ranked last."""
    score = pl.col("score").cast(pl.Float64)
    return score.is_not_null() & score.is_not_nan()


@dataclass(frozen=True)
class ComparisonView:
    """One comparison as the report shows it.

    ``table`` holds its rows of the long table lazily: a screen's table (thousands of groups
    x all genes) is read one query at a time, never whole.
    """

    dataset: str
    grouping: str
    test: str
    params: dict[str, Any]
    provenance: dict[str, Any]
    table: pl.LazyFrame  # a DataFrame is taken too (made lazy): small tables built in memory
    anchor: str  # HTML id of its section: by position, names may contain '-'

    def __post_init__(self) -> None:
        if isinstance(self.table, pl.DataFrame):
            object.__setattr__(self, "table", self.table.lazy())

    @property
    def method(self) -> str:
        return str(self.params.get("method", "t-test"))

    @functools.cached_property
    def _firsts(self) -> pl.DataFrame:
        """Per group, in the table's order: its reference, rows, rows of tested genes and,
        where the table has adjusted p-values, its significant genes up and down (one pass)."""
        aggregates = [
            pl.col("reference").first(),
            pl.len().alias("n_rows"),
            scored().sum().alias("n_scored"),
        ]
        if "pval_adj" in self.table.collect_schema():
            significant = pl.col("pval_adj") < SIGNIFICANT_P
            aggregates += [
                (significant & (direction() > 0)).sum().alias("up"),
                (significant & (direction() < 0)).sum().alias("down"),
            ]
        return self.table.group_by("group", maintain_order=True).agg(aggregates).collect()

    def significance(self) -> pl.DataFrame | None:
        """Per group, its genes with adjusted p < :data:`SIGNIFICANT_P` up and down (by the
        sign of the log fold change, else of the score); None without p-values."""
        if "up" not in self._firsts.columns:
            return None
        return self._firsts.select("group", "up", "down")

    @property
    def reference(self) -> str:
        """The reference as stored (a pooled reference is its labels joined by ' + ')."""
        if self._firsts.height:
            return str(self._firsts["reference"][0])
        return str(self.params.get("reference", "rest"))

    @property
    def groups(self) -> list[str]:
        return self._firsts["group"].to_list()

    @property
    def rows_per_group(self) -> list[int]:
        """Rows (ranked genes) of each group, in the order of :attr:`groups`."""
        return self._firsts["n_rows"].to_list()

    @property
    def scored_per_group(self) -> list[int]:
        """Rows of tested genes (with a score) of each group, in the order of :attr:`groups`."""
        return self._firsts["n_scored"].to_list()

    @property
    def is_truncated(self) -> bool:
        """Whether groups keep fewer genes than were tested (``n_genes``): their tables hold
        only the top of each ranking."""
        tested = self.provenance.get("data", {}).get("tested_genes")
        return tested is not None and self.genes_per_group < int(tested)

    @property
    def genes_per_group(self) -> int:
        """Rows of the group with the most (n_genes, or every tested gene)."""
        return int(self._firsts["n_rows"].max() or 0)

    def columns_with_values(self, names: Sequence[str]) -> set[str]:
        """Those of ``names`` that hold a value in some row (pts, auroc, ... are optional)."""
        schema = self.table.collect_schema()
        present = [name for name in names if name in schema]
        if not present:
            return set()
        seen = self.table.select(pl.col(present).is_not_null().any()).collect().row(0)
        return {name for name, any_value in zip(present, seen, strict=True) if any_value}

    def top(self, n: int) -> pl.DataFrame:
        """The first ``n`` ranked genes of each group."""
        return self.table.filter(pl.col("rank") <= n).collect()


def comparison_views(
    table: pl.LazyFrame | pl.DataFrame,
    records: Sequence[Mapping[str, Any]],
    prefix: str = "cmp",
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
    table: pl.LazyFrame | pl.DataFrame, records: Sequence[Mapping[str, Any]]
) -> list[ComparisonView]:
    """Pseudobulk comparisons as views; DESeq2's Wald statistic serves as the score, so that
    the agreement of methods compares it with the rank tests of the same grouping."""
    return comparison_views(table.with_columns(score=pl.col("stat")), records, prefix="pb")


def sample_counts(view: ComparisonView) -> list[dict[str, Any]]:
    """Per tested group: samples on each side and the design DESeq2 fitted."""
    firsts = view.table.group_by("group", maintain_order=True).first().collect()
    return firsts.select("group", "n_samples_group", "n_samples_reference", "design").to_dicts()


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
