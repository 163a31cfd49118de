"""``rgg verify``: does a results folder still hold what its RO-Crate says, and does it reproduce?

Checks, each problem reported as one line naming the file or comparison, what is wrong and what
to do:

- every input, output and record (config, the workflow's copy) still has its recorded sha256;
- every comparison's table still says, in its own provenance, the comparison, the parameters,
  the input and the rgg version that the crate records for it (and so do the records in the
  combined tables and the annotated h5ad files);
- this environment runs the rgg version of the run, and the same versions of rgg's
  dependencies (other packages that differ, and another git commit, are notes, not problems);
- with ``recompute``, the first N comparisons (or all) run again in a temporary folder with the
  recorded command, and their tables must equal the recorded ones bit for bit.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .io.crate import CrateComparison, CrateFile, RunCrate, id_path, parameter_text, read_run_crate
from .io.parquet import read_comparisons, read_results
from .io.provenance import dependency_versions, rgg_source, sha256_file


@dataclass
class Environment:
    """The software a check compares the run's with."""

    rgg_version: str
    rgg_commit: str | None
    python: str
    packages: dict[str, str]


def current_environment() -> Environment:
    """This process's rgg, Python and packages."""
    source = rgg_source()
    return Environment(
        rgg_version=source["version"],
        rgg_commit=source.get("git_commit"),
        python=platform.python_version(),
        packages=dict(dependency_versions()),
    )


