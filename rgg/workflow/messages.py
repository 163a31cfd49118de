"""Messages for a config that cannot be read or does not fit the schema.

:func:`describe_schema_error` turns a ``jsonschema.ValidationError`` into one line that
names the key and the fix; :func:`check_duplicate_keys` refuses a YAML file that repeats a
key, which YAML loaders would otherwise drop without a word.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .._errors import did_you_mean
from .model import ConfigError, as_list


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
    if error.validator == "type" and "string" in as_list(error.validator_value):
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
