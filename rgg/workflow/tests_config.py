"""The keys and defaults of a config's test entries, derived from :mod:`rgg._parameters`.

The schema (``workflow/schemas/config.schema.yaml``, generated from the same table) fills in
the rank-test defaults; these say which key is which.
"""

from __future__ import annotations

from typing import Any

from .._parameters import PSEUDOBULK_PARAMETERS, WORKFLOW_TEST_KEYS, parameters

#: Keys of a test entry that are rank_genes_groups keyword arguments (``logreg`` holds the rest).
TEST_PARAMETER_KEYS: tuple[str, ...] = WORKFLOW_TEST_KEYS
#: Keys of a pseudobulk test (method: pseudobulk), with the defaults rgg applies. The schema
#: sets none, so that rank tests' recorded entries do not carry them.
PSEUDOBULK_DEFAULTS: dict[str, Any] = {p.name: p.default for p in PSEUDOBULK_PARAMETERS}
#: Keys a rank test and a pseudobulk test share (their meaning is the same).
_SHARED_KEYS = frozenset(PSEUDOBULK_DEFAULTS) & frozenset(TEST_PARAMETER_KEYS) | {"method"}
#: Rank-test keys and their schema defaults: a pseudobulk test may not change them.
_RANK_ONLY_DEFAULTS: dict[str, Any] = {
    **{p.name: p.workflow_default for p in parameters("test") if p.name not in _SHARED_KEYS},
    "logreg": {},
}
#: The default of every test key (a rank test's, then a pseudobulk test's own), for showing
#: which parameters a test sets.
TEST_DEFAULTS: dict[str, Any] = {
    **{p.name: p.workflow_default for p in parameters("test")},
    "logreg": {},
    **PSEUDOBULK_DEFAULTS,
}
