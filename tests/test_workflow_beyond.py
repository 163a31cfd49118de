"""The workflow with rgg's opt-in additions, run for real: a pooled reference with Seurat's
pre-filters, and a pseudobulk test with its own rule, tables and report section.

Every output is compared with the same call made in this process.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anndata as ad
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import rgg
from rgg.io import pseudobulk_table, read_comparisons, read_results, read_table_kind, results_table
from rgg.io.parquet import PSEUDOBULK_COLUMNS
from rgg.pseudobulk import pseudobulk_deseq2

from .test_workflow import snakemake, write_config

pytestmark = pytest.mark.workflow

SYNTHETIC = str(rgg.datasets.synthetic_path())
POOLED = {
    "method": "wilcoxon",
    "reference": ["Mono/Macro", "DC"],
    "min_pct": 0.1,
    "min_logfc": 0.25,
    "pts": True,
}
CONFIG: dict[str, Any] = {
    "datasets": {"synth": {"path": SYNTHETIC}},
    "groupings": {"types": {"column": "cell_type"}},
    "tests": {
        "vs-myeloid": POOLED,
        "donors": {"method": "pseudobulk", "sample": "donor", "min_cells": 10},
        # one-vs-rest like 'donors', so that the report's agreement has a like to compare
        "wilcoxon": {"method": "wilcoxon"},
    },
    "threads": 2,
}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("beyond")
    write_config(workdir, CONFIG)
    snakemake(workdir, "--cores", "2", "--quiet")
    return workdir


def test_pooled_filtered_table_matches_the_api(finished_run: Path) -> None:
    path = finished_run / "results" / "synth" / "types" / "vs-myeloid.parquet"
    table, params = read_results(path)
    adata = ad.read_h5ad(SYNTHETIC)
    rgg.rank_genes_groups(adata, "cell_type", **POOLED)
    expected = results_table(
        adata.uns["rank_genes_groups"], dataset="synth", grouping="types", test="vs-myeloid"
    )
    assert_frame_equal(table, expected)
    assert params["reference"] == ["Mono/Macro", "DC"]
    assert set(table["reference"].unique()) == {"Mono/Macro + DC"}
    assert 0 < table["filtered"].sum() < table.height
    annotated = ad.read_h5ad(finished_run / "results" / "synth" / "annotated.h5ad")
    uns = annotated.uns["rank_genes_groups_types_vs-myeloid"]
    assert uns["params"]["reference"] == "Mono/Macro + DC"
    assert list(uns["params"]["reference_groups"]) == ["Mono/Macro", "DC"]
    assert uns["filtered"].dtype.names == ("B cell", "CD4+/CD8+ T", "NK")
    # the pseudobulk test is not a rank_genes_groups result: not in the annotated file
    assert not any("donors" in key for key in annotated.uns)


def test_pseudobulk_tables_match_the_api(finished_run: Path) -> None:
    results = finished_run / "results"
    path = results / "pseudobulk" / "synth" / "types" / "donors.parquet"
    table, params = read_results(path)
    assert read_table_kind(path) == "pseudobulk"
    assert table.schema == pl.Schema(PSEUDOBULK_COLUMNS)
    adata = ad.read_h5ad(SYNTHETIC)
    expected = pseudobulk_table(
        pseudobulk_deseq2(adata, "cell_type", "donor", min_cells=10),
        dataset="synth",
        grouping="types",
        test="donors",
    )
    assert_frame_equal(table, expected, rel_tol=1e-9, abs_tol=1e-12)
    assert params["sample"] == "donor"
    assert params["method"] == "pseudobulk"
    # DC has about 7 cells per donor: below min_cells, so it is skipped (with a warning)
    assert "DC" not in set(table["group"])
    log = (results / "logs" / "pseudobulk" / "synth" / "types" / "donors.log").read_text()
    assert "skipped group 'DC'" in log
    combined, _ = read_results(results / "pseudobulk.parquet")
    assert_frame_equal(combined, table)
    (record,) = read_comparisons(results / "pseudobulk.parquet")
    assert (record["dataset"], record["grouping"], record["test"]) == ("synth", "types", "donors")
    assert record["provenance"]["inputs"][0]["sha256"]
    markers, _ = read_results(results / "markers.parquet")
    assert set(markers["test"].unique()) == {"vs-myeloid", "wilcoxon"}  # pseudobulk rows apart
    # planted markers: the top pseudobulk genes of a group overlap its top Wilcoxon genes
    assert (table.filter(pl.col("rank") == 1)["pval_adj"] < 1e-5).all()


def test_report_has_the_pseudobulk_section(finished_run: Path) -> None:
    html = (finished_run / "reports" / "rgg_report.html").read_text()
    assert "<h2>Pseudobulk differential expression</h2>" in html
    assert '<a href="#pseudobulk">Pseudobulk</a>' in html
    assert 'id="pb-1"' in html
    assert "synth &middot; types &middot; donors (pseudobulk)" in html
    assert "~ sample + arm" in html
    assert 'alt="Volcano plots per group (pseudobulk)"' in html
    # the agreement of methods sets the pseudobulk test beside the one-vs-rest Wilcoxon test,
    # and not beside the test against the pooled reference (compared with something else)
    agreement = html[html.index('<section id="agreement">') :]
    assert "each group vs the rest" in agreement
    assert "<th>donors</th>" in agreement
    assert "<th>wilcoxon</th>" in agreement
    assert "<th>vs-myeloid</th>" not in agreement
    # Spearman of pseudobulk Wald statistics vs pre-filtered Wilcoxon scores: a number, not
    # blank (NaN scores of filtered or all-zero genes are left out of the correlation)
    correlation = agreement[agreement.index('class="agreement correlation"') :]
    cells = re.findall(r'<td class="num">([^<]*)</td>', correlation)[:4]
    assert cells[1] != ""
    assert 0 < float(cells[1]) <= 1
    # the overview lists the pseudobulk test with its parameters
    overview = html[: html.index('<h3 id="comparisons">')]
    assert "sample: donor" in overview


def test_a_config_of_pseudobulk_tests_only_plans_no_ranking(tmp_path: Path) -> None:
    config = {**CONFIG, "tests": {"donors": CONFIG["tests"]["donors"]}}
    write_config(tmp_path, config)
    dry = snakemake(tmp_path, "--cores", "1", "-n")
    stats = dry.stdout.split("Job stats:")[1].split("total")[0]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", stats, flags=re.MULTILINE))
    # an empty markers table (collect of no table) keeps rule all and the report unchanged
    assert jobs == {
        "all": "1", "collect": "1", "collect_pseudobulk": "1", "crate": "1", "pseudobulk": "1",
        "report": "1",
    }  # fmt: skip


def test_empty_markers_table_and_a_pseudobulk_table_make_a_report(tmp_path: Path) -> None:
    from rgg import cli

    adata = rgg.datasets.synthetic()
    path = tmp_path / "synth.h5ad"
    adata.write_h5ad(path)
    bulk, markers = tmp_path / "pb.parquet", tmp_path / "markers.parquet"
    argv = ["pseudobulk", str(path), "--groupby", "cell_type", "--sample", "donor"]
    assert cli.main([*argv, "--reference", "B cell", "--out", str(bulk)]) == 0
    assert cli.main(["collect", "--out", str(markers)]) == 0  # no ranking: an empty table
    assert read_results(markers)[0].height == 0
    combined = tmp_path / "all_pb.parquet"
    assert cli.main(["collect", str(bulk), "--out", str(combined)]) == 0
    out = tmp_path / "report.html"
    argv = ["report", str(markers), "--pseudobulk", str(combined), "--out", str(out)]
    assert cli.main(argv) == 0
    html = out.read_text()
    assert "reference B cell" in html
    stat = read_results(combined)[0]["stat"]
    assert stat.null_count() == 0  # NaN, as in the markers tables
    assert stat.is_nan().sum() < stat.len()


def test_tables_of_two_kinds_are_not_combined(tmp_path: Path) -> None:
    from rgg import cli

    adata = rgg.datasets.synthetic()
    path = tmp_path / "synth.h5ad"
    adata.write_h5ad(path)
    bulk, ranked = tmp_path / "pb.parquet", tmp_path / "rank.parquet"
    assert (
        cli.main(
            [
                "pseudobulk",
                str(path),
                "--groupby",
                "cell_type",
                "--sample",
                "donor",
                "--out",
                str(bulk),
            ]
        )
        == 0
    )
    assert cli.main(["rank", str(path), "--groupby", "cell_type", "--out", str(ranked)]) == 0
    out = tmp_path / "mixed.parquet"
    assert cli.main(["collect", str(ranked), str(bulk), "--out", str(out)]) == 2
    assert not out.exists()


def test_report_refuses_tables_of_the_wrong_kind(tmp_path: Path) -> None:
    from rgg import cli

    path = tmp_path / "synth.h5ad"
    rgg.datasets.synthetic().write_h5ad(path)
    bulk = tmp_path / "pb.parquet"
    argv = ["pseudobulk", str(path), "--groupby", "cell_type", "--sample", "donor"]
    assert cli.main([*argv, "--groups", "NK", "--out", str(bulk)]) == 0
    out = tmp_path / "report.html"
    assert cli.main(["report", str(bulk), "--out", str(out)]) == 2
    assert not out.exists()
