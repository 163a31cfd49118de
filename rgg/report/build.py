"""Assemble the HTML report from the combined table, provenance records, data and benchmarks."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from .._errors import did_you_mean
from .._version import __version__
from ..io import atomic_path, read_comparisons, read_provenance, scan_results
from ..io.h5ad import read_h5ad
from ..io.provenance import now, provenance_record, sha256_file
from . import plots
from .agreement import method_agreement
from .data import (
    ComparisonView,
    benchmark_records,
    comparison_views,
    fold_change,
    group_expression,
    pseudobulk_views,
    sample_counts,
)
from .detail import (
    Detail,
    GeneNames,
    comparison_detail,
    encode,
    ends_phrase,
    lookup_depth,
    volcano_groups,
)
from .screen import on_target, screen_specs


def build_report(
    markers: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    datasets: Mapping[str, str | os.PathLike[str]],
    benchmarks: str | os.PathLike[str] | None = None,
    top_n: int = 10,
    title: str = "rgg marker genes",
    command: list[str] | None = None,
    pseudobulk: str | os.PathLike[str] | None = None,
) -> None:
    """Write one self-contained HTML report to ``out`` (atomically).

    Parameters
    ----------
    markers
        The combined table written by ``rgg collect`` (its metadata holds every comparison's
        parameters and provenance, and the resolved workflow config, whose groupings with a
        ``screen`` entry get an on-target panel). It is read a query at a time, never whole.
    out
        The HTML file to write.
    datasets
        Dataset name -> h5ad path, for the dot plots and heatmaps (mean values and fractions of
        the top genes in each group are computed from the tested matrix).
    benchmarks
        Folder of Snakemake's benchmark files, for the run facts.
    top_n
        Genes per group in the tables and plots.
    pseudobulk
        The combined pseudobulk table (``rgg collect`` of ``rgg pseudobulk`` tables), shown in
        its own section and in the agreement of methods.
    """

    started = now()
    table = scan_results(markers, kind="markers")
    records = read_comparisons(markers)
    run_provenance = read_provenance(markers)
    views = comparison_views(table, records)
    bulk_views = []
    if pseudobulk is not None:
        bulk_table = scan_results(pseudobulk, kind="pseudobulk")
        bulk_views = pseudobulk_views(bulk_table, read_comparisons(pseudobulk))
    _check_datasets(datasets, views + bulk_views)
    loaded = {
        name: read_h5ad(path, backed=True) for name, path in datasets.items() if _used(name, views)
    }
    screens = screen_specs(run_provenance.get("config") or {})
    names = GeneNames()
    sections, blocks = [], {}
    for view in views:
        depth = lookup_depth(len(view.groups), view.genes_per_group, len(views), top_n)
        detail = comparison_detail(view, depth)
        blocks[view.anchor] = encode(view, detail, names, top_n)
        screen = screens.get(view.grouping)
        sections.append(_comparison_section(view, detail, loaded.get(view.dataset), top_n))
        if screen is not None:
            blocks[view.anchor]["on_target"] = on_target(
                view, screen, loaded.get(view.dataset), has_pvalues="pval_adj" in detail.columns
            )
            sections[-1]["on_target"] = True
    bulk_sections = [_pseudobulk_section(view, top_n) for view in bulk_views]
    report_provenance = provenance_record(
        command=command or ["rgg", "report"],
        inputs=[
            markers,
            *([pseudobulk] if pseudobulk else []),
            *(datasets[name] for name in loaded),
        ],
        started=started,
        params={"top_n": top_n},
    )
    context = {
        "title": title,
        "generated": report_provenance["finished"],
        "rgg_version": __version__,
        "datasets": _dataset_rows(views + bulk_views, datasets),
        "groupings": _grouping_rows(views + bulk_views),
        "tests": _test_rows(views + bulk_views),
        "comparisons": views,
        "sections": sections,
        "pseudobulk_sections": bulk_sections,
        "agreements": method_agreement(views + bulk_views, top_n),
        "benchmarks": (
            _current_jobs(benchmark_records(benchmarks), views, bulk_views) if benchmarks else []
        ),
        "config_yaml": yaml.safe_dump(run_provenance.get("config") or {}, sort_keys=False),
        "run": run_provenance,
        "report": report_provenance,
        "records_json": _script_json(
            {
                "run": run_provenance,
                "report": report_provenance,
                "comparisons": {v.anchor: v.provenance for v in views + bulk_views},
            }
        ),
        "data_json": _script_json({"genes": names.names, "comparisons": blocks}, for_the_page=True),
        "script": _page_script(),
        "top_n": top_n,
        "many_groups": plots.FIGURE_GROUPS,
    }
    html = _environment().get_template("report.html.j2").render(**context)
    with atomic_path(out) as temporary:
        Path(temporary).write_text(html, encoding="utf-8")


#: Parameters that belong to the dataset entry or the grouping, not to the test.
DATASET_KEYS = frozenset({"groupby", "layer", "use_raw"})


def _current_jobs(
    records: list[dict[str, Any]],
    views: list[ComparisonView],
    bulk_views: Sequence[ComparisonView] = (),
) -> list[dict[str, Any]]:
    """Benchmark records of this run's jobs; files of earlier configs may share the folder."""
    jobs = {"collect"}
    for view in views:
        jobs |= {f"rank/{view.dataset}/{view.grouping}/{view.test}", f"annotate/{view.dataset}"}
    for view in bulk_views:
        jobs |= {f"pseudobulk/{view.dataset}/{view.grouping}/{view.test}", "collect_pseudobulk"}
    return [record for record in records if record["job"] in jobs]


