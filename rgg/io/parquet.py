"""Results as long Parquet tables, parameters and provenance in the file metadata.

Two kinds of table: ``markers`` (one row per group and ranked gene of a rank_genes_groups
result) and ``pseudobulk`` (one row per group and gene of a pseudobulk DESeq2 test). Each
file names its kind and schema version; readers refuse versions they do not know.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from polars.io.plugins import register_io_source

from .._errors import check_unique_genes
from .atomic import atomic_path

#: Stamped in every file's key-value metadata; readers refuse other versions.
SCHEMA_VERSION = "3"  # 2: the auroc column; 3: the filtered column

#: Columns of the long table, in order, with their types.
COLUMNS: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "grouping": pl.String(),
    "test": pl.String(),
    "method": pl.String(),
    "group": pl.String(),
    "reference": pl.String(),
    "gene": pl.String(),
    "rank": pl.Int32(),
    "score": pl.Float32(),
    "logfoldchange": pl.Float32(),
    "pval": pl.Float64(),
    "pval_adj": pl.Float64(),
    "pts": pl.Float64(),
    "pts_rest": pl.Float64(),
    "auroc": pl.Float64(),
    "filtered": pl.Boolean(),
}

#: Schema version of the pseudobulk tables.
PSEUDOBULK_SCHEMA_VERSION = "1"

#: Columns of a pseudobulk table, in order, with their types.
PSEUDOBULK_COLUMNS: dict[str, pl.DataType] = {
    "dataset": pl.String(),
    "grouping": pl.String(),
    "test": pl.String(),
    "group": pl.String(),
    "reference": pl.String(),
    "gene": pl.String(),
    "rank": pl.Int32(),
    "base_mean": pl.Float64(),
    "log2_fold_change": pl.Float64(),
    "lfc_se": pl.Float64(),
    "stat": pl.Float64(),
    "pval": pl.Float64(),
    "pval_adj": pl.Float64(),
    "n_samples_group": pl.Int32(),
    "n_samples_reference": pl.Int32(),
    "design": pl.String(),
}

#: Schema version and columns of each kind of table.
TABLE_KINDS: dict[str, tuple[str, dict[str, pl.DataType]]] = {
    "markers": (SCHEMA_VERSION, COLUMNS),
    "pseudobulk": (PSEUDOBULK_SCHEMA_VERSION, PSEUDOBULK_COLUMNS),
}


#: Rows of the long table built at a time (a block of whole groups; one Parquet row group).
BATCH_ROWS = 1 << 20


def results_table(
    uns: Mapping[str, Any], *, dataset: str, grouping: str, test: str
) -> pl.DataFrame:
    """The long table of one ``rank_genes_groups`` result (``adata.uns[key]``).

    Rows follow the stored rank order, group after group in field order. Columns a method
    does not produce (p-values and fold changes for logreg; ``pts``/``pts_rest``/``auroc`` when not
    computed; ``filtered`` unless a pre-filter was on) are null. For thousands of groups,
    :func:`results_lazy` streams the same rows to a file without holding them.
    """
    parts = list(results_batches(uns, dataset=dataset, grouping=grouping, test=test))
    return pl.concat(parts) if parts else pl.DataFrame(schema=COLUMNS)


def results_lazy(uns: Mapping[str, Any], *, dataset: str, grouping: str, test: str) -> pl.LazyFrame:
    """:func:`results_table` as a LazyFrame whose rows are built a block of groups at a time.

    Sinking it (:func:`write_results`) holds one block of :data:`BATCH_ROWS` rows at a time,
    whatever the number of groups.
    """

    def source(
        with_columns: list[str] | None, predicate: Any, n_rows: int | None, batch_size: int | None
    ) -> Iterator[pl.DataFrame]:
        produced = 0
        for batch in results_batches(uns, dataset=dataset, grouping=grouping, test=test):
            if with_columns is not None:
                batch = batch.select(with_columns)
            if predicate is not None:
                batch = batch.filter(predicate)
            if n_rows is not None and produced + len(batch) >= n_rows:
                yield batch.head(n_rows - produced)
                return
            produced += len(batch)
            yield batch

    return register_io_source(source, schema=COLUMNS)


def results_rows(uns: Mapping[str, Any]) -> int:
    """Rows of the long table of a result: ranked genes times groups."""
    return len(uns["names"]) * len(uns["names"].dtype.names)


def results_batches(
    uns: Mapping[str, Any], *, dataset: str, grouping: str, test: str
) -> Iterator[pl.DataFrame]:
    """The rows of :func:`results_table`, a block of whole groups at a time."""
    groups = list(uns["names"].dtype.names)
    n = len(uns["names"])
    fractions = {key: _FractionLookup(uns[key]) for key in ("pts", "pts_rest") if key in uns}
    per_block = max(1, BATCH_ROWS // max(n, 1))
    constants = {
        **{"dataset": dataset, "grouping": grouping, "test": test},
        "method": str(uns["params"]["method"]),
        "reference": str(uns["params"]["reference"]),
    }
    for first in range(0, len(groups), per_block):
        block = groups[first : first + per_block]
        rows = n * len(block)
        genes = _block_values(uns["names"], block)
        columns: dict[str, Any] = {
            name: pl.repeat(value, rows, dtype=pl.String(), eager=True)
            for name, value in constants.items()
        }
        columns["group"] = pl.Series(
            np.repeat(np.asarray(block, dtype=object), n), dtype=pl.String()
        )
        columns["gene"] = pl.Series(genes.astype(str) if genes.dtype != object else genes,
                                    dtype=pl.String())  # fmt: skip
        columns["rank"] = np.tile(np.arange(1, n + 1, dtype=np.int32), len(block))
        for column, key in (
            ("score", "scores"),
            ("logfoldchange", "logfoldchanges"),
            ("pval", "pvals"),
            ("pval_adj", "pvals_adj"),
            ("auroc", "auroc"),
            ("filtered", "filtered"),
        ):
            columns[column] = _block_values(uns[key], block) if key in uns else None
        for key in ("pts", "pts_rest"):  # gene-indexed frames: look the ranked genes up
            columns[key] = fractions[key].values(block, genes, n) if key in fractions else None
        yield pl.DataFrame(
            {
                name: columns[name] if columns[name] is not None
                else pl.repeat(None, rows, dtype=dtype, eager=True).alias(name)
                for name, dtype in COLUMNS.items()
            },
            schema=COLUMNS,
        )  # fmt: skip


def _block_values(records: np.ndarray, block: Sequence[str]) -> np.ndarray:
    """The fields ``block`` of a record array one after the other (group-major order)."""
    return np.concatenate([np.asarray(records[group]) for group in block])


class _FractionLookup:
    """``pts``-like frame (genes by groups): values of ranked genes, a block at a time."""

    def __init__(self, frame: Any) -> None:
        check_unique_genes(frame.index, "the long table cannot tell their pts apart")
        self.values_by_gene = frame.to_numpy(dtype=np.float64)
        self.genes = frame.index
        self.column_of = {str(label): j for j, label in enumerate(frame.columns)}

    def values(self, block: Sequence[str], genes: np.ndarray, n: int) -> np.ndarray:
        rows = self.genes.get_indexer(genes)
        cols = np.repeat([self.column_of.get(group, -1) for group in block], n)
        out = np.full(rows.shape, np.nan)
        found = (rows >= 0) & (cols >= 0)
        out[found] = self.values_by_gene[rows[found], cols[found]]
        return out


def pseudobulk_table(results: Any, *, dataset: str, grouping: str, test: str) -> pl.DataFrame:
    """The long table of a pseudobulk test (the DataFrame of
    :func:`rgg.pseudobulk.pseudobulk_deseq2`), with a rank per group in the order given.

    Built column by column from numpy (NaN stays NaN, as in the markers tables), so that no
    pandas-to-Arrow conversion, and no pyarrow, is needed.
    """
    columns: dict[str, Any] = {"dataset": dataset, "grouping": grouping, "test": test}
    for name, dtype in PSEUDOBULK_COLUMNS.items():
        if name in columns or name == "rank":
            continue
        values = results[name]
        columns[name] = values.astype(str).tolist() if dtype == pl.String() else values.to_numpy()
    frame = pl.DataFrame(columns).with_columns(rank=pl.int_range(1, pl.len() + 1).over("group"))
    return frame.select(pl.col(name).cast(dtype) for name, dtype in PSEUDOBULK_COLUMNS.items())


def write_results(
    table: pl.DataFrame | pl.LazyFrame,
    path: str | os.PathLike[str],
    *,
    params: Mapping[str, Any],
    rgg_version: str,
    comparison: Mapping[str, str] | None = None,
    provenance: Mapping[str, Any] | None = None,
    kind: str = "markers",
) -> None:
    """Write ``table`` atomically with ``params`` (JSON) and versions in the file metadata.

    A LazyFrame (:func:`results_lazy`) is streamed to the file, one row group per block.

    ``comparison`` (dataset, grouping and test names) is recorded with the parameters and the
    ``provenance`` record in ``rgg:comparisons``, the list that
    :func:`write_combined_results` extends; the provenance also goes to ``rgg:provenance``.
    ``kind`` is ``'markers'`` or ``'pseudobulk'`` (see :data:`TABLE_KINDS`).
    """
    record = {
        **(comparison or {}),
        "params": dict(params),
        "rgg_version": rgg_version,
        "provenance": dict(provenance or {}),
    }
    metadata = {
        "rgg:table": kind,
        "rgg:schema_version": TABLE_KINDS[kind][0],
        "rgg:version": rgg_version,
        "rgg:params": _json(params),
        "rgg:comparisons": _json([record]),
        "rgg:provenance": _json(provenance or {}),
    }
    with atomic_path(path) as temporary:
        if isinstance(table, pl.LazyFrame):
            table.sink_parquet(temporary, metadata=metadata, engine="streaming")
        else:
            table.write_parquet(temporary, metadata=metadata)


def write_combined_results(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    rgg_version: str,
    provenance: Callable[[], Mapping[str, Any]] | None = None,
) -> int:
    """Concatenate result tables (in the order given) into ``out``, atomically.

    Every input is checked like :func:`read_results` and must be of one kind; their
    ``rgg:comparisons`` records are joined in the output's metadata, and ``provenance()``
    (called once the inputs are read) is stored as ``rgg:provenance``. Returns the number of
    rows written.
    """
    tables = []
    records: list[dict[str, Any]] = []
    kind = None
    n_rows = 0
    where: dict[tuple, str] = {}
    for path in paths:
        metadata = _checked_metadata(path, kind)  # checked once, then the table itself
        kind = _kind(metadata)
        tables.append(pl.scan_parquet(path))
        n_rows += pl.scan_parquet(path).select(pl.len()).collect().item()
        for record in _comparisons(metadata):
            name = tuple(record.get(key) for key in ("dataset", "grouping", "test"))
            if None in name:  # written without names (write_results' comparison=None)
                continue
            if name in where:
                msg = (
                    f"{os.fspath(path)} and {where[name]} both hold the comparison "
                    f"{'/'.join(map(str, name))}; its rows would be in the combined table twice. "
                    "Give each table once (a combined table already holds its parts)."
                )
                raise ValueError(msg)
            where[name] = os.fspath(path)
        records.extend(_comparisons(metadata))
    kind = kind or "markers"
    # streamed: the inputs are read and written a row group at a time, never held together
    combined = pl.concat(tables) if tables else pl.LazyFrame(schema=TABLE_KINDS[kind][1])
    metadata = {
        "rgg:table": kind,
        "rgg:schema_version": TABLE_KINDS[kind][0],
        "rgg:version": rgg_version,
        "rgg:comparisons": _json(records),
        "rgg:provenance": _json(provenance() if provenance else {}),
    }
    with atomic_path(out) as temporary:
        combined.sink_parquet(temporary, metadata=metadata, engine="streaming")
    return n_rows


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance record of the step that wrote a results file (``{}`` if none)."""
    return json.loads(_checked_metadata(path).get("rgg:provenance", "{}"))


