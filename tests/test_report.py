"""The HTML report and provenance records, checked in a real headless browser (Debian's chromium).

The data are the bundled synthetic set with hostile text where users' text goes: group labels
``<script>alert(1)</script>`` and ``"><img src=x onerror=alert(2)>``, gene names with HTML, and
a dataset name with a script tag. They must render as text.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pytest

import rgg
from rgg import cli
from rgg.io import read_provenance

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
SCRIPT_LABEL = "<script>alert(1)</script>"
IMG_LABEL = '"><img src=x onerror=alert(2)>'
HOSTILE_GENE = "<b onmouseover=alert(4)>GENE</b>"
DATASET = "<script>alert(3)</script>"
MATH_LABEL = r"costs $5 or a$\x$"  # matplotlib would read $...$ as mathtext


def _chromium() -> str:
    """Debian's chromium; installed with apt-get when missing and allowed (root), else fail."""
    import fcntl

    found = shutil.which("chromium")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        # pytest-xdist workers may get here together; one installs, the other waits
        with open("/tmp/rgg-chromium-install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if shutil.which("chromium") is None:
                subprocess.run(
                    ["apt-get", "install", "-y", "-q", "chromium"],
                    env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                    capture_output=True,
                    check=False,
                    timeout=900,
                )
        found = shutil.which("chromium")
    if found is None:
        pytest.fail("the report tests need Debian's chromium: run `apt-get install chromium`")
    return found


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """rank (two tests) -> collect -> annotate -> report on data with hostile labels."""
    workdir = tmp_path_factory.mktemp("report")
    adata = rgg.datasets.synthetic()
    adata.obs["cell_type"] = adata.obs["cell_type"].cat.rename_categories(
        {"B cell": SCRIPT_LABEL, "NK": IMG_LABEL, "DC": MATH_LABEL}
    )
    probe = adata.copy()
    rgg.rank_genes_groups(probe, "cell_type", method="t-test")
    top_gene = probe.uns["rank_genes_groups"]["names"]["Mono/Macro"][0]  # shown in the report
    names = adata.var_names.to_list()
    names[names.index(top_gene)] = HOSTILE_GENE
    adata.var_names = names
    data = workdir / "hostile.h5ad"
    rgg.io.write_h5ad(adata, data)
    tables, uns = [], []
    for test, options in (
        ("wilcoxon", ["--method", "wilcoxon", "--pts", "--tie-correct", "--auroc"]),
        ("ttest", ["--method", "t-test", "--pts"]),
    ):
        tables.append(workdir / f"{test}.parquet")
        uns.append(workdir / f"{test}.uns.h5ad")
        argv = ["rank", str(data), "--groupby", "cell_type", "--dataset", DATASET]
        argv += ["--grouping", "types", "--test", test, "--key-added", f"rgg_{test}"]
        argv += ["--out", str(tables[-1]), "--uns-out", str(uns[-1]), *options]
        argv += ["--record-config", json.dumps({"test_entry": {"method": options[1]}})]
        assert cli.main(argv) == 0
    markers = workdir / "markers.parquet"
    config = {"datasets": {DATASET: {"path": str(data)}}, "note": SCRIPT_LABEL}
    argv = [
        "collect",
        *map(str, tables),
        "--out",
        str(markers),
        "--record-config",
        json.dumps(config),
    ]
    assert cli.main(argv) == 0
    annotated = workdir / "annotated.h5ad"
    assert cli.main(["annotate", str(data), *map(str, uns), "--out", str(annotated)]) == 0
    benchmarks = workdir / "benchmarks" / "rank"
    benchmarks.mkdir(parents=True)
    (benchmarks / "ttest.tsv").write_text("s\th:m:s\tmax_rss\tcpu_time\n1.5\t0:00:01\t321.5\t1.2\n")
    report = workdir / "report.html"
    argv = ["report", str(markers), "--dataset", f"{DATASET}={data}", "--out", str(report)]
    argv += ["--benchmarks", str(workdir / "benchmarks"), "--top-n", "5"]
    assert cli.main(argv) == 0
    return {
        "data": data,
        "tables": tables,
        "markers": markers,
        "annotated": annotated,
        "report": report,
    }


@pytest.fixture(scope="module")
def browser_page(hostile_run: dict[str, Any]):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is a test dependency")
    events: dict[str, list[str]] = {"console": [], "dialogs": [], "requests": []}
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1300, "height": 1000})
        page.on(
            "console", lambda m: events["console"].append(m.text) if m.type == "error" else None
        )
        page.on("pageerror", lambda error: events["console"].append(str(error)))
        page.on(
            "dialog", lambda dialog: (events["dialogs"].append(dialog.message), dialog.dismiss())
        )
        page.on("request", lambda request: events["requests"].append(request.url))
        page.goto(hostile_run["report"].as_uri())
        page.wait_for_load_state("load")
        yield page, events
        browser.close()


