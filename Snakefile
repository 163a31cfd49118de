# rgg workflow: rank marker genes for every dataset x grouping x test declared in the config.
# Run `snakemake --cores all` (config/config.yaml), or pass --configfile with your own;
# config/README.md documents every key.

from snakemake.utils import min_version, validate

import os
import sys

from rgg.io.provenance import WORKFLOW_COMMAND_VARIABLE
from rgg.workflow.command import lock_hint, workflow_command
from rgg.workflow.messages import check_duplicate_keys, describe_schema_error
from rgg.workflow.model import ConfigError

min_version("8.0")

# A run that was killed leaves Snakemake's lock behind; say how to remove it before
# Snakemake stops with "Directory cannot be locked" (jobs of a running workflow skip this).
if getattr(workflow, "is_main_process", True):
    _hint = lock_hint(".", sys.argv)
    if _hint:
        print(_hint, file=sys.stderr)
    # the command the user ran, for the provenance records of the jobs (rgg.io.provenance)
    os.environ[WORKFLOW_COMMAND_VARIABLE] = workflow_command(sys.argv, os.environ)


# The default config, unless config files are given with --configfile: those replace it
# (Snakemake would otherwise merge them into it, adding the default datasets and tests).
if not workflow.config_settings.configfiles:

    configfile: "config/config.yaml"


try:
    for path in workflow.config_settings.configfiles or ["config/config.yaml"]:
        check_duplicate_keys(path)
except ConfigError as error:
    raise WorkflowError(f"Invalid config: {error}") from None

try:
    validate(config, "workflow/schemas/config.schema.yaml")
except WorkflowError as error:  # name the key and the fix, not the whole schema
    cause = error.__context__  # snakemake raised it while handling jsonschema's error
    if not hasattr(cause, "validator"):
        raise
    raise WorkflowError(f"Invalid config: {describe_schema_error(cause)}") from None


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/rank.smk"
include: "workflow/rules/pseudobulk.smk"
include: "workflow/rules/collect.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/crate.smk"


rule all:
    input:
        combined_table=combined_table_path(),
        pseudobulk=combined_pseudobulk_paths(),
        annotated=annotated_paths(),
        report=config["report"]["file"],
        crate=rules.crate.output.crate,
    default_target: True
