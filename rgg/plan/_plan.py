"""The resolved request, :class:`Plan`, and :func:`build_plan`, the sequence of steps that
checks a call and resolves it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from .._parameters import PREFILTERS
from .._presets import active_defaults
from ._codes import CellCodes, resolve_cell_codes
from ._genes import TestedGenes, check_mask_var, resolve_genes, resolve_n_genes
from ._groups import Groups, resolve_groups
from ._options import Options, resolve_options

if TYPE_CHECKING:
    from anndata import AnnData


@dataclass(frozen=True)
class Plan(Options, Groups, TestedGenes, CellCodes):
    """A validated, fully resolved ``rank_genes_groups`` request.

    Its fields are those of the parts the steps of :func:`build_plan` resolve, one after
    the other: :class:`Options`, :class:`Groups`, :class:`TestedGenes` and
    :class:`CellCodes` (see each for its fields), and:

    Attributes
    ----------
    groupby
        As given.
    n_genes
        Genes reported per group: ``n_genes`` capped at the number of tested genes.
    """

    groupby: str
    n_genes: int

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
        for name in PREFILTERS:
            if getattr(self, name) is not None:
                extra[name] = getattr(self, name)
        return extra  # mean_in_log_space is scanpy's, which does not store it either


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
    defaults = active_defaults()
    mask = check_mask_var(adata, defaults.mask_var if mask_var is None else mask_var)
    options = resolve_options(
        adata, defaults, use_raw=use_raw, layer=layer, key_added=key_added, method=method,
        mean_in_log_space=mean_in_log_space, fold_change=fold_change, kwds=kwds,
        rankby_abs=rankby_abs, corr_scope=corr_scope, rest_scope=rest_scope, auroc=auroc,
        min_pct=min_pct, min_diff_pct=min_diff_pct, min_logfc=min_logfc,
        corr_method=corr_method, pts=pts, tie_correct=tie_correct,
    )  # fmt: skip
    selection = resolve_groups(adata, groupby, groups, reference, options.rest_scope)
    tested = resolve_genes(
        adata, use_raw=options.use_raw, layer=options.layer, method=options.method, mask=mask
    )
    codes = resolve_cell_codes(selection, options.rest_scope, groupby)
    return Plan(
        groupby=groupby,
        n_genes=resolve_n_genes(n_genes, len(tested.genes)),
        **_fields_of(options),
        **_fields_of(selection),
        **_fields_of(tested),
        **_fields_of(codes),
    )


def _fields_of(part: Options | Groups | TestedGenes | CellCodes) -> dict[str, Any]:
    """A part's fields by name, as they are (``dataclasses.asdict`` would copy the arrays)."""
    return {f.name: getattr(part, f.name) for f in fields(part)}
