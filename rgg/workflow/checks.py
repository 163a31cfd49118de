"""Checks of the workflow config against itself, before any data is read.

What a schema cannot say: names that refer to each other, options that belong to another
kind of test, references that leave nothing to compare, uns keys that would collide, and
out-of-core datasets with tests that need the whole matrix. Every message says what is
wrong and how to fix it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .._errors import did_you_mean
from .._parameters import NOT_FOR_LOGREG, logreg_clash
from .model import (
    NAME_PATTERN,
    OUT_OF_CORE_KEYS,
    RESERVED_GROUPING_NAMES,
    RESERVED_NAMES,
    SELECTOR_KEYS,
    Comparison,
    ConfigError,
    as_list,
)
from .tests_config import _RANK_ONLY_DEFAULTS, PSEUDOBULK_DEFAULTS


def check_names(config: Mapping[str, Any]) -> None:
    """Check the names of a config's datasets, groupings and tests, and the names its
    groupings and selectors refer to.

    Raises
    ------
    ConfigError
        For a name that is no safe file name or that the workflow uses itself, and a
        grouping or selector that names an unknown dataset, grouping or test.
    """
    datasets = config["datasets"]
    for section in ("datasets", "groupings", "tests"):
        for name in config[section]:
            if not NAME_PATTERN.fullmatch(name):
                msg = f"{section}: the name {name!r} has characters a file name cannot safely hold."
                raise ConfigError(msg)
    for dataset in datasets:
        if dataset in RESERVED_NAMES:
            msg = f"dataset name {dataset!r} is used by the workflow's own outputs; choose another."
            raise ConfigError(msg)
    for grouping in config["groupings"]:
        if grouping in RESERVED_GROUPING_NAMES:
            msg = (
                f"grouping name {grouping!r} is used by the workflow's own outputs; choose another."
            )
            raise ConfigError(msg)
    for grouping, entry in config["groupings"].items():
        for dataset in (entry or {}).get("datasets") or ():
            if dataset not in datasets:
                msg = (
                    f"groupings.{grouping}.datasets names {dataset!r}, which is not in 'datasets'."
                    f"{did_you_mean(dataset, datasets)} Datasets: {', '.join(datasets)}."
                )
                raise ConfigError(msg)
    for part in ("include", "exclude"):
        for position, selector in enumerate((config.get("comparisons") or {}).get(part) or ()):
            for key, section in SELECTOR_KEYS.items():
                for name in as_list(selector.get(key, ())):
                    if name not in config[section]:
                        msg = (
                            f"comparisons.{part}[{position}].{key} names {name!r}, which is not "
                            f"in '{section}'.{did_you_mean(name, config[section])} "
                            f"Known: {', '.join(config[section])}."
                        )
                        raise ConfigError(msg)


def check_tests(config: Mapping[str, Any]) -> None:
    """Check each test entry on its own.

    Raises
    ------
    ConfigError
        For options that belong to another method or kind of test (logreg, pseudobulk,
        per-gene filters), and a reference that leaves nothing to compare.
    """
    for name, test in config["tests"].items():
        clash = logreg_clash(test.get("logreg"), f"tests.{name}.logreg")
        if clash:
            raise ConfigError(clash)
        if test.get("logreg") and test.get("method") != "logreg":
            msg = (
                f"tests.{name} has 'logreg' options but method {test.get('method')!r}; "
                "remove them or set 'method: logreg'."
            )
            raise ConfigError(msg)
        _check_test_kind(name, test)
        _check_reference(name, test)
        per_gene = [
            key for key in NOT_FOR_LOGREG if test.get(key) is not None and test[key] is not False
        ]
        if per_gene and test.get("method") == "logreg":
            msg = (
                f"tests.{name} sets {', '.join(per_gene)}, which logreg (one model of all genes) "
                "does not have; use them with method wilcoxon or a t-test."
            )
            raise ConfigError(msg)


def _check_test_kind(name: str, test: Mapping[str, Any]) -> None:
    """Pseudobulk keys only on pseudobulk tests; rank-test options not on them."""
    pseudobulk_only = [
        key
        for key in PSEUDOBULK_DEFAULTS
        if key not in ("reference", "groups") and test.get(key) is not None
    ]
    if test.get("method") != "pseudobulk":
        if pseudobulk_only:
            msg = (
                f"tests.{name} sets {', '.join(pseudobulk_only)}, which only a pseudobulk test "
                "has; set 'method: pseudobulk' or remove them."
            )
            raise ConfigError(msg)
        return
    if test.get("sample") is None:
        msg = (
            f"tests.{name} is a pseudobulk test without 'sample': name the obs column of the "
            "biological replicates (e.g. sample: donor)."
        )
        raise ConfigError(msg)
    changed = [
        key for key, default in _RANK_ONLY_DEFAULTS.items() if test.get(key, default) != default
    ]
    if changed:
        msg = (
            f"tests.{name} is a pseudobulk test but sets {', '.join(changed)}, which only "
            "rank_genes_groups tests have (PyDESeq2 corrects with Benjamini-Hochberg); remove "
            "them."
        )
        raise ConfigError(msg)
    if isinstance(test.get("reference"), list):
        msg = (
            f"tests.{name}: a pseudobulk test compares with 'rest' or one reference group, not "
            "a list."
        )
        raise ConfigError(msg)


def _check_reference(name: str, test: Mapping[str, Any]) -> None:
    """A reference and groups that leave something to compare (as rank_genes_groups checks)."""
    reference = test.get("reference", "rest")
    pool = {str(label) for label in ([reference] if isinstance(reference, str) else reference)}
    if len(pool) > 1 and "rest" in pool:
        msg = (
            f"tests.{name}: reference {sorted(pool)} mixes 'rest' with groups; give 'rest' or "
            "the groups to pool as the reference."
        )
        raise ConfigError(msg)
    if "rest" not in pool and test.get("rest_scope", "all") != "all":
        msg = (
            f"tests.{name}: rest_scope chooses what 'rest' holds, but the reference is "
            f"{sorted(pool)}; drop rest_scope, or compare with 'rest'."
        )
        raise ConfigError(msg)
    groups = {str(label) for label in test.get("groups") or ()}
    if "rest" not in pool and groups and groups <= pool:
        msg = (
            f"tests.{name}: groups {sorted(groups)} are all in the reference, so nothing is "
            "compared with it; list other groups in 'groups' (the reference is added), or drop "
            "'groups'."
        )
        raise ConfigError(msg)


def check_screen_patterns(config: Mapping[str, Any]) -> None:
    """A screen's target_pattern must compile (checked before any data is read)."""
    for grouping, entry in config["groupings"].items():
        pattern = ((entry or {}).get("screen") or {}).get("target_pattern")
        if pattern is None:
            continue
        try:
            compiled = re.compile(pattern)
        except re.error as error:
            msg = f"groupings.{grouping}.screen.target_pattern {pattern!r}: {error}."
            raise ConfigError(msg) from None
        if compiled.groups > 1:
            msg = (
                f"groupings.{grouping}.screen.target_pattern {pattern!r} has "
                f"{compiled.groups} groups; use one, around the target's name (e.g. "
                "'^([^_]+)_'), or (?:...) for the others."
            )
            raise ConfigError(msg)


