# Config resolution, wildcard constraints, paths and input functions shared by the rules.
# The logic lives in rgg.workflow, where it is unit-tested; the functions here only bind it
# to this run's config and a job's wildcards.

import mimetypes
import os
import sys

from snakemake.settings.types import DeploymentMethod

import rgg
from rgg.workflow import options as _options
from rgg.workflow import paths as _paths
from rgg.workflow import resources as _resources
from rgg.workflow.environment import rule_shell_prefix
from rgg.workflow.model import (
    INTERNAL_FOLDER,
    NAME_REGEX,
    ConfigError,
    groupby_column,
)
from rgg.workflow.resolve import resolve_comparisons

RESULTS = config["results"]
# intermediates that are no use on their own, under RESULTS
INTERNAL = INTERNAL_FOLDER

try:
    ALL_COMPARISONS = resolve_comparisons(config)
except ConfigError as error:
    raise WorkflowError(f"Invalid config: {error}") from None

# Rules run `rgg` from PATH: the environment that runs Snakemake goes first in each rule's
# shell (rgg.workflow.environment), not in this process's environment.
_deployment = getattr(workflow, "deployment_settings", None)
_prefix = rule_shell_prefix(
    sys.executable,
    shell.get_executable(),
    uses_conda=_deployment is not None and DeploymentMethod.CONDA in _deployment.deployment_method,
)
if _prefix is not None:
    shell.prefix(_prefix)
# Where workflow/envs/rgg.post-deploy.sh installs rgg from. Snakemake runs that script with
# this process's environment and offers no other way to hand it a value, so this one
# variable is set here.
os.environ.update(RGG_SOURCE=str(workflow.basedir))

RGG_ENV = "../envs/rgg.yaml"

# So that Snakemake's --report attaches the tables with the right type.
mimetypes.add_type("application/vnd.apache.parquet", ".parquet")


wildcard_constraints:
    dataset=NAME_REGEX,
    grouping=NAME_REGEX,
    test=NAME_REGEX,


def combined_table_path():
    return _paths.combined_table_path(config)


def combined_pseudobulk_paths():
    return _paths.combined_pseudobulk_paths(config, ALL_COMPARISONS)


def annotated_paths():
    return _paths.annotated_paths(config, ALL_COMPARISONS)


def rank_tables():
    return _paths.rank_tables(config, ALL_COMPARISONS)


def pseudobulk_tables():
    return _paths.pseudobulk_tables(config, ALL_COMPARISONS)


def comparison_tables():
    return _paths.comparison_tables(config, ALL_COMPARISONS)


def crate_outputs():
    return _paths.crate_outputs(config, ALL_COMPARISONS)


def crate_options():
    return _options.crate_options(config, ALL_COMPARISONS)


def report_dataset_paths():
    return _paths.report_dataset_paths(config, ALL_COMPARISONS)


def report_dataset_options():
    return _options.report_dataset_options(config, ALL_COMPARISONS)


def report_pseudobulk_options():
    return _options.report_pseudobulk_options(config, ALL_COMPARISONS)


def recorded_config(pseudobulk=False):
    return _options.recorded_config(config, pseudobulk=pseudobulk)


def crate_config():
    return _options.crate_config(config)


def dataset_path(wildcards):
    return _paths.dataset_path(config, wildcards.dataset)


def dataset_uns_results(wildcards):
    return _paths.dataset_uns_results(config, ALL_COMPARISONS, wildcards.dataset)


def comparison_of(wildcards):
    try:
        return _options.comparison_of(
            ALL_COMPARISONS, wildcards.dataset, wildcards.grouping, wildcards.test
        )
    except ConfigError as error:
        raise WorkflowError(str(error)) from None


def rank_groupby(wildcards):
    return groupby_column(config, comparison_of(wildcards).grouping)


def rank_test_params(wildcards):
    return _options.rank_test_params(config, comparison_of(wildcards))


def pseudobulk_test_params(wildcards):
    return _options.pseudobulk_test_params(config, comparison_of(wildcards))


def rank_config_record(wildcards):
    return _options.comparison_config_record(config, comparison_of(wildcards))


def rank_uns_key(wildcards):
    return comparison_of(wildcards).uns_key


def rank_out_of_core_options(wildcards):
    return _options.out_of_core_options(config, wildcards.dataset)


def rank_mem_mb(wildcards, input, threads):
    return _resources.rank_mem_mb(config, wildcards.dataset, input.h5ad, threads)


def loaded_mem_mb(wildcards, paths, factor):
    return _resources.loaded_mem_mb(paths, factor)
