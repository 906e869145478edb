# Extract: probability maps -> particle coordinates in the original frame (one job per chunk).
# Writes the same picks CSVs and manifests as pick_log, so export and evaluation treat both alike:
# every candidate above extract.floor with its figure of merit (export.threshold chooses among
# them). A micrograph is redone only when its stamp (options, probability map) changed.


rule extract:
    """Threshold, split and filter one chunk's probability maps into picks CSVs."""
    input:
        manifest=f"{PROMPT_DIR}/probability/chunks/{{chunk}}.tsv",
    output:
        manifest=f"{PROMPT_DIR}/picks/chunks/{{chunk}}.tsv",
    params:
        out_dir=lambda wc, output: os.path.dirname(os.path.dirname(output.manifest)),
        diameter=diameter_cli_args(config),
        extra=" ".join([
            f"--floor {config['extract']['floor']}",
            f"--min-circularity {config['extract']['min_circularity']}",
            "--area-range {} {}".format(*config["extract"]["area_range"]),
            f"--edge-margin-px {config['extract']['edge_margin_px']}",
            f"--min-distance-fraction {config['extract']['min_distance_fraction']}",
            "" if config["extract"]["split_touching"] else "--no-split",
        ]),
    log:
        f"{LOG_PROMPT_DIR}/extract/{{chunk}}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo extract --manifest {input.manifest} --out-dir {params.out_dir}"
        " --out {output.manifest} {params.diameter} {params.extra} > {log} 2>&1"
