"""One comparison's pseudobulks: the group arm and the reference arm of each sample."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import UnknownGroupError, did_you_mean
from ._aggregate import sum_rows

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("rgg")


def match_category(categories: pd.Index, label: Any, argument: str) -> Any:
    """The category matching ``label`` (also by its string form), or UnknownGroupError."""
    for candidate in categories:
        if candidate == label or str(candidate) == str(label):
            return candidate
    msg = (
        f"{argument}={label!r} is not a group.{did_you_mean(label, categories)} "
        f"Groups: {list(categories)}."
    )
    raise UnknownGroupError(msg)


def select_groups(categories: pd.Index, labels: pd.Series, groups: Any, reference: Any) -> list:
    """The groups to test, in category order, without the reference."""
    if isinstance(groups, str) and groups == "all":
        chosen = set(labels.unique())
    elif isinstance(groups, str):
        msg = f"groups={groups!r}: pass 'all' or a list of group labels, e.g. [{groups!r}]."
        raise ValueError(msg)
    else:
        chosen = {match_category(categories, label, "groups") for label in groups}
    # reference 'rest' is every other cell, so a group labelled 'rest' is tested as any other
    return [c for c in categories if c in chosen and (reference == "rest" or c != reference)]


def arm_pseudobulks(bulk: AnnData, group: Any, reference: Any) -> tuple[np.ndarray, pd.DataFrame]:
    """Per sample, its group pseudobulk, then per sample its reference pseudobulk.

    Returns the counts (2 * n_samples rows, some of 0 cells) and a table of the rows, with
    internal names that are safe in a formula: ``sample`` ('s0', 's1', ...) and ``arm``
    ('group'/'reference'); also ``n_cells`` and the sample's original ``label``.
    """
    obs = bulk.obs
    in_group = (obs["group"] == group).to_numpy()
    in_reference = ~in_group if reference == "rest" else (obs["group"] == reference).to_numpy()
    samples = obs["sample"].cat.categories
    codes = obs["sample"].cat.codes.to_numpy()
    cells = obs["n_cells"].to_numpy()
    counts, n_cells = [], []
    for in_arm in (in_group, in_reference):
        counts.append(sum_rows(bulk.X, np.where(in_arm, codes, -1), len(samples)))
        n_cells.append(np.bincount(codes[in_arm], cells[in_arm], len(samples)))
    table = pd.DataFrame(
        {
            "sample": [f"s{i}" for i in range(len(samples))] * 2,
            "arm": pd.Categorical(
                ["group"] * len(samples) + ["reference"] * len(samples),
                categories=["reference", "group"],
            ),
            "n_cells": np.concatenate(n_cells).astype(np.int64),
            "label": list(samples) * 2,
        },
        index=[f"p{i}" for i in range(2 * len(samples))],
    )
    return np.vstack(counts), table


class AmbiguousDesignError(ValueError):
    """design='auto' cannot tell paired from unpaired samples for one comparison."""


def auto_design(table: pd.DataFrame, context: str) -> str:
    """'paired' if every sample with cells of the group also has reference cells, 'unpaired'
    if none has.

    Only samples with cells of the group decide: a donor without cells of a rare cell type
    says nothing about pairing. ``table`` is laid out as :func:`arm_pseudobulks` returns it:
    group rows, then reference rows, of the same samples in the same order.
    """
    n_samples = len(table) // 2
    has_cells = (table["n_cells"] > 0).to_numpy().reshape(2, n_samples)
    labels = table["label"].to_numpy()[:n_samples]
    in_group = has_cells[0]
    both = labels[in_group & has_cells[1]].tolist()
    one = labels[in_group & ~has_cells[1]].tolist()
    if not one:
        return "paired"
    if not both:
        return "unpaired"
    msg = (
        f"{context}: samples {both} have cells on both sides but samples {one} only in the "
        "group, so design='auto' cannot tell whether samples are paired. Pass "
        "design='paired' (~ sample + arm; samples with one side are left out) or "
        "design='unpaired' (~ arm; every pseudobulk counts as an independent sample)."
    )
    raise AmbiguousDesignError(msg)


def usable(table: pd.DataFrame, min_cells: int, paired: bool, context: str) -> np.ndarray:
    """Pseudobulks with at least ``min_cells`` cells and, if paired, a partner in the other arm."""
    keep = (table["n_cells"] >= max(min_cells, 1)).to_numpy()
    if paired:
        keep = keep & table["label"].map(table.loc[keep, "label"].value_counts()).eq(2).to_numpy()
    dropped = table[~keep & (table["n_cells"] > 0).to_numpy()]
    if len(dropped):
        logger.info(
            "pseudobulk_deseq2: %s: left out pseudobulks (sample/arm: cells) %s",
            context,
            ", ".join(
                f"{s}/{a}: {n}"
                for s, a, n in dropped[["label", "arm", "n_cells"]].itertuples(index=False)
            ),
        )
    return keep
