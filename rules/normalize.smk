# Normalize: Fourier-bin each micrograph of one chunk to the working scale (the particle spans
# PARTICLE_PX pixels) and contrast-normalize it. Keyed by the working scale only
# (NORM_DIR = results/normalized/p<px>), so switching prompt: reuses these files; a micrograph is
# redone only when its stamp (settings, pixel size, source file) changed.


rule normalize:
    """Normalized images + FrameMapping sidecars of one chunk, and its manifest."""
    input:
        manifest="results/ingest/chunks/{chunk}.tsv",
    output:
        manifest=f"{NORM_DIR}/chunks/{{chunk}}.tsv",
    params:
        out_dir=lambda wc, output: os.path.dirname(os.path.dirname(output.manifest)),
        extra=" ".join(filter(None, [
            f"--particle-px {PARTICLE_PX:g}",
            diameter_cli_args(config),
            opt("--lowpass-A", config["normalize"].get("lowpass_A")),
            "--clip-percentiles {} {}".format(*config["normalize"]["clip_percentiles"]),
        ])),
    log:
        f"logs/normalized/p{PARTICLE_PX:g}/{{chunk}}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo normalize --manifest {input.manifest} --out-dir {params.out_dir}"
        " --out {output.manifest} --workers {threads} {params.extra}"
        " > {log} 2>&1"
