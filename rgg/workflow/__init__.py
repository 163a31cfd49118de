"""The Snakemake workflow's Python: its config model, checks and messages, and what the
rules compute. The ``.smk`` files under ``workflow/rules/`` only bind these to the run's
config and a job's wildcards.

Modules
-------
model
    Comparisons (datasets x groupings x tests, include/exclude), reserved names, and what
    one comparison runs with.
tests_config
    The keys and defaults of a config's test entries.
checks
    The config checked against itself.
data_checks
    The config checked against the h5ad headers of its datasets.
resolve
    :func:`~rgg.workflow.resolve.resolve_comparisons`: the checks in order, then the
    comparisons.
messages
    One line per schema error; the duplicate-key check of YAML files.
paths, options, resources
    The rules' file paths; the option strings and JSON they pass to ``rgg``; memory estimates.
environment
    The shell prefix that lets rules find ``rgg``.
command
    The hint about a stale Snakemake lock, and the command recorded for provenance.

Nothing is imported here, so that importing one module (e.g. ``tests_config`` from the report)
does not load the others.
"""
