"""The software environment of a run, written so that a colleague can rebuild it.

Two files from one list of installed packages: ``environment.txt`` (a pip requirements file
pinning every package, for ``pip install -r``) and ``environment.yml`` (a conda environment
file with the same Python version and the same pins under ``pip:``). rgg itself is not pinned
there: it is installed from a clone at the commit the header names.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .atomic import atomic_path

#: Distributions left out of the pins: rgg comes from its clone, pip's tools from the venv.
_NOT_PINNED = frozenset({"rgg", "pip"})


def _pins(packages: Mapping[str, str]) -> list[str]:
    return [
        f"{name}=={version}"
        for name, version in sorted(packages.items(), key=lambda item: item[0].lower())
        if name.lower() not in _NOT_PINNED
    ]


def _header(rgg: Mapping[str, Any], python: str) -> list[str]:
    commit = rgg.get("git_commit") or "unknown (an installed copy, not a git checkout)"
    dirty = " with uncommitted changes" if rgg.get("git_dirty") else ""
    return [
        f"# The packages of an rgg {rgg['version']} run on Python {python}.",
        f"# rgg itself: git commit {commit}{dirty}. In a clone of rgg at that commit,",
        "#   python -m pip install -r RESULTS/environment.txt && python -m pip install --no-deps -e .",
    ]


def requirements_text(
    packages: Mapping[str, str], rgg: Mapping[str, Any], python: str | None = None
) -> str:
    """A pip requirements file pinning ``packages`` (name -> version), rgg named in a comment.

    Parameters
    ----------
    packages
        Every installed distribution and its version (``dependency_versions()``).
    rgg
        rgg's version and git commit (``rgg_source()``).
    python
        The Python version (default: this interpreter's).
    """
    python = python or platform.python_version()
    return "\n".join([*_header(rgg, python), *_pins(packages)]) + "\n"


def conda_text(
    packages: Mapping[str, str], rgg: Mapping[str, Any], python: str | None = None
) -> str:
    """A conda environment file: conda-forge's Python of the run's version, the pins via pip."""
    python = python or platform.python_version()
    lines = [
        *_header(rgg, python),
        "# conda env create -f environment.yml -n rgg-run  (then install rgg as above)",
        "channels:",
        "  - conda-forge",
        "  - nodefaults",
        "dependencies:",
        f"  - python={python}",
        "  - pip",
        "  - pip:",
        *(f"      - {pin}" for pin in _pins(packages)),
    ]
    return "\n".join(lines) + "\n"


def write_environment_files(
    folder: str | os.PathLike[str],
    packages: Mapping[str, str],
    rgg: Mapping[str, Any],
    python: str | None = None,
) -> tuple[Path, Path]:
    """Write ``environment.txt`` and ``environment.yml`` into ``folder`` atomically; return them."""
    folder = Path(folder)
    written = []
    for name, text in (
        ("environment.txt", requirements_text(packages, rgg, python)),
        ("environment.yml", conda_text(packages, rgg, python)),
    ):
        with atomic_path(folder / name) as temporary:
            temporary.write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written[0], written[1]
