"""Start-up behaviour of the workflow: config errors name the key, dry runs list the jobs, lint.

The in-process tests call the same functions rules/common.smk calls (fast); a few tests run
Snakemake itself to check that the message really reaches the user at start-up.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from test_workflow_support import REPO, job_counts, snakemake

from samcryo_core.errors import ConfigError
from samcryo_core.workflow.settings import InvalidConfigError, check_config, validate_schema

SCHEMA = yaml.safe_load((REPO / "schemas" / "config.schema.yaml").read_text())
DEMO = yaml.safe_load((REPO / "config.yaml").read_text())


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


def test_every_key_of_config_yaml_is_commented():
    lines = (REPO / "config.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or stripped.endswith(":"):
            continue  # comments, blank lines and section headers
        above = lines[i - 1].strip()
        assert above.startswith("#"), f"config.yaml line {i + 1} ({stripped!r}) has no comment above it"


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
    bad.write_text((REPO / "config.yaml").read_text().replace("chunk_size: 50", "chunk_sise: 50"))
    proc = snakemake(tmp_path, "-n", config=bad, timeout=120)
    assert proc.returncode != 0
    assert "config key 'chunk_sise': unknown key" in proc.stderr + proc.stdout
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_dry_run_of_the_demo_config_lists_ingest_and_normalize_per_chunk(tmp_path):
    _touch_demo_inputs(tmp_path, n_pick=5)
    proc = snakemake(tmp_path, "-n", "--config", "chunk_size=2", config=REPO / "config.yaml", timeout=120)
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
    proc = snakemake(tmp_path, "-n", "--config", "prompt=log", config=REPO / "config.yaml", timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    assert counts["pick_log"] == 1 and "segment" not in counts and "train" not in counts
    assert "results/classical/log/relion/autopick.star" in proc.stdout


@pytest.mark.slow
def test_lint_reports_nothing_for_the_workflow_rules(tmp_path):
    _touch_demo_inputs(tmp_path)
    proc = snakemake(tmp_path, "--lint", config=REPO / "config.yaml", timeout=120)
    text = proc.stdout + proc.stderr
    own = ["Snakefile", *(p.name for p in (REPO / "rules").glob("*.smk") if p.name != "report.smk")]
    flagged = [line for line in text.splitlines()
               if line.startswith("Lints for") and any(name in line for name in own)]
    assert not flagged, text[-4000:]


@pytest.mark.slow
def test_zero_shot_prompt_needs_no_training(tmp_path):
    _touch_demo_inputs(tmp_path, n_pick=3)
    proc = snakemake(tmp_path, "-n", "-p", "--config", "prompt=none", config=REPO / "config.yaml",
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
    cfg.write_text((REPO / "config.yaml").read_text().replace(
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
