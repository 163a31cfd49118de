"""What the workflow's rules compute, as plain functions of the config (rgg.workflow.paths,
options, resources, environment), and the one name pattern that the schema uses."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from rgg.io.h5ad_header import matrix_nbytes
from rgg.workflow import options, paths, resources
from rgg.workflow.environment import BASH_STRICT_MODE, rule_shell_prefix
from rgg.workflow.model import (
    NAME_PATTERN,
    NAME_REGEX,
    OUT_OF_CORE_KEYS,
    Comparison,
    ConfigError,
)

from ._workflow_config import PBMC, SYNTHETIC, workflow_config

REPO = Path(__file__).resolve().parent.parent

RANK = [Comparison("pbmc", "bulk_labels", "wilcoxon"), Comparison("synth", "types", "wilcoxon")]
BULK = Comparison("synth", "types", "pb")


def _config(*, pseudobulk: bool = True) -> dict[str, Any]:
    config = workflow_config(results="out dir", report={"file": "reports/rgg.html", "top_n": 5})
    config["threads"] = 4
    if pseudobulk:
        config["tests"]["pb"] = {"method": "pseudobulk", "sample": "donor", "min_cells": 5}
    return config


def _comparisons(*, pseudobulk: bool = True) -> list[Comparison]:
    return [*RANK, BULK] if pseudobulk else list(RANK)


def test_the_schema_uses_the_one_name_pattern() -> None:
    """The wildcard constraints are checked on the parsed workflow (test_workflow_environment)."""
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    assert schema["$defs"]["name"]["pattern"] == f"^{NAME_REGEX}$"
    assert NAME_PATTERN.pattern == NAME_REGEX


def test_paths_of_a_run_with_rank_and_pseudobulk_comparisons() -> None:
    config, comparisons = _config(), _comparisons()
    rank = "out dir/pbmc/bulk_labels/wilcoxon.parquet", "out dir/synth/types/wilcoxon.parquet"
    assert paths.comparison_path(config, RANK[0], ".parquet") == rank[0]
    assert paths.rank_tables(config, comparisons) == list(rank)
    assert paths.pseudobulk_path(config, BULK) == "out dir/pseudobulk/synth/types/pb.parquet"
    assert paths.pseudobulk_tables(config, comparisons) == [paths.pseudobulk_path(config, BULK)]
    assert paths.comparison_tables(config, comparisons) == [
        *rank,
        "out dir/pseudobulk/synth/types/pb.parquet",
    ]
    assert paths.combined_table_path(config) == "out dir/markers.parquet"
    assert paths.combined_pseudobulk_paths(config, comparisons) == ["out dir/pseudobulk.parquet"]
    assert paths.annotated_paths(config, comparisons) == [
        "out dir/pbmc/annotated.h5ad",
        "out dir/synth/annotated.h5ad",
    ]
    assert paths.crate_outputs(config, comparisons) == [
        "out dir/markers.parquet",
        "out dir/pseudobulk.parquet",
        "out dir/pbmc/annotated.h5ad",
        "out dir/synth/annotated.h5ad",
        "reports/rgg.html",
    ]
    assert paths.dataset_uns_results(config, comparisons, "synth") == [
        "out dir/internal/uns/synth/types/wilcoxon.uns.h5ad"
    ]
    assert paths.report_datasets(reversed(comparisons)) == ["pbmc", "synth"]
    assert paths.report_dataset_paths(config, comparisons) == [PBMC, SYNTHETIC]
    assert paths.dataset_path(config, "synth") == SYNTHETIC


def test_paths_without_pseudobulk_comparisons() -> None:
    config, comparisons = _config(pseudobulk=False), _comparisons(pseudobulk=False)
    assert paths.combined_pseudobulk_paths(config, comparisons) == []
    assert paths.pseudobulk_tables(config, comparisons) == []
    assert paths.crate_outputs(config, comparisons)[1:2] == ["out dir/pbmc/annotated.h5ad"]
    assert options.report_pseudobulk_options(config, comparisons) == ""


def test_a_dataset_with_only_pseudobulk_comparisons_has_no_annotated_h5ad() -> None:
    config = _config()
    comparisons = [RANK[0], BULK]
    assert paths.annotated_paths(config, comparisons) == ["out dir/pbmc/annotated.h5ad"]
    assert paths.dataset_uns_results(config, comparisons, "synth") == []
    assert paths.report_datasets(comparisons) == ["pbmc", "synth"]


def test_option_strings_are_shell_quoted() -> None:
    config, comparisons = _config(), _comparisons()
    assert shlex.split(options.crate_options(config, comparisons)) == [
        "--table", "out dir/pbmc/bulk_labels/wilcoxon.parquet",
        "--table", "out dir/synth/types/wilcoxon.parquet",
        "--table", "out dir/pseudobulk/synth/types/pb.parquet",
        "--output", "out dir/markers.parquet",
        "--output", "out dir/pseudobulk.parquet",
        "--output", "out dir/pbmc/annotated.h5ad",
        "--output", "out dir/synth/annotated.h5ad",
        "--output", "reports/rgg.html",
    ]  # fmt: skip
    assert shlex.split(options.report_dataset_options(config, comparisons)) == [
        "--dataset", f"pbmc={PBMC}", "--dataset", f"synth={SYNTHETIC}",
    ]  # fmt: skip
    config["datasets"]["pbmc"]["path"] = "my data/it's.h5ad"
    assert options.report_dataset_options(config, [RANK[0]]) == (
        "--dataset 'pbmc=my data/it'\"'\"'s.h5ad'"
    )
    assert options.report_pseudobulk_options(config, comparisons) == (
        "--pseudobulk 'out dir/pseudobulk.parquet'"
    )


def test_out_of_core_options_follow_the_dataset_keys() -> None:
    config = _config()
    assert options.out_of_core_options(config, "synth") == ""
    config["datasets"]["synth"] |= {"out_of_core": True, "scheduler": None, "block_nnz": 1000}
    assert options.out_of_core_options(config, "synth") == "--out-of-core --block-nnz 1000"
    config["datasets"]["synth"] |= {"scheduler": "tcp://h:8786", "temp_dir": "/tmp/a b"}
    assert options.out_of_core_options(config, "synth") == (
        "--out-of-core --scheduler tcp://h:8786 --temp-dir '/tmp/a b' --block-nnz 1000"
    )
    # one option per key the out-of-core checks know, in their order
    flags = [w for w in options.out_of_core_options(config, "synth").split() if w[:2] == "--"]
    assert flags[1:] == [f"--{key.replace('_', '-')}" for key in OUT_OF_CORE_KEYS]
    config["datasets"]["synth"]["out_of_core"] = False
    assert options.out_of_core_options(config, "synth") == ""


def test_test_parameters_and_records_are_sorted_json() -> None:
    config = _config()
    text = options.rank_test_params(config, RANK[1])
    assert json.loads(text) == {
        "method": "wilcoxon", "corr_method": "benjamini-hochberg", "tie_correct": False,
        "reference": "rest", "rankby_abs": False, "pts": True, "layer": "counts",
    }  # fmt: skip
    assert text == json.dumps(json.loads(text), sort_keys=True)
    assert json.loads(options.pseudobulk_test_params(config, BULK)) == {
        "sample": "donor", "counts_layer": "counts", "min_cells": 5, "design": "auto",
        "reference": "rest", "groups": None,
    }  # fmt: skip
    record = json.loads(options.comparison_config_record(config, RANK[1]))
    assert record == {
        "dataset_entry": config["datasets"]["synth"],
        "grouping_column": "cell_type",
        "test_entry": config["tests"]["wilcoxon"],
    }
    assert options.crate_config(config) == json.dumps(config, sort_keys=True)


def test_the_recorded_config_keeps_what_changes_results() -> None:
    config = _config()
    rank = json.loads(options.recorded_config(config))
    bulk = json.loads(options.recorded_config(config, pseudobulk=True))
    assert "threads" not in rank
    assert "report" not in rank
    assert sorted(rank["tests"]) == ["vs-b", "wilcoxon"]
    assert sorted(bulk["tests"]) == ["pb"]
    assert rank["datasets"] == bulk["datasets"] == config["datasets"]
    assert rank["results"] == "out dir"
    before = options.recorded_config(config)
    config["threads"], config["report"]["top_n"] = 8, 50
    assert options.recorded_config(config) == before  # no rerun of collect for these
    config["tests"]["pb"]["min_cells"] = 3
    assert options.recorded_config(config) == before  # nor for the other kind of test


def test_a_comparison_is_found_from_its_wildcards() -> None:
    comparisons = _comparisons()
    assert options.comparison_of(comparisons, "synth", "types", "pb") == BULK
    with pytest.raises(ConfigError, match="is not a comparison of this config; add it"):
        options.comparison_of(comparisons, "synth", "types", "vs-b")


def test_memory_estimates(tmp_path: Path) -> None:
    config = _config()
    pbmc = 1024 + int(1.5 * matrix_nbytes(PBMC) / 2**20)
    assert resources.rank_mem_mb(config, "pbmc", PBMC, threads=2) == pbmc
    both = matrix_nbytes(PBMC) + matrix_nbytes(SYNTHETIC)
    assert resources.loaded_mem_mb([PBMC, SYNTHETIC], factor=1.2) == 1024 + int(1.2 * both / 2**20)
    assert resources.loaded_mem_mb([], factor=1.2) == 1024
    unreadable = tmp_path / "x.h5ad"
    unreadable.write_bytes(b"\0" * 2**20)  # not HDF5: counted as 4 x its size
    assert resources.loaded_mem_mb(str(unreadable), factor=1.0) == 1024 + 4
    config["datasets"]["pbmc"]["out_of_core"] = True
    assert resources.rank_mem_mb(config, "pbmc", PBMC, threads=3) == 2048 + 3 * 1024


def test_the_rules_shell_prefix_puts_the_running_environment_first() -> None:
    python = "/opt/my env/.venv/bin/python"
    prefix = rule_shell_prefix(python, "/usr/bin/bash", uses_conda=False)
    assert prefix == BASH_STRICT_MODE + "export PATH='/opt/my env/.venv/bin':\"$PATH\"; "
    # other shells get no bash strict mode, as Snakemake does
    assert rule_shell_prefix(python, "/bin/sh", uses_conda=False) == prefix.removeprefix(
        BASH_STRICT_MODE
    )
    # braces would be read as Snakemake placeholders
    assert "{{x}}" in rule_shell_prefix("/a/{x}/python", "bash", uses_conda=False)
    # conda environments are activated before the prefix: keep Snakemake's own
    assert rule_shell_prefix(python, "/usr/bin/bash", uses_conda=True) is None
