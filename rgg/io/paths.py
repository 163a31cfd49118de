"""Checks on the paths a command will write, made before it does any work."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def check_output_paths(inputs: dict[str, Any], outputs: dict[str, Any]) -> None:
    """Refuse, before any work, outputs that would overwrite an input or each other, that are
    directories, or whose folder cannot be written.

    Parameters
    ----------
    inputs
        What each input is (as the message names it, e.g. ``'the input file'``) -> its path.
    outputs
        Option (``'--out'``) -> the path it writes. ``None`` paths are skipped in both.

    Raises
    ------
    ValueError
        One line naming the option, the path and the fix.
    """
    given = {option: Path(path) for option, path in inputs.items() if path is not None}
    seen: dict[Path, str] = {}
    for option, path in ((o, Path(p)) for o, p in outputs.items() if p is not None):
        resolved = path.resolve()
        for source, input_path in given.items():
            if resolved == input_path.resolve() or (
                path.exists() and input_path.exists() and os.path.samefile(path, input_path)
            ):
                msg = (
                    f"{option} {path} is {source}; rgg never overwrites its inputs. Choose "
                    "another output path."
                )
                raise ValueError(msg)
        if resolved in seen:
            msg = f"{option} and {seen[resolved]} are the same file {path}; give each its own path."
            raise ValueError(msg)
        seen[resolved] = option
        if path.is_dir():
            msg = f"{option} {path} is a directory; give a file path inside it, e.g. {path / 'result'}."
            raise ValueError(msg)
        folder = resolved.parent
        while not folder.exists():  # the folders rgg would create
            folder = folder.parent
        if not folder.is_dir():
            msg = f"{option} {path}: {folder} is a file, not a folder; choose another path."
            raise ValueError(msg)
        if not os.access(folder, os.W_OK | os.X_OK):
            msg = f"{option} {path}: cannot write in {folder}; choose a folder you can write to."
            raise ValueError(msg)
