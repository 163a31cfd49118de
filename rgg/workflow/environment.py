"""How the rules' shell commands find the ``rgg`` command.

Rules run ``rgg`` from ``PATH``. The environment that runs Snakemake should come first, so
that ``.venv/bin/snakemake`` run without activating ``.venv`` finds the ``rgg`` of that
virtual environment rather than another one on ``PATH``; with ``--use-conda`` (or
``--sw-deployment-method conda``) the rule's conda environment comes first instead, which
holds its own ``rgg``.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

#: Snakemake's own prefix of bash commands (its "strict mode"), which a prefix of ours replaces.
BASH_STRICT_MODE = "set -euo pipefail; "


def rule_shell_prefix(python: str, shell_executable: str | None, *, uses_conda: bool) -> str | None:
    """The ``shell.prefix`` for the rules, or ``None`` to keep Snakemake's own.

    Parameters
    ----------
    python
        The interpreter that runs Snakemake (``sys.executable``): its folder goes first on
        ``PATH``.
    shell_executable
        The shell that runs the commands (``shell.get_executable()``); for bash, Snakemake's
        strict mode is kept in front.
    uses_conda
        Whether rules run in their conda environments. Snakemake activates a rule's
        environment before the prefix, so a ``PATH`` set here would come before it; the
        environment holds ``rgg`` itself, so no prefix is needed.
    """
    if uses_conda:
        return None
    folder = shlex.quote(str(Path(python).parent))
    strict = BASH_STRICT_MODE if Path(shell_executable or "").name.lower() == "bash" else ""
    # Snakemake formats the prefix like a shell command: braces are doubled to stay literal.
    export = f'export PATH={folder}{os.pathsep}"$PATH"; '.replace("{", "{{").replace("}", "}}")
    return strict + export