def read_comparisons(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The comparisons a results file holds: names, parameters and rgg version of each."""
    return _comparisons(_checked_metadata(path))


def _comparisons(metadata: Mapping[str, str]) -> list[dict[str, Any]]:
    return json.loads(metadata.get("rgg:comparisons", "[]"))


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def read_results(
    path: str | os.PathLike[str], kind: str | None = None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read a results table and its parameters; refuse files of another schema version, or of
    another kind than ``kind`` (``'markers'``, ``'pseudobulk'``) when given.

    The parameters are those of the one comparison in a file from :func:`write_results`; for a
    combined file they are ``{"comparisons": [...]}`` (see :func:`read_comparisons`).
    """
    metadata = _checked_metadata(path, kind)
    params = (
        json.loads(metadata["rgg:params"])
        if "rgg:params" in metadata
        else {"comparisons": _comparisons(metadata)}
    )
    return pl.read_parquet(path), params


def scan_results(path: str | os.PathLike[str], kind: str | None = None) -> pl.LazyFrame:
    """A results table as a lazy frame (checked as :func:`read_results` checks it), for
    reading only the columns and rows a query needs from a table too large for memory."""
    _checked_metadata(path, kind)
    return pl.scan_parquet(path)


def read_table_kind(path: str | os.PathLike[str]) -> str:
    """``'markers'`` or ``'pseudobulk'``: the kind of an rgg results table."""
    return _kind(_checked_metadata(path))


def _kind(metadata: Mapping[str, str]) -> str:
    return metadata.get("rgg:table", "markers")


def _checked_metadata(path: str | os.PathLike[str], kind: str | None = None) -> dict[str, str]:
    """The file's rgg metadata, after checking its kind (when given) and schema version."""
    if not os.path.isfile(path):
        what = "is a directory, not a table" if os.path.isdir(path) else "no such file"
        msg = f"{os.fspath(path)}: {what}; check the path."
        raise FileNotFoundError(msg)
    try:
        metadata = pl.read_parquet_metadata(path)
    except Exception as error:  # polars raises ComputeError & co. for files that are not Parquet
        msg = f"{os.fspath(path)} is not a readable Parquet file ({error}); rerun the step that wrote it."
        raise ValueError(msg) from error
    found = _kind(metadata)
    if found not in TABLE_KINDS or (kind is not None and found != kind):
        msg = (
            f"{os.fspath(path)} is a {found!r} table, but a {kind or 'known'!r} table is "
            "expected here (markers come from `rgg rank`, pseudobulk tables from "
            "`rgg pseudobulk`; one `rgg collect` takes one kind)."
        )
        raise ValueError(msg)
    expected = TABLE_KINDS[found][0]
    version = metadata.get("rgg:schema_version")
    if version != expected:
        msg = (
            f"{os.fspath(path)} is not an rgg results table of schema version {expected} "
            f"(found {version!r}); rerun it with this rgg, or read it with the rgg that wrote it "
            f"({metadata.get('rgg:version', 'unknown')})."
        )
        raise ValueError(msg)
    return metadata
