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

import anndata as ad
import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml

import rgg
from rgg import cli
from rgg.io.parquet import read_comparisons, write_results

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
def browser():
    """Debian's chromium, one per module (playwright's sync API runs once per thread)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(browser, screen_report: dict[str, Any]):
    events: dict[str, list[str]] = {"errors": [], "dialogs": [], "requests": []}
    tab = browser.new_page(viewport={"width": 1300, "height": 1000})
    tab.on("console", lambda m: events["errors"].append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda error: events["errors"].append(str(error)))
    tab.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    tab.on("request", lambda request: events["requests"].append(request.url))
    tab.goto(screen_report["report"].as_uri())
    tab.wait_for_load_state("load")
    yield tab, events
    tab.close()


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
    tab, events = page
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
    assert events["errors"] == []


@pytest.mark.browser
def test_gene_lookup_shows_a_gene_across_all_groups(page, screen_report) -> None:
    tab, events = page
    lookup = tab.locator("section.comparison [data-view='lookup']")
    perturbation = str(screen_report["adata"].obs["perturbation"].cat.categories[5])
    gene = perturbation.split("_g")[0]
    lookup.locator("input.gene-lookup").fill(gene.upper())  # case does not matter
    said = lookup.locator(".lookup-summary").inner_text()
    assert said.startswith(f"{gene}: among the 30 most up and 30 most down genes of "), said
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
    assert events["errors"] == []


@pytest.mark.browser
def test_on_target_panel(page, screen_report) -> None:
    tab, events = page
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
    assert events["errors"] == []


@pytest.mark.browser
def test_clustered_heatmap_names_what_the_pointer_is_on(page, screen_report) -> None:
    """The tooltip names the group and gene under the pointer and their value in the table."""
    tab, events = page
    canvas = tab.locator("section.comparison canvas.cluster-heatmap")
    box = canvas.bounding_box()
    assert box["width"] > 500
    assert box["height"] > 100
    canvas.hover(position={"x": box["width"] * 0.5, "y": 4 + 14 * 2.5})  # the third gene
    tip = tab.locator("section.comparison .tip")
    assert tip.is_visible()
    group, rest = tip.inner_text().split(" \u00b7 ")
    gene, value = rest.split(": ")
    heatmap = _block(screen_report["report"])["heatmap"]
    assert gene == heatmap["genes"][2]
    row = pl.read_parquet(screen_report["markers"]).filter(
        (pl.col("group") == group) & (pl.col("gene") == gene)
    )
    assert row.height == 1
    assert float(value) == pytest.approx(row["logfoldchange"][0], rel=5e-3, abs=1e-3)
    assert events["errors"] == []


@pytest.mark.browser
def test_significant_counts_are_the_tables(page, screen_report) -> None:
    tab, events = page
    view = tab.locator("section.comparison [data-view='significance']")
    first = view.locator("tbody tr").first.locator("td").all_inner_texts()
    group, up, down = first[0], int(first[2]), int(first[3])
    rows = pl.read_parquet(screen_report["markers"]).filter(
        (pl.col("group") == group) & (pl.col("pval_adj") < 0.05)
    )
    assert (up, down) == (
        rows.filter(pl.col("logfoldchange") > 0).height,
        rows.filter(pl.col("logfoldchange") < 0).height,
    )
    assert up + down > 0  # sorted by the total, largest first
    assert events["errors"] == []


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


def _report(tmp_path: Path, adata: ad.AnnData, groupby: str, *options: str, **kw: Any) -> Path:
    """rank -> collect (a screen grouping when ``control`` is given) -> report."""
    data = tmp_path / "data.h5ad"
    rgg.io.write_h5ad(adata, data)
    table, markers, report = (tmp_path / name for name in ("t.parquet", "m.parquet", "r.html"))
    argv = ["rank", str(data), "--groupby", groupby, "--dataset", "d", "--grouping", groupby]
    assert cli.main([*argv, "--test", "t", "--out", str(table), *options]) == 0
    if kw.get("resort"):  # rank-major: the groups' rows interleave, as a user's sort leaves them
        record = read_comparisons(table)[0]
        write_results(
            pl.read_parquet(table).sort("rank", maintain_order=True), table,
            params=record["params"], rgg_version=rgg.__version__,
            comparison={k: record[k] for k in ("dataset", "grouping", "test")},
            provenance=record["provenance"],
        )  # fmt: skip
    screen = {groupby: {"screen": {"control": kw["control"]}}} if "control" in kw else {}
    config = json.dumps({"groupings": screen})
    assert cli.main(["collect", str(table), "--out", str(markers), "--record-config", config]) == 0
    assert cli.main(["report", str(markers), "--out", str(report)]) == 0
    return report


def _block(report: Path) -> dict[str, Any]:
    html = report.read_text(encoding="utf-8")
    return json.loads(html.split('id="rgg-data">')[1].split("</script>")[0])["comparisons"]["cmp-1"]


@pytest.mark.browser
def test_infinite_values_reach_the_page_as_inf(tmp_path: Path, browser) -> None:
    """Counts where log values belong overflow expm1: an infinite fold change. JSON has no
    infinity; the block writes 'inf' and the page shows it (a bare Infinity would leave
    every view blank)."""
    rng = np.random.default_rng(0)
    x = rng.poisson(2, size=(60, 20)).astype(np.float32)
    x[:30, 0], x[30:, 0] = 800, 1
    labels = pd.Categorical(["a"] * 30 + ["b"] * 20 + ["c"] * 10)
    adata = ad.AnnData(x, obs=pd.DataFrame({"g": labels}, index=[f"c{i}" for i in range(60)]))
    report = _report(tmp_path, adata, "g")
    block = _block(report)
    assert "inf" in block["rows"]["logfoldchange"]
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(report.as_uri())
    lookup = tab.locator("[data-view='lookup']")
    lookup.locator("input.gene-lookup").fill(adata.var_names[0])
    cells = lookup.locator("tbody tr td:nth-child(5)").all_inner_texts()
    tab.close()
    assert errors == []
    assert "inf" in cells


def test_pre_filtered_genes_are_left_out_of_heatmap_and_lookup_ends(tmp_path: Path) -> None:
    """A pre-filter leaves genes untested (score NaN) and ranks them last: they are not the
    strongest genes of the heatmap, nor the 'most down' end of a group."""
    from rgg.report.data import comparison_views
    from rgg.report.detail import comparison_detail

    adata = rgg.datasets.synthetic()
    report = _report(tmp_path, adata, "cell_type", "--method", "wilcoxon", "--min-pct", "0.5")
    table = pl.read_parquet(tmp_path / "t.parquet")
    assert table["score"].is_nan().sum() > 0  # the pre-filter left genes out
    tested = table.filter(pl.col("score").is_not_nan())
    strongest = (
        tested.with_columns(strength=pl.col("score").abs())
        .sort("strength", descending=True)
        .group_by("group", maintain_order=True)
        .head(3)
    )
    assert set(_block(report)["heatmap"]["genes"]) == set(strongest["gene"])  # 15 < 40 genes
    (view,) = comparison_views(table, read_comparisons(tmp_path / "m.parquet"))
    lookup = comparison_detail(view, depth=5).lookup
    for group, rows in lookup.group_by("group"):
        last = tested.filter(pl.col("group") == group[0])["rank"].max()
        assert rows["rank"].to_list() == [1, 2, 3, 4, 5, *range(last - 4, last + 1)]
        assert rows["score"].is_nan().sum() == 0


def test_rows_of_a_group_need_not_be_together_in_the_file(tmp_path: Path) -> None:
    """A table sorted by rank (each group's rows interleaved) makes the same data block."""
    adata = rgg.datasets.synthetic()
    together = _block(_report(tmp_path / "a", adata, "cell_type"))
    apart = _block(_report(tmp_path / "b", adata, "cell_type", resort=True))
    assert sorted(apart["groups"]) == sorted(together["groups"])

    def labelled_rows(block: dict[str, Any]) -> list[tuple]:
        rows, ends = block["rows"], block["rows"]["group_ends"]
        out = []
        for group, start, end in zip(block["groups"], [0, *ends[:-1]], ends, strict=True):
            ranks = rows["rank"][start:end]
            assert ranks == sorted(ranks)  # a group's rows in rank order, whatever the file's
            out += [(group, rows["rank"][i], rows["gene"][i], rows["score"][i]) for i in
                    range(start, end)]  # fmt: skip
        return sorted(out)

    assert labelled_rows(apart) == labelled_rows(together)


@pytest.mark.browser
def test_on_target_with_n_genes_says_the_table_holds_only_the_top(tmp_path: Path, browser) -> None:
    """n_genes keeps each group's top genes: a knocked-down target is not in the table, and
    the panel and counts say so instead of reporting 'no ranked target'."""
    adata = rgg.datasets.screen()
    report = _report(
        tmp_path, adata, "perturbation", "--reference", "non-targeting", "--n-genes", "20",
        control="non-targeting",
    )  # fmt: skip
    block = _block(report)
    assert block["truncated"] is True
    assert block["on_target"]["kept_per_group"] == 20
    assert "of the 20 genes each group keeps (n_genes)" in block["ends"]
    tab = browser.new_page()
    tab.goto(report.as_uri())
    summary = tab.locator(".on-target-summary").inner_text()
    counted = tab.locator("[data-view='significance'] p.note").inner_text()
    tab.close()
    assert "n_genes keeps each group's top 20 genes only" in summary
    assert "Counted among the 20 genes each group keeps (n_genes)" in counted