@pytest.mark.browser
def test_report_renders_without_errors_or_network(browser_page) -> None:
    page, events = browser_page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
    assert events["console"] == []
    assert events["dialogs"] == []  # no injected alert() ran
    assert all(url.startswith(("file:", "data:")) for url in events["requests"]), events["requests"]
    for section in ("overview", "agreement", "run-facts", "provenance"):
        assert page.locator(f"section#{section}").count() == 1
    assert page.locator("section.comparison").count() == 2
    for kind in ("dot-plot", "heatmap", "volcano", "significance-plot"):  # one per comparison
        assert page.locator(f"section.comparison figure.{kind} img").count() == 2
    widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")
    assert all(width > 100 for width in widths)
    sources = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.getAttribute('src'))")
    assert all(src.startswith("data:image/png;base64,") for src in sources)


@pytest.mark.browser
def test_hostile_text_renders_as_text(browser_page) -> None:
    page, _ = browser_page
    text = page.inner_text("body")
    for hostile in (SCRIPT_LABEL, IMG_LABEL, DATASET, HOSTILE_GENE, MATH_LABEL):
        assert hostile in text
    # the provenance JSON, the data block and the report's own code
    assert page.locator("script").count() == 3
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("b[onmouseover]").count() == 0
    embedded = json.loads(page.locator("script#rgg-provenance").text_content())
    assert embedded["run"]["config"]["note"] == SCRIPT_LABEL


@pytest.mark.browser
def test_top_hits_sort_filter_and_page(browser_page) -> None:
    """The top hits of a comparison: drawn from the data block, sortable by any column,
    filtered by text and paged."""
    page, _ = browser_page
    view = page.locator("section.comparison").first.locator("[data-view='top-hits']")
    table = view.locator("table.top-hits-table")
    assert table.locator("th", has_text="AUROC").count() == 1  # wilcoxon ran with --auroc
    header = table.locator("th", has_text="score")

    def scores() -> list[float]:
        cells = table.locator("tbody tr td:nth-child(4)")
        return [float(value) for value in cells.evaluate_all("cs => cs.map(c => c.dataset.value)")]

    header.click()
    assert scores() == sorted(scores(), reverse=True)  # numbers sort largest first
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    assert scores() == sorted(scores())
    assert header.get_attribute("aria-sort") == "ascending"

    status = view.locator(".pager .status")
    assert status.inner_text().strip() == "rows 1\u201325 of 25"  # 5 groups x top 5
    search = view.locator("input.paged-search")
    search.fill("mono/macro")
    rows = table.locator("tbody tr")
    assert rows.count() == 5  # top 5 of that group
    assert all("Mono/Macro" in row for row in rows.all_inner_texts())
    search.fill(HOSTILE_GENE[:8])  # a gene name with HTML is text, and found as text
    assert rows.count() == 1
    assert HOSTILE_GENE in rows.first.inner_text()
    search.fill("")
    assert rows.count() == 25


