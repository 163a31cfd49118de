# Pseudobulk differential expression (tests with method: pseudobulk): counts summed per
# sample and group, each group tested against the rest or a reference with PyDESeq2.


rule pseudobulk:
    input:
        h5ad=dataset_path,
    output:
        f"{RESULTS}/pseudobulk/{{dataset}}/{{grouping}}/{{test}}.parquet",
    log:
        f"{RESULTS}/logs/pseudobulk/{{dataset}}/{{grouping}}/{{test}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/pseudobulk/{{dataset}}/{{grouping}}/{{test}}.tsv"
    params:
        groupby=rank_groupby,
        test=pseudobulk_test_params,
        record=rank_config_record,
        rgg_version=rgg.__version__,
    conda:
        RGG_ENV
    # one process: PyDESeq2's worker processes cost more (memory, start-up) than they save on
    # pseudobulk matrices of a few dozen rows
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: loaded_mem_mb(wildcards, input.h5ad, factor=1.5),
    message:
        "pseudobulk test of {wildcards.dataset} by {wildcards.grouping} ({wildcards.test})"
    shell:
        "rgg pseudobulk {input.h5ad:q} --groupby {params.groupby:q} --test-params {params.test:q}"
        " --dataset {wildcards.dataset:q} --grouping {wildcards.grouping:q} --test {wildcards.test:q}"
        " --n-jobs {threads} --record-config {params.record:q} --out {output:q} > {log:q} 2>&1"


rule collect_pseudobulk:
    input:
        tables=pseudobulk_tables(),
    output:
        report(
            f"{RESULTS}/pseudobulk.parquet",
            caption="../report/pseudobulk.rst",
            category="Pseudobulk",
        ),
    log:
        f"{RESULTS}/logs/collect_pseudobulk.log",
    benchmark:
        f"{RESULTS}/benchmarks/collect_pseudobulk.tsv"
    params:
        resolved_config=recorded_config(pseudobulk=True),
        rgg_version=rgg.__version__,
    conda:
        RGG_ENV
    threads: 1
    resources:
        mem_mb=2048,
    message:
        "combine the pseudobulk tables"
    shell:
        "rgg collect {input.tables:q} --record-config {params.resolved_config:q} --out {output:q} > {log:q} 2>&1"
