"""What several ``rgg`` subcommands share: the parser class, options declared once, readers of
option values (YAML and JSON text), and the progress line.

Nothing here imports the numerical stack: ``rgg --help`` and the workflow's jobs start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .._errors import did_you_mean
from .._parameters import Parameter

#: Exit code of a user error (bad input, bad option); argparse uses it for usage errors too.
EXIT_USAGE = 2
#: Exit code after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130

Subcommands = "argparse._SubParsersAction[argparse.ArgumentParser]"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the problem and where help is.

    argparse prints the whole usage block first; for ``rgg rank`` that is 16 lines in which
    the one that matters comes last.
    """

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"rgg: error: {message} (see `{self.prog} --help`).\n")


def say(message: str) -> None:
    """A progress line on stderr (the log of a workflow job)."""
    print(f"rgg: {message}", file=sys.stderr, flush=True)


def add_parameter_options(parser: argparse.ArgumentParser, table: Iterable[Parameter]) -> None:
    """One option per parameter of the table, each defaulting to ``None`` (not given)."""
    for parameter in table:
        parser.add_argument(parameter.option, **parameter.argparse_options())


def add_table_job(parser: argparse.ArgumentParser, input_help: str) -> None:
    """INPUT, ``--groupby`` and ``--out``: one h5ad file in, one Parquet table out."""
    parser.add_argument("input", help=input_help)
    parser.add_argument("--groupby", required=True, help="obs column with the groups")
    parser.add_argument("--out", required=True, help="the Parquet file to write")


def add_comparison_names(parser: argparse.ArgumentParser, test_default: str) -> None:
    """``--dataset``, ``--grouping`` and ``--test``: the names a result table records."""
    parser.add_argument("--dataset", help="dataset name in the table (default: the file name)")
    parser.add_argument("--grouping", help="grouping name in the table (default: --groupby)")
    parser.add_argument("--test", help=f"test name in the table (default: {test_default})")


def add_record_config(parser: argparse.ArgumentParser, what: str) -> None:
    """``--record-config JSON``: the workflow config recorded in the output's provenance."""
    parser.add_argument(
        "--record-config",
        metavar="JSON",
        help=f"{what}, recorded in the provenance (a JSON object)",
    )


def comparison_names(args: argparse.Namespace, test_default: str) -> dict[str, str]:
    """The dataset, grouping and test names of ``add_comparison_names``' options."""
    return {
        "dataset": args.dataset or Path(args.input).stem,
        "grouping": args.grouping or args.groupby,
        "test": args.test or test_default,
    }


def read_text(path: str, option: str) -> str:
    """The text of a YAML/JSON file given as ``option``, or one line on why it cannot be read."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        msg = f"{option} {path}: no such file; check the path."
    except IsADirectoryError:
        msg = f"{option} {path} is a directory; give the YAML file."
    except UnicodeDecodeError:
        msg = f"{option} {path} is not a text file; give a YAML or JSON file of test parameters."
    except PermissionError:
        msg = f"{option} {path}: permission denied; make the file readable for this user."
    raise ValueError(msg)


def json_object(text: str | None, option: str) -> dict[str, Any]:
    """The JSON object given as ``option`` (``{}`` when not given)."""
    import json

    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        msg = f"{option}: not valid JSON ({error})."
        raise ValueError(msg) from error
    if not isinstance(value, dict):
        msg = f"{option}: a JSON object is expected, got {type(value).__name__}."
        raise ValueError(msg)
    return value


def parameter_mapping(text: str | None, keys: Sequence[str], where: str) -> dict[str, Any]:
    """A mapping of parameters from JSON (tried first) or YAML text, with known keys only."""
    import json

    import yaml

    if not text:
        return {}
    try:  # JSON first: YAML 1.1 reads JSON's 1e-05 as a string
        config = json.loads(text)
    except json.JSONDecodeError:
        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError as error:
            msg = f"{where}: not valid YAML ({' '.join(str(error).split())})."
            raise ValueError(msg) from error
    config = {} if config is None else config
    if not isinstance(config, dict):
        msg = f"{where}: test parameters are a mapping, got {type(config).__name__}."
        raise ValueError(msg)
    for key in config:
        if key not in keys:
            msg = f"{where}: unknown key {key!r}.{did_you_mean(key, keys)} Valid keys: {', '.join(keys)}."
            raise ValueError(msg)
    return config


def check_types(config: Mapping[str, Any], where: str, table: Iterable[Parameter]) -> None:
    """Refuse a value of the wrong type, naming the key and the type it needs."""
    for parameter in table:
        value, types = config.get(parameter.name), parameter.python_types
        wrong = value is not None and (
            not isinstance(value, types) or (bool not in types and isinstance(value, bool))
        )
        if wrong:
            hint = " (quote labels such as '0')" if str in types else ""
            msg = f"{where}: {parameter.name} must be {parameter.type_words}, got {value!r}{hint}."
            raise ValueError(msg)
