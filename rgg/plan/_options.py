"""The options of a call: every argument but the groups, the matrix and the genes."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import UnknownKeywordError, check_choice, did_you_mean
from .._parameters import ARGUMENT_NAMES, BY_NAME, PREFILTERS
from .._types import (
    CORR_METHODS,
    CORR_SCOPES,
    FOLD_CHANGES,
    METHODS,
    REST_SCOPES,
    CorrMethod,
    CorrScope,
    FoldChange,
    Method,
    RestScope,
)

if TYPE_CHECKING:
    from anndata import AnnData

    from .._presets import RankDefaults


@dataclass(frozen=True)
class Options:
    """The options of a call, checked and resolved.

    Attributes
    ----------
    method, corr_method, use_raw, layer
        As stored in ``uns[key]['params']`` (``use_raw`` resolved).
    stored_method
        The method name ``params['method']`` holds when it differs from ``method``
        (``'wilcoxon_illico'``, which is run as ``'wilcoxon'``).
    rankby_abs, pts, tie_correct
        As given (``rankby_abs`` also from logreg's ``only_positive``).
    key_added
        The key of ``adata.uns`` the results go to.
    logreg_kwds
        LogisticRegression options (``**kwds``).
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
    min_pct, min_diff_pct, min_logfc
        Seurat's pre-filters (rgg's addition; ``None``: off). A gene is tested for a group
        only if its expressing fraction reaches ``min_pct`` in the group or in what it is
        compared with, the two fractions differ by at least ``min_diff_pct`` and its
        absolute log2 fold change reaches ``min_logfc``.
    mean_in_log_space
        scanpy 1.13: ``True`` computes group means on the (log) values; ``False`` on
        ``expm1`` of them, for the t-tests' statistics and every method's fold changes.
    """

    method: Method
    stored_method: Method | None
    corr_method: CorrMethod
    use_raw: bool
    layer: str | None
    rankby_abs: bool
    pts: bool
    tie_correct: bool
    key_added: str
    logreg_kwds: Mapping[str, Any]
    auroc: bool
    corr_scope: CorrScope
    rest_scope: RestScope
    fold_change: FoldChange
    min_pct: float | None
    min_diff_pct: float | None
    min_logfc: float | None
    mean_in_log_space: bool

    @property
    def prefilters(self) -> bool:
        """Whether any of Seurat's pre-filters is on."""
        return any(getattr(self, name) is not None for name in PREFILTERS)

    @property
    def expm1_statistics(self) -> bool:
        """Whether the t-test runs on ``expm1`` of the values (``mean_in_log_space=False``)."""
        return not self.mean_in_log_space and self.method in {"t-test", "t-test_overestim_var"}


def resolve_options(
    adata: AnnData,
    defaults: RankDefaults,
    *,
    use_raw: bool | None,
    layer: str | None,
    key_added: str | None,
    method: str | None,
    mean_in_log_space: bool | None,
    fold_change: str,
    kwds: Mapping[str, Any] | None,
    rankby_abs: bool,
    corr_scope: str,
    rest_scope: str,
    auroc: bool,
    min_pct: float | None,
    min_diff_pct: float | None,
    min_logfc: float | None,
    corr_method: str,
    pts: bool,
    tie_correct: bool,
) -> Options:
    """Check the options in scanpy's order; ``None`` takes the default (of the active
    preset for ``method`` and ``mean_in_log_space``)."""
    kwds = dict(kwds or {})
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
            stacklevel=4,  # the caller of rank_genes_groups
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
    _check_prefilters(
        method, {"min_pct": min_pct, "min_diff_pct": min_diff_pct, "min_logfc": min_logfc}
    )
    if corr_method not in CORR_METHODS:
        msg = f"Correction method must be one of {list(CORR_METHODS)}, got corr_method={corr_method!r}."
        raise ValueError(msg)
    return Options(
        method=method,
        stored_method=stored_method,
        corr_method=corr_method,
        use_raw=bool(use_raw),
        layer=layer,
        rankby_abs=bool(rankby_abs),
        pts=bool(pts),
        tie_correct=bool(tie_correct),
        key_added="rank_genes_groups" if key_added is None else key_added,
        logreg_kwds=kwds,
        auroc=bool(auroc),
        corr_scope=corr_scope,
        rest_scope=rest_scope,
        fold_change=fold_change,
        min_pct=None if min_pct is None else float(min_pct),
        min_diff_pct=None if min_diff_pct is None else float(min_diff_pct),
        min_logfc=None if min_logfc is None else float(min_logfc),
        mean_in_log_space=bool(mean_in_log_space),
    )


def _check_prefilters(method: str, thresholds: Mapping[str, Any]) -> None:
    """Seurat's pre-filters (``thresholds`` by name) need numbers within their table bounds:
    fractions in [0, 1], a non-negative fold change."""
    given = {name: value for name, value in thresholds.items() if value is not None}
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
        low, high = BY_NAME[name].minimum, BY_NAME[name].maximum
        if not low <= value <= (np.inf if high is None else high):
            bounds = (
                f"at least {low:g}"
                if high is None
                else f"between {low:g} and {high:g}"
                + (" (a fraction of cells)" if high == 1 else "")
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
    valid = set(ARGUMENT_NAMES)
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
