"""The workflow's config model: comparisons are datasets x groupings x tests.

The Snakefile validates the config against ``workflow/schemas/config.schema.yaml`` (which
fills in the defaults) and then calls :func:`resolve_comparisons`, which checks what a schema
cannot (names that refer to each other, obs columns and reference groups that exist in the
data) and expands the include/exclude selectors. Every message says what is wrong and how
to fix it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._errors import did_you_mean
from ._types import RANK_GENES_GROUPS_ARGUMENTS

#: Keys of a test entry that are rank_genes_groups keyword arguments (``logreg`` holds the rest).
TEST_PARAMETER_KEYS = (
    "method", "corr_method", "tie_correct", "reference", "groups", "n_genes", "rankby_abs",
    "pts", "mask_var", "auroc", "corr_scope", "rest_scope", "fold_change", "min_pct",
    "min_diff_pct", "min_logfc", "mean_in_log_space",
)  # fmt: skip
#: Keys of a pseudobulk test (method: pseudobulk), with the defaults rgg applies. The schema
#: sets none, so that rank tests' recorded entries do not carry them.
PSEUDOBULK_DEFAULTS: dict[str, Any] = {
    "sample": None, "counts_layer": "counts", "min_cells": 10, "design": "auto",
    "reference": "rest", "groups": None,
}  # fmt: skip
#: Rank-test keys and their schema defaults: a pseudobulk test may not change them.
_RANK_ONLY_DEFAULTS: dict[str, Any] = {
    "corr_method": "benjamini-hochberg", "corr_scope": "group", "tie_correct": False,
    "fold_change": "log_mean", "rest_scope": "all", "n_genes": None, "rankby_abs": False,
    "pts": False, "auroc": False, "min_pct": None, "min_diff_pct": None, "min_logfc": None,
    "mask_var": None, "logreg": {}, "mean_in_log_space": True,
}  # fmt: skip
#: The default of every test key (a rank test's, then a pseudobulk test's own), for showing
#: which parameters a test sets.
TEST_DEFAULTS: dict[str, Any] = {
    "method": "t-test", "reference": "rest", "groups": None, **_RANK_ONLY_DEFAULTS,
    **PSEUDOBULK_DEFAULTS,
}  # fmt: skip
#: Test options that work gene by gene and so do not exist for logreg.
_PER_GENE_OPTIONS = ("auroc", "min_pct", "min_diff_pct", "min_logfc")
_SELECTOR_KEYS = {"dataset": "datasets", "grouping": "groupings", "test": "tests"}
#: The folder under ``results`` for intermediates that are no use on their own (the
#: per-comparison uns files the annotated h5ad is made from).
INTERNAL_FOLDER = "internal"
#: Names the workflow uses itself inside the results folder (datasets) and a dataset's folder.
RESERVED_NAMES = frozenset(
    {"markers.parquet", "pseudobulk.parquet", "pseudobulk", "logs", "benchmarks", INTERNAL_FOLDER}
)
RESERVED_GROUPING_NAMES = frozenset({"annotated.h5ad"})
#: The schema's pattern for names, checked again with fullmatch (JSON Schema's ``$`` lets a
#: trailing newline through).
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class ConfigError(ValueError):
    """The workflow config is inconsistent (the schema alone cannot tell)."""


@dataclass(frozen=True, order=True)
class Comparison:
    """One ranking job: a dataset, a grouping of its cells and a named test."""

    dataset: str
    grouping: str
    test: str

    def is_pseudobulk(self, config: Mapping[str, Any]) -> bool:
        """Whether this comparison's test is a pseudobulk test (its own rule and table)."""
        return config["tests"][self.test].get("method") == "pseudobulk"

    @property
    def uns_key(self) -> str:
        """Where the annotated h5ad keeps this comparison's result."""
        return f"rank_genes_groups_{self.grouping}_{self.test}"


