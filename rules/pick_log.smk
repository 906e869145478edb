# The classical Laplacian-of-Gaussian picker (prompt: log): picks straight from the normalized
# images, no model; same picks CSVs and manifests as extract.
# A micrograph is redone only when its stamp (options, normalized image) changed.


rule pick_log:
    """Classical Laplacian-of-Gaussian picking of one normalized chunk (no model)."""
    input:
        manifest=f"{NORM_DIR}/chunks/{{chunk}}.tsv",
    output:
        manifest="results/classical/log/picks/chunks/{chunk}.tsv",
    params:
        out_dir=lambda wc, output: os.path.dirname(os.path.dirname(output.manifest)),
        diameter=diameter_cli_args(config),
        extra=" ".join([
            f"--threshold-sd {config['pick_log']['threshold_sd']}",
            "--diameter-range-fraction {} {}".format(*config["pick_log"]["diameter_range_fraction"]),
            f"--n-scales {config['pick_log']['n_scales']}",
            f"--edge-margin-px {config['extract']['edge_margin_px']}",
            f"--min-distance-fraction {config['extract']['min_distance_fraction']}",
            "--bright-particles" if config["pick_log"]["bright_particles"] else "",
        ]),
    log:
        "logs/classical/log/pick_log/{chunk}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo pick-log --manifest {input.manifest} --out-dir {params.out_dir}"
        " --out {output.manifest} {params.diameter} {params.extra} > {log} 2>&1"
