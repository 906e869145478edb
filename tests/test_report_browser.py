"""Open summary.html and Snakemake's report.html in headless Chromium and check what a person sees.

A report that is valid HTML can still show a blank page (a script that fails, images that do not
embed); only a browser tells. Chromium renders each page to a screenshot and the test checks that
the picture holds the page's content, not an empty canvas.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_qc_helpers import make_run
from test_report_snakemake import _snakemake, _stage_workflow

from samcryo_core.cli import main

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    pytest.skip("headless Chromium not found (Debian: apt-get install chromium; scripts/system_deps.sh)")


def screenshot(page: Path, out_png: Path, profile: Path, height: int = 1600) -> np.ndarray:
    """Render ``page`` in headless Chromium (scripts allowed to finish) and return the RGB pixels."""
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--virtual-time-budget=10000", f"--screenshot={out_png}",
           f"--window-size=1280,{height}", page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert out_png.is_file(), f"chromium wrote no screenshot (rc {proc.returncode}): {proc.stderr[-2000:]}"
    with Image.open(out_png) as im:
        return np.asarray(im.convert("RGB")).astype(int)


def _non_white_fraction(img: np.ndarray) -> float:
    return float((img.min(axis=2) < 235).mean())


def test_summary_html_renders_with_images(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    qc = tmp_path / "qc"
    rc = main(["report", "--picks-manifests", *map(str, run.picks_manifests),
               "--normalized-manifests", *map(str, run.normalized_manifests),
               "--rejections", str(run.rejections), "--evaluation-json", str(run.overall_json),
               "--threshold", "0.5", "--out-dir", str(qc)])
    assert rc == 0
    # Copy the page alone: it must not need the PNGs beside it.
    alone = tmp_path / "alone" / "summary.html"
    alone.parent.mkdir()
    shutil.copy(qc / "summary.html", alone)
    img = screenshot(alone, tmp_path / "summary.png", tmp_path / "profile", height=6000)
    assert img.shape[1] == 1280
    assert _non_white_fraction(img) > 0.05, "page looks blank"
    # The summary cards (#eef3f8) near the top, and further down greyscale micrograph pixels from
    # the embedded overlays: many distinct grey levels only an image gives.
    cards = (np.abs(img[:400] - np.array([0xEE, 0xF3, 0xF8])).sum(axis=2) < 6).mean()
    assert cards > 0.02
    grey = img[(img.max(axis=2) - img.min(axis=2) < 4)]
    assert len(np.unique(grey[:, 0])) > 100, "no embedded micrograph overlays visible"


def test_snakemake_report_renders_in_browser(tmp_path: Path) -> None:
    root = tmp_path / "wf"
    root.mkdir()
    _stage_workflow(root)
    assert _snakemake(root).returncode == 0
    proc = _snakemake(root, "--report", "results/report.html")
    assert proc.returncode == 0, proc.stderr[-3000:]
    img = screenshot(root / "results/report.html", tmp_path / "report.png", tmp_path / "profile")
    # The report's JavaScript draws a navigation column on the left (its entries: text and icons
    # against the column's own background, whose shade is caught mid-transition by the screenshot:
    # near-white, light or dark grey) and the workflow description (report/workflow.rst,
    # rendered) as dark text in the main pane.
    sidebar = img[60:1000, 0:250]
    colours, counts = np.unique(sidebar.reshape(-1, 3), axis=0, return_counts=True)
    background = colours[counts.argmax()]
    entries = (np.abs(sidebar - background).max(axis=2) > 60).mean()
    assert entries > 0.005, "report scripts did not render the navigation"
    main_pane = img[:, 300:1000]
    assert (main_pane.max(axis=2) < 100).mean() > 0.005, "no rendered text in the report's main pane"