def resolve_comparisons(config: Mapping[str, Any]) -> list[Comparison]:
    """Check a schema-validated config and list its comparisons, sorted.

    Raises
    ------
    ConfigError
        For a grouping that names an unknown dataset, a selector that names an unknown
        dataset, grouping or test, logreg options on a test of another method, a config
        that selects no comparison, or (for dataset files that exist) an obs column or a
        reference group that is not in the data.
    """
    _check_names(config)
    _check_screen_pattern(config)
    candidates = [
        Comparison(dataset, grouping, test)
        for grouping, entry in config["groupings"].items()
        for dataset in ((entry or {}).get("datasets") or config["datasets"])
        for test in config["tests"]
    ]
    selection = config.get("comparisons") or {}
    include = selection.get("include")
    exclude = selection.get("exclude") or []
    chosen = [
        comparison
        for comparison in candidates
        if (include is None or any(_matches(comparison, s) for s in include))
        and not any(_matches(comparison, s) for s in exclude)
    ]
    if not chosen:
        msg = (
            "the config selects no comparison: check 'comparisons: include/exclude' and the "
            "'datasets' lists of the groupings."
        )
        raise ConfigError(msg)
    _check_uns_keys([c for c in chosen if not c.is_pseudobulk(config)])
    _check_out_of_core(config, chosen)
    _check_data(config, chosen)
    return sorted(chosen)


#: Dataset keys that only the out-of-core path reads.
OUT_OF_CORE_KEYS = ("scheduler", "temp_dir", "block_nnz")


def _check_out_of_core(config: Mapping[str, Any], comparisons: list[Comparison]) -> None:
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


def rank_parameters(config: Mapping[str, Any], comparison: Comparison) -> dict[str, Any]:
    """The ``rgg rank --test-params`` mapping of one comparison.

    The test's parameters with the dataset's ``layer``/``use_raw`` (unset values left out,
    so rgg applies scanpy's defaults) and ``logreg`` options; every key is present in a
    schema-validated config, so a changed default shows up as a changed parameter.
    """
    test = config["tests"][comparison.test]
    dataset = config["datasets"][comparison.dataset]
    params = {key: test[key] for key in TEST_PARAMETER_KEYS if test.get(key) is not None}
    for key in ("layer", "use_raw"):
        if dataset.get(key) is not None:
            params[key] = dataset[key]
    if test.get("logreg"):
        params["logreg"] = dict(test["logreg"])
    return params


def pseudobulk_parameters(config: Mapping[str, Any], comparison: Comparison) -> dict[str, Any]:
    """The ``rgg pseudobulk --test-params`` mapping of one pseudobulk comparison (defaults
    filled in, so that a changed default shows up as a changed parameter)."""
    test = config["tests"][comparison.test]
    # the schema sets no default for these keys: absent means rgg's default, while an
    # explicit null is kept (counts_layer: null means X)
    return {key: test.get(key, default) for key, default in PSEUDOBULK_DEFAULTS.items()}


def groupby_column(config: Mapping[str, Any], grouping: str) -> str:
    """The obs column of a grouping (its ``column``, or its name)."""
    return (config["groupings"][grouping] or {}).get("column") or grouping


def _matches(comparison: Comparison, selector: Mapping[str, Any]) -> bool:
    for key in _SELECTOR_KEYS:
        if key in selector and getattr(comparison, key) not in _as_list(selector[key]):
            return False
    return True


def _as_list(names: str | Iterable[str]) -> list[str]:
    return [names] if isinstance(names, str) else list(names)


