"""``rgg crate``: the run's Workflow Run RO-Crate and environment files."""

from __future__ import annotations

import argparse
from pathlib import Path

from ._options import Subcommands, json_object, say


def add_parser(commands: Subcommands) -> None:
    """Declare ``rgg crate`` and its options."""
    crate = commands.add_parser(
        "crate",
        help="describe a finished workflow run as a Workflow Run RO-Crate (the workflow's last step)",
        description="Write RESULTS/ro-crate-metadata.json (Workflow Run Crate 0.5): the "
        "workflow (copied to RESULTS/run/) as the main entity, the resolved config "
        "(RESULTS/run/config.yaml), every input and output with its sha256, the software (rgg's "
        "version and commit, Python, every package), the command, start and end times, and one "
        "action per comparison linking its input, parameters and table; and the run's packages "
        "pinned in RESULTS/environment.txt (pip) and RESULTS/environment.yml (conda). Check it "
        "later with `rgg verify RESULTS`. Each file is written atomically.",
    )
    crate.add_argument("results", help="the results folder of the run: the crate's root")
    crate.add_argument(
        "--table",
        action="append",
        default=[],
        required=True,
        help="a comparison's table from `rgg rank` or `rgg pseudobulk` (repeat for each)",
    )
    crate.add_argument(
        "--output",
        action="append",
        default=[],
        help="another output of the run: combined table, annotated h5ad, report (repeat)",
    )
    crate.add_argument(
        "--config", required=True, metavar="JSON", help="the resolved workflow config (JSON)"
    )
    crate.add_argument("--workflow", required=True, help="the folder of the Snakefile that ran")
    crate.add_argument(
        "--license", help="the results' licence: an SPDX URL or a sentence (default: none chosen)"
    )
    crate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The run's Workflow Run RO-Crate and environment files."""
    import os

    from ..io.crate import write_run_crate
    from ..io.provenance import WORKFLOW_COMMAND_VARIABLE

    if not Path(args.results).is_dir():
        msg = f"{args.results}: not a folder; give the results folder of the workflow run."
        raise ValueError(msg)
    config = json_object(args.config, "--config")
    path = write_run_crate(
        args.results,
        tables=args.table,
        outputs=args.output,
        config=config,
        workflow_dir=args.workflow,
        command=os.environ.get(WORKFLOW_COMMAND_VARIABLE),
        license=args.license,
    )
    say(f"the run's RO-Crate ({len(args.table)} comparisons) written to {path}")
    return 0