def test_provenance_in_parquet_and_h5ad(hostile_run: dict[str, Any]) -> None:
    data = hostile_run["data"]
    record = read_provenance(hostile_run["tables"][0])
    expected_sha = hashlib.sha256(data.read_bytes()).hexdigest()
    assert record["inputs"] == [
        {"path": str(data), "bytes": data.stat().st_size, "sha256": expected_sha}
    ]
    assert record["command"][:3] == ["rgg", "rank", str(data)]
    assert record["params"]["method"] == "wilcoxon"
    assert record["config"]["test"] == "wilcoxon"
    assert record["config"]["dataset"] == DATASET
    assert record["rgg"]["version"] == rgg.__version__
    for package in ("numpy", "anndata", "numba", "scipy", "polars", "scikit-learn"):
        assert record["dependencies"][package] == metadata.version(package)
    assert record["python"]["version"] == platform.python_version()
    assert record["platform"]["machine"] == platform.machine()
    assert record["host"]
    assert record["started"] <= record["finished"]
    assert record["data"]["n_obs"] == 600
    assert record["data"]["tested_matrix"] == "X"
    assert record["data"]["group_sizes"][SCRIPT_LABEL] == 150
    if (REPO / ".git").exists():
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert record["rgg"]["git_commit"] == head
        assert isinstance(record["rgg"]["git_dirty"], bool)

    annotated = ad.read_h5ad(hostile_run["annotated"])
    stored = annotated.uns["rgg_provenance"]
    assert json.loads(stored["rgg_wilcoxon"]) == record
    assert json.loads(stored["annotate"])["inputs"][0]["sha256"] == expected_sha
    combined = read_provenance(hostile_run["markers"])
    assert combined["config"]["note"] == SCRIPT_LABEL
    assert [entry["sha256"] for entry in combined["inputs"]] == [
        hashlib.sha256(path.read_bytes()).hexdigest() for path in hostile_run["tables"]
    ]
    assert np.isin(SCRIPT_LABEL, annotated.obs["cell_type"].cat.categories)


def test_sections_have_unique_ids_when_names_share_dashes() -> None:
    """dataset 'a' + grouping 'b-c' and dataset 'a-b' + grouping 'c' must not share a section."""
    import polars as pl

    from rgg.io.parquet import COLUMNS
    from rgg.report.build import _current_jobs
    from rgg.report.data import comparison_views

    table = pl.DataFrame(schema=COLUMNS)
    records = [
        {"dataset": "a", "grouping": "b-c", "test": "t", "params": {}},
        {"dataset": "a-b", "grouping": "c", "test": "t", "params": {}},
    ]
    views = comparison_views(table, records)
    assert len({view.anchor for view in views}) == 2
    stale = [
        {"job": job}
        for job in ("rank/a/b-c/t", "rank/old/b-c/t", "annotate/a-b", "report", "collect")
    ]
    assert [r["job"] for r in _current_jobs(stale, views)] == [
        "rank/a/b-c/t",
        "annotate/a-b",
        "collect",
    ]


def test_provenance_counts_masked_genes(tmp_path: Path) -> None:
    pbmc = rgg.datasets.pbmc68k_reduced_path()
    out = tmp_path / "masked.parquet"
    argv = ["rank", str(pbmc), "--groupby", "bulk_labels", "--mask-var", "highly_variable"]
    assert cli.main([*argv, "--no-use-raw", "--out", str(out)]) == 0
    facts = read_provenance(out)["data"]
    expected = int(rgg.datasets.pbmc68k_reduced().var["highly_variable"].sum())
    assert facts["tested_genes"] == expected < facts["n_vars"]
    assert facts["tested_matrix"] == "X"


@pytest.mark.parametrize(
    ("dataset", "message"),
    [
        (f"{DATASET[:-3]}={{data}}", "has no comparison in the tables"),
        ("typo={missing}", "dataset 'typo' (given as typo="),
        (f"{DATASET}={{missing}}", "no such file"),
    ],
    ids=["name not in the tables", "typo and a missing file", "missing file"],
)
def test_report_refuses_datasets_it_cannot_use(
    hostile_run: dict[str, Any], tmp_path: Path, capsys, dataset: str, message: str
) -> None:
    """A --dataset the tables do not name, or a file that is not there, is an error, not a
    report without plots."""
    out = tmp_path / "report.html"
    given = dataset.format(data=hostile_run["data"], missing=tmp_path / "missing.h5ad")
    argv = ["report", str(hostile_run["markers"]), "--dataset", given, "--out", str(out)]
    assert cli.main(argv) == cli.EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("rgg: error: ")
    assert message in err[0]
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.browser
def test_a_linked_section_is_not_hidden_under_the_sticky_bar(browser_page) -> None:
    page, _ = browser_page
    link = page.locator("a[href^='#']").filter(has_text="ttest").first
    target = link.get_attribute("href")
    link.click()
    page.wait_for_timeout(300)
    nav_bottom = page.evaluate("document.querySelector('nav').getBoundingClientRect().bottom")
    heading_top = page.evaluate(
        f"document.getElementById({target[1:]!r}).querySelector('h2').getBoundingClientRect().top"
    )
    assert heading_top >= nav_bottom
    page.evaluate("window.scrollTo(0, 0)")


