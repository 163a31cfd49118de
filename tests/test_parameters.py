"""The parameter table (rgg/_parameters.py) against everything that repeats its knowledge:
the function's signature and docstring, the scanpy-style Literal aliases, the command line,
the config schema and the config docs."""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import get_args

import pytest
import yaml

from rgg import _parameter_docs, _types
from rgg._parameters import (
    ARGUMENT_NAMES,
    BY_NAME,
    PARAMETERS,
    PREFILTERS,
    PSEUDOBULK_PARAMETERS,
    REQUIRED,
    TEST_CONFIG_KEYS,
    parameters,
)
from rgg.api import rank_genes_groups
from rgg.cli import main
from rgg.cli._app import _parser

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())


def test_table_is_the_signature() -> None:
    signature = inspect.signature(rank_genes_groups).parameters
    named = {name: p for name, p in signature.items() if p.kind is not p.VAR_KEYWORD}
    assert list(BY_NAME) == list(dict.fromkeys(BY_NAME))  # no name twice
    assert set(named) == ARGUMENT_NAMES
    for name, argument in named.items():
        assert BY_NAME[name].default == argument.default, name
    assert BY_NAME["adata"].default is REQUIRED


def test_docstring_documents_every_parameter() -> None:
    section = rank_genes_groups.__doc__.split("Parameters\n    ----------")[1].split("Returns")[0]
    documented = {
        name.strip()
        for line in re.findall(r"^    (\S.*)$", section, re.M)
        for name in line.split(",")
    }
    assert documented >= ARGUMENT_NAMES, ARGUMENT_NAMES - documented


@pytest.mark.parametrize(
    ("name", "alias"),
    [
        ("method", _types.Method),
        ("corr_method", _types.CorrMethod),
        ("corr_scope", _types.CorrScope),
        ("rest_scope", _types.RestScope),
        ("fold_change", _types.FoldChange),
    ],
)
def test_choices_are_the_literal_types(name, alias) -> None:
    assert set(BY_NAME[name].choices) == set(get_args(alias))


def test_every_test_and_run_parameter_is_an_option_of_rgg_rank() -> None:
    rank = _parser()._subparsers._group_actions[0].choices["rank"]
    options = {action.dest: action for action in rank._actions}
    for parameter in parameters("test", "dataset", "run"):
        action = options[parameter.name]
        assert action.option_strings[0] == parameter.option
        assert action.default is None  # a test config's value wins unless the option is given
        if parameter.choices:
            assert tuple(action.choices) == parameter.choices
    pseudobulk = _parser()._subparsers._group_actions[0].choices["pseudobulk"]
    assert {p.name for p in PSEUDOBULK_PARAMETERS} <= {a.dest for a in pseudobulk._actions}


def test_test_config_types_follow_the_table(tmp_path, capsys) -> None:
    """A wrong type in --test-params names the key and the type the table gives."""
    out = tmp_path / "t.parquet"
    argv = ["rank", "in.h5ad", "--groupby", "g", "--out", str(out), "--test-params"]
    assert main([*argv, "{n_genes: many}"]) == 2
    assert "n_genes must be an integer, got 'many'" in capsys.readouterr().err
    assert main([*argv, "{min_pct: true}"]) == 2
    assert "min_pct must be a number, got True" in capsys.readouterr().err
    assert main([*argv, "{min_cells: 3}"]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'min_cells'" in err
    assert ", ".join(TEST_CONFIG_KEYS) in err


def test_schema_test_keys_follow_the_table() -> None:
    tests = SCHEMA["properties"]["tests"]["additionalProperties"]["properties"]
    for name, expected in _parameter_docs.test_schema().items():
        assert tests[name] == expected | {"description": tests[name]["description"]}, name
    rank_keys = {p.name for p in parameters("test")}
    pseudobulk_keys = {p.name for p in PSEUDOBULK_PARAMETERS}
    assert set(tests) == rank_keys | pseudobulk_keys | {"logreg"}


def test_schema_dataset_keys_follow_the_table() -> None:
    datasets = SCHEMA["properties"]["datasets"]["additionalProperties"]["properties"]
    for parameter in parameters("dataset"):
        expected = _parameter_docs.json_schema(parameter)
        assert datasets[parameter.name] | {"description": ""} == expected | {"description": ""}


def test_generated_parts_are_up_to_date() -> None:
    for path, text in _parameter_docs.expected_files(ROOT).items():
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)} is out of date with rgg/_parameters.py: run "
            "`python -m rgg._parameter_docs` from the repository's root."
        )


def test_generated_docs_name_every_test_key_once() -> None:
    docs = _parameter_docs.docs_part()
    keys = re.findall(r"^\| `(\w+)` \|", docs, re.M)
    assert keys == [*(p.name for p in parameters("test")), "logreg"]
    assert (
        "`t-test`, `t-test_overestim_var`, `wilcoxon`, `logreg`, `wilcoxon_illico` or `pseudobulk`"
        in docs
    )


def test_a_stale_generated_part_is_found(tmp_path) -> None:
    for relative in (_parameter_docs.SCHEMA_FILE, _parameter_docs.CONFIG_DOCS_FILE):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text((ROOT / relative).read_text())
    schema = tmp_path / _parameter_docs.SCHEMA_FILE
    schema.write_text(schema.read_text().replace("enum: [group, all]", "enum: [group]"))
    assert _parameter_docs.expected_files(tmp_path)[schema] != schema.read_text()
    assert _parameter_docs.main(str(tmp_path)) == 0
    assert _parameter_docs.expected_files(tmp_path)[schema] == schema.read_text()
    schema.write_text(schema.read_text().replace("end of the generated part", "end"))
    with pytest.raises(ValueError, match="expected one line with"):
        _parameter_docs.expected_files(tmp_path)


def test_every_parameter_has_help_where_users_see_it() -> None:
    for parameter in parameters("test", "dataset", "run"):
        assert parameter.help, parameter.name
    for parameter in parameters("test", "dataset"):
        assert parameter.doc, parameter.name
    assert all(p.kind in {"text", "integer", "choice", "labels"} for p in PSEUDOBULK_PARAMETERS)
    assert len(PARAMETERS) == len(ARGUMENT_NAMES)


def test_prefilters_are_bounded_numbers_that_logreg_refuses() -> None:
    """The plan checks a pre-filter against its row's bounds and the out-of-core row sums turn
    every pre-filter off by name, so each needs bounds and the logreg refusal."""
    assert {"min_pct", "min_diff_pct", "min_logfc"} <= set(PREFILTERS)
    for name in PREFILTERS:
        row = BY_NAME[name]
        assert row.kind == "number"
        assert row.minimum is not None
        assert not row.logreg
        assert name in inspect.signature(rank_genes_groups).parameters
