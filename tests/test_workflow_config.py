"""Start-up behaviour of the workflow: config errors name the key, dry runs list the jobs, lint.

The in-process tests call the same functions rules/common.smk calls (fast); a few tests run
Snakemake itself to check that the message really reaches the user at start-up.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
import yaml
from workflow_support import REPO, job_counts, snakemake

from samcryo_core.errors import ConfigError
from samcryo_core.workflow.schema import SCHEMA_PATH, load_schema
from samcryo_core.workflow.settings import InvalidConfigError, check_config, validate_schema

SCHEMA = load_schema()
DEMO_PATH = REPO / "config" / "demo.yaml"
DEMO = yaml.safe_load(DEMO_PATH.read_text())


def _touch_demo_inputs(root: Path, n_pick: int = 5) -> None:
    """Empty files are enough for a dry run: listing never opens a micrograph."""
    for sub in ("pick/micrographs", "pick/truth", "train/micrographs", "train/truth"):
        (root / "demo_data" / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n_pick):
        (root / "demo_data" / "pick" / "micrographs" / f"mic_{i:03d}.mrc").touch()
    for i in range(2):
        (root / "demo_data" / "train" / "micrographs" / f"lab_{i:03d}.mrc").touch()


def _config(**changes) -> dict:
    cfg = copy.deepcopy(DEMO)
    for dotted, value in changes.items():
        node = cfg
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        node[last] = value
    return cfg


@pytest.mark.parametrize("name", ["demo.yaml", "config.yaml"])
def test_every_key_of_the_shipped_configs_is_commented(name):
    lines = (REPO / "config" / name).read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.endswith(":"):
            continue  # comments, blank lines and section headers
        above = lines[i - 1].strip()
        assert above.startswith("#"), f"config/{name} line {i + 1} ({stripped!r}) has no comment above it"


def test_demo_config_is_valid():
    validate_schema(DEMO, SCHEMA)


@pytest.mark.parametrize(("changes", "key"), [
    ({"chunksize": 5}, "chunksize"),
    ({"model__chekpoint": None}, "model.chekpoint"),
    ({"particle__diameter_A": -10}, "particle.diameter_A"),
    ({"prompt": "heads"}, "prompt"),
    ({"model__variant": "vit_q"}, "model.variant"),
    ({"chunk_size": 0}, "chunk_size"),
])
def test_schema_errors_name_the_key(changes, key):
    with pytest.raises(InvalidConfigError) as exc:
        validate_schema(_config(**changes), SCHEMA)
    assert f"config key '{key}'" in str(exc.value)
    assert exc.value.key == key


def test_all_schema_problems_are_reported_together():
    with pytest.raises(InvalidConfigError) as exc:
        validate_schema(_config(chunksize=5, prompt="heads"), SCHEMA)
    assert "'chunksize'" in str(exc.value) and "'prompt'" in str(exc.value)


def test_official_variant_without_checkpoint_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _touch_demo_inputs(tmp_path)
    cfg = _config(model__variant="vit_b", model__checkpoint=None)
    validate_schema(cfg, SCHEMA)
    with pytest.raises(ConfigError) as exc:
        check_config(cfg)
    assert exc.value.key == "model.checkpoint" and "fetch-checkpoint" in exc.value.fix


def test_missing_checkpoint_file_names_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _touch_demo_inputs(tmp_path)
    with pytest.raises(ConfigError) as exc:
        check_config(_config(model__variant="vit_b", model__checkpoint="nope/sam_vit_b.pth"))
    assert exc.value.key == "model.checkpoint" and "nope/sam_vit_b.pth" in str(exc.value)


def test_prompt_file_with_log_and_empty_training_glob_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _touch_demo_inputs(tmp_path)
    (tmp_path / "p.pt").touch()
    with pytest.raises(ConfigError) as exc:
        check_config(_config(prompt="log", prompt_file="p.pt"))
    assert exc.value.key == "prompt_file"
    with pytest.raises(ConfigError) as exc:
        check_config(_config(train__micrographs="nothing/*.mrc"))
    assert exc.value.key == "train.micrographs"


def test_layout_keys_prompt_dir_by_variant_and_prompt(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _touch_demo_inputs(tmp_path)
    head = check_config(_config())
    assert (head.prompt_dir, head.norm_dir, head.gpus, head.particle_px, head.fom_threshold) == (
        "results/cpu_small/head", "results/normalized/p20", 1, 20.0, 0.5)
    # the working scale can be set; normalization is keyed by it
    assert check_config(_config(model__particle_px=25)).norm_dir == "results/normalized/p25"
    assert head.trains_here and head.has_truth
    log = check_config(_config(prompt="log", device="cpu"))
    assert (log.prompt_dir, log.uses_sam, log.trains_here, log.gpus) == (
        "results/classical/log", False, False, 0)
    none = check_config(_config(prompt="none"))
    assert none.prompt_dir == "results/cpu_small/none" and not none.trains_here


@pytest.mark.slow
def test_mistyped_key_stops_snakemake_at_start(tmp_path):
    _touch_demo_inputs(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text((DEMO_PATH).read_text().replace("chunk_size: 50", "chunk_sise: 50"))
    proc = snakemake(tmp_path, "-n", config=bad, timeout=120)
    assert proc.returncode != 0
    assert "config key 'chunk_sise': unknown key" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_dry_run_of_the_demo_config_lists_ingest_and_normalize_per_chunk(tmp_path):
    _touch_demo_inputs(tmp_path, n_pick=5)
    proc = snakemake(tmp_path, "-n", "--config", "chunk_size=2", config=DEMO_PATH, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert counts["ingest"] == 3 and counts["normalize"] == 3  # 5 micrographs, 2 per chunk
    assert counts["segment"] == 3 and counts["extract"] == 3 and counts["train"] == 1
    for aggregate in ("ingest_rejections", "export", "evaluate", "report", "all"):
        assert counts[aggregate] == 1
    assert "pick_log" not in counts
    assert "RANDOM" not in proc.stderr  # the demo config uses the shipped, pre-trained backbone


@pytest.mark.slow
def test_log_prompt_runs_the_classical_picker_without_model_rules(tmp_path):
    _touch_demo_inputs(tmp_path, n_pick=3)
    proc = snakemake(tmp_path, "-n", "--config", "prompt=log", config=DEMO_PATH, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert counts["pick_log"] == 1 and "segment" not in counts and "train" not in counts
    assert "results/classical/log/relion/autopick.star" in proc.stdout


@pytest.mark.slow
def test_lint_reports_nothing_for_the_workflow_rules(tmp_path):
    _touch_demo_inputs(tmp_path)
    proc = snakemake(tmp_path, "--lint", config=DEMO_PATH, timeout=120)
    text = proc.stdout + proc.stderr
    own = ["Snakefile", *(p.name for p in (REPO / "rules").glob("*.smk") if p.name != "report.smk")]
    flagged = [line for line in text.splitlines()
               if line.startswith("Lints for") and any(name in line for name in own)]
    assert not flagged, text[-4000:]


@pytest.mark.slow
def test_zero_shot_prompt_needs_no_training(tmp_path):
    _touch_demo_inputs(tmp_path, n_pick=3)
    proc = snakemake(tmp_path, "-n", "-p", "--config", "prompt=none", config=DEMO_PATH,
                     timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert "train" not in counts and counts["segment"] == 1
    assert "--prompt none" in proc.stdout


@pytest.mark.slow
def test_relion_star_input_and_duplicate_names(tmp_path):
    _touch_demo_inputs(tmp_path, n_pick=0)
    mics = tmp_path / "MotionCorr" / "job002"
    mics.mkdir(parents=True)
    rows = []
    for i in range(3):
        (mics / f"mic_{i}.mrc").touch()
        rows.append(f"MotionCorr/job002/mic_{i}.mrc 1")
    star = tmp_path / "micrographs.star"
    star.write_text("data_optics\nloop_\n_rlnOpticsGroup #1\n_rlnMicrographPixelSize #2\n1 1.06\n\n"
                    "data_micrographs\nloop_\n_rlnMicrographName #1\n_rlnOpticsGroup #2\n"
                    + "\n".join(rows) + "\n")
    cfg = tmp_path / "star.yaml"
    cfg.write_text((DEMO_PATH).read_text().replace(
        'glob: "demo_data/pick/micrographs/*.mrc"', "glob: null").replace(
        "micrographs_star: null", "micrographs_star: micrographs.star"))
    proc = snakemake(tmp_path, "-n", "-p", config=cfg, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert job_counts(proc.stdout)["ingest"] == 1
    assert "--micrographs-star micrographs.star" in proc.stdout
    assert "MotionCorr/job002/mic_2.mrc" in proc.stdout

    # the same stem in two folders: refused at start-up, both paths named
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "mic_1.mrc").touch()
    cfg.write_text(cfg.read_text().replace("glob: null", 'glob: "other/*.mrc"'))
    proc = snakemake(tmp_path, "-n", config=cfg, timeout=120)
    assert proc.returncode != 0
    err = proc.stderr + proc.stdout
    assert "config key 'inputs'" in err and "other/mic_1.mrc" in err and "mic_1" in err


@pytest.mark.slow
def test_relion_job_folder_and_one_label_file_reach_the_rules(tmp_path):
    """export.relion_dir puts the coordinates into the project's job folder; train.labels is one
    file given to train with --labels (and a rule input, so a changed file retrains)."""
    _touch_demo_inputs(tmp_path, n_pick=2)
    (tmp_path / "particles.star").write_text("data_particles\nloop_\n_rlnMicrographName\n_rlnCoordinateX\n"
                                             "_rlnCoordinateY\nlab_000.mrc 1 2\nlab_001.mrc 3 4\n")
    cfg = _config(export__relion_dir="External/job004", train__truth_dir=None, train__labels="particles.star")
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", "-p", config=path, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "External/job004/autopick.star" in proc.stdout
    assert "results/cpu_small/head/relion/autopick.star" not in proc.stdout
    assert "--labels particles.star" in proc.stdout and "--labels-dir" not in proc.stdout
    cfg["export"]["relion_dir"] = "../outside"
    path.write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", config=path, timeout=120)
    assert proc.returncode != 0 and "export.relion_dir" in proc.stdout + proc.stderr


def test_labels_and_truth_dir_are_one_or_the_other(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _touch_demo_inputs(tmp_path)
    (tmp_path / "particles.star").touch()
    with pytest.raises(ConfigError, match="both train.truth_dir and train.labels"):
        check_config(_config(train__labels="particles.star"))
    with pytest.raises(ConfigError, match="train.labels"):
        check_config(_config(train__truth_dir=None, train__labels="missing.star"))
    (tmp_path / "demo_data/train/micrographs/sub").mkdir()
    (tmp_path / "demo_data/train/micrographs/sub/lab_000.mrc").touch()
    with pytest.raises(ConfigError, match="lab_000"):
        check_config(_config(train__micrographs="demo_data/train/micrographs/**/*.mrc"))
def test_the_user_template_sets_only_what_a_user_must_set():
    """config/config.yaml is the starting point for users: valid, and holding only the keys without
    a sensible default (everything else comes from the schema, not from a second copy here)."""
    template = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    validate_schema(template, SCHEMA)
    keys = {f"{k}.{sub}" if isinstance(v, dict) else k
            for k, v in template.items() for sub in (v if isinstance(v, dict) else [None])}
    assert keys == {"inputs.glob", "particle.diameter_A", "model.variant", "prompt",
                    "train.micrographs", "train.truth_dir"}


def test_schema_defaults_give_a_cpu_user_the_shipped_backbone(tmp_path, monkeypatch):
    """What a new user gets from the template's keys alone: the shipped cpu_small backbone with its
    checksum (not random weights), no test-time augmentation, no demo truth or box files."""
    from samcryo_core.model.registry import recommended_prompt_config
    from samcryo_core.weights import CPU_SMALL_BACKBONE

    monkeypatch.chdir(tmp_path)
    (tmp_path / "labelled" / "micrographs").mkdir(parents=True)
    (tmp_path / "labelled" / "micrographs" / "a.mrc").touch()
    (tmp_path / "labelled" / "coordinates").mkdir()
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    from snakemake.utils import validate

    validate(cfg, str(SCHEMA_PATH))  # fills in the schema's defaults, as the workflow does
    layout = check_config(cfg)
    assert cfg["model"]["checkpoint"] == str(CPU_SMALL_BACKBONE)
    assert cfg["model"]["sha256"] == json.loads(CPU_SMALL_BACKBONE.with_suffix(".json").read_text())["sha256"]
    assert cfg["segment"]["tta"] == "none" and cfg["export"]["box_size_px"] is None
    assert cfg["evaluate"]["truth_dir"] is None and not layout.has_truth
    assert cfg["train"]["lr"] is None
    assert all(v == {} for v in (cfg["model"].get("prompt_config") or {}).values())
    # train resolves lr and the head's size from the backbone: CPU-sized for cpu_small
    head = recommended_prompt_config("cpu_small", "head")
    assert head["lr"] == 1e-3 and head["down_channels"] == [8, 8, 8]
    assert recommended_prompt_config("vit_h", "head") == {}  # the paper's values


@pytest.mark.slow
def test_without_a_config_snakemake_stops_and_says_how_to_start(tmp_path):
    proc = snakemake(tmp_path, "-n", config=None, timeout=120)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'inputs'" in out and "config/config.yaml" in out and "run_demo.sh" in out
    assert not (tmp_path / "results").exists()


def _copy_repository(dst: Path) -> Path:
    """The repository's workflow files (what a user clones), without results."""
    import shutil

    dst.mkdir(parents=True)
    skip = {".git", "tests", "benchmarks", "docs", "samcryo_core", "results", "logs", "demo_data",
            ".snakemake", ".venv"}
    for src in REPO.iterdir():
        if src.name not in skip:
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst / src.name)
    return dst


