"""Start-up checks and derived names of the Snakemake workflow, kept out of the Snakefile.

The JSON schema (``samcryo_core/workflow/config.schema.yaml``) catches mistyped keys, wrong types
and values out of range. What a schema cannot say -- a file named in the config does not exist,
``vit_*`` needs a checkpoint, a trained prompt needs a training set -- is checked here, *before*
any job runs, so a facility finds a config mistake in the first second instead of after an hour of
normalization.
Every problem is a :class:`~samcryo_core.errors.ConfigError` naming the key.

The derived names (``PROMPT_DIR``, ``NORM_DIR`` ...) are the results layout of
``docs/architecture.md``: normalization is keyed by the working scale only, everything after it
by variant and prompt, so switching ``prompt:`` reuses ingest and normalization.
"""

from __future__ import annotations

import glob as globmod
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from samcryo_core.errors import ConfigError

#: Prompt types that are learnt by ``samcryo train`` (or loaded from ``prompt_file``).
TRAINED_PROMPTS = ("head", "prefix", "encoder", "finetune")
#: All values of ``prompt``: the trained ones, zero-shot SAM and the classical LoG picker.
PROMPTS = (*TRAINED_PROMPTS, "none", "log")
#: Variants whose weights must come from an official SAM checkpoint.
OFFICIAL_VARIANTS = ("vit_b", "vit_l", "vit_h")


class InvalidConfigError(ConfigError):
    """Several config problems at once (all schema errors are reported together, one per line).

    ``key`` is the first offending key, so callers that look at one key still can.
    """

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        key, problem, fix = problems[0]
        super().__init__(key, problem, fix)
        self.problems = problems
        lines = [f"  config key '{k}': {p}. Fix: {f}" for k, p, f in problems]
        Exception.__init__(self, "invalid configuration (see samcryo_core/workflow/config.schema.yaml):\n"
                           + "\n".join(lines))


def schema_problems(errors: Iterable) -> list[tuple[str, str, str]]:
    """(dotted key, problem, fix) per jsonschema error, sorted by key.

    ``additionalProperties`` errors name the unexpected key itself (``model.chekpoint``), not its
    parent, because that is the key the user mistyped.
    """
    out = []
    for err in errors:
        where = ".".join(str(p) for p in err.absolute_path)
        if err.validator == "additionalProperties":
            allowed = sorted((err.schema.get("properties") or {}).keys())
            for key in sorted(set(err.instance) - set(allowed)):
                full = f"{where}.{key}" if where else key
                out.append((full, "unknown key (mistyped?)", f"use one of {', '.join(allowed)}"))
            continue
        if err.validator == "required":
            missing = str(err.message).split("'")[1] if "'" in str(err.message) else ""
            full = f"{where}.{missing}" if where and missing else (missing or where)
            out.append((full, "missing", "add it (see the commented config/config.yaml)"))
            continue
        out.append((where or "<top level>", _message(err),
                    "see this key's description in the schema or its comment in config/demo.yaml"))
    return sorted(out)


def _message(err) -> str:
    """The error text; for a key that takes one of several forms (``oneOf``), the reason from the
    form the value was meant to have: ``-160`` fails as a number (not as a list), so the user reads
    "less than or equal to the minimum of 0", not "not valid under any of the given schemas"."""
    if err.validator not in ("oneOf", "anyOf") or not err.context:
        return err.message
    specific = [e for e in err.context if e.validator != "type"]
    if specific:
        return specific[0].message
    description = err.schema.get("description")
    return f"{err.instance!r} has the wrong type" + (f" (expected: {description})" if description else "")


def require_config(config: dict) -> None:
    """Stop at start-up when no config was given (the workflow has no default config file).

    Why no default: a default file would be merged under the user's ``--configfile``, so keys the
    user left out would silently take the demo's values (its checkpoint checksum, its truth
    folder, 8x test-time augmentation) instead of the schema's defaults.

    Raises:
        ConfigError: ``inputs`` is not set (no ``--configfile``, or one without it).
    """
    if not config or "inputs" not in config:
        given = f" (only {', '.join(sorted(config))} given)" if config else ""
        raise ConfigError(
            "inputs", f"no micrographs configured{given}: samcryo has no default config",
            "pass your config with --configfile my_config.yaml (start from config/config.yaml), "
            "or run the demo: scripts/run_demo.sh (--configfile config/demo.yaml)")


def validate_schema(config: dict, schema: dict) -> None:
    """Check ``config`` against ``schema`` (Draft 2020-12); raise :class:`InvalidConfigError` listing all.

    Snakemake's own ``validate`` stops at the first error with a long dump of the schema; this
    lists every problem, one line each, so one edit fixes them all.
    """
    from jsonschema import Draft202012Validator

    problems = schema_problems(Draft202012Validator(schema).iter_errors(config))
    if problems:
        raise InvalidConfigError(problems)


