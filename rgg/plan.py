"""Validate a ``rank_genes_groups`` call and resolve it into a frozen :class:`Plan`.

Every message about bad user input lives here. Nothing in this module mutates the AnnData:
a call that fails leaves ``adata`` exactly as it was.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_string_dtype

from ._errors import (
    GroupbyNotCategoricalError,
    UnknownGroupError,
    UnknownKeywordError,
    UnsupportedDtypeError,
    adata_layer,
    check_choice,
    did_you_mean,
    obs_column,
)
from ._presets import active_defaults
from ._types import (
    CORR_METHODS,
    CORR_SCOPES,
    FOLD_CHANGES,
    METHODS,
    RANK_GENES_GROUPS_ARGUMENTS,
    REST_SCOPES,
    Matrix,
)
from .matrix import is_lazy, is_supported

logger = logging.getLogger("rgg")

if TYPE_CHECKING:
    from anndata import AnnData


@dataclass(frozen=True)
class Plan:
    """A validated, fully resolved ``rank_genes_groups`` request.

    Attributes
    ----------
    groupby, method, corr_method, reference, use_raw, layer
        As stored in ``uns[key]['params']`` (``use_raw`` resolved, ``reference`` as given).
    matrix
        The matrix that is tested (X, raw.X or a layer), before the gene mask.
    genes
        Sorted column indices of the tested genes in ``matrix``.
    var_names
        Names of the tested genes.
    group_labels
        ``str`` of each selected group, in output order (scanpy's ``groups_order``).
    group_categories
        Category code of each selected group.
    cell_codes
        Per cell: position of its group in ``group_labels``; ``len(group_labels)`` for the
        other cells in one-vs-rest mode (they belong to "rest"); ``-1`` in reference mode
        (they take no part).
    n_per_code
        Cells per code (length ``len(group_labels) + 1`` in one-vs-rest mode).
    reference_index
        Position of the reference in ``group_labels``, or ``None`` for "rest".
    category_codes
        pandas category code of every cell (-1 for NaN), the labels logreg is fitted on.
    auroc
        Also compute the area under the ROC curve per gene and group (rgg's addition).
    corr_scope
        ``'group'`` (scanpy: each group's p-values corrected on their own) or ``'all'`` (all
        groups' p-values corrected together; rgg's addition).
    rest_scope
        One-vs-rest only: ``'all'`` (scanpy: the rest is every other cell) or ``'groups'`` (the
        rest is the other *selected* groups; rgg's addition).
    fold_change
        ``'log_mean'`` (scanpy) or ``'expm1_mean'`` (Seurat; rgg's addition).
    reference_groups
        The groups pooled into the reference when a list of two or more was given (rgg's
        addition); the pool is then the last entry of ``group_labels``, labelled
        ``reference`` (the groups joined by ``' + '``), and its category code is
        ``len(categories)``. ``None`` otherwise.
    min_pct, min_diff_pct, min_logfc
        Seurat's pre-filters (rgg's addition; ``None``: off). A gene is tested for a group
        only if its expressing fraction reaches ``min_pct`` in the group or in what it is
        compared with, the two fractions differ by at least ``min_diff_pct`` and its
        absolute log2 fold change reaches ``min_logfc``.
    mean_in_log_space
        scanpy 1.13: ``True`` computes group means on the (log) values; ``False`` on
        ``expm1`` of them, for the t-tests' statistics and every method's fold changes.
    stored_method
        The method name ``params['method']`` holds when it differs from ``method``
        (``'wilcoxon_illico'``, which is run as ``'wilcoxon'``).
    """

    groupby: str
    method: str
    corr_method: str
    reference: str
    use_raw: bool
    layer: str | None
    matrix: Matrix
    genes: np.ndarray
    var_names: pd.Index
    group_labels: list[str]
    group_categories: list[int]
    cell_codes: np.ndarray
    n_per_code: np.ndarray
    reference_index: int | None
    category_codes: np.ndarray
    n_genes: int
    rankby_abs: bool
    pts: bool
    tie_correct: bool
    key_added: str
    log1p_base: float | None
    logreg_kwds: Mapping[str, Any] = field(default_factory=dict)
    auroc: bool = False
    corr_scope: str = "group"
    rest_scope: str = "all"
    fold_change: str = "log_mean"
    reference_groups: tuple[str, ...] | None = None
    min_pct: float | None = None
    min_diff_pct: float | None = None
    min_logfc: float | None = None
    mean_in_log_space: bool = True
    stored_method: str | None = None

    @property
    def prefilters(self) -> bool:
        """Whether any of Seurat's pre-filters is on."""
        return any(v is not None for v in (self.min_pct, self.min_diff_pct, self.min_logfc))

    @property
    def n_cells(self) -> int:
        """Rows of the tested matrix."""
        return int(self.cell_codes.shape[0])

    @property
    def n_ranked(self) -> int:
        """Cells that take part in the comparison (all cells, unless ``rest_scope='groups'``)."""
        return int(self.n_per_code.sum())

    @property
    def n_groups(self) -> int:
        """Number of selected groups (reference included)."""
        return len(self.group_labels)

    @property
    def reported_groups(self) -> list[int]:
        """Positions in ``group_labels`` of the groups that get a result field."""
        if self.method == "logreg":
            return [0] if self.n_groups <= 2 else list(range(self.n_groups))
        reported = [g for g in range(self.n_groups) if g != self.reference_index]
        if self.stored_method == "wilcoxon_illico":
            # scanpy stores illico's results in illico's group order, sorted by label (its
            # pts keep the selected order)
            reported.sort(key=lambda g: self.group_labels[g])
        return reported

    def params(self) -> dict[str, Any]:
        """``uns[key]['params']`` exactly as scanpy stores it."""
        return {
            "groupby": self.groupby,
            "reference": self.reference,
            "method": self.stored_method or self.method,
            "use_raw": self.use_raw,
            "layer": self.layer,
            "corr_method": self.corr_method,
        }

    def extra_params(self) -> dict[str, Any]:
        """rgg's additions to ``params``: only the options that differ from scanpy's behaviour."""
        extra: dict[str, Any] = {}
        if self.reference_groups is not None:
            extra["reference_groups"] = list(self.reference_groups)
        if self.corr_scope != "group":
            extra["corr_scope"] = self.corr_scope
        if self.rest_scope != "all":
            extra["rest_scope"] = self.rest_scope
        if self.fold_change != "log_mean":
            extra["fold_change"] = self.fold_change
        for name in ("min_pct", "min_diff_pct", "min_logfc"):
            if getattr(self, name) is not None:
                extra[name] = getattr(self, name)
        return extra  # mean_in_log_space is scanpy's, which does not store it either

    @property
    def expm1_statistics(self) -> bool:
        """Whether the t-test runs on ``expm1`` of the values (``mean_in_log_space=False``)."""
        return not self.mean_in_log_space and self.method in {"t-test", "t-test_overestim_var"}


def _check_mask_var(adata: AnnData, mask_var: Any) -> np.ndarray | None:
    """Scanpy's mask checks and wording (spec section 2, step 1)."""
    if mask_var is None:
        return None
    if isinstance(mask_var, str):
        if mask_var not in adata.var.columns:
            msg = (
                f"Did not find `adata.var[{mask_var!r}]`. "
                "Either add the mask first to `adata.var`"
                "or consider using the mask argument with an array."
            )
            raise ValueError(msg)
        mask = adata.var[mask_var].to_numpy()
    else:
        mask = np.asarray(mask_var)
        if len(mask) != adata.n_vars:
            msg = "The shape of the mask do not match the data."
            raise ValueError(msg)
    if not is_bool_dtype(mask.dtype):
        where = f"adata.var[{mask_var!r}]" if isinstance(mask_var, str) else "the mask"
        msg = f"Mask array must be boolean ({where} has dtype {mask.dtype})."
        raise ValueError(msg)
    return mask.astype(bool)


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


def _warn_duplicate_names(names: pd.Index) -> None:
    if names.is_unique:
        return
    duplicated = names[names.duplicated()].unique()
    logger.warning(
        "%d gene names occur more than once among the tested genes (e.g. %s): results name genes "
        "ambiguously. Call adata.var_names_make_unique() (or adata.raw.var_names_make_unique() "
        "for raw data) first.",
        len(duplicated),
        ", ".join(repr(name) for name in duplicated[:3]),
    )


def names_of_tested_genes(
    adata: AnnData, *, use_raw: bool | None = None, layer: str | None = None, mask_var: Any = None
) -> pd.Index:
    """Names of the genes a call with these arguments tests, by the rules of
    :func:`build_plan` (which checks the arguments themselves)."""
    if use_raw is None:
        use_raw = adata.raw is not None and layer is None
    _, names = _select_matrix(adata, bool(use_raw), layer)
    mask = _check_mask_var(adata, mask_var)
    return names if mask is None or len(mask) != len(names) else names[mask]


def _select_matrix(adata: AnnData, use_raw: bool, layer: str | None) -> tuple[Matrix, pd.Index]:
    if layer is not None:
        if use_raw:
            msg = "Cannot specify `layer` and have `use_raw=True`."
            if adata.raw is not None:
                msg += " adata.raw exists, so pass use_raw=False together with layer=."
            raise ValueError(msg)
        return adata_layer(adata, layer), adata.var_names
    if use_raw and adata.raw is not None:
        return adata.raw.X, adata.raw.var_names
    return adata.X, adata.var_names


def build_plan(
    adata: AnnData,
    groupby: str,
    *,
    mask_var: Any = None,
    use_raw: bool | None = None,
    groups: Any = "all",
    reference: str = "rest",
    n_genes: int | None = None,
    rankby_abs: bool = False,
    pts: bool = False,
    key_added: str | None = None,
    method: str | None = None,
    corr_method: str = "benjamini-hochberg",
    tie_correct: bool = False,
    layer: str | None = None,
    kwds: Mapping[str, Any] | None = None,
    auroc: bool = False,
    corr_scope: str = "group",
    rest_scope: str = "all",
    fold_change: str = "log_mean",
    min_pct: float | None = None,
    min_diff_pct: float | None = None,
    min_logfc: float | None = None,
    mean_in_log_space: bool | None = None,
) -> Plan:
    """Check every argument of ``rank_genes_groups`` and resolve it, in scanpy's order.

    ``method``, ``mean_in_log_space`` and ``mask_var`` left at ``None`` take the defaults of
    scanpy's active preset when scanpy is imported (see :mod:`rgg._presets`).

    Raises the exception type scanpy raises for the same mistake (ValueError, KeyError,
    NotImplementedError), or a subclass of it with a message that says how to fix it.
    """
    kwds = dict(kwds or {})
    defaults = active_defaults()
    if mask_var is None:
        mask_var = defaults.mask_var
    mask = _check_mask_var(adata, mask_var)

    if use_raw is None:
        use_raw = adata.raw is not None
    elif use_raw is True and adata.raw is None:
        msg = "Received `use_raw=True`, but `adata.raw` is empty."
        if layer is not None:
            msg += f" To test adata.layers[{layer!r}], drop use_raw (or pass use_raw=False)."
        raise ValueError(msg)
    if key_added is not None and (not isinstance(key_added, str) or not key_added):
        msg = f"key_added must be a non-empty string (a key of adata.uns), got {key_added!r}."
        raise ValueError(msg)

    if method is None:
        method = defaults.method
    elif method == "wilcoxon_illico":  # as scanpy, whichever preset is active
        warnings.warn(
            "method='wilcoxon_illico' is scanpy 1.13's name for the Wilcoxon test it computes "
            "with illico; scanpy 2.0 makes it plain 'wilcoxon'. rgg computes the same "
            "statistic for either name.",
            DeprecationWarning,
            stacklevel=3,
        )
    if mean_in_log_space is None:
        # a preset's default gives way to an explicit Seurat fold change
        mean_in_log_space = defaults.mean_in_log_space or fold_change != "log_mean"
    if not isinstance(mean_in_log_space, bool | np.bool_):
        msg = f"mean_in_log_space must be True or False, got {mean_in_log_space!r}."
        raise ValueError(msg)
    if "only_positive" in kwds:
        rankby_abs = not kwds.pop("only_positive")
    if method not in METHODS:
        msg = f"Method must be one of {list(METHODS)}, got method={method!r}."
        raise ValueError(msg)
    stored_method = None
    if method == "wilcoxon_illico":
        method, stored_method = "wilcoxon", method
    _check_extra_keywords(method, kwds)
    if not mean_in_log_space and fold_change != "log_mean":
        msg = (
            f"mean_in_log_space=False (scanpy 1.13: means of expm1 values) and "
            f"fold_change={fold_change!r} (Seurat's) both define the fold change; choose one."
        )
        raise ValueError(msg)
    check_choice(
        "corr_scope", corr_scope, CORR_SCOPES,
        "'group' corrects each group's p-values on their own (scanpy), 'all' corrects all "
        "groups together.",
    )  # fmt: skip
    check_choice(
        "rest_scope", rest_scope, REST_SCOPES,
        "'all' compares each group with every other cell (scanpy), 'groups' with the other "
        "selected groups.",
    )  # fmt: skip
    check_choice(
        "fold_change", fold_change, FOLD_CHANGES,
        "'log_mean' from the mean of the log values (scanpy), 'expm1_mean' from the mean of "
        "expm1 values (Seurat).",
    )  # fmt: skip
    if auroc and method == "logreg":
        msg = (
            "auroc=True needs rank sums, which logreg does not compute; use it with "
            "method='wilcoxon' (no extra cost) or a t-test."
        )
        raise ValueError(msg)
    _check_prefilters(method, min_pct, min_diff_pct, min_logfc)
    if corr_method not in CORR_METHODS:
        msg = f"Correction method must be one of {list(CORR_METHODS)}, got corr_method={corr_method!r}."
        raise ValueError(msg)

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

    if selected is None:
        positions = list(range(len(categories)))
    else:
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
    if too_small:
        sizes = ", ".join(f"{label!r}: {n}" for label, n in too_small.items())
        msg = (
            f"Could not calculate statistics for groups {', '.join(too_small)} "
            f"since they only contain one sample. Cells per group: {sizes}. A test needs at "
            "least 2 cells per group: leave these groups out with groups=[...], or remove "
            "their cells (and unused categories: .cat.remove_unused_categories())."
        )
        raise ValueError(msg)

    matrix, matrix_var_names = _select_matrix(adata, use_raw, layer)
    _check_dtype(matrix, use_raw, layer)
    if matrix_var_names.name == "_index":
        # anndata's on-disk name for an unnamed index; read_h5ad drops it, read_lazy keeps it
        matrix_var_names = matrix_var_names.rename(None)
    if not (is_supported(matrix) or is_lazy(matrix)):
        msg = (
            f"rank_genes_groups is not implemented for matrices of type {type(matrix)}. "
            "Pass a NumPy array, a scipy CSR or CSC matrix, a Dask array (anndata's "
            "read_lazy; for a zarr array, dask.array.from_zarr) or a backed h5ad."
        )
        raise NotImplementedError(msg)
    if method == "logreg" and is_lazy(matrix):
        msg = (
            "method='logreg' fits all genes at once and needs the matrix in memory, but "
            f"it is lazy ({type(matrix).__name__}). Load it first (adata.to_memory(), or "
            "read_h5ad without backed=), or use method='wilcoxon' or a t-test."
        )
        raise NotImplementedError(msg)

    n_vars = matrix.shape[1]
    if mask is not None:
        if len(mask) != n_vars:
            msg = (
                f"mask_var has {len(mask)} entries (one per gene of adata.var) but adata.raw.X, "
                f"the tested matrix, has {n_vars} genes. Pass use_raw=False to test adata.X, "
                "or give a mask as long as adata.raw.var_names."
            )
            raise ValueError(msg)
        genes = np.flatnonzero(mask).astype(np.int64)
    else:
        genes = np.arange(n_vars, dtype=np.int64)
    if n_vars == 0:
        msg = "the tested matrix has no genes (n_vars=0); check the file or the gene subset."
        raise ValueError(msg)
    if len(genes) == 0:
        msg = "mask_var selects no gene; at least one gene must be tested."
        raise ValueError(msg)
    _warn_duplicate_names(matrix_var_names[genes])

    reference_index = None
    if reference_groups is not None:
        reference_index = len(group_labels) - 1
    elif reference != "rest":
        reference_index = group_labels.index(
            str(categories[_category_position(categories, reference)])
        )
    # one slot per category, one for the pooled reference, and the last one (-1) for NaN
    code_of_category = np.full(len(categories) + 2, -1, dtype=np.int32)
    code_of_category[positions] = np.arange(len(positions), dtype=np.int32)
    cell_codes = code_of_category[category_codes]
    n_codes = len(positions)
    if reference_index is None:
        if rest_scope == "all":
            cell_codes[cell_codes < 0] = len(positions)  # unselected and NaN cells: "rest"
        n_codes += 1  # the remainder code (empty when the rest is the selected groups only)
    n_per_code = np.bincount(cell_codes[cell_codes >= 0], minlength=n_codes).astype(np.int64)
    if reference_index is None:
        _check_rest_has_cells(group_labels, n_per_code, groupby)

    n_tested = len(genes)
    _check_n_genes(n_genes, n_tested)
    n_genes_user = n_tested if n_genes is None or n_genes > n_tested else int(n_genes)

    log1p = adata.uns.get("log1p")
    base = log1p.get("base") if isinstance(log1p, Mapping) else None
    return Plan(
        groupby=groupby,
        method=method,
        corr_method=corr_method,
        reference=reference,
        use_raw=bool(use_raw),
        layer=layer,
        matrix=matrix,
        genes=genes,
        var_names=matrix_var_names[genes],
        group_labels=group_labels,
        group_categories=positions,
        cell_codes=cell_codes,
        n_per_code=n_per_code,
        reference_index=reference_index,
        category_codes=category_codes,
        n_genes=n_genes_user,
        rankby_abs=bool(rankby_abs),
        pts=bool(pts),
        tie_correct=bool(tie_correct),
        key_added="rank_genes_groups" if key_added is None else key_added,
        log1p_base=None if base is None else float(base),
        logreg_kwds=kwds,
        auroc=bool(auroc),
        corr_scope=corr_scope,
        rest_scope=rest_scope,
        fold_change=fold_change,
        reference_groups=reference_groups,
        min_pct=None if min_pct is None else float(min_pct),
        min_diff_pct=None if min_diff_pct is None else float(min_diff_pct),
        min_logfc=None if min_logfc is None else float(min_logfc),
        mean_in_log_space=bool(mean_in_log_space),
        stored_method=stored_method,
    )


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


def _check_prefilters(
    method: str, min_pct: float | None, min_diff_pct: float | None, min_logfc: float | None
) -> None:
    """Seurat's pre-filters need fractions in [0, 1] and a non-negative fold change."""
    given = {
        name: value
        for name, value in (
            ("min_pct", min_pct),
            ("min_diff_pct", min_diff_pct),
            ("min_logfc", min_logfc),
        )
        if value is not None
    }
    if not given:
        return
    if method == "logreg":
        msg = (
            f"{', '.join(given)} filter genes per group before a test, but logreg fits all genes "
            "at once; use them with method='wilcoxon' or a t-test."
        )
        raise ValueError(msg)
    for name, value in given.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float | np.number)
            or np.isnan(value)
        ):
            msg = f"{name} must be a number, got {value!r}."
            raise TypeError(msg)
        upper = np.inf if name == "min_logfc" else 1.0
        if not 0.0 <= value <= upper:
            bounds = (
                "at least 0" if name == "min_logfc" else "between 0 and 1 (a fraction of cells)"
            )
            msg = f"{name} must be {bounds}, got {value!r}."
            raise ValueError(msg)


def _check_extra_keywords(method: str, kwds: Mapping[str, Any]) -> None:
    """Refuse keywords no test reads, naming the closest parameter (scanpy drops them silently).

    ``**kwds`` are LogisticRegression options for logreg; for the other methods every
    keyword left is a mistake (most often a misspelled parameter, such as ``tie_corect``).
    """
    if not kwds:
        return
    valid = set(RANK_GENES_GROUPS_ARGUMENTS)
    if method == "logreg":
        from sklearn.linear_model import LogisticRegression

        options = set(LogisticRegression().get_params())
        unknown = [name for name in kwds if name not in options]
        valid |= options
    else:
        unknown = list(kwds)
    if not unknown:
        return
    hints = "".join(did_you_mean(name, valid) for name in unknown)
    where = (
        "neither rank_genes_groups nor LogisticRegression takes"
        if method == "logreg"
        else f"rank_genes_groups(method={method!r}) does not take"
    )
    msg = f"{where} the keyword(s) {sorted(unknown)}.{hints}"
    if method != "logreg":
        msg += " Extra keywords are LogisticRegression options, used by method='logreg' only."
    raise UnknownKeywordError(msg)


#: dtype kinds rgg can rank: booleans, integers, floats.
_RANKABLE_KINDS = frozenset("biuf")


def _check_dtype(matrix: Any, use_raw: bool, layer: str | None) -> None:
    """Refuse a matrix whose values are not real numbers (complex, object, strings)."""
    dtype = getattr(matrix, "dtype", None)
    if dtype is None or np.dtype(dtype).kind in _RANKABLE_KINDS:
        return
    where = "adata.raw.X" if use_raw else "adata.X"
    if layer is not None:
        where = f"adata.layers[{layer!r}]"
    dtype = np.dtype(dtype)
    values = f"{where}.real" if dtype.kind == "c" else f"{where}.astype(np.float32)"
    fix = f"{where} = {values}"
    if use_raw and layer is None:  # anndata's Raw has no X setter
        fix = f"adata.raw = ad.AnnData({values}, var=adata.raw.var)"
    if dtype.kind == "c":
        fix += " (if the imaginary part is zero)"
    msg = (
        f"{where} has dtype {dtype}, which rank_genes_groups cannot rank: it needs real numbers "
        f"(boolean, integer or float). Convert it first, e.g. {fix}."
    )
    raise UnsupportedDtypeError(msg)


def _check_rest_has_cells(group_labels: list[str], n_per_code: np.ndarray, groupby: str) -> None:
    """One-vs-rest needs at least 2 cells outside each group, as every group needs 2 cells."""
    total = int(n_per_code.sum())
    rests = {
        label: total - int(n)
        for label, n in zip(group_labels, n_per_code, strict=False)
        if total - n < 2
    }
    if not rests:
        return
    label, n_rest = next(iter(rests.items()))
    if n_rest == 0:
        msg = (
            f"every cell is in group {label!r} of adata.obs[{groupby!r}], so reference='rest' "
            "leaves no cell to compare it with. Group by a column with two or more groups (or "
            "subset the data less)."
        )
    else:
        msg = (
            f"only {n_rest} cell is outside group {label!r} of adata.obs[{groupby!r}], so "
            "reference='rest' has a single cell to compare it with; a test needs at least 2 "
            "cells on each side (scanpy's numbers here are not a test). Leave the group out "
            "with groups=[...], or group the cells differently."
        )
    raise ValueError(msg)


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


def _check_n_genes(n_genes: Any, n_tested: int) -> None:
    """``n_genes`` as scanpy reads it: None or 0 keep every tested gene, ``-k`` drops the
    ``k`` lowest; dropping every gene (``-k <= -n_tested``) would leave empty tables."""
    if n_genes is None:
        return
    if isinstance(n_genes, bool) or not isinstance(n_genes, int | np.integer):
        msg = (
            f"n_genes must be an integer number of genes per group (or None for every tested "
            f"gene), got {n_genes!r}."
        )
        raise ValueError(msg)
    if n_genes <= -n_tested:
        msg = (
            f"n_genes={n_genes} would drop all {n_tested} tested genes: a negative n_genes "
            "drops that many of the lowest-ranked genes (as in scanpy). Pass a positive number "
            "of genes per group, or None for all."
        )
        raise ValueError(msg)
