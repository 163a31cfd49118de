"""The ``rgg`` command line: a thin layer over the Python API, one module per subcommand.

:func:`main` runs a command line and returns its exit code; :func:`console_main` is the
``rgg`` script. Importing this package loads no numerical library: each subcommand imports
what it needs when it runs.
"""

from __future__ import annotations

from ._app import console_main, main
from ._options import EXIT_INTERRUPTED, EXIT_USAGE

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "console_main", "main"]