def check_uns_keys(comparisons: list[Comparison]) -> None:
    """Refuse two rank comparisons of one dataset that would share an uns key."""
    seen: dict[tuple[str, str], Comparison] = {}
    for comparison in comparisons:
        earlier = seen.setdefault((comparison.dataset, comparison.uns_key), comparison)
        if earlier is not comparison:
            msg = (
                f"grouping {earlier.grouping!r} with test {earlier.test!r} and grouping "
                f"{comparison.grouping!r} with test {comparison.test!r} would share the uns key "
                f"{comparison.uns_key!r} in dataset {comparison.dataset!r}; rename one of them."
            )
            raise ConfigError(msg)


def check_out_of_core(config: Mapping[str, Any], comparisons: list[Comparison]) -> None:
    """Out-of-core options need ``out_of_core: true``; logreg and pseudobulk need memory."""
    for name, entry in config["datasets"].items():
        given = [key for key in OUT_OF_CORE_KEYS if entry.get(key) is not None]
        if given and not entry.get("out_of_core"):
            msg = (
                f"datasets.{name} sets {', '.join(given)}, which only out-of-core ranking "
                "reads; add 'out_of_core: true' or remove them."
            )
            raise ConfigError(msg)
    for comparison in comparisons:
        if not config["datasets"][comparison.dataset].get("out_of_core"):
            continue
        test = config["tests"][comparison.test]
        if test.get("method") in ("logreg", "pseudobulk"):
            msg = (
                f"tests.{comparison.test} ({test['method']}) needs the whole matrix in memory, "
                f"but datasets.{comparison.dataset} is out_of_core; exclude this comparison "
                "(comparisons: exclude) or use a wilcoxon or t-test test."
            )
            raise ConfigError(msg)
