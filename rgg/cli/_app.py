"""The ``rgg`` command: the parser of every subcommand, and how errors and Ctrl-C end it.

``main(argv) -> int`` parses, runs and returns an exit code; user errors, usage errors
included, print one line (``--debug`` shows the traceback) and exit with 2; Ctrl-C prints
one line and ends the process as killed by SIGINT (status 130 in a shell). Each subcommand
lives in its own module of :mod:`rgg.cli`, with its options and its ``run``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence

from .._version import __version__
from . import annotate, collect, crate, demo, pseudobulk, rank, report, verify
from ._options import EXIT_INTERRUPTED, EXIT_USAGE, OneLineParser

#: The subcommands, in the order ``rgg --help`` lists them.
SUBCOMMANDS = (demo, rank, pseudobulk, collect, annotate, report, crate, verify)


def _parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="rgg",
        description="Rank marker genes of cell groups: scanpy's rank_genes_groups, fast.",
    )
    parser.add_argument("--version", action="version", version=f"rgg {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for subcommand in SUBCOMMANDS:
        subcommand.add_parser(commands)
    for command in commands.choices.values():  # whose usage an unknown option belongs to
        command.set_defaults(command_parser=command)
    return parser


class _StderrHandler(logging.Handler):
    """rgg's warnings as ``rgg: warning: ...`` lines on the current ``sys.stderr``."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"rgg: {record.levelname.lower()}: {record.getMessage()}", file=sys.stderr)


def _show_warnings() -> None:
    logger = logging.getLogger("rgg")
    if not any(isinstance(handler, _StderrHandler) for handler in logger.handlers):
        logger.addHandler(_StderrHandler(logging.WARNING))


@contextlib.contextmanager
def _one_line_warnings() -> Iterator[None]:
    """Python warnings (anndata's, PyDESeq2's) as one ``rgg: warning:`` line each, not two
    lines with the library's source file."""
    previous = warnings.formatwarning
    warnings.formatwarning = lambda message, category, *_, **__: (
        f"rgg: warning: {category.__name__}: {message}\n"
    )
    try:
        yield
    finally:
        warnings.formatwarning = previous


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``rgg`` command with ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    args, unknown = _parser().parse_known_args(argv)
    if unknown:
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    _show_warnings()
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        with _one_line_warnings():
            return args.run(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        # outputs are written atomically: one being written when interrupted is not left
        print("rgg: interrupted; no partial output file is left.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        sys.stderr.close()
        return 0
    except (ValueError, KeyError, FileNotFoundError, NotImplementedError, OSError) as error:
        if args.debug:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"rgg: error: {message}", file=sys.stderr)
        return EXIT_USAGE


def console_main() -> None:
    """Entry point of the ``rgg`` script."""
    try:
        code = main()
    except KeyboardInterrupt:  # before a command runs (parsing, importing it)
        print("rgg: interrupted.", file=sys.stderr)
        code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        # end as killed by SIGINT, not with a plain status: that is how a shell loop or
        # `make` learns that the user pressed Ctrl-C and stops too (the shell shows 130)
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    sys.exit(code)
