# Ingest: validate one chunk of input micrographs (one job per chunk); bad files become
# "rejected" rows with a reason instead of failing the job. ingest_rejections gathers every
# chunk's rejections into results/ingest/rejected.tsv, and stops the run when every input was
# rejected. A micrograph is validated again only when its file changed (size or modification
# time: samcryo_core.stamps), which the `stamps` param makes Snakemake notice.


rule ingest:
    """Validate the micrographs of one chunk; write its manifest (ok/rejected + pixel size)."""
    output:
        manifest="results/ingest/chunks/{chunk}.tsv",
    params:
        # the chunk's input paths: a change of chunk membership changes params -> rerun
        paths=lambda wc: " ".join(q(p) for p in LISTING.paths(wc.chunk)),
        # size:mtime of each input file: a replaced or completed file changes params -> rerun
        # (ingest redoes only that micrograph; later stages follow through their stamps)
        stamps=lambda wc: LISTING.file_stamps(wc.chunk),
        out_dir="results/ingest/micrographs",
        extra=" ".join(filter(None, [
            opt("--micrographs-star", config["inputs"].get("micrographs_star")),
            opt("--cryosparc-csv", config["inputs"].get("cryosparc_csv")),
            opt("--project-dir", config["inputs"].get("project_dir")),
            opt("--pixel-size", config["inputs"].get("pixel_size_A")),
            opt("--min-size", config["inputs"].get("min_size")),
        ])),
    log:
        "logs/ingest/{chunk}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=20,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo ingest --out {output.manifest} --out-dir {params.out_dir} {params.extra}"
        " {params.paths} > {log} 2>&1"


rule ingest_rejections:
    """All chunks' rejected micrographs with reasons, plus accepted/rejected counts."""
    input:
        chunk_files("results/ingest/chunks/{chunk}.tsv"),
    output:
        rejected="results/ingest/rejected.tsv",
        summary="results/ingest/summary.json",
    log:
        "logs/ingest/rejections.log",
    localrule: True
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo ingest --merge-rejections {output.rejected} --summary {output.summary} {input}"
        " > {log} 2>&1"