@pytest.mark.slow
def test_a_minimal_user_config_in_the_repository_takes_nothing_from_the_demo(tmp_path):
    """Issue 17, bug 4: run from the repository folder with demo_data/ present (where the demo's
    config once was merged under every --configfile), a user's minimal config must give a run of
    the user's micrographs with the schema's defaults: no demo micrograph, truth folder, checksum,
    learning rate, prompt options, test-time augmentation or box size."""
    repo = _copy_repository(tmp_path / "repo")
    _touch_demo_inputs(repo, n_pick=4)
    (repo / "demo_data" / "pick" / "truth" / "mic_000.star").touch()
    for sub in ("data", "labelled/micrographs", "labelled/coordinates"):
        (repo / sub).mkdir(parents=True)
    for i in range(3):
        (repo / "data" / f"user_{i}.mrc").touch()
    (repo / "labelled" / "micrographs" / "lab_0.mrc").touch()
    (repo / "my_backbone.pt").touch()  # the user's own checkpoint: no demo checksum may apply to it
    (repo / "my.yaml").write_text(yaml.safe_dump({
        "inputs": {"glob": "data/*.mrc"}, "particle": {"diameter_A": 150},
        "model": {"variant": "cpu_small", "checkpoint": "my_backbone.pt"}, "prompt": "head",
        "train": {"micrographs": "labelled/micrographs/*.mrc", "truth_dir": "labelled/coordinates"}}))

    import subprocess

    from workflow_support import env

    proc = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "-p", "--configfile",
                           "my.yaml"], cwd=repo, capture_output=True, text=True, timeout=300, env=env())
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    commands = [line.split("Shell command:", 1)[1] for line in out.splitlines() if "Shell command:" in line]
    assert commands, out[-3000:]
    text = "\n".join(commands)
    assert "demo_data" not in out  # no demo micrograph, label or truth file
    assert "data/user_0.mrc" in text and "evaluate" not in job_counts(proc.stdout)
    demo = DEMO
    assert demo["model"]["sha256"] not in out and "--sha256" not in text
    assert "--checkpoint my_backbone.pt" in text
    assert "--tta none" in text and "--tta d4" not in text
    assert "--lr" not in text and "--prompt-config" not in text  # lr / head size: the backbone's
    assert "--box-dir" not in text and "--relion-version 5" in text
    assert f"--steps {SCHEMA['properties']['train']['properties']['steps']['default']}" in text


