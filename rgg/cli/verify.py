"""``rgg verify``: check a results folder against its RO-Crate."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._options import Subcommands, say


def add_parser(commands: Subcommands) -> None:
    """Declare ``rgg verify`` and its options."""
    verify = commands.add_parser(
        "verify",
        help="check a results folder against its RO-Crate, and optionally rerun comparisons",
        description="Check that every input still has the sha256 the run's "
        "ro-crate-metadata.json records, that every output still has its checksum and "
        "provenance (comparison, parameters, input, rgg version), and that this environment has "
        "the run's rgg version and the versions of rgg's dependencies. With --recompute, run N "
        "comparisons (or all) again in a temporary folder and compare the tables bit for bit. "
        "Prints one line per problem; exits with 0 only when everything holds, 1 otherwise.",
    )
    verify.add_argument("results", help="the results folder of a workflow run")
    verify.add_argument(
        "--recompute",
        nargs="?",
        const="all",
        default="0",
        metavar="N",
        help="rerun the first N comparisons, or all (the default when N is left out)",
    )
    verify.add_argument(
        "--data",
        help="a folder to look for the inputs in, by file name, when they are not where the "
        "run read them",
    )
    verify.add_argument(
        "--n-jobs", type=int, default=None, help="threads of a rerun (default: as recorded)"
    )
    verify.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """One line per problem; 0 only when everything holds."""
    from ..verify import verify_results

    if args.recompute == "all":
        recompute = None
    elif args.recompute.isdigit():
        recompute = int(args.recompute)
    else:
        msg = f"--recompute {args.recompute!r}: give a number of comparisons, or 'all'."
        raise ValueError(msg)
    if args.data is not None and not Path(args.data).is_dir():
        msg = f"--data {args.data}: not a folder; give the folder that holds the input files."
        raise ValueError(msg)
    outcome = verify_results(
        args.results, recompute=recompute, data=args.data, n_jobs=args.n_jobs, progress=say
    )
    run = outcome.run
    if run is not None:
        commit = f", git commit {run.rgg_commit}" if run.rgg_commit else ""
        print(
            f"rgg verify: the run: rgg {run.rgg_version}{commit}, Python {run.python}, "
            f"{len(run.packages)} other packages; from {run.started} to {run.ended}; "
            f"command: {run.command or 'not recorded'}",
            flush=True,
        )
    for note in outcome.notes:
        print(f"rgg verify: note: {note}", flush=True)
    for problem in outcome.problems:
        print(f"rgg verify: problem: {problem}", flush=True)
    checked = (
        f"{outcome.files} files, {outcome.comparisons} comparisons' provenance and the "
        f"environment checked, {outcome.recomputed} comparisons recomputed"
    )
    if outcome.passed:
        print(f"rgg verify: {args.results} holds: {checked}.")
        return 0
    print(f"rgg verify: {len(outcome.problems)} problems in {args.results} ({checked}).")
    return 1
