# Shared set-up of all rules: config validation, the input listing, chunks, result paths.
#
# Names exported to the other .smk files (docs/architecture.md):
#   CHUNK_IDS      list of chunk ids ("chunk0000", ...)
#   MICS_BY_CHUNK  chunk id -> micrograph names of that chunk
#   PROMPT_DIR     results/<variant>/<prompt> (results/classical/log for the LoG picker)
#   NORM_DIR       results/normalized/p<working particle size in model-input pixels>
#   HAS_TRUTH      bool: evaluate.truth_dir is set
# plus LOG_PROMPT_DIR (logs keyed like PROMPT_DIR), LAYOUT (samcryo_core.workflow.settings.Layout)
# and the helpers below. All model and data logic lives in samcryo_core; the rules only call
# `samcryo <subcommand>`.

import json
import os
import sys
import shlex

from samcryo_core.errors import ConfigError, InputError
from samcryo_core.workflow.chunks import MEMBERSHIP_FILE, read_membership, write_membership
from samcryo_core.workflow.inputs import list_inputs
from samcryo_core.workflow.schema import SCHEMA_PATH, load_schema
from samcryo_core.workflow.settings import (
    check_config, check_training_labels, diameter_cli_args, require_config, train_images,
    validate_schema)


# --- config: there is none by default (the Snakefile names no configfile, so nothing is merged
# under the user's); schema first (clear one-line messages naming the key), then snakemake's
# validate (which fills in the schema's defaults), then checks a schema cannot express.
require_config(config)
validate_schema(config, load_schema())
validate(config, str(SCHEMA_PATH))

LAYOUT = check_config(config)  # also resolves model.checkpoint: samcryo:<shipped file>
if LAYOUT.trains_here and workflow.is_main_process:
    check_training_labels(config)  # a diameter the labels contradict stops the run here
PROMPT = LAYOUT.prompt
VARIANT = LAYOUT.variant
PARTICLE_PX = LAYOUT.particle_px
PROMPT_DIR = LAYOUT.prompt_dir
NORM_DIR = LAYOUT.norm_dir
HAS_TRUTH = LAYOUT.has_truth
LOG_PROMPT_DIR = f"logs/{PROMPT_DIR.removeprefix('results/')}"
GPUS = LAYOUT.gpus

# --- inputs: listed at parse time (no micrograph is opened here), sorted, split into chunks that
# keep their micrographs from run to run (the membership is recorded when a run starts: onstart in
# the Snakefile; job processes that read this file again see only what the main process planned).
try:
    LISTING = list_inputs(config["inputs"], config["chunk_size"], read_membership(MEMBERSHIP_FILE),
                          known_only=not workflow.is_main_process)
except InputError as _exc:
    raise ConfigError("inputs", str(_exc), "fix the inputs section of your config") from None
CHUNK_IDS = LISTING.chunk_ids
TRAIN_IMAGES = train_images(config) if LAYOUT.trains_here else []
MICS_BY_CHUNK = LISTING.mics_by_chunk

def q(value):
    """Shell-quote one value (paths with spaces, globs that the shell must not expand)."""
    return shlex.quote(str(value))


def opt(flag, value):
    """'--flag value' (quoted), or '' when value is None: optional CLI arguments from config."""
    return "" if value is None else f"{flag} {q(value)}"


def chunk_files(pattern):
    """pattern.format(chunk=c) for every chunk: the inputs of the aggregate rules."""
    return [pattern.format(chunk=c) for c in CHUNK_IDS]


def prompt_input(wildcards):
    """The prompt segment uses: config prompt_file, the prompt trained here, or none (zero-shot)."""
    if config.get("prompt_file"):
        return config["prompt_file"]
    if LAYOUT.trains_here:
        return f"{PROMPT_DIR}/prompt.pt"
    return []


def model_args():
    """--variant/--checkpoint/--device/--seed, shared by train and segment.

    The seed matters when model.checkpoint is null: the random-init backbone must be the same one
    in train and segment, or the trained prompt would sit on a different base.
    """
    ckpt = config["model"].get("checkpoint")
    return " ".join(filter(None, [
        f"--variant {VARIANT}", opt("--checkpoint", ckpt), opt("--sha256", config["model"].get("sha256")),
        f"--device {config['device']}", f"--seed {config['train']['seed']}"]))


def prompt_config_args():
    """--prompt-config JSON for train: the options of the configured prompt type, if any."""
    options = (config["model"].get("prompt_config") or {}).get(PROMPT) or {}
    return opt("--prompt-config", json.dumps(options, sort_keys=True)) if options else ""


if LAYOUT.uses_sam and not config["model"].get("checkpoint"):
    print(f"samcryo: model.checkpoint is null: the {VARIANT} backbone starts from RANDOM weights "
          "(only meaningful for the tiny/cpu_small test variants)", file=sys.stderr)