def _get(config: dict, dotted: str):
    node = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _require_file(config: dict, key: str, what: str) -> None:
    value = _get(config, key)
    if value is not None and not os.path.isfile(str(value)):
        raise ConfigError(key, f"{what} '{value}' does not exist (relative paths start at "
                          f"{os.getcwd()})", f"fix the path or set {key}: null")


def _require_dir(config: dict, key: str, what: str) -> None:
    value = _get(config, key)
    if value is not None and not os.path.isdir(str(value)):
        raise ConfigError(key, f"{what} '{value}' is not a folder", f"fix the path or set {key}: null")


@dataclass(frozen=True)
class Layout:
    """Names the rule files share (exported by ``rules/common.smk``)."""

    prompt: str
    variant: str
    particle_px: float
    prompt_dir: str
    norm_dir: str
    has_truth: bool
    trains_here: bool
    uses_sam: bool
    gpus: int
    fom_threshold: float
    relion_dir: str = ""


def results_dir(prompt: str, variant: str) -> str:
    """``PROMPT_DIR``: ``results/<variant>/<prompt>``, or ``results/classical/log`` for LoG."""
    return "results/classical/log" if prompt == "log" else f"results/{variant}/{prompt}"


def check_config(config: dict) -> Layout:
    """Checks beyond the schema (files exist, combinations make sense); returns the layout.

    ``model.checkpoint: samcryo:<file>`` (a weights file shipped inside samcryo_core, such as the
    demo's backbone) is replaced by its absolute path here, so the rules see a real path whatever
    the working directory; ``null`` becomes the variant's shipped backbone (``cpu_small``), and a
    shipped file's recorded sha256 fills ``model.sha256`` when that is null.

    Raises:
        ConfigError: naming the first offending key.
    """
    from samcryo_core.model.scale import working_scale
    from samcryo_core.preprocess.scale import check_range
    from samcryo_core.weights import checkpoint_for, shipped_sha256

    prompt = config["prompt"]
    variant = config["model"]["variant"]
    config["model"]["checkpoint"] = checkpoint_for(config["model"].get("checkpoint"), variant)
    if not config["model"].get("sha256"):
        config["model"]["sha256"] = shipped_sha256(config["model"]["checkpoint"])
    uses_sam = prompt != "log"
    trains_here = prompt in TRAINED_PROMPTS and not config.get("prompt_file")

    if uses_sam:
        ckpt = config["model"].get("checkpoint")
        if variant in OFFICIAL_VARIANTS and not ckpt:
            raise ConfigError("model.checkpoint", f"variant {variant} needs the official SAM "
                              "checkpoint file", f"download it with 'samcryo fetch-checkpoint "
                              f"--variant {variant} --out checkpoints/' and set model.checkpoint")
        _require_file(config, "model.checkpoint", "checkpoint file")
    if config.get("prompt_file"):
        if prompt not in TRAINED_PROMPTS:
            raise ConfigError("prompt_file", f"a prompt file cannot be used with prompt: {prompt}",
                              "set prompt_file: null, or prompt to the type the file was trained as")
        _require_file(config, "prompt_file", "prompt file")
    if trains_here:
        train = config.get("train") or {}
        if not train.get("micrographs") or not (train.get("truth_dir") or train.get("labels")):
            raise ConfigError("train", f"prompt '{prompt}' is trained here but train.micrographs "
                              "or their labels (train.truth_dir or train.labels) are not set",
                              "give the labelled micrographs and their truth folder or label file, "
                              "or a pre-trained prompt in prompt_file")
        if train.get("truth_dir") and train.get("labels"):
            raise ConfigError("train.labels", "both train.truth_dir and train.labels are set",
                              "give one: a folder of per-micrograph label files, or one file for all")
        train_images(config)
        _require_dir(config, "train.truth_dir", "truth folder")
        _require_file(config, "train.labels", "label file")
    _require_dir(config, "evaluate.truth_dir", "truth folder")
    scale = working_scale(variant, config["model"].get("checkpoint"), config["model"].get("particle_px"))
    warning = check_range(particle_diameter_A(config), scale)
    if warning:
        print(f"samcryo: warning: config key 'particle.diameter_A': {warning}", file=sys.stderr)

    prompt_dir = results_dir(prompt, variant)
    device = str(config.get("device", "auto"))
    relion_dir = relion_export_dir(config, prompt_dir)
    return Layout(
        prompt=prompt,
        variant=variant,
        particle_px=scale.particle_px,
        prompt_dir=prompt_dir,
        # keyed by the working scale: every backbone of that scale (and LoG) reuses the images
        norm_dir=f"results/normalized/p{scale.particle_px:g}",
        has_truth=bool(_get(config, "evaluate.truth_dir")),
        trains_here=trains_here,
        uses_sam=uses_sam,
        # A cluster job asks for a GPU unless the user pinned the model to the CPU; running locally
        # nothing is reserved (Snakemake constrains only resources given with --resources).
        gpus=0 if device == "cpu" else 1,
        fom_threshold=fom_threshold(config, uses_sam),
        relion_dir=relion_dir,
    )


