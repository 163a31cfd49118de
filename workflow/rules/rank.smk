# One ranking per comparison: the rgg command on the dataset's h5ad.


rule rank:
    input:
        h5ad=dataset_path,
    output:
        table=f"{RESULTS}/{{dataset}}/{{grouping}}/{{test}}.parquet",
        # scanpy's uns structure alone (no cells, no genes): an intermediate for the
        # annotated h5ad, kept apart from the user's results
        uns=f"{RESULTS}/{INTERNAL}/uns/{{dataset}}/{{grouping}}/{{test}}.uns.h5ad",
    log:
        f"{RESULTS}/logs/rank/{{dataset}}/{{grouping}}/{{test}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/rank/{{dataset}}/{{grouping}}/{{test}}.tsv"
    params:
        groupby=rank_groupby,
        test=rank_test_params,
        key=rank_uns_key,
        record=rank_config_record,
        out_of_core=rank_out_of_core_options,
        rgg_version=rgg.__version__,
    conda:
        RGG_ENV
    threads: config["threads"]
    resources:
        mem_mb=rank_mem_mb,
    message:
        "rank {wildcards.dataset} by {wildcards.grouping} with test {wildcards.test}"
    shell:
        "rgg rank {input.h5ad:q} --groupby {params.groupby:q} --test-params {params.test:q}"
        " --dataset {wildcards.dataset:q} --grouping {wildcards.grouping:q} --test {wildcards.test:q}"
        " --key-added {params.key:q} --n-jobs {threads} --no-progress --record-config {params.record:q}"
        " {params.out_of_core}"
        " --out {output.table:q} --uns-out {output.uns:q} > {log:q} 2>&1"
