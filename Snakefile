# rgg workflow: rank marker genes for every dataset x grouping x test declared in the config.
# Run `snakemake --cores all` (config/config.yaml), or pass --configfile with your own;
# config/README.md documents every key.

from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/rank.smk"
include: "workflow/rules/collect.smk"


rule all:
    input:
        combined_table=combined_table_path(),
        annotated=annotated_paths(),
    default_target: True
