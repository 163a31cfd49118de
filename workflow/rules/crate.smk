# The run as a Workflow Run RO-Crate (results/ro-crate-metadata.json) with its environment
# pinned, and `snakemake verify`, which checks a results folder against it (rgg verify).


rule crate:
    input:
        tables=comparison_tables(),
        outputs=crate_outputs(),
    output:
        crate=f"{RESULTS}/ro-crate-metadata.json",
        environment=f"{RESULTS}/environment.txt",
        conda=f"{RESULTS}/environment.yml",
        # the resolved config and a copy of the workflow
        run=directory(f"{RESULTS}/run"),
    log:
        f"{RESULTS}/logs/crate.log",
    benchmark:
        f"{RESULTS}/benchmarks/crate.tsv"
    params:
        results=lambda wildcards, output: os.path.dirname(output.crate),
        files=crate_options(),
        resolved_config=crate_config(),
        workflow=workflow.basedir,
        license=config["license"],
        rgg_version=rgg.__version__,
    conda:
        RGG_ENV
    threads: 1
    resources:
        mem_mb=1024,
    message:
        "describe the run as a Workflow Run RO-Crate"
    shell:
        "rgg crate {params.results:q} {params.files} --config {params.resolved_config:q}"
        " --workflow {params.workflow:q} --license {params.license:q} > {log:q} 2>&1"


# Not part of the default target: `snakemake --cores 1 verify` checks the results folder as it
# is (checksums, provenance, environment); `rgg verify results --recompute` also reruns
# comparisons. No input on purpose: with the crate as input, a tampered output (newer than the
# crate) would make Snakemake write the crate again first, and the check would pass.
rule verify:
    log:
        f"{RESULTS}/logs/verify.log",
    params:
        results=RESULTS,
    conda:
        RGG_ENV
    threads: 1
    resources:
        mem_mb=1024,
    message:
        "check {params.results} against its RO-Crate"
    shell:
        "rgg verify {params.results:q} 2>&1 | tee {log:q}"
