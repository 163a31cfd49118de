"""The on-target panel of a perturbation screen: does each perturbation move its own target?

A grouping whose config has a ``screen`` entry holds perturbations: its ``control`` names the
control group, and each perturbation's target gene is, by default, its label; ``target_pattern``
(a regular expression whose first group is the target, for labels such as ``STAT1_g2``),
``target_obs`` (an obs column naming each cell's target) and ``target_var`` (a var column the
targets name, when var_names are IDs) say otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from .data import SIGNIFICANT_P, ComparisonView, direction, fold_change, scored
from .detail import rounded


@dataclass(frozen=True)
class ScreenSpec:
    """How a grouping's labels name perturbations and their targets."""

    control: str
    target_pattern: str | None = None
    target_obs: str | None = None
    target_var: str | None = None


def screen_specs(config: Mapping[str, Any]) -> dict[str, ScreenSpec]:
    """Grouping name -> its screen entry, from a resolved workflow config."""
    specs = {}
    for grouping, entry in (config.get("groupings") or {}).items():
        screen = (entry or {}).get("screen")
        if screen:
            specs[grouping] = ScreenSpec(
                control=str(screen["control"]),
                target_pattern=screen.get("target_pattern"),
                target_obs=screen.get("target_obs"),
                target_var=screen.get("target_var"),
            )
    return specs


def targets(groups: list[str], spec: ScreenSpec, adata: Any, groupby: str) -> dict[str, str]:
    """Each perturbation's target gene, as the result table names genes.

    Parameters
    ----------
    groups
        The comparison's groups (the control among them or not).
    spec
        The grouping's screen entry: ``target_obs`` wins over ``target_pattern``, which wins
        over the labels themselves.
    adata
        The dataset, for ``target_obs`` and ``target_var`` (else unused).
    groupby
        The obs column of the groups.

    Returns
    -------
    Perturbation -> target; the control, and labels the pattern does not match, have none.
    """
    perturbations = [group for group in groups if group != spec.control]
    if spec.target_obs is not None:
        target = _targets_from_obs(perturbations, spec, adata, groupby)
    elif spec.target_pattern is not None:
        pattern = re.compile(spec.target_pattern)
        target = {}
        for group in perturbations:
            found = pattern.search(group)
            if found:
                target[group] = found.group(1) if pattern.groups else found.group(0)
    else:
        target = {group: group for group in perturbations}
    if spec.target_var is not None:
        column = adata.var[spec.target_var].astype(str)
        to_name = dict(zip(column, adata.var_names, strict=True))
        target = {group: to_name.get(gene, gene) for group, gene in target.items()}
    return target


def _targets_from_obs(
    perturbations: list[str], spec: ScreenSpec, adata: Any, groupby: str
) -> dict[str, str]:
    """The target most of each perturbation's cells name in ``obs[spec.target_obs]``."""
    cells = adata.obs[[groupby, spec.target_obs]].astype(str)
    cells = cells[cells[groupby].isin(perturbations)]
    most_common = cells.groupby(groupby, observed=True)[spec.target_obs].agg(
        lambda values: values.value_counts().index[0]
    )
    return {group: most_common[group] for group in perturbations if group in most_common.index}


def on_target(
    view: ComparisonView, spec: ScreenSpec, adata: Any, *, has_pvalues: bool
) -> dict[str, Any]:
    """The on-target panel of one comparison of a screen grouping.

    Parameters
    ----------
    view
        The comparison.
    spec
        The grouping's screen entry.
    adata
        The dataset (read backed) when ``target_obs`` or ``target_var`` need it, else None.
    has_pvalues
        Whether the comparison has adjusted p-values (its data block knows; no second scan).

    Returns
    -------
    Per perturbation (every group but the control): its target gene, the target's log2 fold
    change, rank and adjusted p in the perturbation's own comparison, and whether it is
    significantly down; and the counts behind the fraction of perturbations whose target is
    significantly down. A ``note`` alone where the panel cannot be made.
    """
    groups = view.groups
    if not groups:
        return {"note": "No group has results: no on-target effects."}
    if not has_pvalues:
        return {"note": "This test reports no p-values (logreg): no on-target effects."}
    needs_data = spec.target_obs is not None or spec.target_var is not None
    if needs_data and adata is None:
        return {"note": "The data file was not given to the report: targets are unknown."}
    groupby = view.provenance.get("data", {}).get("groupby", view.grouping)
    target = targets(groups, spec, adata, groupby)
    mapping = pl.DataFrame(
        {"group": list(target), "gene": list(target.values())},
        schema={"group": pl.String, "gene": pl.String},
    )
    found = (
        view.table.join(mapping.lazy(), on=["group", "gene"])
        .filter(scored())  # a target a pre-filter left untested has no result
        .select(
            "group",
            "rank",
            fold_change().alias("lfc"),
            pl.col("pval_adj").cast(pl.Float64),
            direction().alias("direction"),
        )
        .collect()
    )
    by_group = {row["group"]: row for row in found.iter_rows(named=True)}
    tested = dict(zip(groups, view.scored_per_group, strict=True))
    index = {group: i for i, group in enumerate(groups)}
    perturbations = [group for group in groups if group != spec.control]
    rows = [by_group.get(group, {}) for group in perturbations]
    down = [
        row.get("pval_adj") is not None
        and row["pval_adj"] < SIGNIFICANT_P
        and row["direction"] is not None
        and row["direction"] < 0
        for row in rows
    ]
    return {
        "control": spec.control,
        "group": [index[group] for group in perturbations],
        "target": [target.get(group) for group in perturbations],
        "rank": [row.get("rank") for row in rows],
        "n_genes": [tested[group] for group in perturbations],
        "lfc": rounded([row.get("lfc") for row in rows]),
        "pval_adj": rounded([row.get("pval_adj") for row in rows]),
        "down": down,
        "n_perturbations": len(perturbations),
        "n_measured": sum(group in by_group for group in perturbations),
        "n_down": sum(down),
        "p": SIGNIFICANT_P,
        # with n_genes, a target outside each group's top genes is not in the table
        "kept_per_group": view.genes_per_group if view.is_truncated else None,
    }
