"""Provenance records: how an output was made, written into the output itself.

A record is a JSON-serialisable dict: the command line, the parameters, rgg's version and
git commit, Python and package versions, the sha256 of every input, platform and host, and
the start and end time. rgg stores it in the Parquet metadata (``rgg:provenance``) and in the
annotated h5ad (``uns['rgg_provenance']``), so that a file found alone says how it was made.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

#: Stamped in every record; readers may check it.
PROVENANCE_VERSION = "1"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The sha256 hex digest of a file, read in chunks.

    Remembered per (path, size, modification time) within a process, so a step that records
    the same large input twice reads it once.
    """
    status = os.stat(path)
    return _sha256(os.path.realpath(path), status.st_size, status.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def now() -> str:
    """The current time in UTC, ISO 8601 with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


#: Environment variable through which the workflow passes its snakemake command line to the
#: steps it runs (not a rule parameter: a different invocation must not rerun the jobs).
WORKFLOW_COMMAND_VARIABLE = "RGG_WORKFLOW_COMMAND"


def provenance_record(
    *,
    command: Sequence[str],
    inputs: Iterable[str | os.PathLike[str]],
    started: str,
    params: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A provenance record of one step that ran from ``started`` until now.

    Parameters
    ----------
    command
        The command line (``sys.argv``-like).
    inputs
        Files the step read; each is recorded with its size and sha256.
    started
        When the step started (:func:`now`).
    params
        The parameters of the step (e.g. rank_genes_groups keywords).
    config
        The part of the workflow config, with defaults filled in, that the step ran.
    data
        Facts about the data (cells, genes, the tested matrix, group sizes).
    """
    return {
        "provenance_version": PROVENANCE_VERSION,
        "command": list(command),
        # the snakemake command line the user ran, when a workflow job runs this step
        "workflow_command": os.environ.get(WORKFLOW_COMMAND_VARIABLE),
        "params": dict(params or {}),
        "config": dict(config or {}),
        "data": dict(data or {}),
        "inputs": [_input_record(path) for path in inputs],
        "rgg": rgg_source(),
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "dependencies": dependency_versions(),
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "description": platform.platform(),
        },
        "host": socket.gethostname(),
        "started": started,
        "finished": now(),
    }


def to_json(record: Mapping[str, Any]) -> str:
    """The record as compact, key-sorted JSON."""
    return json.dumps(record, sort_keys=True, default=str)


def _input_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    resolved = Path(path)
    return {
        "path": os.fspath(path),
        "bytes": resolved.stat().st_size,
        "sha256": sha256_file(resolved),
    }


@cache
def rgg_source() -> dict[str, Any]:
    """rgg's version, and the git commit of its source with a dirty flag when it is a checkout."""
    from .._version import __version__

    source = Path(__file__).resolve().parents[2]
    record: dict[str, Any] = {"version": __version__, "git_commit": None, "git_dirty": None}
    try:
        top = Path(_git(source, "rev-parse", "--show-toplevel").strip()).resolve()
        if top != source:  # an installed copy inside some other repository
            return record
        commit = _git(source, "rev-parse", "HEAD")
        status = _git(source, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return record  # an installed wheel, or no git
    record["git_commit"] = commit.strip()
    record["git_dirty"] = bool(status.strip())
    return record


def _git(directory: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(directory), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout


@cache
def dependency_versions() -> dict[str, str]:
    """Versions of every package installed beside rgg, by distribution name."""
    versions = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            versions[name] = distribution.version
    return dict(sorted(versions.items(), key=lambda item: item[0].lower()))
