"""rgg's version, from the installed distribution's metadata.

A module of its own so that the command line, the report and provenance records can name the
version without importing the package's numerical parts (numba, anndata).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rgg")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"