def _pseudobulk_section(view: ComparisonView, top_n: int) -> dict[str, Any]:
    groups = volcano_groups(view.groups, None)
    return {
        "view": view,
        "rows": view.top(top_n).to_dicts(),
        "samples": sample_counts(view),
        "volcano": (plots.volcano_grid(_rows_of(view, groups), groups) if groups else None),
        "volcano_note": _volcano_note(groups, view.groups, "listed first"),
        "note": "" if groups else "No group had enough samples on both sides to be tested.",
    }


def _check_datasets(datasets: Mapping[str, str | os.PathLike[str]], views: list[Any]) -> None:
    """Refuse a dataset the tables do not name, or a file that is not there."""
    named = sorted({view.dataset for view in views})
    for name, path in datasets.items():
        if name not in named:
            msg = (
                f"dataset {name!r} (given as {name}={path}) has no comparison in the tables."
                f"{did_you_mean(name, named)} Their datasets: {named or 'none'}."
            )
            raise ValueError(msg)
        if not Path(path).is_file():
            msg = f"dataset {name!r}: no such file {str(path)!r}."
            raise FileNotFoundError(msg)


def _used(name: str, views: list[ComparisonView]) -> bool:
    return any(view.dataset == name for view in views)


def _environment() -> Any:
    import jinja2

    templates = files(__package__) / "templates"
    environment = jinja2.Environment(
        loader=jinja2.FunctionLoader(lambda name: (templates / name).read_text(encoding="utf-8")),
        autoescape=True,  # gene names, labels and dataset names are untrusted text
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["num"] = _format_number
    return environment


def _format_number(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; empty for null and NaN."""
    if value is None:
        return ""
    number = float(value)
    return "" if number != number else f"{number:.{digits}g}"


def _script_json(value: Any, *, for_the_page: bool = False) -> str:
    """JSON safe inside <script type="application/json">: no '</script>' can close it.

    ``for_the_page``: the page's script parses it, and JSON.parse refuses NaN and Infinity
    (the data block writes them as null and 'inf'): a stray one fails the build here
    instead of leaving every view of the page blank.
    """
    text = json.dumps(value, sort_keys=True, default=str, allow_nan=not for_the_page)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _comparison_section(
    view: ComparisonView, detail: Detail, adata: Any, top_n: int
) -> dict[str, Any]:
    """Figures of one comparison; its tables are drawn by the page from the data block."""
    groups = view.groups
    section: dict[str, Any] = {
        "view": view,
        "n_groups": len(groups),
        "has_pvalues": detail.significance is not None,
        "depth": detail.depth,
        "complete": 2 * detail.depth >= view.genes_per_group,
        "ends": ends_phrase(view, detail.depth),
        "heatmap_value": (detail.heatmap or {}).get("value"),
        "on_target": False,
        "significance_plot": None,
        "dot_plot": None,
        "heatmap": None,
        "volcano": None,
        "volcano_note": "",
        "note": "",
    }
    if not groups:
        section["note"] = "No group has results (n_genes may be 0)."
        return section
    if detail.significance is not None:
        section["significance_plot"] = plots.significance_bars(detail.significance)
        chosen = detail.volcano_groups
        section["volcano"] = plots.volcano_grid(_rows_of(view, chosen), chosen)
        section["volcano_note"] = _volcano_note(chosen, groups, "with the most significant genes")
    data = view.provenance.get("data", {})
    if len(groups) > plots.FIGURE_GROUPS:
        section["note"] = (
            f"{len(groups):,} groups: the dot plot and heatmap of group means (one row per "
            "group) are left out; the clustered heatmap and the gene lookup show every group."
        )
        return section
    if adata is None or "tested_matrix" not in data:
        section["note"] = "The data file was not given to the report: no dot plot or heatmap."
        return section
    _check_dataset_fits(view, adata, data)
    genes = list(dict.fromkeys(view.top(min(top_n, 5))["gene"].to_list()))
    means, fractions = group_expression(adata, data, genes)
    shown = [group for group in groups if group in means.index]
    section["dot_plot"] = plots.dot_plot(means, fractions, shown)
    section["heatmap"] = plots.heatmap(means, shown)
    section["heatmap_z"] = len(shown) >= plots.MIN_GROUPS_FOR_Z
    return section


def _rows_of(view: ComparisonView, groups: Sequence[str]) -> pl.DataFrame:
    """The rows of ``groups`` (for their volcano plots), fold change named ``logfoldchange``."""
    rows = view.table.filter(pl.col("group").is_in(list(groups)))
    fields = ["group", "gene", fold_change().alias("logfoldchange"), "pval_adj"]
    return rows.select(fields).collect()


def _volcano_note(shown: Sequence[str], groups: Sequence[str], chosen_by: str = "") -> str:
    if len(shown) == len(groups):
        return ""
    return f"the {len(shown)} of {len(groups):,} groups {chosen_by}".strip()


def _page_script() -> str:
    """The page's own script, inlined (the content security policy allows nothing else)."""
    return (files(__package__) / "templates" / "report.js").read_text(encoding="utf-8")


def _check_dataset_fits(view: ComparisonView, adata: Any, data: Mapping[str, Any]) -> None:
    """Refuse a dataset file that lacks what the comparison was computed on."""
    groupby, layer = data.get("groupby"), data.get("layer")
    missing = None
    if groupby not in adata.obs:
        missing = f"obs column {groupby!r}"
    elif layer is not None and layer not in adata.layers:
        missing = f"layer {layer!r}"
    elif data["tested_matrix"] == "raw.X" and adata.raw is None:
        missing = "adata.raw"
    if missing is not None:
        msg = (
            f"dataset {view.dataset!r} ({adata.filename or 'in memory'}) has no {missing} that "
            f"{view.grouping}/{view.test} was computed on; is it the file the results came from?"
        )
        raise ValueError(msg)


def _dataset_rows(views: list[ComparisonView], paths: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for view in views:
        data = view.provenance.get("data", {})
        inputs = view.provenance.get("inputs", [{}])
        row = rows.setdefault(
            view.dataset,
            {
                "name": view.dataset,
                "path": str(paths.get(view.dataset, inputs[0].get("path", ""))),
                "n_obs": data.get("n_obs"),
                "n_vars": data.get("n_vars"),
                "tested": set(),
                "sha256": inputs[0].get("sha256", ""),
                "bytes": inputs[0].get("bytes"),
            },
        )
        if data.get("tested_matrix"):
            row["tested"].add(f"{data['tested_matrix']} ({data.get('matrix_type', '?')})")
    for name, row in rows.items():
        row["tested"] = sorted(row["tested"])
        path = paths.get(name)
        row["sha256_now"] = sha256_file(path) if path and Path(path).is_file() else None
    return list(rows.values())


def _grouping_rows(views: list[ComparisonView]) -> list[dict[str, Any]]:
    rows = {}
    for view in views:
        data = view.provenance.get("data", {})
        rows.setdefault(
            (view.dataset, view.grouping),
            {
                "dataset": view.dataset,
                "grouping": view.grouping,
                "column": data.get("groupby", view.params.get("groupby", "")),
                "sizes": data.get("group_sizes", {}),
            },
        )
    return list(rows.values())


def _test_rows(views: list[ComparisonView]) -> list[dict[str, Any]]:
    """Each test's parameters: those that differ from the defaults, and the defaults apart."""
    from ..workflow.tests_config import TEST_DEFAULTS

    rows = {}
    for view in views:
        params = {k: v for k, v in view.params.items() if k not in DATASET_KEYS}
        unset = object()
        chosen = {k: v for k, v in params.items() if TEST_DEFAULTS.get(k, unset) != v}
        defaults = {k: v for k, v in params.items() if k not in chosen}
        rows.setdefault(
            view.test,
            {
                "test": view.test,
                "params": _plain_params(chosen) or "the defaults",
                "defaults": _plain_params(defaults),
            },
        )
    return list(rows.values())


def _plain_params(params: Mapping[str, Any]) -> str:
    """``key: value`` pairs as a config file writes them (YAML flow style, one line)."""
    if not params:
        return ""
    return yaml.safe_dump(
        dict(sorted(params.items())), default_flow_style=True, width=1_000_000
    ).strip()[1:-1]
