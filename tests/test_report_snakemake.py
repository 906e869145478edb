"""rules/report.smk in a minimal workflow of its own, and Snakemake's HTML report built from it.

The minimal Snakefile defines the names rules/common.smk exports (CHUNK_IDS, PROMPT_DIR, ...)
and finds the other stages' outputs already on disk (synthetic, tests/test_qc_helpers.py), so
only the report rule runs. Then ``snakemake --report`` renders the built-in HTML reporter.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from test_qc_helpers import make_run

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

SNAKEFILE = '''
import os
import shlex

config.update({
    "prompt": "head", "model": {"variant": "tiny"}, "particle": {"diameter_A": 40},
    "export": {"threshold": 0.5}, "pick_log": {"threshold_sd": 2.0},
    "evaluate": {"truth_dir": "truth"}, "report": {"sample": 3},
})
CHUNK_IDS = ["c000", "c001"]
PROMPT_DIR = "results/tiny/head"
NORM_DIR = "results/normalized/p20"
HAS_TRUTH = True
LOG_PROMPT_DIR = "logs/tiny/head"


class _Layout:
    uses_sam = True


LAYOUT = _Layout()


def q(value):
    return shlex.quote(str(value))


def chunk_files(pattern):
    return [pattern.format(chunk=c) for c in CHUNK_IDS]


report: "report/workflow.rst"


rule all:
    input:
        f"{PROMPT_DIR}/qc/summary.md",


include: "rules/report.smk"
'''


def _stage_workflow(root: Path) -> None:
    """Synthetic stage outputs at the paths of docs/architecture.md, plus the rule and captions."""
    run = make_run(root / "data")
    (root / "rules").mkdir()
    shutil.copy(REPO / "rules/report.smk", root / "rules/report.smk")
    shutil.copytree(REPO / "report", root / "report")
    shutil.copytree(REPO / "envs", root / "envs")  # the rule names its conda env
    (root / "Snakefile").write_text(SNAKEFILE)
    dests = {
        "results/ingest/rejected.tsv": run.rejections,
        "results/tiny/head/evaluation/overall.json": run.overall_json,
        "results/tiny/head/evaluation/per_micrograph.csv": run.per_mic_csv,
        "results/classical/log/evaluation/overall.json": run.compare_json,
    }
    for i, chunk in enumerate(("c000", "c001")):
        dests[f"results/tiny/head/picks/chunks/{chunk}.tsv"] = run.picks_manifests[i]
        dests[f"results/normalized/p20/chunks/{chunk}.tsv"] = run.normalized_manifests[i]
    for dest, src in dests.items():
        (root / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / dest)
    shutil.copytree(run.truth_dir, root / "truth")


def _snakemake(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(BIN / "snakemake"), "--cores", "1", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def workflow_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("smk")
    _stage_workflow(root)
    proc = _snakemake(root)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return root


@pytest.mark.slow
def test_rule_writes_report_folder(workflow_run: Path) -> None:
    qc = workflow_run / "results/tiny/head/qc"
    assert (qc / "summary.md").is_file() and (qc / "summary.html").is_file()
    assert len(list((qc / "overlays").glob("*.png"))) == 3  # report.sample: 3
    assert (qc / "plots/evaluation.png").is_file()
    md = (qc / "summary.md").read_text()
    # This run is named by its folder and the LoG evaluation found on disk is compared with it.
    assert "| tiny/head |" in md and "| classical/log | 0.550 |" in md
    assert "| FOM threshold | 0.500 |" in md
    log = (workflow_run / "logs/tiny/head/report.log").read_text()
    assert "6 micrographs (4 accepted, 2 rejected)" in log


@pytest.mark.slow
@pytest.mark.parametrize("suffix", ["html", "zip"])
def test_snakemake_report_renders(workflow_run: Path, suffix: str) -> None:
    out = workflow_run / f"results/report.{suffix}"
    proc = _snakemake(workflow_run, "--report", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    if suffix == "html":
        text = out.read_text(encoding="utf-8", errors="replace")
    else:
        with zipfile.ZipFile(out) as zf:
            names = zf.namelist()
            assert any(n.endswith("mic_00.png") for n in names)
            text = "".join(zf.read(n).decode("utf-8", "replace") for n in names
                           if n.endswith((".html", ".js", ".json")))
    # Captions, workflow description (with config rendered) and categories reach the report.
    for needle in ("Picks drawn on the normalized micrograph", "One-page summary of the run",
                   "Dataset-level QC plots", "Tables behind the plots", "prompt-adapted Segment Anything",
                   "Overlays", "Distributions", "mic_00", "fom_histogram"):
        assert needle in text, needle


MAIN_CONFIG = """
inputs:
  glob: "data/micrographs/*.mrc"
chunk_size: 2
particle:
  diameter_A: 160
model:
  variant: tiny
prompt: log
evaluate:
  truth_dir: "data/truth"
"""


@pytest.mark.slow
def test_main_workflow_report(tmp_path: Path) -> None:
    """The real Snakefile on three simulated micrographs (LoG picker, no model), then its report."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    sim = subprocess.run([str(BIN / "samcryo"), "simulate", "--out-dir", str(tmp_path / "data"), "--n", "3",
                          "--shape", "256", "256", "--particles-per-micrograph", "8"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert sim.returncode == 0, sim.stderr[-2000:]
    (tmp_path / "config.yaml").write_text(MAIN_CONFIG)
    base = ["-s", str(REPO / "Snakefile"), "--configfile", "config.yaml"]
    proc = _snakemake(tmp_path, *base)
    assert proc.returncode == 0, proc.stderr[-4000:]
    qc = tmp_path / "results/classical/log/qc"
    md = (qc / "summary.md").read_text()
    assert "| Micrographs in | 3 |" in md and "Evaluation against ground truth" in md
    assert len(list((qc / "overlays").glob("*.png"))) == 3
    proc = _snakemake(tmp_path, *base, "--report", "results/report.html")
    assert proc.returncode == 0, proc.stderr[-4000:]
    html = (tmp_path / "results/report.html").read_text(encoding="utf-8", errors="replace")
    for needle in ("Picks drawn on the normalized micrograph", "Dataset-level QC plots", "sim_0000"):
        assert needle in html, needle
    if 'report: "report/workflow.rst"' in (REPO / "Snakefile").read_text():
        assert "prompt-adapted Segment Anything" in html