@pytest.mark.parametrize(("fmt", "flip"), [("csv", True), ("box", False), ("star", False)])
def test_the_report_reads_truth_as_the_evaluation_does(fmt, flip):
    """Issue 17, bug 5: the QC report ignored evaluate.truth_format and evaluate.flip_y (CSV truth
    was not drawn, flipped STAR truth was drawn mirrored) while its caption promised the crosses."""
    from samcryo_core.workflow.report_args import report_evaluation_args

    cfg = _config(evaluate__truth_format=fmt, evaluate__flip_y=flip)
    args = report_evaluation_args(cfg, "results/cpu_small/head", has_truth=True).split()
    assert args[args.index("--truth-format") + 1] == fmt
    assert ("--truth-flip-y" in args) is flip
    assert args[args.index("--truth-dir") + 1] == cfg["evaluate"]["truth_dir"]


def test_check_config_names_file_and_line_of_a_yaml_error(tmp_path, monkeypatch, capsys):
    """Snakemake reports a YAML syntax error in --configfile as "Config file is not valid JSON or
    YAML", without file or line (it reads the file before any workflow code runs);
    `samcryo check-config` names both, and otherwise runs the workflow's start-up checks."""
    from samcryo_core.cli import main

    monkeypatch.chdir(tmp_path)
    bad = tmp_path / "my.yaml"
    bad.write_text('inputs:\n  glob: "data/*.mrc"\n particle:\n  diameter_A: 150\n')
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3:2: YAML syntax error" in err and "Fix: " in err
    bad.write_text('inputs:\n\tglob: "data/*.mrc"\n')
    assert main(["check-config", str(bad)]) == 1
    assert f"{bad}:2:1:" in capsys.readouterr().err

    (tmp_path / "data").mkdir()
    for i in range(3):
        (tmp_path / "data" / f"m{i}.mrc").touch()
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"inputs": {"glob": "data/*.mrc"}, "particle": {"diameter_A": 150},
                                    "model": {"variant": "cpu_small"}, "prompt": "none", "chunk_size": 2}))
    assert main(["check-config", str(good)]) == 0
    assert "OK: 3 micrographs in 2 chunks, cpu_small/none" in capsys.readouterr().out
    good.write_text(good.read_text().replace("prompt: none", "prompt: heads"))
    assert main(["check-config", str(good)]) == 1
    assert "config key 'prompt'" in capsys.readouterr().err
