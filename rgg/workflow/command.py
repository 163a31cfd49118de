"""What the Snakefile works out from the snakemake command line while it is parsed.

The lock hint: what to do about a Snakemake lock left by a killed run, said before
Snakemake refuses to run. And the command itself, for the provenance records.

Snakemake locks the folder's inputs and outputs while it runs (``.snakemake/locks``) and
removes the lock when it ends. A run killed with SIGKILL, a lost SSH session or a power cut
leaves the lock behind, and every later run stops with "Directory cannot be locked". The
Snakefile calls :func:`lock_hint` while it is parsed, which is before Snakemake takes the
lock, so the user reads the fix next to Snakemake's error.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
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
    if _given(argv, "--unlock", *_NO_JOBS) or _short_flag(argv, "n"):
        return None  # unlocking, or a command that runs no job and does not need the lock
    locks = Path(workdir) / LOCKS
    if not locks.is_dir() or not any(locks.iterdir()):
        return None
    command = shlex.join(argv)
    return (
        f"rgg: {locks} holds the lock of an earlier run in this folder. If that run is still "
        "going, let it finish. If it was killed (kill -9, a lost SSH session, a power cut), "
        "remove the lock once with the same command and --unlock, e.g.\n"
        f"    {command} --unlock\n"
        "then rerun: complete outputs are kept and incomplete ones are made again."
    )


#: Snakemake options that run no job (a dry run, listings, graphs, summaries).
_NO_JOBS = (
    "--dry-run", "--dryrun", "--list-rules", "--list-target-rules", "--dag", "--rulegraph",
    "--filegraph", "--summary", "--detailed-summary", "--lint", "--report",
)  # fmt: skip


def _short_flag(argv: Sequence[str], flag: str) -> bool:
    """Whether the one-letter ``flag`` is given, alone or in a cluster such as ``-np``."""
    return any(
        arg.startswith("-") and not arg.startswith("--") and arg[1:].isalpha() and flag in arg
        for arg in argv[1:]
    )


def _given(argv: Sequence[str], *options: str) -> bool:
    """Whether one of ``options`` is in ``argv``, also abbreviated as argparse allows."""
    return any(
        arg.startswith("--") and len(arg) > 4 and any(o.startswith(arg) for o in options)
        for arg in argv[1:]
    )


#: Words in an option's name (or a ``--config`` key) that mark its value as a secret.
_SECRET_WORDS = ("secret", "token", "password", "passwd", "key", "credential")


def workflow_command(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """The snakemake command line as the user ran it, for provenance records: ``argv``, plus
    the profile set through ``SNAKEMAKE_PROFILE``, which the command line does not show.

    Values of options whose name looks secret (``--storage-s3-secret-key X``,
    ``--config api_token=X``) are replaced by ``***``: the records go into shared reports.
    """
    command = shlex.join(_redacted(argv))
    profile = environ.get("SNAKEMAKE_PROFILE")
    return f"SNAKEMAKE_PROFILE={shlex.quote(profile)} {command}" if profile else command


def _redacted(argv: Sequence[str]) -> list[str]:
    def secret(name: str) -> bool:
        return any(word in name.lower() for word in _SECRET_WORDS) and name != "--configfile"

    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next and not arg.startswith("-"):
            out.append("***")
            hide_next = False
            continue
        hide_next = False
        name, equals, _ = arg.partition("=")
        if arg.startswith("--") and secret(name):
            out.append(f"{name}=***" if equals else arg)
            hide_next = not equals
        elif not arg.startswith("-") and equals and secret(name):  # --config key=value items
            out.append(f"{name}=***")
        else:
            out.append(arg)
    return out
