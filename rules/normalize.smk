# Normalize: Fourier-bin, pad and contrast-normalize one chunk to the model input size.
# Keyed by model input size only (NORM_DIR = results/normalized/s<size>), so switching prompt:
# reuses these files; micrographs already done are skipped inside the job.


rule normalize:
    """Normalized images + FrameMapping sidecars of one chunk, and its manifest."""
    input:
        manifest="results/ingest/chunks/{chunk}.tsv",
    output:
        manifest=f"{NORM_DIR}/chunks/{{chunk}}.tsv",
    params:
        out_dir=lambda wc, output: os.path.dirname(os.path.dirname(output.manifest)),
        size=MODEL_SIZE,
        extra=" ".join(filter(None, [
            opt("--lowpass-A", config["normalize"].get("lowpass_A")),
            "--clip-percentiles {} {}".format(*config["normalize"]["clip_percentiles"]),
        ])),
    log:
        f"logs/normalized/s{MODEL_SIZE}/{{chunk}}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo normalize --manifest {input.manifest} --out-dir {params.out_dir}"
        " --out {output.manifest} --model-size {params.size} --workers {threads} {params.extra}"
        " > {log} 2>&1"
