"""Say what to do about a Snakemake lock left by a killed run, before Snakemake refuses to run.

Snakemake locks the folder's inputs and outputs while it runs (``.snakemake/locks``) and
removes the lock when it ends. A run killed with SIGKILL, a lost SSH session or a power cut
leaves the lock behind, and every later run stops with "Directory cannot be locked". The
Snakefile calls :func:`lock_hint` while it is parsed, which is before Snakemake takes the
lock, so the user reads the fix next to Snakemake's error.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from pathlib import Path

#: Where Snakemake keeps its lock files, relative to the working directory.
LOCKS = Path(".snakemake") / "locks"


def lock_hint(workdir: str | os.PathLike[str], argv: Sequence[str]) -> str | None:
    """The hint to print when ``workdir`` holds a Snakemake lock, or ``None``.

    Parameters
    ----------
    workdir
        The workflow's working directory (Snakemake's ``--directory``).
    argv
        The ``snakemake`` command line (``sys.argv``); no hint while it unlocks or dry-runs.
    """
    if _given(argv, "--unlock") or _given(argv, "--dry-run", "--dryrun") or "-n" in argv:
        return None  # unlocking, or a dry run, which does not need the lock
    locks = Path(workdir) / LOCKS
    if not locks.is_dir() or not any(locks.iterdir()):
        return None
    command = shlex.join([a for a in argv if a not in {"--quiet", "-q"}])
    return (
        f"rgg: {locks} holds the lock of an earlier run in this folder. If that run is still "
        "going, let it finish. If it was killed (kill -9, a lost SSH session, a power cut), "
        "remove the lock once with the same command and --unlock, e.g.\n"
        f"    {command} --unlock\n"
        "then rerun: complete outputs are kept and incomplete ones are made again."
    )


def _given(argv: Sequence[str], *options: str) -> bool:
    """Whether one of ``options`` is in ``argv``, also abbreviated as argparse allows."""
    return any(
        arg.startswith("--") and len(arg) > 4 and any(o.startswith(arg) for o in options)
        for arg in argv[1:]
    )
