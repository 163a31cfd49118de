"""Messages for configs that cannot be read or do not fit the schema (rgg.workflow.messages)."""

from __future__ import annotations

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