def test_volcano_axis_is_robust_to_one_extreme_gene(monkeypatch) -> None:
    import polars as pl

    from rgg.report import plots

    rng = np.random.default_rng(0)
    lfc = rng.normal(0, 1, 500)
    lfc[0] = 23.0  # one gene far out squeezed every other point into the middle
    assert plots.volcano_limit(lfc) < 5
    figures = []
    monkeypatch.setattr(plots, "to_data_uri", lambda figure: figures.append(figure) or "uri")
    table = pl.DataFrame(
        {"group": ["g"] * 500, "gene": [f"x{i}" for i in range(500)], "logfoldchange": lfc,
         "pval_adj": rng.uniform(0, 1, 500)}
    )  # fmt: skip
    plots.volcano_grid(table, ["g"])
    axes = figures[0].axes[0]
    assert axes.get_xlim()[1] < 6
    beyond = int(np.sum(np.abs(lfc) > plots.volcano_limit(lfc)))
    assert beyond >= 1
    assert any(text.get_text().startswith(f"{beyond} beyond") for text in axes.texts)


def test_heatmap_of_two_groups_shows_means_not_z_scores(monkeypatch) -> None:
    import pandas as pd

    from rgg.report import plots

    figures = []
    monkeypatch.setattr(plots, "to_data_uri", lambda figure: figures.append(figure) or "uri")
    means = pd.DataFrame({"A": [1.0, 3.0, 2.0], "B": [0.5, 0.1, 0.2]}, index=["x", "y", "z"])
    plots.heatmap(means, ["x", "y"])
    plots.heatmap(means, ["x", "y", "z"])
    labels = [figure.axes[1].get_ylabel() for figure in figures]  # the colour bars
    assert labels == ["mean value in group", "z-score of group mean"]
    np.testing.assert_array_equal(
        figures[0].axes[0].images[0].get_array(), [[1.0, 0.5], [3.0, 0.1]]
    )


def test_agreement_compares_like_with_like() -> None:
    """Tests against a reference are not set beside one-vs-rest tests, and every mean runs
    over the groups all compared tests report (issue 19)."""
    import polars as pl

    from rgg.report.agreement import method_agreement
    from rgg.report.data import ComparisonView

    def view(test: str, reference: str, scores: dict[str, list[float]]) -> ComparisonView:
        rows = [
            {"group": group, "gene": f"g{i}", "rank": rank, "score": score, "reference": reference}
            for group, values in scores.items()
            for rank, (i, score) in enumerate(
                sorted(enumerate(values), key=lambda item: -item[1]), start=1
            )
        ]
        return ComparisonView("d", "g", test, {}, {}, pl.DataFrame(rows), test)

    same = {"x": [3.0, 2.0, 1.0, 0.0], "y": [0.0, 1.0, 2.0, 3.0]}
    views = [
        view("a", "rest", {**same, "z": [1.0, 0.0, 3.0, 2.0]}),
        view("b", "rest", same),  # no z: the means run over x and y only
        view("c", "z", same),  # against a reference: a table of its own, here alone
    ]
    (agreement,) = method_agreement(views, n=2)
    assert agreement.tests == ["a", "b"]
    assert agreement.reference == "rest"
    assert agreement.groups == ["x", "y"]
    assert agreement.top_overlap[0, 1] == 1.0
    assert agreement.rank_correlation[0, 1] == pytest.approx(1.0)


def test_agreement_keeps_a_rest_of_listed_groups_apart() -> None:
    """rest_scope='groups' stores reference 'rest' too, but its rest is other cells; and with
    three tests each mean runs over the groups all three report."""
    import polars as pl

    from rgg.report.agreement import method_agreement
    from rgg.report.data import ComparisonView

    def view(test: str, groups: list[str], params: dict) -> ComparisonView:
        rows = [
            {"group": g, "gene": f"g{i}", "rank": i + 1, "score": 4.0 - i, "reference": "rest"}
            for g in groups
            for i in range(4)
        ]
        return ComparisonView("d", "g", test, params, {}, pl.DataFrame(rows), test)

    views = [
        view("a", ["x", "y", "z"], {}),
        view("b", ["x", "y", "z"], {}),
        view("c", ["x", "y"], {}),  # reports no z: every mean runs over x and y
        view("s", ["x", "y"], {"rest_scope": "groups", "groups": ["x", "y"]}),
    ]
    (agreement,) = method_agreement(views, n=2)
    assert agreement.tests == ["a", "b", "c"]
    assert agreement.groups == ["x", "y"]
