# Export (aggregate: every chunk's picks -> RELION per-micrograph STAR + autopick.star index, in
# results/ or a RELION job folder (export.relion_dir), cryoSPARC particles STAR and .cs, EMAN .box)
# and evaluation against truth (when evaluate.truth_dir).


rule export:
    """RELION, cryoSPARC and EMAN .box coordinate files from all picks manifests."""
    input:
        manifests=chunk_files(f"{PROMPT_DIR}/picks/chunks/{{chunk}}.tsv"),
    output:
        # export.relion_dir: a RELION job folder inside the project (then also its job files)
        index=f"{LAYOUT.relion_dir}/autopick.star",
        cryosparc=f"{PROMPT_DIR}/cryosparc/particles.star",
        cryosparc_cs=f"{PROMPT_DIR}/cryosparc/particles.cs",
        summary=f"{PROMPT_DIR}/export_summary.tsv",
    params:
        relion_dir=lambda wc, output: os.path.dirname(output.index),
        box=(f"--box-dir {q(f'{PROMPT_DIR}/box')} --box-size {config['export']['box_size_px']}"
             if config["export"].get("box_size_px") else ""),
        extra=" ".join(filter(None, [
            f"--relion-version {config['export']['relion_version']}",
            opt("--project-dir", config["inputs"].get("project_dir")),
            opt("--micrographs-star", config["inputs"].get("micrographs_star")),
            opt("--cryosparc-exposures", config["inputs"].get("cryosparc_csv")),
            "--cryosparc-basename" if config["export"]["cryosparc_basename"] else "",
            f"--min-fom {LAYOUT.fom_threshold:.6g}",
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
        # every chunk's manifest is given, so picks CSVs of micrographs that left the inputs go;
        # export also removes coordinate files it no longer writes (samcryo_core.export.stale)
        "samcryo export --picks-manifests {input.manifests} --relion-dir {params.relion_dir}"
        " --cryosparc-star {output.cryosparc} --cryosparc-cs {output.cryosparc_cs} {params.box}"
        " --summary {output.summary} --remove-stale-picks {params.extra} > {log} 2>&1"


rule evaluate:
    """Precision, recall, F1, AP and pixel Dice of the picks against the truth files."""
    input:
        manifests=chunk_files(f"{PROMPT_DIR}/picks/chunks/{{chunk}}.tsv"),
    output:
        per_micrograph=f"{PROMPT_DIR}/evaluation/per_micrograph.csv",
        overall=f"{PROMPT_DIR}/evaluation/overall.json",
    params:
        truth=q(config["evaluate"]["truth_dir"]),
        extra=" ".join([
            f"--truth-format {config['evaluate']['truth_format']}",
            f"--distance-fraction {config['evaluate']['distance_fraction']}",
            f"--threshold {LAYOUT.fom_threshold:.6g}",
            "--flip-y" if config["evaluate"]["flip_y"] else "",
        ]),
    log:
        f"{LOG_PROMPT_DIR}/evaluate.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo evaluate --picks-manifests {input.manifests} --truth-dir {params.truth}"
        " {params.extra} --out-csv {output.per_micrograph} --out-json {output.overall}"
        " > {log} 2>&1"
