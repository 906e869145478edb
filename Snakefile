# samcryo: pick cryo-EM particles with a prompt-adapted Segment Anything Model.
#
#   snakemake --cores 8 --configfile my_config.yaml                  # your data (config/config.yaml)
#   snakemake --profile slurm --configfile my_config.yaml            # a SLURM cluster (docs/slurm.md)
#   scripts/run_demo.sh  (snakemake --cores 2 --configfile config/demo.yaml)   # the CPU demo
#
# There is no default config file: a config holds only what it sets, every other key takes the
# schema's default (samcryo_core/.../workflow/config.schema.yaml), and nothing of the demo's
# config is ever merged into yours.
#
# Stages (one job per chunk of micrographs each): ingest -> normalize -> segment (GPU) -> extract
# -> export (aggregate) -> evaluate (when truth is given) -> report; train (one job) when the
# prompt is trained here; prompt: log runs the classical LoG picker instead of segment + extract.
# Rules only call `samcryo <subcommand>`; see docs/workflow.md and docs/architecture.md.

from snakemake.utils import min_version, validate

min_version("9.0")


report: "report/workflow.rst"


include: "rules/common.smk"


onstart:
    # what this run's chunks hold, so the next run keeps them (samcryo_core.workflow.chunks);
    # not on a dry run, which only shows what a run would do
    write_membership(LISTING.membership, MEMBERSHIP_FILE)


wildcard_constraints:
    chunk=r"chunk\d+",


rule all:
    """Everything: coordinates for RELION/cryoSPARC/EMAN, rejections, evaluation, QC report."""
    default_target: True
    input:
        "results/ingest/rejected.tsv",
        f"{LAYOUT.relion_dir}/autopick.star",
        f"{PROMPT_DIR}/cryosparc/particles.star",
        f"{PROMPT_DIR}/evaluation/overall.json" if HAS_TRUTH else [],
        f"{PROMPT_DIR}/qc/summary.md",


include: "rules/ingest.smk"
include: "rules/normalize.smk"


if LAYOUT.uses_sam:

    include: "rules/model.smk"
    include: "rules/extract.smk"

else:

    include: "rules/pick_log.smk"

include: "rules/export.smk"


# The QC report comes last: it builds on every rule above.
include: "rules/report.smk"
