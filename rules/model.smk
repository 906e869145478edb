# The SAM rules: train (one job, the configured prompt from the labelled set) and segment (one job
# per chunk, SAM loaded once per chunk). Both declare `gpu` = 1 unless device: cpu. Running
# locally nothing is reserved (Snakemake constrains only resources given with --resources); with
# the SLURM executor the plugin turns gpu=1 into `sbatch --gpus=1` (see profiles/slurm/).


rule train:
    """Few-shot training of the configured prompt from the labelled micrographs."""
    output:
        prompt=f"{PROMPT_DIR}/prompt.pt",
        history=f"{PROMPT_DIR}/train_log.csv",
    params:
        model=model_args(),
        micrographs=q(config["train"]["micrographs"]),
        truth_dir=q(config["train"]["truth_dir"]),
        extra=" ".join([
            f"--prompt {PROMPT}",
            f"--diameter-A {config['particle']['diameter_A']}",
            f"--epochs {config['train']['epochs']}",
            f"--batch-size {config['train']['batch_size']}",
            f"--lr {config['train']['lr']}",
            f"--seed {config['train']['seed']}",
            "--flip-y" if config["train"]["flip_y"] else "",
        ]),
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
        "samcryo train {params.model} {params.extra} --micrographs {params.micrographs}"
        " --truth-dir {params.truth_dir} --out {output.prompt} --history {output.history}"
        " > {log} 2>&1"


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
        "samcryo segment --manifest {input.manifest} --out-dir {params.out_dir}"
        " --out {output.manifest} {params.model} {params.prompt} --batch-size {params.batch}"
        " > {log} 2>&1"
