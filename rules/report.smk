# QC report (last stage): overlays of picks on the normalized micrographs, distributions, tables,
# a one-page summary (summary.md + self-contained summary.html), all marked for Snakemake's own
# report:   snakemake --report results/report.html   (or a .zip for large runs; see docs/qc.md).
#
# Uses from rules/common.smk: CHUNK_IDS, PROMPT_DIR, NORM_DIR, HAS_TRUTH, LAYOUT, LOG_PROMPT_DIR,
# chunk_files, q. Optional config section `report:` (sample, sample_every, compare); without it
# the defaults below apply.

from samcryo_core.workflow.report_args import (
    report_compare,
    report_compare_args,
    report_evaluation_args,
    report_extra_args,
)

_REPORT_COMPARE = report_compare(config, PROMPT_DIR, HAS_TRUTH)


rule report:
    """QC overlays, distributions, tables and the one-page summary of this run."""
    input:
        picks=chunk_files(f"{PROMPT_DIR}/picks/chunks/{{chunk}}.tsv"),
        normalized=chunk_files(f"{NORM_DIR}/chunks/{{chunk}}.tsv"),
        rejections="results/ingest/rejected.tsv",
        evaluation=(
            [f"{PROMPT_DIR}/evaluation/overall.json", f"{PROMPT_DIR}/evaluation/per_micrograph.csv"]
            if HAS_TRUTH
            else []
        ),
        compare=list(_REPORT_COMPARE.values()),
    output:
        summary=report(
            f"{PROMPT_DIR}/qc/summary.md",
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"file": "summary.md"},
        ),
        html=report(
            f"{PROMPT_DIR}/qc/summary.html",
            caption="../report/summary.rst",
            category="1. Summary",
            labels={"file": "summary.html"},
        ),
        plots=report(
            directory(f"{PROMPT_DIR}/qc/plots"),
            patterns=["{name}.png"],
            caption="../report/plots.rst",
            category="2. Distributions",
            labels={"plot": "{name}"},
        ),
        overlays=report(
            directory(f"{PROMPT_DIR}/qc/overlays"),
            patterns=["{name}.png"],
            caption="../report/overlays.rst",
            category="3. Overlays",
            labels={"micrograph": "{name}"},
        ),
        tables=report(
            directory(f"{PROMPT_DIR}/qc/tables"),
            patterns=["{name}.csv"],
            caption="../report/tables.rst",
            category="4. Tables",
            labels={"table": "{name}"},
        ),
    params:
        out_dir=lambda wc, output: os.path.dirname(output.summary),
        evaluation=report_evaluation_args(config, PROMPT_DIR, HAS_TRUTH),
        compare=report_compare_args(_REPORT_COMPARE),
        extra=report_extra_args(config, PROMPT_DIR, LAYOUT.uses_sam),
    log:
        f"{LOG_PROMPT_DIR}/report.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo report --picks-manifests {input.picks} --normalized-manifests {input.normalized}"
        " --rejections {input.rejections} {params.evaluation} {params.compare} {params.extra}"
        " --out-dir {params.out_dir} > {log} 2>&1"
