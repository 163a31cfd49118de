"""Checks of the workflow config against the headers of its dataset files.

obs columns, reference and ``groups`` labels, layers, ``use_raw``, ``mask_var`` columns,
screen entries and pseudobulk inputs, read from the h5ad headers (no matrix is loaded).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._errors import did_you_mean
from ..io.h5ad_header import h5ad_header, obs_categories
from .model import Comparison, ConfigError, groupby_column, pseudobulk_parameters


def check_data(config: Mapping[str, Any], comparisons: list[Comparison]) -> None:
    """Check the config against the headers of the dataset files that already exist.

    obs columns, reference and ``groups`` labels, layers, ``use_raw`` and ``mask_var``
    columns. Files that do not exist yet (made by another workflow, or a dry run of an
    example) are left to the ranking job, whose messages are as clear.
    """
    for dataset in sorted({c.dataset for c in comparisons}):
        entry = config["datasets"][dataset]
        path = Path(entry["path"])
        if path.is_dir():
            msg = f"datasets.{dataset}.path {os.fspath(path)} is a directory; give the h5ad file."
            raise ConfigError(msg)
        if not path.is_file():
            continue
        where = f"dataset {dataset!r} ({os.fspath(path)})"
        try:
            header = h5ad_header(path)
        except (OSError, KeyError) as error:
            msg = (
                f"{where} is not a readable h5ad file ({error}); check the path, or write the "
                "file again with anndata."
            )
            raise ConfigError(msg) from None
        _check_matrix(entry, header, where)
        for comparison in (c for c in comparisons if c.dataset == dataset):
            _check_comparison(config, comparison, header, path, where)


def _check_matrix(entry: Mapping[str, Any], header: Any, where: str) -> None:
    layer = entry.get("layer")
    if layer is not None and layer not in header.layers:
        msg = (
            f"{where} has no layer {layer!r}.{did_you_mean(layer, header.layers)} "
            f"Layers: {', '.join(header.layers) or 'none'}."
        )
        raise ConfigError(msg)
    if entry.get("use_raw") and layer is not None:
        msg = f"{where}: set either 'layer' or 'use_raw: true', not both."
        raise ConfigError(msg)
    if entry.get("use_raw") and not header.has_raw:
        msg = f"{where} has no adata.raw; remove 'use_raw: true' to test X."
        raise ConfigError(msg)


def _check_comparison(
    config: Mapping[str, Any], comparison: Comparison, header: Any, path: Path, where: str
) -> None:
    column = groupby_column(config, comparison.grouping)
    if column not in header.obs_columns:
        msg = (
            f"grouping {comparison.grouping!r}: obs column {column!r} is not in {where}."
            f"{did_you_mean(column, header.obs_columns)} Columns: "
            f"{', '.join(header.obs_columns)}. Fix 'column', or limit the grouping with its "
            "'datasets' list."
        )
        raise ConfigError(msg)
    _check_screen(config, comparison.grouping, column, header, path, where)
    test = config["tests"][comparison.test]
    if comparison.is_pseudobulk(config):
        _check_pseudobulk_inputs(pseudobulk_parameters(config, comparison), header, where)
    mask_var = test.get("mask_var")
    if mask_var is not None and mask_var not in header.var_columns:
        msg = (
            f"test {comparison.test!r}: mask_var {mask_var!r} is not a var column of {where}."
            f"{did_you_mean(mask_var, header.var_columns)} Columns: "
            f"{', '.join(header.var_columns) or 'none'}."
        )
        raise ConfigError(msg)
    reference = test.get("reference", "rest")
    pool = [reference] if isinstance(reference, str) else list(reference)
    wanted = [("reference", label) for label in pool if label != "rest"]
    wanted += [("groups", label) for label in test.get("groups") or ()]
    if not wanted:
        return
    labels = obs_categories(path, column)
    if labels is None:
        return  # a numeric column: the job explains how to make it categorical
    for key, label in wanted:
        if str(label) not in labels:
            msg = (
                f"test {comparison.test!r} names {key} {label!r}, which is not a group of "
                f"obs[{column!r}] in {where}.{did_you_mean(label, labels)} Groups: "
                f"{', '.join(labels)}. Exclude the combination with comparisons.exclude: "
                f"[{{dataset: {comparison.dataset}, grouping: {comparison.grouping}, test: "
                f"{comparison.test}}}], or fix the {key}."
            )
            raise ConfigError(msg)


def _check_screen(
    config: Mapping[str, Any], grouping: str, column: str, header: Any, path: Path, where: str
) -> None:
    """A screen grouping's control is one of its groups; its obs and var columns exist."""
    screen = (config["groupings"][grouping] or {}).get("screen")
    if not screen:
        return
    key = f"groupings.{grouping}.screen"
    for name, columns, kind in (
        ("target_obs", header.obs_columns, "an obs"),
        ("target_var", header.var_columns, "a var"),
    ):
        value = screen.get(name)
        if value is not None and value not in columns:
            msg = (
                f"{key}.{name} {value!r} is not {kind} column of {where}."
                f"{did_you_mean(value, columns)} Columns: {', '.join(columns) or 'none'}."
            )
            raise ConfigError(msg)
    labels = obs_categories(path, column)
    control = str(screen["control"])
    if labels is not None and control not in labels:
        msg = (
            f"{key}.control {control!r} is not a group of obs[{column!r}] in {where}."
            f"{did_you_mean(control, labels)} Name the label of the control cells."
        )
        raise ConfigError(msg)


def _check_pseudobulk_inputs(params: Mapping[str, Any], header: Any, where: str) -> None:
    sample, layer = params["sample"], params["counts_layer"]
    if sample not in header.obs_columns:
        msg = (
            f"pseudobulk sample column {sample!r} is not in {where}."
            f"{did_you_mean(sample, header.obs_columns)} Columns: {', '.join(header.obs_columns)}. "
            "Fix 'sample', or leave this dataset out with comparisons.exclude."
        )
        raise ConfigError(msg)
    if layer is not None and layer not in header.layers:
        msg = (
            f"{where} has no counts layer {layer!r} for the pseudobulk test."
            f"{did_you_mean(layer, header.layers)} Layers: {', '.join(header.layers) or 'none'}; "
            "set counts_layer (null means X) to the raw counts."
        )
        raise ConfigError(msg)
