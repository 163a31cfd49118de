"""The report at screen scale, in a real browser: 2,000 perturbations against a control.

The page must stay small and draw its views from the embedded data block: paged top hits,
significant genes per group, the gene lookup, the clustered heatmap and the on-target panel,
with hostile perturbation labels shown as text. The screen example config runs end to end
through the workflow. (Build time and size at 20,000 genes: benchmarks/report_scale.py.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import yaml

import rgg
from rgg import cli

from .test_report import _chromium
from .test_workflow import REPO, snakemake

N_PERTURBATIONS = 2_000
SCRIPT_LABEL = "<script>alert(1)</script>"
IMG_LABEL = '"><img src=x onerror=alert(2)>'


@pytest.fixture(scope="module")
def screen_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """rank (vs the control) -> collect (with a screen grouping) -> report, 2,000 groups."""
    workdir = tmp_path_factory.mktemp("many_groups")
    adata = rgg.datasets.make_screen(
        n_targets=N_PERTURBATIONS // 4, guides=4, cells_per_perturbation=8, n_control=400,
        n_genes=600,
    )  # fmt: skip
    # two labels users could not have meant as code (and that name no target)
    renamed = {adata.obs["perturbation"].cat.categories[i]: label for i, label in
               ((1, SCRIPT_LABEL), (2, IMG_LABEL))}  # fmt: skip
    adata.obs["perturbation"] = adata.obs["perturbation"].cat.rename_categories(renamed)
    data = workdir / "screen.h5ad"
    rgg.io.write_h5ad(adata, data)
    table = workdir / "wilcoxon.parquet"
    argv = ["rank", str(data), "--groupby", "perturbation", "--reference", "non-targeting"]
    argv += ["--method", "wilcoxon", "--pts", "--dataset", "screen", "--grouping", "perturbation"]
    argv += ["--test", "wilcoxon", "--out", str(table)]
    assert cli.main(argv) == 0
    markers = workdir / "markers.parquet"
    config = {
        "datasets": {"screen": {"path": str(data)}},
        "groupings": {
            "perturbation": {
                "screen": {"control": "non-targeting", "target_pattern": r"^(.+)_g\d+$"}
            }
        },
    }
    argv = ["collect", str(table), "--out", str(markers), "--record-config", json.dumps(config)]
    assert cli.main(argv) == 0
    report = workdir / "report.html"
    argv = ["report", str(markers), "--dataset", f"screen={data}", "--out", str(report)]
    assert cli.main(argv) == 0
    return {"adata": adata, "report": report, "markers": markers}


@pytest.fixture(scope="module")
def page(screen_report: dict[str, Any]):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
    events: dict[str, list[str]] = {"errors": [], "dialogs": [], "requests": []}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": 1300, "height": 1000})
        tab.on("console", lambda m: events["errors"].append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda error: events["errors"].append(str(error)))
        tab.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
        tab.on("request", lambda request: events["requests"].append(request.url))
        tab.goto(screen_report["report"].as_uri())
        tab.wait_for_load_state("load")
        yield tab, events
        browser.close()


def _status(view: Any) -> str:
    return view.locator(".pager .status").first.inner_text().strip()


def test_report_stays_small_and_embeds_no_figure_per_group(screen_report) -> None:
    html = screen_report["report"].read_text(encoding="utf-8")
    assert len(html.encode()) < 6_000_000  # the issue allows 15 MB at 20,000 genes
    assert html.count("data:image/png") <= 3  # significance bars and one grid of volcanoes
    assert html.count("<tr") < 500  # the per-group tables are drawn by the page, not the file


@pytest.mark.browser
def test_views_draw_without_errors_or_network(page) -> None:
    tab, events = page
    assert events["errors"] == []
    assert events["dialogs"] == []  # no hostile label ran
    assert all(url.startswith(("file:", "data:")) for url in events["requests"])
    section = tab.locator("section.comparison")
    assert section.count() == 1
    top = section.locator("[data-view='top-hits']")
    assert _status(top) == f"rows 1\u201325 of {N_PERTURBATIONS * 10:,}"  # top 10 of each
    significance = section.locator("[data-view='significance']")
    assert _status(significance) == f"rows 1\u201325 of {N_PERTURBATIONS:,}"
    assert section.locator("figure.volcano img").count() == 1
    assert "the 12 of 2,000 groups" in section.locator("figure.volcano").inner_text()
    assert tab.locator("img[src='x']").count() == 0


@pytest.mark.browser
def test_top_hits_search_and_paging(page) -> None:
    tab, _ = page
    top = tab.locator("section.comparison [data-view='top-hits']")
    top.locator("button.next").click()
    assert _status(top).startswith("rows 26\u201350 of")
    search = top.locator("input.paged-search")
    search.fill(SCRIPT_LABEL)
    rows = top.locator("tbody tr")
    assert rows.count() == 10
    assert all(row.startswith(SCRIPT_LABEL) for row in rows.all_inner_texts())
    search.fill("")
    assert _status(top) == f"rows 1\u201325 of {N_PERTURBATIONS * 10:,}"


@pytest.mark.browser
def test_gene_lookup_shows_a_gene_across_all_groups(page, screen_report) -> None:
    tab, _ = page
    lookup = tab.locator("section.comparison [data-view='lookup']")
    perturbation = str(screen_report["adata"].obs["perturbation"].cat.categories[5])
    gene = perturbation.split("_g")[0]
    lookup.locator("input.gene-lookup").fill(gene.upper())  # case does not matter
    said = lookup.locator(".lookup-summary").inner_text()
    assert said.startswith(f"{gene}: among the 30 most up or down genes of "), said
    assert said.endswith("of 2,000 groups (the other groups rank it in between).")
    ranked = pl.read_parquet(screen_report["markers"]).filter(pl.col("gene") == gene)
    ends = ranked.filter((pl.col("rank") <= 30) | (pl.col("rank") > 600 - 30))
    assert _status(lookup).endswith(f"of {ends.height:,}")
    assert f"genes of {ends.height:,} of 2,000 groups" in said
    table = lookup.locator("table.lookup-table")
    assert set(table.locator("tbody tr td:nth-child(3)").all_inner_texts()) == {gene}
    table.locator("th", has_text="log2 fold change").click()  # numbers: largest first
    table.locator("th", has_text="log2 fold change").click()
    first = table.locator("tbody tr").first.locator("td").all_inner_texts()
    most_down = ends.sort("logfoldchange").row(0, named=True)
    assert first[0] == most_down["group"]
    lookup.locator("input.gene-lookup").fill(gene[:-1])  # not a gene: suggestions
    assert lookup.locator("button.suggestion").count() >= 1
    lookup.locator("button.suggestion", has_text=gene).click()
    assert lookup.locator("input.gene-lookup").input_value() == gene


@pytest.mark.browser
def test_on_target_panel(page, screen_report) -> None:
    tab, _ = page
    panel = tab.locator("section.comparison [data-view='on-target']")
    summary = panel.locator(".on-target-summary").inner_text()
    found = re.search(r"([\d,]+) of ([\d,]+) perturbations whose target was ranked", summary)
    assert found, summary
    n_down, n_measured = (int(x.replace(",", "")) for x in found.groups())
    # make_screen: every fourth perturbation fails; four guides target an unmeasured gene,
    # and the two hostile labels name no target
    assert n_measured == N_PERTURBATIONS - 6
    assert f"6 of {N_PERTURBATIONS:,} perturbations have no ranked target gene" in summary
    table = pl.read_parquet(screen_report["markers"]).with_columns(
        target=pl.col("group").str.extract(r"^(.+)_g\d+$")
    )
    own = table.filter(pl.col("gene") == pl.col("target"))
    assert own.height == n_measured
    expected = own.filter((pl.col("pval_adj") < 0.05) & (pl.col("logfoldchange") < 0)).height
    assert n_down == expected > 100
    assert _status(panel) == f"rows 1\u201325 of {N_PERTURBATIONS:,}"
    first = panel.locator("tbody tr").first.locator("td").all_inner_texts()
    assert first[-1] == "yes"  # sorted by the target's log2 fold change, most down first
    assert float(first[3]) < 0


@pytest.mark.browser
def test_clustered_heatmap_names_what_the_pointer_is_on(page) -> None:
    tab, _ = page
    canvas = tab.locator("section.comparison canvas.cluster-heatmap")
    box = canvas.bounding_box()
    assert box["width"] > 500
    assert box["height"] > 100
    canvas.hover(position={"x": box["width"] * 0.5, "y": 10})
    tip = tab.locator("section.comparison .tip")
    assert tip.is_visible()
    assert " \u00b7 " in tip.inner_text()


def test_screen_example_runs_end_to_end(tmp_path: Path) -> None:
    """config/examples/screen.yaml through the workflow: the report has the on-target panel
    and its numbers are those of the table."""
    config = yaml.safe_load((REPO / "config" / "examples" / "screen.yaml").read_text())
    config["datasets"]["screen"]["path"] = str(rgg.datasets.screen_path())
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(tmp_path, "--cores", "2", "--quiet")
    html = (tmp_path / "reports" / "rgg_report.html").read_text(encoding="utf-8")
    block = json.loads(html.split('id="rgg-data">')[1].split("</script>")[0])
    assert len(block["comparisons"]) == 2
    table = pl.read_parquet(tmp_path / "results" / "markers.parquet")
    for comparison in block["comparisons"].values():
        on_target = comparison["on_target"]
        assert on_target["n_perturbations"] == 40
        assert on_target["n_measured"] == 39  # OFFTARGET is not a gene
        test = comparison["comparison"][2]
        own = table.filter((pl.col("test") == test) & (pl.col("group") == pl.col("gene"))).sort(
            "group"
        )
        expected = int(((own["pval_adj"] < 0.05) & (own["logfoldchange"] < 0)).sum())
        assert on_target["n_down"] == expected > 20
        assert np.isclose(
            on_target["lfc"][on_target["target"].index(own["gene"][0])],
            own["logfoldchange"][0],
            rtol=5e-3,  # the page keeps three significant digits
        )


def test_targets_from_labels_a_pattern_obs_and_var() -> None:
    """Each way of naming a perturbation's target: its label, a pattern, an obs column, and
    a var column of the names the targets use."""
    import anndata as ad
    import pandas as pd

    from rgg.report.screen import ScreenSpec, targets

    labels = ["ctrl", "STAT1_g1", "STAT1_g2", "IRF1_g1", "odd"]
    cells = pd.DataFrame(
        {
            "guide": [*labels, "STAT1_g1"],
            "target": ["ctrl", "STAT1", "STAT1", "IRF1", "IRF1", "STAT2"],  # one stray cell
        }
    )
    var = pd.DataFrame({"symbol": ["STAT1", "IRF1"]}, index=["ENSG1", "ENSG2"])
    adata = ad.AnnData(obs=cells, var=var)
    assert targets(labels, ScreenSpec("ctrl"), None, "guide") == {
        label: label for label in labels[1:]
    }
    by_pattern = targets(labels, ScreenSpec("ctrl", target_pattern=r"^(.+)_g\d+$"), None, "guide")
    assert by_pattern == {"STAT1_g1": "STAT1", "STAT1_g2": "STAT1", "IRF1_g1": "IRF1"}
    by_obs = targets(labels, ScreenSpec("ctrl", target_obs="target"), adata, "guide")
    assert by_obs == {"STAT1_g1": "STAT1", "STAT1_g2": "STAT1", "IRF1_g1": "IRF1", "odd": "IRF1"}
    by_var = targets(
        labels, ScreenSpec("ctrl", target_obs="target", target_var="symbol"), adata, "guide"
    )
    assert by_var["STAT1_g2"] == "ENSG1"
    assert by_var["odd"] == "ENSG2"
