"""The defaults of a config's test entries, derived from :mod:`rgg._parameters`.

The schema (``workflow/schemas/config.schema.yaml``, generated from the same table) fills in
the rank-test defaults; these say which key is which. A test's rank_genes_groups keys are
:data:`rgg._parameters.WORKFLOW_TEST_KEYS`.
"""

from __future__ import annotations

from typing import Any

from .._parameters import PSEUDOBULK_PARAMETERS, parameters

#: Keys of a pseudobulk test (method: pseudobulk), with the defaults rgg applies. The schema
#: sets none, so that rank tests' recorded entries do not carry them.
PSEUDOBULK_DEFAULTS: dict[str, Any] = {p.name: p.default for p in PSEUDOBULK_PARAMETERS}
#: A rank test's keys and the values they have when a config leaves them out.
_RANK_DEFAULTS: dict[str, Any] = {
    **{p.name: p.workflow_default for p in parameters("test")},
    "logreg": {},
}
#: Rank-test keys and their schema defaults: a pseudobulk test may not change them (the keys
#: both kinds have, and ``method``, aside).
_RANK_ONLY_DEFAULTS: dict[str, Any] = {
    key: default
    for key, default in _RANK_DEFAULTS.items()
    if key not in PSEUDOBULK_DEFAULTS and key != "method"
}
#: The default of every test key (a rank test's, then a pseudobulk test's own), for showing
#: which parameters a test sets.
TEST_DEFAULTS: dict[str, Any] = {**_RANK_DEFAULTS, **PSEUDOBULK_DEFAULTS}
