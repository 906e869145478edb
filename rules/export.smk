# Export (aggregate: every chunk's picks -> RELION per-micrograph STAR + autopick.star index,
# cryoSPARC particles STAR, EMAN .box) and evaluation against truth (when evaluate.truth_dir).


rule export:
    """RELION, cryoSPARC and EMAN .box coordinate files from all picks manifests."""
    input:
        manifests=chunk_files(f"{PROMPT_DIR}/picks/chunks/{{chunk}}.tsv"),
    output:
        index=f"{PROMPT_DIR}/relion/autopick.star",
        cryosparc=f"{PROMPT_DIR}/cryosparc/particles.star",
    params:
        out_dir=lambda wc, output: os.path.dirname(os.path.dirname(output.index)),
        extra=" ".join(filter(None, [
            f"--relion-version {config['export']['relion_version']}",
            f"--diameter-A {config['particle']['diameter_A']}",
            opt("--box-size", config["export"].get("box_size_px")),
        ])),
    log:
        f"{LOG_PROMPT_DIR}/export.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo export --out-dir {params.out_dir} {params.extra} {input.manifests} > {log} 2>&1"


rule evaluate:
    """Precision, recall, F1, AP and pixel Dice of the picks against the truth STAR files."""
    input:
        manifests=chunk_files(f"{PROMPT_DIR}/picks/chunks/{{chunk}}.tsv"),
    output:
        per_micrograph=f"{PROMPT_DIR}/evaluation/per_micrograph.csv",
        overall=f"{PROMPT_DIR}/evaluation/overall.json",
    params:
        out_dir=lambda wc, output: os.path.dirname(output.overall),
        truth=q(config["evaluate"]["truth_dir"]),
        diameter=f"--diameter-A {config['particle']['diameter_A']}",
    log:
        f"{LOG_PROMPT_DIR}/evaluate.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo evaluate --truth-dir {params.truth} --out-dir {params.out_dir}"
        " {params.diameter} {input.manifests} > {log} 2>&1"
