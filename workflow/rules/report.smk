# The run's HTML report: results, plots, agreement of methods, run facts and provenance.


rule report:
    input:
        markers=combined_table_path(),
        pseudobulk=combined_pseudobulk_paths(),
        annotated=annotated_paths(),
        datasets=report_dataset_paths(),
    output:
        report(
            config["report"]["file"],
            caption="../report/rgg_report.rst",
            category="Report",
        ),
    log:
        f"{RESULTS}/logs/report.log",
    benchmark:
        f"{RESULTS}/benchmarks/report.tsv"
    params:
        datasets=report_dataset_options(),
        pseudobulk=report_pseudobulk_options(),
        benchmarks=f"{RESULTS}/benchmarks",
        title=config["report"]["title"],
        top_n=config["report"]["top_n"],
        rgg_version=rgg.__version__,
    conda:
        RGG_ENV
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: loaded_mem_mb(wildcards, input.datasets, factor=1.2),
    message:
        "write the HTML report {output}"
    shell:
        "rgg report {input.markers:q} {params.datasets} {params.pseudobulk} --benchmarks {params.benchmarks:q}"
        " --title {params.title:q} --top-n {params.top_n} --out {output:q} > {log:q} 2>&1"
