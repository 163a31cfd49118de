# Results of all comparisons together: one long table, and per dataset an annotated h5ad.


rule collect:
    input:
        tables=rank_tables(),
    output:
        report(
            f"{RESULTS}/markers.parquet",
            caption="../report/markers.rst",
            category="Marker genes",
        ),
    log:
        f"{RESULTS}/logs/collect.log",
    benchmark:
        f"{RESULTS}/benchmarks/collect.tsv"
    params:
        resolved_config=recorded_config(),
        rgg_version=rgg.__version__,
    conda:
        RGG_ENV
    threads: 1
    resources:
        mem_mb=2048,
    message:
        "combine the result tables of all comparisons"
    shell:
        "rgg collect {input.tables:q} --record-config {params.resolved_config:q} --out {output:q} > {log:q} 2>&1"


rule annotate:
    input:
        h5ad=dataset_path,
        results=dataset_uns_results,
    output:
        f"{RESULTS}/{{dataset}}/annotated.h5ad",
    log:
        f"{RESULTS}/logs/annotate/{{dataset}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/annotate/{{dataset}}.tsv"
    params:
        rgg_version=rgg.__version__,
    conda:
        RGG_ENV
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: loaded_mem_mb(wildcards, input.h5ad, factor=1.2),
    message:
        "annotate {wildcards.dataset} with its results"
    shell:
        "rgg annotate {input.h5ad:q} {input.results:q} --out {output:q} > {log:q} 2>&1"
