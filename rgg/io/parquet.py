"""Results as a long Parquet table: one row per group and ranked gene, parameters in metadata."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from .atomic import atomic_path

#: Stamped in every file's key-value metadata; readers refuse other versions.
SCHEMA_VERSION = "2"  # 2: the auroc column

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
}


def results_table(
    uns: Mapping[str, Any], *, dataset: str, grouping: str, test: str
) -> pl.DataFrame:
    """The long table of one ``rank_genes_groups`` result (``adata.uns[key]``).

    Rows follow the stored rank order, group after group in field order. Columns a method
    does not produce (p-values and fold changes for logreg; ``pts``/``pts_rest``/``auroc`` when not
    computed) are null.
    """
    labels = {"dataset": dataset, "grouping": grouping, "test": test}
    parts = [_group_rows(uns, group, labels) for group in uns["names"].dtype.names]
    return pl.concat(parts) if parts else pl.DataFrame(schema=COLUMNS)


def _group_rows(uns: Mapping[str, Any], group: str, labels: Mapping[str, str]) -> pl.DataFrame:
    genes = np.asarray(uns["names"][group], dtype=object).astype(str)
    n = len(genes)
    columns: dict[str, Any] = {name: [value] * n for name, value in labels.items()}
    columns["method"] = [uns["params"]["method"]] * n
    columns["group"] = [group] * n
    columns["reference"] = [str(uns["params"]["reference"])] * n
    columns["gene"] = genes
    columns["rank"] = np.arange(1, n + 1)
    for column, key in (
        ("score", "scores"),
        ("logfoldchange", "logfoldchanges"),
        ("pval", "pvals"),
        ("pval_adj", "pvals_adj"),
        ("auroc", "auroc"),
    ):
        columns[column] = np.asarray(uns[key][group]) if key in uns else [None] * n
    for key in ("pts", "pts_rest"):  # gene-indexed frames: look the ranked genes up
        columns[key] = uns[key][group].reindex(genes).to_numpy() if key in uns else [None] * n
    return pl.DataFrame({name: columns[name] for name in COLUMNS}, schema=COLUMNS)


def write_results(
    table: pl.DataFrame,
    path: str | os.PathLike[str],
    *,
    params: Mapping[str, Any],
    rgg_version: str,
    comparison: Mapping[str, str] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> None:
    """Write ``table`` atomically with ``params`` (JSON) and versions in the file metadata.

    ``comparison`` (dataset, grouping and test names) is recorded with the parameters and the
    ``provenance`` record in ``rgg:comparisons``, the list that
    :func:`write_combined_results` extends; the provenance also goes to ``rgg:provenance``.
    """
    record = {
        **(comparison or {}),
        "params": dict(params),
        "rgg_version": rgg_version,
        "provenance": dict(provenance or {}),
    }
    metadata = {
        "rgg:schema_version": SCHEMA_VERSION,
        "rgg:version": rgg_version,
        "rgg:params": _json(params),
        "rgg:comparisons": _json([record]),
        "rgg:provenance": _json(provenance or {}),
    }
    with atomic_path(path) as temporary:
        table.write_parquet(temporary, metadata=metadata)


def write_combined_results(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    rgg_version: str,
    provenance: Callable[[], Mapping[str, Any]] | None = None,
) -> int:
    """Concatenate result tables (in the order given) into ``out``, atomically.

    Every input is checked like :func:`read_results`; their ``rgg:comparisons`` records are
    joined in the output's metadata, and ``provenance()`` (called once the inputs are read)
    is stored as ``rgg:provenance``. Returns the number of rows written.
    """
    tables = []
    records: list[dict[str, Any]] = []
    for path in paths:
        metadata = _checked_metadata(path)  # checked once, then the table itself
        tables.append(pl.read_parquet(path))
        records.extend(_comparisons(metadata))
    combined = pl.concat(tables) if tables else pl.DataFrame(schema=COLUMNS)
    metadata = {
        "rgg:schema_version": SCHEMA_VERSION,
        "rgg:version": rgg_version,
        "rgg:comparisons": _json(records),
        "rgg:provenance": _json(provenance() if provenance else {}),
    }
    with atomic_path(out) as temporary:
        combined.write_parquet(temporary, metadata=metadata)
    return len(combined)


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


def read_results(path: str | os.PathLike[str]) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read a results table and its parameters; refuse files of another schema version.

    The parameters are those of the one comparison in a file from :func:`write_results`; for a
    combined file they are ``{"comparisons": [...]}`` (see :func:`read_comparisons`).
    """
    metadata = _checked_metadata(path)
    params = (
        json.loads(metadata["rgg:params"])
        if "rgg:params" in metadata
        else {"comparisons": _comparisons(metadata)}
    )
    return pl.read_parquet(path), params


def _checked_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    try:
        metadata = pl.read_parquet_metadata(path)
    except FileNotFoundError:
        raise
    except Exception as error:  # polars raises ComputeError & co. for files that are not Parquet
        msg = f"{os.fspath(path)} is not a readable Parquet file ({error}); rerun the step that wrote it."
        raise ValueError(msg) from error
    version = metadata.get("rgg:schema_version")
    if version != SCHEMA_VERSION:
        msg = (
            f"{os.fspath(path)} is not an rgg results table of schema version {SCHEMA_VERSION} "
            f"(found {version!r}); rerun it with this rgg, or read it with the rgg that wrote it "
            f"({metadata.get('rgg:version', 'unknown')})."
        )
        raise ValueError(msg)
    return metadata