def _check_names(config: Mapping[str, Any]) -> None:
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
            for key, section in _SELECTOR_KEYS.items():
                for name in _as_list(selector.get(key, ())):
                    if name not in config[section]:
                        msg = (
                            f"comparisons.{part}[{position}].{key} names {name!r}, which is not "
                            f"in '{section}'.{did_you_mean(name, config[section])} "
                            f"Known: {', '.join(config[section])}."
                        )
                        raise ConfigError(msg)
    for name, test in config["tests"].items():
        clashes = sorted(set(test.get("logreg") or {}) & RANK_GENES_GROUPS_ARGUMENTS)
        if clashes:
            msg = (
                f"tests.{name}.logreg sets {clashes}, which are rank_genes_groups parameters, not "
                "LogisticRegression options; move them out of 'logreg'."
            )
            raise ConfigError(msg)
        if test.get("logreg") and test.get("method") != "logreg":
            msg = (
                f"tests.{name} has 'logreg' options but method {test.get('method')!r}; "
                "remove them or set 'method: logreg'."
            )
            raise ConfigError(msg)
        _check_test_kind(name, test)
        _check_reference(name, test)
        per_gene = [
            key for key in _PER_GENE_OPTIONS if test.get(key) is not None and test[key] is not False
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


def _check_uns_keys(comparisons: list[Comparison]) -> None:
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


def _check_data(config: Mapping[str, Any], comparisons: list[Comparison]) -> None:
    """Check the config against the headers of the dataset files that already exist.

    obs columns, reference and ``groups`` labels, layers, ``use_raw`` and ``mask_var``
    columns. Files that do not exist yet (made by another workflow, or a dry run of an
    example) are left to the ranking job, whose messages are as clear.
    """
    from .io.h5ad import h5ad_header

    for dataset in sorted({c.dataset for c in comparisons}):
        entry = config["datasets"][dataset]
        path = Path(entry["path"])
        if path.is_dir():
            msg = f"datasets.{dataset}.path {os.fspath(path)} is a directory; give the h5ad file."
            raise ConfigError(msg)
        if not path.is_file():
            continue
        where = f"dataset {dataset!r} ({os.fspath(path)})"
        try:
            header = h5ad_header(path)
        except (OSError, KeyError) as error:
            msg = (
                f"{where} is not a readable h5ad file ({error}); check the path, or write the "
                "file again with anndata."
            )
            raise ConfigError(msg) from None
        _check_matrix(entry, header, where)
        for comparison in (c for c in comparisons if c.dataset == dataset):
            _check_comparison(config, comparison, header, path, where)


def _check_matrix(entry: Mapping[str, Any], header: Any, where: str) -> None:
    layer = entry.get("layer")
    if layer is not None and layer not in header.layers:
        msg = (
            f"{where} has no layer {layer!r}.{did_you_mean(layer, header.layers)} "
            f"Layers: {', '.join(header.layers) or 'none'}."
        )
        raise ConfigError(msg)
    if entry.get("use_raw") and layer is not None:
        msg = f"{where}: set either 'layer' or 'use_raw: true', not both."
        raise ConfigError(msg)
    if entry.get("use_raw") and not header.has_raw:
        msg = f"{where} has no adata.raw; remove 'use_raw: true' to test X."
        raise ConfigError(msg)


def _check_comparison(
    config: Mapping[str, Any], comparison: Comparison, header: Any, path: Path, where: str
) -> None:
    from .io.h5ad import obs_categories

    column = groupby_column(config, comparison.grouping)
    if column not in header.obs_columns:
        msg = (
            f"grouping {comparison.grouping!r}: obs column {column!r} is not in {where}."
            f"{did_you_mean(column, header.obs_columns)} Columns: "
            f"{', '.join(header.obs_columns)}. Fix 'column', or limit the grouping with its "
            "'datasets' list."
        )
        raise ConfigError(msg)
    _check_screen(config, comparison.grouping, column, header, path, where)
    test = config["tests"][comparison.test]
    if comparison.is_pseudobulk(config):
        _check_pseudobulk_inputs(pseudobulk_parameters(config, comparison), header, where)
    mask_var = test.get("mask_var")
    if mask_var is not None and mask_var not in header.var_columns:
        msg = (
            f"test {comparison.test!r}: mask_var {mask_var!r} is not a var column of {where}."
            f"{did_you_mean(mask_var, header.var_columns)} Columns: "
            f"{', '.join(header.var_columns) or 'none'}."
        )
        raise ConfigError(msg)
    reference = test.get("reference", "rest")
    pool = [reference] if isinstance(reference, str) else list(reference)
    wanted = [("reference", label) for label in pool if label != "rest"]
    wanted += [("groups", label) for label in test.get("groups") or ()]
    if not wanted:
        return
    labels = obs_categories(path, column)
    if labels is None:
        return  # a numeric column: the job explains how to make it categorical
    for key, label in wanted:
        if str(label) not in labels:
            msg = (
                f"test {comparison.test!r} names {key} {label!r}, which is not a group of "
                f"obs[{column!r}] in {where}.{did_you_mean(label, labels)} Groups: "
                f"{', '.join(labels)}. Exclude the combination with comparisons.exclude: "
                f"[{{dataset: {comparison.dataset}, grouping: {comparison.grouping}, test: "
                f"{comparison.test}}}], or fix the {key}."
            )
            raise ConfigError(msg)


def _check_screen(
    config: Mapping[str, Any], grouping: str, column: str, header: Any, path: Path, where: str
) -> None:
    """A screen grouping's control is one of its groups; its obs and var columns exist."""
    from .io.h5ad import obs_categories

    screen = (config["groupings"][grouping] or {}).get("screen")
    if not screen:
        return
    key = f"groupings.{grouping}.screen"
    for name, columns, kind in (
        ("target_obs", header.obs_columns, "an obs"),
        ("target_var", header.var_columns, "a var"),
    ):
        value = screen.get(name)
        if value is not None and value not in columns:
            msg = (
                f"{key}.{name} {value!r} is not {kind} column of {where}."
                f"{did_you_mean(value, columns)} Columns: {', '.join(columns) or 'none'}."
            )
            raise ConfigError(msg)
    labels = obs_categories(path, column)
    control = str(screen["control"])
    if labels is not None and control not in labels:
        msg = (
            f"{key}.control {control!r} is not a group of obs[{column!r}] in {where}."
            f"{did_you_mean(control, labels)} Name the label of the control cells."
        )
        raise ConfigError(msg)


def _check_screen_pattern(config: Mapping[str, Any]) -> None:
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


def _check_pseudobulk_inputs(params: Mapping[str, Any], header: Any, where: str) -> None:
    sample, layer = params["sample"], params["counts_layer"]
    if sample not in header.obs_columns:
        msg = (
            f"pseudobulk sample column {sample!r} is not in {where}."
            f"{did_you_mean(sample, header.obs_columns)} Columns: {', '.join(header.obs_columns)}. "
            "Fix 'sample', or leave this dataset out with comparisons.exclude."
        )
        raise ConfigError(msg)
    if layer is not None and layer not in header.layers:
        msg = (
            f"{where} has no counts layer {layer!r} for the pseudobulk test."
            f"{did_you_mean(layer, header.layers)} Layers: {', '.join(header.layers) or 'none'}; "
            "set counts_layer (null means X) to the raw counts."
        )
        raise ConfigError(msg)


def describe_schema_error(error: Any) -> str:
    """One line for a ``jsonschema.ValidationError`` of the config: where, what, the fix."""
    where = ".".join(str(part) for part in error.absolute_path) or "the config"
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        known = list(schema.get("properties", {}))
        unknown = [key for key in error.instance if key not in known]
        if unknown and known:
            key = unknown[0]
            return (
                f"{where}: unknown key {key!r}.{did_you_mean(key, known)} "
                f"Valid keys: {', '.join(known)}."
            )
    if error.validator == "enum":
        return (
            f"{where}: {error.instance!r} is not allowed.{did_you_mean(error.instance, error.validator_value)} "
            f"Choose one of {', '.join(map(str, error.validator_value))}."
        )
    if error.validator == "required":
        return f"{where}: {error.message}; see config/README.md."
    if error.validator == "oneOf" and error.context:
        from jsonschema.exceptions import best_match

        return describe_schema_error(best_match(error.context))
    if error.validator == "pattern" and schema.get("pattern") == r"\.html$":
        return f"{where}: {error.instance!r} must end in .html."
    if error.validator == "pattern" or "does not match" in error.message:
        return (
            f"{where}: {error.message}. Names of datasets, groupings and tests become file "
            "names: use letters, digits, '_', '.' and '-', starting with a letter or digit."
        )
    if error.validator == "type" and "string" in _as_list(error.validator_value):
        return f"{where}: {error.message}; quote labels and names that YAML reads as numbers or booleans (e.g. '0', 'yes')."
    return f"{where}: {error.message}"


def check_duplicate_keys(path: str | os.PathLike[str]) -> None:
    """Refuse a YAML file in which a mapping repeats a key (YAML loaders keep the last silently).

    Two tests with the same name would otherwise merge into one without a word.
    """
    import yaml

    class _StrictLoader(yaml.SafeLoader):
        pass

    def construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` merges, by design
                continue
            key = loader.construct_object(key_node)
            if not isinstance(key, str | int | float | bool) and key is not None:
                continue  # complex keys: the schema refuses them later
            if key in seen:
                msg = (
                    f"{os.fspath(path)}, line {key_node.start_mark.line + 1}: the key {key!r} "
                    f"appears twice in one mapping (first on line {seen[key] + 1}); names must be "
                    "unique, so rename or merge one of them."
                )
                raise ConfigError(msg)
            seen[key] = key_node.start_mark.line
        return loader.construct_mapping(node)

    _StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    try:
        with open(path) as handle:
            yaml.load(handle, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.YAMLError as error:
        msg = f"{os.fspath(path)} is not valid YAML: {' '.join(str(error).split())}"
        raise ConfigError(msg) from None
