"""Untrusted files cannot run code or write outside the output folder.

Checkpoints, prompt files and training resume states are pickles; samcryo reads every one with
``torch.load(weights_only=True)``. The loaders are unit-tested in tests/test_model_loading.py
(malicious SAM checkpoint, sha256 mismatch) and tests/test_training_loop.py (prompt of another
base); here the hostile files go through the *commands* a pipeline runs, and a marker file proves
that the payload never executed. Then micrograph names from a RELION STAR file that climb out of
the project (``../../x.mrc``), are absolute, or carry shell syntax go through the real workflow:
outputs land under ``results/`` with the sanitized name, nothing is written anywhere else, and
the RELION export refuses a micrograph RELION could not find instead of writing outside its folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import starfile
import torch
from reliability_helpers import FEW_STEPS, prompt_dir, samcryo, simulate, snakemake, write_config

from samcryo_core.ingest.naming import micrograph_name
from samcryo_core.model.loading import sha256_file
from samcryo_core.model.prompt_file import FORMAT, RANDOM_INIT, save_prompt_file
from samcryo_core.model.registry import build_sam


class _Payload:
    """Unpickling this runs a shell command (creates the marker file)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def chunk(tmp_path_factory):
    """A normalized chunk of 2 micrographs (ingest + normalize CLIs) to run ``segment`` on."""
    root = tmp_path_factory.mktemp("untrusted")
    mics = simulate(root / "sim", 2, seed=51, prefix="mic")
    assert samcryo("ingest", "--out", root / "ingest.tsv", *mics).returncode == 0
    proc = samcryo("normalize", "--manifest", root / "ingest.tsv", "--out-dir", root / "norm",
                   "--out", root / "norm.tsv", "--particle-px", "20", "--diameter-A", "160")
    assert proc.returncode == 0, proc.stderr
    return root


def _segment(chunk: Path, out: Path, *extra: str):
    return samcryo("segment", "--manifest", chunk / "norm.tsv", "--out-dir", out / "prob",
                   "--out", out / "prob.tsv", "--variant", "tiny", "--threads", "1", *extra)


