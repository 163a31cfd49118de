"""The groups of a call: the categories of ``obs[groupby]`` it compares, and its reference."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_string_dtype

from .._errors import GroupbyNotCategoricalError, UnknownGroupError, did_you_mean, obs_column

if TYPE_CHECKING:
    from anndata import AnnData

    from .._types import RestScope


@dataclass(frozen=True)
class Groups:
    """The selected groups and the reference.

    Attributes
    ----------
    reference
        As stored in ``uns[key]['params']``: as given, or the pooled reference's label.
    group_labels
        ``str`` of each selected group, in output order (scanpy's ``groups_order``).
    group_categories
        Category code of each selected group.
    reference_index
        Position of the reference in ``group_labels``, or ``None`` for "rest".
    reference_groups
        The groups pooled into the reference when a list of two or more was given (rgg's
        addition); the pool is then the last entry of ``group_labels``, labelled
        ``reference`` (the groups joined by ``' + '``), and its category code is
        ``n_categories``. ``None`` otherwise.
    category_codes
        pandas category code of every cell (-1 for NaN), the labels logreg is fitted on.
    n_categories
        Number of categories of ``obs[groupby]``.
    """

    reference: str
    group_labels: list[str]
    group_categories: list[int]
    reference_index: int | None
    reference_groups: tuple[str, ...] | None
    category_codes: np.ndarray
    n_categories: int

    @property
    def n_groups(self) -> int:
        """Number of selected groups (reference included)."""
        return len(self.group_labels)


def resolve_groups(
    adata: AnnData, groupby: str, groups: Any, reference: Any, rest_scope: RestScope
) -> Groups:
    """Check ``groupby``, ``groups`` and ``reference`` in scanpy's order, and select."""
    labels = _groupby_categorical(adata, groupby)
    categories = labels.categories
    _check_distinct_labels(categories, groupby)
    if adata.n_obs == 0 or len(categories) == 0:
        msg = (
            f"adata has no cells to group (n_obs={adata.n_obs}, "
            f"{len(categories)} categories in obs[{groupby!r}]); check the file or the subset."
        )
        raise ValueError(msg)
    reference, pool = _normalise_reference(reference)
    if pool is not None:
        pool_positions = _pool_positions(pool, categories, groupby)
        selected = _normalise_groups(groups, "rest")
        if selected is None:
            selected = [c for p, c in enumerate(categories) if p not in pool_positions]
        pool_labels = {str(categories[p]) for p in pool_positions}
        selected = [label for label in selected if str(label) not in pool_labels]
        if not selected:
            msg = (
                f"every selected group is part of reference={list(pool)}; nothing is left to "
                "compare with it. Select other groups with groups=[...]."
            )
            raise ValueError(msg)
    else:
        selected = _normalise_groups(groups, reference)

    if pool is None and reference != "rest" and _category_position(categories, reference) is None:
        msg = (
            f"reference = {reference} needs to be one of groupby = {categories.tolist()}."
            f"{did_you_mean(str(reference), categories)} Use reference='rest' to compare each group "
            "with all other cells."
        )
        raise ValueError(msg)

    positions = _selected_positions(selected, categories, groupby)
    group_labels = [str(categories[p]) for p in positions]
    if pool is None and reference != "rest" and len(set(positions)) == 1:
        msg = (
            f"groups={group_labels} holds only the reference {group_labels[0]!r}, so nothing is "
            "compared with it. List the groups to compare in groups=[...] (the reference is "
            "added), or pass groups='all'."
        )
        raise ValueError(msg)
    if rest_scope == "groups" and reference != "rest":
        given = reference if pool is None else list(pool)
        msg = (
            f"rest_scope='groups' chooses what 'rest' holds, but reference={given!r} is "
            "not 'rest'; drop rest_scope, or use reference='rest'."
        )
        raise ValueError(msg)
    if rest_scope == "groups" and reference == "rest" and len(positions) < 2:
        msg = (
            f"rest_scope='groups' compares each group with the other selected groups, but only "
            f"{group_labels} is selected; select at least two groups, or use rest_scope='all'."
        )
        raise ValueError(msg)

    category_codes = np.array(labels.codes, dtype=np.int64)  # a copy: the pool is remapped in it
    cells_per_category = np.bincount(category_codes[category_codes >= 0], minlength=len(categories))
    too_small = {
        label: int(cells_per_category[p])
        for label, p in zip(group_labels, positions, strict=True)
        if cells_per_category[p] < 2
    }
    reference_groups = None
    reference_index = None
    if pool is not None:
        reference_groups = tuple(str(categories[p]) for p in pool_positions)
        reference = " + ".join(reference_groups)
        if reference in set(categories.astype(str)):
            msg = (
                f"the pooled reference would be labelled {reference!r}, which is already a "
                f"group of adata.obs[{groupby!r}]; rename that category first."
            )
            raise ValueError(msg)
        pool_size = int(cells_per_category[pool_positions].sum())
        if pool_size < 2:
            too_small[reference] = pool_size
        in_pool = np.isin(category_codes, pool_positions)
        category_codes[in_pool] = len(categories)  # one class for logreg
        group_labels.append(reference)
        positions = [*positions, len(categories)]
        reference_index = len(group_labels) - 1
    elif reference != "rest":
        reference_index = group_labels.index(
            str(categories[_category_position(categories, reference)])
        )
    if too_small:
        sizes = ", ".join(f"{label!r}: {n}" for label, n in too_small.items())
        msg = (
            f"Could not calculate statistics for groups {', '.join(too_small)} "
            f"since they only contain one sample. Cells per group: {sizes}. A test needs at "
            "least 2 cells per group: leave these groups out with groups=[...], or remove "
            "their cells (and unused categories: .cat.remove_unused_categories())."
        )
        raise ValueError(msg)
    return Groups(
        reference=reference,
        group_labels=group_labels,
        group_categories=positions,
        reference_index=reference_index,
        reference_groups=reference_groups,
        category_codes=category_codes,
        n_categories=len(categories),
    )


def _selected_positions(selected: list | None, categories: pd.Index, groupby: str) -> list[int]:
    """Category positions of the selected groups (``None``: all), each once; unknown labels
    are refused."""
    if selected is None:
        return list(range(len(categories)))
    positions = []
    unknown = []
    for label in selected:
        pos = _category_position(categories, label)
        if pos is None:
            unknown.append(label)
        elif pos not in positions:  # 1 and '1' name one group
            positions.append(pos)
    if unknown:
        msg = (
            f"groups {unknown} are not categories of adata.obs[{groupby!r}]. "
            f"Valid groups: {categories.tolist()}."
        )
        raise UnknownGroupError(msg)
    return positions


def _as_series(column: Any) -> pd.Series:
    """An obs column as a pandas Series (``read_lazy`` gives xarray DataArrays)."""
    if isinstance(column, pd.Series):
        return column
    values = getattr(column, "data", column)
    if not isinstance(values, pd.api.extensions.ExtensionArray):
        values = np.asarray(values)  # also computes a Dask-backed column
    return pd.Series(values, name=getattr(column, "name", None))


def _groupby_categorical(adata: AnnData, groupby: str) -> pd.Categorical:
    column = _as_series(obs_column(adata, groupby, "groupby"))
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.array
    if is_string_dtype(column.dtype) and not is_bool_dtype(column.dtype):
        # scanpy's sanitize step, on a copy: anndata's own rule (natural sort; only when
        # values repeat) so that groups come out in the order scanpy gives them
        frame = column.to_frame(groupby)
        adata.strings_to_categoricals(frame)
        if isinstance(frame[groupby].dtype, pd.CategoricalDtype):
            return frame[groupby].array
        msg = (
            f"adata.obs[{groupby!r}] holds a different string in every cell, so every group "
            "would have a single cell. Choose a column of cell groups (clusters, cell types)."
        )
        raise GroupbyNotCategoricalError(msg)
    msg = (
        f"adata.obs[{groupby!r}] has dtype {column.dtype}, but groups must be categories. "
        f"Convert it first: adata.obs[{groupby!r}] = adata.obs[{groupby!r}].astype(str).astype('category')"
    )
    raise GroupbyNotCategoricalError(msg)


def _normalise_groups(groups: Any, reference: str) -> list | None:
    """Scanpy's ``groups`` rules (spec section 2, step 10); ``None`` means all."""
    if isinstance(groups, str) and groups == "all":
        return None
    if isinstance(groups, str | int):
        msg = "Specify a sequence of groups"
        raise ValueError(msg)
    order = list(groups)
    if not order:
        msg = "groups=[] selects no group; pass 'all' or a list of category labels."
        raise ValueError(msg)
    if isinstance(order[0], int):
        order = [str(n) for n in order]
    order = list(dict.fromkeys(order))  # a label listed twice is one group, as in scanpy
    if reference != "rest" and reference not in set(order):
        order = [*order, reference]
    return order


def _category_position(categories: pd.Index, label: Any) -> int | None:
    """Position of ``label`` among the categories, also matching ``str(category)``."""
    hits = np.flatnonzero(categories.to_numpy() == label)
    if len(hits) == 0:
        hits = np.flatnonzero(categories.astype(str).to_numpy() == str(label))
    return int(hits[0]) if len(hits) else None


def _normalise_reference(reference: Any) -> tuple[Any, tuple | None]:
    """``(reference, None)`` for one group or 'rest'; ``(None, labels)`` for a pool of two or more.

    A list of one group means that group (scanpy's single reference); repeats are dropped.
    """
    if isinstance(reference, str) or not isinstance(reference, Iterable):
        return reference, None
    labels = tuple(dict.fromkeys(reference))
    if not labels:
        msg = "reference=[] names no group; pass 'rest', a group, or a list of groups to pool."
        raise ValueError(msg)
    if "rest" in labels:
        msg = (
            f"reference={list(labels)} mixes 'rest' with groups; pass either 'rest' or the "
            "groups to pool as the reference."
        )
        raise ValueError(msg)
    if len(labels) == 1:
        return labels[0], None
    return None, labels


def _pool_positions(pool: tuple, categories: pd.Index, groupby: str) -> list[int]:
    """Category positions of the pooled reference groups; unknown labels are refused."""
    positions = [_category_position(categories, label) for label in pool]
    unknown = [label for label, pos in zip(pool, positions, strict=True) if pos is None]
    if unknown:
        hints = "".join(did_you_mean(str(label), categories) for label in unknown)
        msg = (
            f"reference groups {unknown} are not categories of adata.obs[{groupby!r}].{hints} "
            f"Valid groups: {categories.tolist()}."
        )
        raise UnknownGroupError(msg)
    return list(dict.fromkeys(positions))


def _check_distinct_labels(categories: pd.Index, groupby: str) -> None:
    """Results name groups by ``str(category)``: two categories must not print alike."""
    printed = categories.astype(str)
    if printed.is_unique:
        return
    twins = [c for c in categories if (printed == str(c)).sum() > 1][:2]
    msg = (
        f"the categories {twins[0]!r} and {twins[1]!r} of adata.obs[{groupby!r}] have the same "
        f"label {str(twins[0])!r} in results. Make them one category, or rename one "
        f"(adata.obs[{groupby!r}].cat.rename_categories)."
    )
    raise ValueError(msg)
