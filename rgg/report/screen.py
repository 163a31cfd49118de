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

from .data import ComparisonView
from .detail import SIGNIFICANT_P, _rounded


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
    """Each perturbation's target gene, as the result table names genes (the control and
    labels the pattern does not match have none)."""
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


def on_target(view: ComparisonView, spec: ScreenSpec, adata: Any) -> dict[str, Any]:
    """Per perturbation: its target's log2 fold change, rank and adjusted p in its own
    comparison, and the fraction of perturbations whose target is significantly down."""
    groups = view.groups
    if not view.columns_with_values(["pval_adj"]):
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
    columns = view.table.collect_schema()
    fold = "logfoldchange" if "logfoldchange" in columns else "log2_fold_change"
    found = (
        view.table.join(mapping.lazy(), on=["group", "gene"])
        .select(
            "group",
            "rank",
            pl.col(fold).cast(pl.Float64).alias("lfc"),
            pl.col("pval_adj").cast(pl.Float64),
        )
        .collect()
    )
    by_group = {row["group"]: row for row in found.iter_rows(named=True)}
    n_rows = dict(zip(view.groups, view.rows_per_group, strict=True))
    index = {group: i for i, group in enumerate(groups)}
    perturbations = [group for group in groups if group != spec.control]
    rows = [by_group.get(group, {}) for group in perturbations]
    lfc = [row.get("lfc") for row in rows]
    padj = [row.get("pval_adj") for row in rows]
    down = [
        p is not None and f is not None and p < SIGNIFICANT_P and f < 0
        for p, f in zip(padj, lfc, strict=True)
    ]
    measured = sum(group in by_group for group in perturbations)
    return {
        "control": spec.control,
        "group": [index[group] for group in perturbations],
        "target": [target.get(group) for group in perturbations],
        "rank": [row.get("rank") for row in rows],
        "n_genes": [n_rows[group] for group in perturbations],
        "lfc": _rounded(pl.Series(lfc, dtype=pl.Float64)),
        "pval_adj": _rounded(pl.Series(padj, dtype=pl.Float64)),
        "down": down,
        "n_perturbations": len(perturbations),
        "n_measured": measured,
        "n_down": sum(down),
        "p": SIGNIFICANT_P,
    }