def _refused(proc, path: Path, words: str) -> None:
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-3000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert f"error: {path}: " in last and words in last and "Fix: " in last, last
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_sam_checkpoint_whose_pickle_runs_code_is_refused_by_segment_and_train(chunk, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "sam_tiny.pth"
    state = build_sam("tiny").state_dict()
    state["image_encoder.pos_embed"] = _Payload(marker)
    torch.save(state, evil)
    _refused(_segment(chunk, tmp_path, "--checkpoint", str(evil)), evil, "refused to load")
    assert not marker.exists()
    images = sorted((chunk / "sim/micrographs").glob("*.mrc"))
    proc = samcryo("train", "--prompt", "head", "--variant", "tiny", "--checkpoint", evil,
                   *FEW_STEPS, "--images", *images, "--labels-dir", chunk / "sim/truth",
                   "--out", tmp_path / "p.pt")
    _refused(proc, evil, "refused to load")
    assert not marker.exists()
    assert not (tmp_path / "prob.tsv").exists() and not (tmp_path / "p.pt").exists()


@pytest.mark.slow
def test_prompt_file_whose_pickle_runs_code_is_refused(chunk, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "prompt.pt"
    torch.save({"format": FORMAT, "format_version": 1, "state_dict": {"w": _Payload(marker)},
                "meta": {"variant": "tiny", "base_sha256": RANDOM_INIT, "prompt_type": "head"}}, evil)
    _refused(_segment(chunk, tmp_path, "--prompt-file", str(evil)), evil, "cannot read prompt file")
    assert not marker.exists()
    assert not (tmp_path / "prob.tsv").exists()


@pytest.mark.slow
def test_training_resume_state_whose_pickle_runs_code_is_refused(chunk, tmp_path):
    """``<out>.last.pt`` sits in results/ and is loaded automatically on a rerun: same rule."""
    marker = tmp_path / "pwned"
    torch.save({"format": "samcryo-train-state", "epoch": _Payload(marker)}, tmp_path / "p.last.pt")
    images = sorted((chunk / "sim/micrographs").glob("*.mrc"))
    proc = samcryo("train", "--prompt", "head", "--variant", "tiny", *FEW_STEPS,
                   "--images", *images, "--labels-dir", chunk / "sim/truth", "--out", tmp_path / "p.pt")
    _refused(proc, tmp_path / "p.last.pt", "cannot read the training resume state")
    assert "--no-resume" in proc.stderr
    assert not marker.exists()
    assert not (tmp_path / "p.pt").exists()


@pytest.mark.slow
def test_checkpoint_checksum_mismatch_is_refused_before_loading(chunk, tmp_path):
    ckpt = tmp_path / "sam_tiny.pth"
    torch.save(build_sam("tiny").state_dict(), ckpt)
    good = sha256_file(ckpt)
    proc = _segment(chunk, tmp_path, "--checkpoint", str(ckpt), "--sha256", "0" * 64)
    _refused(proc, ckpt, f"sha256 mismatch (expected {'0' * 64}, got {good})")
    assert not (tmp_path / "prob.tsv").exists()
    # the right checksum works, so the refusal above was the checksum's
    ok = _segment(chunk, tmp_path, "--checkpoint", str(ckpt), "--sha256", good)
    assert ok.returncode == 0, ok.stderr[-3000:]


@pytest.mark.slow
def test_prompt_file_trained_on_other_weights_is_refused(chunk, tmp_path):
    """A prompt swapped onto another base gives plausible garbage, so it is refused by sha256."""
    ckpt = tmp_path / "sam_tiny.pth"
    torch.save(build_sam("tiny").state_dict(), ckpt)
    prompt = tmp_path / "prompt.pt"
    save_prompt_file(prompt, {}, {"variant": "tiny", "base_sha256": "f" * 64, "prompt_type": "head",
                                  "base_checkpoint": "other.pth"})
    proc = _segment(chunk, tmp_path, "--checkpoint", str(ckpt), "--prompt-file", str(prompt))
    _refused(proc, prompt, "prompt was trained on base weights other.pth")


# ---- names from a STAR file -------------------------------------------------------------------

def _tree(path: Path) -> set[str]:
    return {str(p.relative_to(path)) for p in path.rglob("*")}


def _outside_results(root: Path, before: set[str]) -> set[str]:
    """Paths created under ``root`` since ``before`` that are not in the project's results/,
    logs/ or .snakemake/."""
    return {p for p in _tree(root) - before
            if not p.startswith(("sandbox/project/results", "sandbox/project/logs",
                                 "sandbox/project/.snakemake"))}


def _star(project: Path, names: list[str]) -> Path:
    starfile.write({
        "optics": pd.DataFrame({"rlnOpticsGroup": [1], "rlnMicrographPixelSize": [4.0]}),
        "micrographs": pd.DataFrame({"rlnMicrographName": names, "rlnOpticsGroup": [1] * len(names)}),
    }, project / "micrographs.star")
    return project / "micrographs.star"


@pytest.fixture
def sandbox(tmp_path):
    """``tmp/sandbox/project`` (where snakemake runs) plus real micrographs outside it."""
    project = tmp_path / "sandbox" / "project"
    mics = simulate(tmp_path / "sim", 4, seed=61, prefix="mic")
    (project / "Movies").mkdir(parents=True)
    (tmp_path / "sandbox" / "etc").mkdir()
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(mics[0], project / "Movies" / "inside.mrc")
    shutil.copy(mics[1], tmp_path / "sandbox" / "etc" / "passwd.mrc")
    shutil.copy(mics[2], tmp_path / "elsewhere" / "absolute.mrc")
    return tmp_path, project, mics


@pytest.mark.slow
def test_star_names_outside_the_project_stop_the_run_at_start_up(sandbox):
    """``../etc/passwd.mrc`` and an absolute path outside the project: the RELION export could never
    name them (and must not write at ``relion/../etc/...``), so the dry run refuses them, listing
    them and naming the key to set, before anything is written."""
    tmp_path, project, _ = sandbox
    names = ["Movies/inside.mrc", "../etc/passwd.mrc", str(tmp_path / "elsewhere" / "absolute.mrc")]
    _star(project, names)
    write_config(project, inputs={"glob": None, "micrographs_star": "micrographs.star"})
    before = _tree(tmp_path)
    proc = snakemake(project, "-n", timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    line = next(ln for ln in out.splitlines() if "config key 'inputs'" in ln)
    assert "2 micrograph(s) lie outside the project folder" in line
    assert "../etc/passwd.mrc" in line and "elsewhere/absolute.mrc" in line
    assert "set inputs.project_dir" in line
    assert _outside_results(tmp_path, before) == set() and not (project / "results").exists()


@pytest.mark.slow
def test_star_names_with_dots_and_shell_syntax_write_only_below_results(sandbox):
    """Inside the project, names that climb (``Movies/../Movies/...``), hide (``.hidden``) or carry
    shell syntax run through the whole workflow: outputs are named by the sanitized stem, land
    under results/, the shell syntax never runs, and the RELION files mirror the project layout."""
    tmp_path, project, mics = sandbox
    shell_name = "x;touch${IFS}PWNED;$(touch${IFS}PWNED2).mrc"  # no blank: STAR values cannot hold one
    shutil.copy(mics[3], project / "Movies" / shell_name)
    shutil.copy(mics[1], project / "Movies" / ".hidden.mrc")
    names = ["Movies/inside.mrc", f"Movies/{shell_name}", "Movies/../Movies/.hidden.mrc"]
    _star(project, names)
    write_config(project, inputs={"glob": None, "micrographs_star": "micrographs.star"})
    before = _tree(tmp_path)
    d = prompt_dir()
    proc = snakemake(project, "--cores", "2", f"{d}/relion/autopick.star", "results/ingest/summary.json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]

    sanitized = {"inside", micrograph_name(shell_name), "hidden"}
    assert micrograph_name(shell_name) == "x_touch__IFS_PWNED___touch__IFS_PWNED2_"
    assert {p.stem for p in (project / d / "picks").glob("*.csv")} == sanitized
    assert {p.stem for p in (project / "results/normalized/p20").glob("*.mrc")} == sanitized
    assert _outside_results(tmp_path, before) == set()
    assert not list(tmp_path.rglob("PWNED*"))
    index = starfile.read(project / d / "relion/autopick.star")
    assert sorted(index["rlnMicrographName"]) == sorted(
        ["Movies/inside.mrc", f"Movies/{shell_name}", "Movies/.hidden.mrc"])
    coords = sorted(str(p.relative_to(project / d / "relion"))
                    for p in (project / d / "relion").rglob("*_autopick.star")
                    if p.name != "coords_suffix_autopick.star")
    assert coords == sorted(["Movies/inside_autopick.star", f"Movies/{shell_name[:-4]}_autopick.star",
                             "Movies/.hidden_autopick.star"])


@pytest.mark.slow
def test_export_alone_refuses_a_micrograph_outside_the_project(sandbox):
    """Someone running the chunk CLIs by hand gets the same protection from ``samcryo export``:
    ingest names the file by its sanitized stem, and export refuses to place its coordinates."""
    tmp_path, project, _ = sandbox
    outside = tmp_path / "sandbox" / "etc" / "passwd.mrc"
    rel = os.path.relpath(outside, project)  # ../etc/passwd.mrc
    assert samcryo("ingest", "--out", project / "ingest.tsv", rel, cwd=project).returncode == 0
    rows = pd.read_csv(project / "ingest.tsv", sep="\t", keep_default_na=False)
    assert rows["micrograph"].tolist() == ["passwd"] and rows["status"].tolist() == ["ok"]
    picks = project / "p.csv"
    picks.write_text("x,y,fom,diameter_px,x_norm,y_norm,area_px\n10,20,0.9,40,1,2,3\n")
    (project / "picks.tsv").write_text("micrograph\tstatus\treason\tsource\tsidecar\tpicks\tn_picks\n"
                                       f"passwd\tok\t\t{rel}\t\t{picks}\t1\n")
    before = _tree(tmp_path)
    proc = samcryo("export", "--picks-manifests", "picks.tsv", "--relion-dir", "relion",
                   "--project-dir", ".", cwd=project)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert f"error: {rel}: micrograph is not inside the RELION project folder" in last, last
    assert "--project-dir" in last
    assert {p for p in _tree(tmp_path) - before if not p.startswith("sandbox/project/relion")} == set()
    assert not list(tmp_path.rglob("passwd_autopick.star"))
