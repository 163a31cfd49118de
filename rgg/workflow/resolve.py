"""The comparisons of a schema-validated config, checked.

The Snakefile validates the config against ``workflow/schemas/config.schema.yaml`` (which
fills in the defaults) and then calls :func:`resolve_comparisons`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .checks import (
    check_names,
    check_out_of_core,
    check_screen_patterns,
    check_tests,
    check_uns_keys,
)
from .data_checks import check_data
from .model import Comparison, rank_comparisons, select_comparisons


def resolve_comparisons(config: Mapping[str, Any]) -> list[Comparison]:
    """Check a schema-validated config and list its comparisons, sorted.

    The config is checked against itself first, then its include/exclude selectors are
    expanded, and last the selected comparisons are checked against the headers of the
    dataset files that exist.

    Raises
    ------
    ConfigError
        For a grouping that names an unknown dataset, a selector that names an unknown
        dataset, grouping or test, logreg options on a test of another method, a config
        that selects no comparison, or (for dataset files that exist) an obs column or a
        reference group that is not in the data.
    """
    check_names(config)
    check_tests(config)
    check_screen_patterns(config)
    chosen = select_comparisons(config)
    check_uns_keys(rank_comparisons(config, chosen))
    check_out_of_core(config, chosen)
    check_data(config, chosen)
    return sorted(chosen)