@dataclass
class Verification:
    """The outcome: problems (any makes the check fail), notes, and what was checked."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    comparisons: int = 0
    recomputed: int = 0
    run: RunCrate | None = None  # what the crate says about the run

    @property
    def passed(self) -> bool:
        return not self.problems


def verify_results(
    results: str | Path,
    *,
    recompute: int | None = 0,
    data: str | Path | None = None,
    n_jobs: int | None = None,
    environment: Environment | None = None,
    progress: Callable[[str], None] | None = None,
) -> Verification:
    """Check the results folder of a workflow run against its ``ro-crate-metadata.json``.

    Parameters
    ----------
    results
        The results folder (the crate's root).
    recompute
        Comparisons to run again and compare bit for bit: the first N the crate lists, ``None``
        for all, 0 for none.
    data
        A folder to look for input files in (by name) when they are not at their recorded place,
        e.g. where a colleague's datasets were copied.
    n_jobs
        Threads of a recomputation (default: as recorded).
    environment
        The software to compare the run's with (default: :func:`current_environment`).
    progress
        Called with a line before each recomputation.

    Raises
    ------
    FileNotFoundError, ValueError
        When the folder holds no readable crate.
    """
    crate = read_run_crate(results)
    outcome = Verification(run=crate)
    located = {}
    for entry in crate.inputs:
        located[entry.id] = _locate(entry, crate.root, data)
    for entry in [*crate.inputs, *crate.outputs, *crate.records]:
        outcome.files += 1
        path = located.get(entry.id) or id_path(entry.id, crate.root)
        problem = _file_problem(entry, path, is_input=entry.id in located)
        if problem:
            outcome.problems.append(problem)
    for comparison in crate.comparisons:
        outcome.comparisons += 1
        outcome.problems.extend(_provenance_problems(crate, comparison))
    outcome.problems.extend(_combined_problems(crate))
    outcome.problems.extend(_annotated_problems(crate))
    problems, notes = _environment_findings(crate, environment or current_environment())
    outcome.problems.extend(problems)
    outcome.notes.extend(notes)
    chosen = crate.comparisons if recompute is None else crate.comparisons[: max(recompute, 0)]
    if chosen:
        by_checksum = {entry.sha256: located[entry.id] for entry in crate.inputs}
        with tempfile.TemporaryDirectory(prefix="rgg-verify-") as folder:
            for index, comparison in enumerate(chosen):
                if progress:
                    progress(f"recomputing {comparison.name} ({index + 1} of {len(chosen)})")
                problem = _recompute(crate, comparison, by_checksum, Path(folder), n_jobs)
                outcome.recomputed += 1
                if problem:
                    outcome.problems.append(problem)
    return outcome


def _locate(entry: CrateFile, root: Path, data: str | Path | None) -> Path:
    recorded = id_path(entry.id, root)
    if recorded.is_file() or data is None:
        return recorded
    candidate = Path(data) / recorded.name
    return candidate if candidate.is_file() else recorded


def _file_problem(entry: CrateFile, path: Path, *, is_input: bool) -> str | None:
    if not path.is_file():
        where = " or name the folder that holds it with --data" if is_input else ""
        return f"{entry.id}: missing; the run recorded it here (relative to the results folder): put it back{where}."
    if entry.sha256 is None:
        return f"{entry.id}: the crate records no sha256 for it; rerun the workflow to write the crate again."
    found = sha256_file(path)
    if found != entry.sha256:
        what = "input" if is_input else "file"
        return (
            f"{entry.id}: sha256 {found[:16]}... differs from the {entry.sha256[:16]}... recorded; "
            f"this {what} changed since the run: restore it, or rerun the workflow on it."
        )
    return None


def _provenance_problems(crate: RunCrate, comparison: CrateComparison) -> list[str]:
    table = id_path(comparison.table, crate.root)
    if not table.is_file():
        return []  # reported as a missing file
    try:
        records = read_comparisons(table)
    except (OSError, ValueError) as error:
        return [f"{comparison.table}: {error}"]
    if len(records) != 1:
        return [
            f"{comparison.table}: holds {len(records)} comparisons, the crate says one "
            f"({comparison.name}); rerun the workflow."
        ]
    return _record_problems(crate, comparison, records[0], comparison.table)


def _record_problems(
    crate: RunCrate, comparison: CrateComparison, record: Mapping[str, Any], where: str
) -> list[str]:
    rerun = "the crate or the table was edited since the run; rerun the workflow"
    name = "/".join(str(record.get(key)) for key in ("dataset", "grouping", "test"))
    if name != comparison.name:
        return [f"{where}: holds the comparison {name}, the crate says {comparison.name}; {rerun}."]
    problems = []
    recorded = {key: parameter_text(value) for key, value in record.get("params", {}).items()}
    for key in sorted(set(recorded) | set(comparison.params)):
        in_table, in_crate = recorded.get(key), comparison.params.get(key)
        if in_table != in_crate:
            problems.append(
                f"{where}: parameter {key} of {name} is {_shown(in_crate)} in the crate but "
                f"{_shown(in_table)} in the table's provenance; {rerun}."
            )
    version = record.get("rgg_version")
    if crate.rgg_version is not None and version != crate.rgg_version:
        problems.append(
            f"{where}: made by rgg {version}, the crate says rgg {crate.rgg_version}; {rerun}."
        )
    inputs = {entry.id: entry.sha256 for entry in crate.inputs}
    wanted = {inputs.get(identifier) for identifier in comparison.inputs}
    for item in record.get("provenance", {}).get("inputs", []):
        if item.get("sha256") not in wanted:
            problems.append(
                f"{where}: its provenance names input {item.get('path')} with sha256 "
                f"{str(item.get('sha256'))[:16]}..., which the crate does not record for {name}; "
                f"{rerun}."
            )
    return problems


def _combined_problems(crate: RunCrate) -> list[str]:
    """The comparisons' records inside the combined tables agree with the crate too."""
    by_name = {comparison.name: comparison for comparison in crate.comparisons}
    table_ids = {comparison.table for comparison in crate.comparisons}
    problems = []
    for entry in crate.outputs:
        path = id_path(entry.id, crate.root)
        if entry.id in table_ids or path.suffix != ".parquet" or not path.is_file():
            continue
        try:
            records = read_comparisons(path)
        except (OSError, ValueError) as error:
            problems.append(f"{entry.id}: {error}")
            continue
        for record in records:
            name = "/".join(str(record.get(key)) for key in ("dataset", "grouping", "test"))
            if name not in by_name:
                problems.append(
                    f"{entry.id}: holds the comparison {name}, which the crate does not list; "
                    "rerun the workflow."
                )
                continue
            problems.extend(_record_problems(crate, by_name[name], record, entry.id))
    return problems


def _annotated_problems(crate: RunCrate) -> list[str]:
    """The provenance records in the annotated h5ad files agree with the crate too."""
    import h5py

    by_name = {comparison.name: comparison for comparison in crate.comparisons}
    inputs = {entry.sha256 for entry in crate.inputs}
    problems = []
    for entry in crate.outputs:
        path = id_path(entry.id, crate.root)
        if path.suffix != ".h5ad" or not path.is_file():
            continue
        try:
            with h5py.File(path, "r") as handle:
                group = handle.get("uns/rgg_provenance")
                texts = {key: group[key][()] for key in group} if group is not None else {}
        except OSError as error:
            problems.append(f"{entry.id}: not a readable h5ad file ({error}); rerun the workflow.")
            continue
        if "annotate" not in texts:
            problems.append(
                f"{entry.id}: holds no provenance (uns['rgg_provenance']['annotate']); rerun the "
                "workflow."
            )
            continue
        for key, text in texts.items():
            record = json.loads(text)
            if key == "annotate":
                dataset = (record.get("inputs") or [{}])[0].get("sha256")
                if dataset not in inputs:
                    problems.append(
                        f"{entry.id}: was made from a dataset with sha256 {str(dataset)[:16]}..., "
                        "which the crate does not record; rerun the workflow."
                    )
                continue
            config = record.get("config", {})
            name = "/".join(str(config.get(k)) for k in ("dataset", "grouping", "test"))
            if name not in by_name:
                problems.append(
                    f"{entry.id}: holds the comparison {name} (uns['{key}']), which the crate "
                    "does not list; rerun the workflow."
                )
                continue
            as_table_record = {
                **{k: config.get(k) for k in ("dataset", "grouping", "test")},
                "params": record.get("params", {}),
                "rgg_version": record.get("rgg", {}).get("version"),
                "provenance": record,
            }
            problems.extend(
                _record_problems(
                    crate, by_name[name], as_table_record, f"{entry.id} (uns['{key}'])"
                )
            )
    return problems


def _shown(value: str | None) -> str:
    return "not set" if value is None else repr(value)


def rgg_requirements() -> set[str]:
    """The names of rgg's runtime dependencies (lower case), as its metadata declares them."""
    try:
        requirements = metadata.requires("rgg") or []
    except metadata.PackageNotFoundError:
        return set()
    names = set()
    for requirement in requirements:
        if "extra ==" in requirement:
            continue
        match = re.match(r"[A-Za-z0-9._-]+", requirement)
        if match:
            names.add(_normalised(match.group(0)))
    return names


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _environment_findings(crate: RunCrate, current: Environment) -> tuple[list[str], list[str]]:
    problems: list[str] = []
    notes: list[str] = []
    rebuild = "rebuild the run's environment from environment.txt (README: Reproduce a colleague's results)"
    if crate.rgg_version != current.rgg_version:
        problems.append(
            f"rgg: the run used rgg {crate.rgg_version}, this is rgg {current.rgg_version}; "
            f"install rgg {crate.rgg_version} (git commit {crate.rgg_commit or 'unknown'}) and "
            f"{rebuild}."
        )
    elif crate.rgg_commit and current.rgg_commit and crate.rgg_commit != current.rgg_commit:
        notes.append(
            f"rgg: the run used git commit {crate.rgg_commit}, this is {current.rgg_commit} "
            "(same version); --recompute tells whether the results still agree."
        )
    if crate.python and crate.python.split(".")[:2] != current.python.split(".")[:2]:
        problems.append(
            f"Python: the run used {crate.python}, this is {current.python}; {rebuild}."
        )
    elif crate.python and crate.python != current.python:
        notes.append(f"Python: the run used {crate.python}, this is {current.python}.")
    required = rgg_requirements()
    installed = {_normalised(name): version for name, version in current.packages.items()}
    others = []
    for name, version in sorted(crate.packages.items(), key=lambda item: item[0].lower()):
        here = installed.get(_normalised(name))
        if here == version:
            continue
        if _normalised(name) in required:
            now = "is not installed" if here is None else f"is {here} here"
            problems.append(f"package {name}: the run used {version}, it {now}; {rebuild}.")
        else:
            others.append(f"{name} {version} -> {here or 'not installed'}")
    if others:
        shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
        notes.append(
            f"{len(others)} packages rgg does not depend on differ from the run's: {shown}."
        )
    return problems, notes


def _recompute(
    crate: RunCrate,
    comparison: CrateComparison,
    inputs: Mapping[str | None, Path],
    folder: Path,
    n_jobs: int | None,
) -> str | None:
    """Run one comparison again with its recorded command; a problem line, or None."""
    table = id_path(comparison.table, crate.root)
    where = f"{comparison.name} (recomputed)"
    try:
        [record] = read_comparisons(table)
    except (OSError, ValueError) as error:
        return f"{where}: cannot read its table {comparison.table} ({error})."
    provenance = record.get("provenance", {})
    command = provenance.get("command") or []
    recorded_inputs = provenance.get("inputs") or [{}]
    source = inputs.get(recorded_inputs[0].get("sha256"))
    if source is None or not source.is_file():
        return f"{where}: its input is not in the crate or not found; see the input's line above."
    out = folder / f"{comparison.name.replace('/', '__')}.parquet"
    try:
        args = _recorded_arguments(command)
    except ValueError as error:
        return f"{where}: {error}"
    args.input = str(source)
    args.out = str(out)
    args.argv = [*command[1:]]
    if args.command == "rank":
        args.uns_out = None
        args.progress = False
        if args.scheduler not in (None, "threads", "synchronous"):
            args.scheduler = None  # the run's cluster is gone: a local one gives the same result
    if n_jobs is not None:
        args.n_jobs = n_jobs
    log = io.StringIO()
    try:
        with contextlib.redirect_stderr(log):
            args.run(args)  # the subcommand's run function, bound by its parser
    except Exception as error:  # any failure of the rerun is the finding
        return f"{where}: the rerun failed ({error}); its log: {' | '.join(log.getvalue().splitlines()[-3:])}"
    difference = table_difference(read_results(out)[0], read_results(table)[0])
    if difference:
        return f"{where}: the table differs from {comparison.table}: {difference}."
    return None


def _recorded_arguments(command: Sequence[str]) -> argparse.Namespace:
    """The options of a recorded ``rgg rank``/``rgg pseudobulk`` command line, parsed as then."""
    from .cli._app import _parser

    if len(command) < 2 or command[0] != "rgg" or command[1] not in ("rank", "pseudobulk"):
        msg = f"its recorded command {' '.join(command)!r} is not `rgg rank` or `rgg pseudobulk`"
        raise ValueError(msg)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            args, unknown = _parser().parse_known_args(list(command[1:]))
    except SystemExit:
        unknown = ["(unparsable)"]
    if unknown:
        msg = f"this rgg does not know options of its recorded command ({' '.join(unknown)})"
        raise ValueError(msg)
    return args


def table_difference(new: pl.DataFrame, recorded: pl.DataFrame) -> str | None:
    """Where two result tables differ, bit for bit (NaN payloads and nulls included), or None."""
    if new.schema != recorded.schema:
        return f"columns {dict(new.schema)} instead of {dict(recorded.schema)}"
    if new.height != recorded.height:
        return f"{new.height} rows instead of {recorded.height}"
    for name in new.columns:
        a, b = new[name], recorded[name]
        same = (a.is_null() == b.is_null()).to_numpy()
        if a.dtype.is_float():
            width = {4: np.uint32, 8: np.uint64}[a.to_numpy().dtype.itemsize]
            bits_a = a.fill_null(0).to_numpy().view(width)
            bits_b = b.fill_null(0).to_numpy().view(width)
            same &= bits_a == bits_b
        else:
            same &= a.eq_missing(b).to_numpy()
        if not same.all():
            row = int(np.flatnonzero(~same)[0])
            where = ", ".join(
                f"{key} {new[key][row]!r}" for key in ("group", "gene") if key in new.columns
            )
            return (
                f"column {name} differs in {int((~same).sum())} rows, first at row {row} "
                f"({where}): {a[row]!r} instead of {b[row]!r}"
            )
    return None
