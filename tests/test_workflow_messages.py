"""Messages for configs that cannot be read or do not fit the schema (rgg.workflow.messages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rgg.workflow.model import ConfigError


def test_duplicate_keys_are_refused_but_merge_keys_allowed(tmp_path) -> None:
    from rgg.workflow.messages import check_duplicate_keys

    merged = tmp_path / "merged.yaml"
    merged.write_text("tests:\n  w: &w {method: wilcoxon}\n  w_tie: {<<: *w, tie_correct: true}\n")
    check_duplicate_keys(merged)  # no error
    duplicated = tmp_path / "duplicated.yaml"
    duplicated.write_text("tests:\n  w: {}\n  t: {}\n  w: {method: logreg}\n")
    with pytest.raises(ConfigError, match="line 4: the key 'w' appears twice"):
        check_duplicate_keys(duplicated)
    broken = tmp_path / "broken.yaml"
    broken.write_text("tests: {w: [}\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        check_duplicate_keys(broken)


def _schema_message(config: dict) -> str:
    """The message for the first schema error of ``config``, as the Snakefile reports it."""
    import jsonschema
    import yaml

    from rgg.workflow.messages import describe_schema_error

    schema = yaml.safe_load(
        (Path(__file__).resolve().parent.parent / "workflow/schemas/config.schema.yaml").read_text()
    )
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(config)
    )
    assert error is not None
    return describe_schema_error(error)


_VALID = {"datasets": {"d": {"path": "d.h5ad"}}, "groupings": {"g": None}, "tests": {"t": {}}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"tests": {"t": {"tie_corect": True}}},
            "tests.t: unknown key 'tie_corect'. Did you mean 'tie_correct'?",
        ),
        (
            {"tests": {"t": {"method": "wilcoxom"}}},
            "tests.t.method: 'wilcoxom' is not allowed. Did you mean 'wilcoxon'?",
        ),
        ({"tests": {"a b": {}}}, "Names of datasets, groupings and tests become file names"),
        (
            {"datasets": {"d": {}}},
            "datasets.d: 'path' is a required property; see config/README.md.",
        ),
        ({"report": {"file": "report.pdf"}}, "report.file: 'report.pdf' must end in .html."),
    ],
)
def test_schema_errors_are_one_line_with_the_fix(change: dict, message: str) -> None:
    assert message in _schema_message({**_VALID, **change})
