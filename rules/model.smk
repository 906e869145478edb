# The SAM rules: train (one job, the configured prompt from the labelled set) and segment (one job
# per chunk, SAM loaded once per chunk). Both declare `gpu` = 1 unless device: cpu. Running
# locally nothing is reserved (Snakemake constrains only resources given with --resources); with
# the SLURM executor the plugin turns gpu=1 into `sbatch --gpus=1` (see profiles/slurm/).


rule train:
    """Few-shot training of the configured prompt from the labelled micrographs."""
    input:
        images=TRAIN_IMAGES,
        labels=config["train"].get("labels") or [],
    output:
        prompt=f"{PROMPT_DIR}/prompt.pt",
        history=f"{PROMPT_DIR}/train_log.csv",
    params:
        model=model_args(),
        # one file for all micrographs (train.labels) or a folder of per-micrograph files
        labels=(f"--labels {q(config['train']['labels'])}" if config["train"].get("labels")
                else f"--labels-dir {q(config['train']['truth_dir'])}"),
        extra=" ".join(filter(None, [
            f"--prompt {PROMPT}",
            prompt_config_args(),
            f"--steps {config['train']['steps']}",
            f"--val-every {config['train']['val_every']}",
            f"--patience {config['train']['patience']}",
            f"--target-disc-fraction {config['train']['target_disc_fraction']}",
            f"--particle-px {PARTICLE_PX:g}",
            diameter_cli_args(config),
            opt("--pixel-size", config["inputs"].get("pixel_size_A")),
            f"--batch-size {config['train']['batch_size']}",
            opt("--lr", config["train"].get("lr")),
            f"--val-fraction {config['train']['val_fraction']}",
            f"--label-format {config['train']['label_format']}",
            opt("--diameter-px", config["train"].get("diameter_px")),
            "--flip-y" if config["train"]["flip_y"] else "",
            "" if config["train"]["augment"] else "--no-augment",
            # the same preprocessing as the normalize rule, so training sees what segment sees
            "--clip-percentiles {} {}".format(*config["normalize"]["clip_percentiles"]),
            opt("--lowpass-A", config["normalize"].get("lowpass_A")),
        ])),
    log:
        f"{LOG_PROMPT_DIR}/train.log",
    threads: 2
    resources:
        mem_mb=8000,
        runtime=120,
        gpu=GPUS,
    conda:
        "../envs/samcryo.yaml"
    shell:
        "samcryo train {params.model} {params.extra} --threads {threads}"
        " --images {input.images} {params.labels}"
        " --out {output.prompt} --log {output.history} > {log} 2>&1"


rule segment:
    """Probability maps of one normalized chunk (normalized frame, float16 MRC)."""
    input:
        manifest=f"{NORM_DIR}/chunks/{{chunk}}.tsv",
        prompt=prompt_input,
    output:
        manifest=f"{PROMPT_DIR}/probability/chunks/{{chunk}}.tsv",
    params:
        out_dir=lambda wc, output: os.path.dirname(os.path.dirname(output.manifest)),
        model=model_args(),
        prompt=lambda wc, input: f"--prompt-file {q(input.prompt)}" if input.prompt else "--prompt none",
        batch=config["segment"]["batch_size"],
        tta=config["segment"]["tta"],
    log:
        f"{LOG_PROMPT_DIR}/segment/{{chunk}}.log",
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=GPUS,
    conda:
        "../envs/samcryo.yaml"
    shell:
        # a micrograph is segmented again only when its stamp (model, prompt file, TTA, tiling,
        # normalized image) changed
        "samcryo segment --manifest {input.manifest} --out-dir {params.out_dir}"
        " --out {output.manifest} {params.model} {params.prompt} --batch-size {params.batch}"
        " --tta {params.tta} --threads {threads} > {log} 2>&1"