def relion_export_dir(config: dict, prompt_dir: str) -> str:
    """Where the RELION coordinates go: ``export.relion_dir`` inside the project, or ``results/``.

    ``export.relion_dir`` (e.g. ``External/job012``) is relative to the RELION project folder
    (``inputs.project_dir``, default: where snakemake runs), like every path RELION shows, and
    must lie inside it: RELION names the coordinate files relative to its project.

    Raises:
        ConfigError: the folder lies outside the project.
    """
    wanted = _get(config, "export.relion_dir")
    if not wanted:
        return f"{prompt_dir}/relion"
    project = str(_get(config, "inputs.project_dir") or ".")
    path = os.path.normpath(os.path.join(project, str(wanted)))
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(project))
    if rel == os.curdir or rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise ConfigError("export.relion_dir", f"'{wanted}' is not a folder inside the RELION project "
                          f"{os.path.abspath(project)} (inputs.project_dir)",
                          "give a job folder inside the project, e.g. External/job012")
    return path


def fom_threshold(config: dict, uses_sam: bool) -> float:
    """The figure-of-merit threshold of the exported picks: the one home of this number.

    Export, evaluation and the report apply it to the picks CSVs, which hold every candidate:
    for SAM prompts ``export.threshold``; for LoG, whose own threshold (in SD of the response)
    is applied while picking, the FOM that threshold maps to, ``1 - exp(-z / FOM_SCALE_SD)``.
    """
    if uses_sam:
        return float(config["export"]["threshold"])
    import math

    from samcryo_core.pickers.log_picker import FOM_SCALE_SD

    return 1.0 - math.exp(-float(config["pick_log"]["threshold_sd"]) / FOM_SCALE_SD)


def particle_diameter_A(config: dict) -> float | tuple[float, float]:
    """``particle.diameter_A``: one diameter, or ``(smallest, largest)`` for a mixed sample.

    Raises:
        ConfigError: a range given largest first (the schema checks the rest).
    """
    from samcryo_core.particles.diameter import as_diameter

    try:
        return as_diameter(config["particle"]["diameter_A"])
    except ValueError as exc:
        raise ConfigError("particle.diameter_A", str(exc),
                          "give one diameter, or [smallest, largest] in Angstrom") from None


def diameter_cli_args(config: dict) -> str:
    """``--diameter-A D`` or ``--diameter-A DMIN DMAX`` for ``samcryo extract`` / ``pick-log``."""
    from samcryo_core.particles.diameter import diameter_bounds

    lo, hi = diameter_bounds(particle_diameter_A(config))
    return f"--diameter-A {lo:.10g}" if lo == hi else f"--diameter-A {lo:.10g} {hi:.10g}"


def check_training_labels(config: dict) -> None:
    """Refuse a particle diameter the training labels contradict, before any job runs
    (:mod:`samcryo_core.training.label_spacing`: labelled particles closer than the diameter
    allows). Reads label files and MRC headers, no pixels; the workflow calls it once, in the main
    process. Labels that cannot be matched or read are left to the train stage to report.

    Raises:
        ConfigError: naming ``particle.diameter_A`` and the labels' spacing.
    """
    from samcryo_core.errors import InputError
    from samcryo_core.training.dataset import match_labels
    from samcryo_core.training.label_spacing import check_diameter, labelled_spacing

    train = config["train"]
    one_file = train.get("labels")  # check_config allows one of labels / truth_dir
    try:
        pairs = match_labels(train_images(config), [one_file] if one_file else None,
                             None if one_file else train.get("truth_dir"),
                             label_format=train.get("label_format", "auto"))
        spacing = labelled_spacing(pairs, config["inputs"].get("pixel_size_A"))
    except InputError:
        return
    check_diameter(particle_diameter_A(config), spacing)


def train_images(config: dict) -> list[str]:
    """The labelled micrographs of ``train.micrographs`` (a glob or a list of globs), sorted.

    Raises:
        ConfigError: a pattern matches no file, or two micrographs share a name (labels are
            matched by name, so one label file would label both).
    """
    from samcryo_core.errors import InputError
    from samcryo_core.ingest.naming import check_unique, micrograph_name

    patterns = config["train"]["micrographs"]
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    found: list[str] = []
    for pattern in patterns:
        matches = sorted(p for p in globmod.glob(str(pattern), recursive=True) if os.path.isfile(p))
        if not matches:
            raise ConfigError("train.micrographs", f"'{pattern}' matches no file (relative paths "
                              f"start at {os.getcwd()})", "fix the glob or the folder you run in")
        found.extend(matches)
    found = sorted(set(found))
    try:
        check_unique([micrograph_name(p) for p in found], found)
    except InputError as exc:
        raise ConfigError("train.micrographs", exc.problem,
                          "give each training micrograph a unique file name") from None
    return found
